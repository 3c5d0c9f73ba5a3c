"""Pure numerics: phase preprocessing and the global filter, the compiled kernels, tiling, detection, the
site identity rule and the 16-colour phase palette.

No file access, no logging setup, no global random state; rasterio, zarr, tensorstore and orbax are never
imported here. Imports only the base modules (``scanner.errors``, ``scanner.config``, ``scanner.geo``,
``scanner.progress``) and other ``scanner.core`` modules.
"""

LAYER = 1
PURE = True
"""No file access: no file-format library, no os/pathlib/shutil/tempfile/subprocess, no open()."""
