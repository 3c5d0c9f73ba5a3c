"""Cloud-Optimized GeoTIFF writing (I/O module): probability grids and mosaics leave the store as COGs.

``write_cog`` writes a single-band raster with its CRS and transform through rio-cogeo (tiled 512 px,
DEFLATE, internal overviews), into a temporary file in the destination's directory that is renamed onto the
final path (``scanner.io.writers.atomic_path``), so a reader never sees a half-written file. ``validate_cog`` runs rio-cogeo's validator (the same
check as ``rio cogeo validate``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from rasterio.io import MemoryFile
from rio_cogeo.cogeo import cog_translate, cog_validate
from rio_cogeo.profiles import cog_profiles

from scanner.errors import InputError, problem
from scanner.io.writers import atomic_path


def write_cog(
    path: str | Path,
    array: np.ndarray,
    transform: Affine,
    crs_wkt: str,
    *,
    nodata: float | None = None,
    tags: dict[str, str] | None = None,
    overview_resampling: str = "average",
) -> Path:
    """Write ``array`` (y, x) as a COG at ``path`` atomically; float NaN is the nodata value by default."""
    if array.ndim != 2:
        raise InputError(
            problem(
                "COG array",
                expected="a 2-D (y, x) array",
                found=f"shape {array.shape}",
                fix="write one band at a time",
            )
        )
    path = Path(path)
    if nodata is None and np.issubdtype(array.dtype, np.floating):
        nodata = float("nan")
    profile = {
        "driver": "GTiff",
        "height": array.shape[0],
        "width": array.shape[1],
        "count": 1,
        "dtype": array.dtype.name,
        "crs": rasterio.crs.CRS.from_wkt(crs_wkt),
        "transform": transform,
        "nodata": nodata,
    }
    with atomic_path(path) as tmp, MemoryFile() as memory:
        with memory.open(**profile) as sink:
            sink.write(array, 1)
        output = cog_profiles.get("deflate")
        output.update(blockxsize=512, blockysize=512)
        with memory.open() as source, warnings.catch_warnings():
            # rasterio's WarpedVRT (inside rio-cogeo) still multiplies Affine with `*`.
            warnings.filterwarnings("ignore", "Use `@` matmul", PendingDeprecationWarning)
            cog_translate(
                source,
                str(tmp),
                output,
                in_memory=True,
                quiet=True,
                overview_resampling=overview_resampling,
                additional_cog_metadata=tags,
                overview_level=_overview_levels(array.shape),
            )
    return path


def _overview_levels(shape: tuple[int, ...], block: int = 512) -> int:
    """Halvings until the raster fits one 512 px block (0 for small rasters)."""
    return max(0, math.ceil(math.log2(max(shape) / block))) if max(shape) > block else 0


def validate_cog(path: str | Path) -> tuple[bool, list[str], list[str]]:
    """``(is_valid, errors, warnings)`` from rio-cogeo's validator."""
    return cog_validate(str(path), quiet=True)
