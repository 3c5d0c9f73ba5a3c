"""Orchestration of one pass from files to sites: ingest, scan (Dask tiles), detection into site layers,
the nightly inbox, site history and the nightly run. Wires ``scanner.io`` to ``scanner.core`` and
``scanner.nn``.
"""

LAYER = 3
FORMAT_LIBRARIES = False
"""Reads and writes files only through ``scanner.io`` (never imports rasterio, zarr, tensorstore, ...)."""
