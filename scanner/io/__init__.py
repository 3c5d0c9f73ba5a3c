"""Every file format and the store: the store layout (the one home of its paths), the scene store, rasterio
reads, GeoTIFF/JSON/GeoJSON/PNG writes with atomic publishing, probability grids, checkpoints, COGs, site
layers, labels (the one home of the label rule) and the store lock.

With ``scanner.mosaic.zarr_io``, ``scanner.products`` and ``train.dataset_store``, the only code that imports
file-format libraries; the simulator, the pipeline and the CLI read and write through it. Imports
``scanner.core``, ``scanner.nn`` (to rebuild a checkpoint's model) and the base modules.
"""

LAYER = 2
