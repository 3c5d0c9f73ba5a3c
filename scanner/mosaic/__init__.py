"""National probability mosaics: the grid, combining passes, planning dirty chunks, the versioned Zarr
store of a mosaic and one mosaic run.
"""

LAYER = 3
