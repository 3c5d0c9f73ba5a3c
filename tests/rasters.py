"""Tiny GeoTIFF fixtures written with rasterio (no committed binaries), and store snapshots for tests."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import rasterio
from affine import Affine
from pyproj import CRS

UTM54 = "EPSG:32654"
UTM54_WKT = CRS.from_epsg(32654).to_wkt()
ORIGIN = (500_000.0, 4_000_000.0)
GAMMA_TAGS = {
    "FIRST_DATE": "2010-01-15",
    "SECOND_DATE": "2010-03-02",
    "WAVELENGTH_METRES": "0.2360571",
    "INCIDENCE_DEGREES": "38.7",
    "ORBIT": "21345",
    "FRAME": "2890",
    "PASS_DIRECTION": "ASCENDING",
}


def utm_transform(pixel_m: float = 28.0, origin: tuple[float, float] = ORIGIN) -> Affine:
    return Affine(pixel_m, 0.0, origin[0], 0.0, -pixel_m, origin[1])


def write_raster(
    path: Path,
    bands: np.ndarray | list[np.ndarray],
    *,
    crs: str | None = UTM54,
    transform: Affine | None = None,
    nodata: float | None = None,
    tags: dict | None = None,
    dtype: str | None = None,
    descriptions: tuple[str, ...] | None = None,
) -> Path:
    """Write one or more (y, x) bands as a tiled GeoTIFF and return the path."""
    stack = [bands] if isinstance(bands, np.ndarray) else list(bands)
    height, width = stack[0].shape
    profile = {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": len(stack),
        "dtype": dtype or str(stack[0].dtype),
        "transform": transform or utm_transform(),
        "nodata": nodata,
    }
    if crs is not None:
        profile["crs"] = crs
    if height >= 16 and width >= 16:
        profile.update(
            tiled=True,
            blockxsize=16 * max(1, min(width, 256) // 16),
            blockysize=16 * max(1, min(height, 256) // 16),
        )
    with rasterio.open(path, "w", **profile) as dst:
        for index, band in enumerate(stack, start=1):
            dst.write(band, index)
        if tags:
            dst.update_tags(**tags)
        for index, text in enumerate(descriptions or (), start=1):
            dst.set_band_description(index, text)
    return path


def ramp_phase(height: int, width: int, *, cycles: float = 3.0, seed: int = 0) -> np.ndarray:
    """Unwrapped float32 phase: a planar ramp of ``cycles`` fringes across the scene plus small noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    ramp = 2 * np.pi * cycles * (0.7 * x / width + 0.3 * y / height)
    return (ramp + rng.normal(0, 0.1, (height, width))).astype(np.float32)


def snapshot(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative path -> sha256) plus every directory (-> 'dir')."""
    if not root.exists():
        return {}
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return out
