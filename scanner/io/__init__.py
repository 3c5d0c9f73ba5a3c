"""Every file format and the store: rasterio reads, GeoTIFF/JSON/GeoJSON writes, the scene store and its
layout, probability grids, checkpoints, COGs, site layers, labels and the store lock.

The only package (with ``scanner.mosaic.zarr_io`` and ``scanner.products``) that touches files. Imports
``scanner.core``, ``scanner.nn`` (to rebuild a checkpoint's model) and the base modules.
"""

LAYER = 2
