"""Terrain of an area: fractal DEM with mountains, valleys, plains and sea, land cover and reference-DEM error.

Pure numpy (fields from ``scanner.sim.fields``), seeded with ``np.random.Generator``. ``Area`` bundles one
area's rasters on its grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from scanner.core.phase import slope_deg
from scanner.geo import GeoGrid
from scanner.sim.fields import gaussian_field_pair, red_psd


@dataclass(frozen=True, eq=False)
class Area:
    """One area: its grid, DEM (m), water mask, land cover (vegetation 0..1) and reference-DEM error (m)."""

    area_id: str
    index: int
    grid: GeoGrid
    dem: np.ndarray
    water: np.ndarray
    vegetation: np.ndarray
    dem_error_m: np.ndarray
    labels: np.ndarray


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _gradient_magnitude(z: np.ndarray, pixel_size_m: float) -> np.ndarray:
    gy, gx = np.gradient(z, pixel_size_m)
    return np.hypot(gx, gy)


def simulate_dem(
    shape: tuple[int, int],
    pixel_size_m: float,
    rng: np.random.Generator,
    *,
    mountain_fraction: float = 0.55,
    sea_fraction: float = 0.04,
    steep_slope_deg: float = 42.0,
    terrain: str = "fractal",
    relief_corner_m: float = 8_000.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Fractal terrain (m) and its water mask: mountain ranges, plains and sea.

    A landform field (corner 25 km) splits the area into mountains (the highest ``mountain_fraction``) and
    plains; the sea (``sea_fraction`` of the area) lies on the low side of a random coastline tilt. Mountain
    relief comes from a fractal field (corner ``relief_corner_m``, spectrum k^-4):
    - ``fractal`` (the home generator): its absolute value, whose zero lines become a connected network of
      narrow V-shaped valleys between rounded ridges;
    - ``ridged`` (the held-out variant): two octaves (the second at a third of the corner) of
      ``max(0.9 - |field|, 0) ** 1.5``, whose zero lines become sharp ridges between rounded valleys.
    The relief is scaled so that 10% of the core mountain pixels are steeper than ``steep_slope_deg``.
    """
    landform, texture = gaussian_field_pair(shape, pixel_size_m, red_psd(25_000.0, 4.0), rng)
    relief, massif = gaussian_field_pair(shape, pixel_size_m, red_psd(relief_corner_m, 4.0), rng)
    if terrain == "ridged":
        fine, _ = gaussian_field_pair(shape, pixel_size_m, red_psd(relief_corner_m / 3.0, 4.0), rng)
        shaped = (
            np.maximum(0.9 - np.abs(relief), 0.0) ** 1.5 + 0.35 * np.maximum(0.9 - np.abs(fine), 0.0) ** 1.5
        )
    else:
        shaped = np.maximum(np.abs(relief) - 0.08, 0.0)
    mountain_cut = np.quantile(landform, 1.0 - mountain_fraction) if mountain_fraction > 0 else np.inf
    weight = _smoothstep((landform - mountain_cut) / 0.8 + 0.5) if mountain_fraction > 0 else 0 * landform
    unit = weight * (shaped + 0.8 * np.maximum(landform - mountain_cut, 0.0) + 0.1 * massif)
    core = weight > 0.7
    gradient = _gradient_magnitude(unit, pixel_size_m)
    reference = float(np.quantile(gradient[core], 0.9)) if core.any() else 0.0
    height_m = math.tan(math.radians(steep_slope_deg)) / reference if reference > 0 else 0.0
    coast = _coast_field(landform, weight, rng)
    sea_cut = float(np.quantile(coast, sea_fraction)) if sea_fraction > 0 else float(coast.min()) - 1.0
    lowland = np.clip((coast - sea_cut) / 1.5, 0.0, 1.0)
    dem = (3.0 + 80.0 * lowland + 4.0 * texture + height_m * unit).astype(np.float32)
    water = coast < sea_cut
    dem[water] = 0.0
    return dem, water


def _coast_field(landform: np.ndarray, weight: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Landform tilted towards a random side, kept high in the mountains: its lowest part is the sea."""
    rows = np.linspace(-1.0, 1.0, landform.shape[0], dtype=np.float32)[:, None]
    cols = np.linspace(-1.0, 1.0, landform.shape[1], dtype=np.float32)[None, :]
    angle = rng.uniform(0.0, 2.0 * np.pi)
    return landform + 2.5 * (math.cos(angle) * cols + math.sin(angle) * rows) + 4.0 * weight


def simulate_land_cover(
    dem: np.ndarray,
    water: np.ndarray,
    pixel_size_m: float,
    rng: np.random.Generator,
    *,
    dem_error_rms_m: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Vegetation density 0..1 (forest on mountains, fields and towns on plains) and the reference DEM's
    error (m, correlated over a few hundred metres, larger on steep slopes)."""
    cover, _ = gaussian_field_pair(dem.shape, pixel_size_m, red_psd(1_500.0, 3.0), rng)
    error, _ = gaussian_field_pair(dem.shape, pixel_size_m, red_psd(800.0, 4.5), rng)
    highland = np.clip(dem / 600.0, 0.0, 1.0)
    vegetation = np.clip(0.25 + 0.6 * highland + 0.2 * cover, 0.0, 1.0).astype(np.float32)
    vegetation[water] = 0.0
    steepness = np.sin(np.radians(slope_deg(dem, pixel_size_m, pixel_size_m)))
    dem_error_m = (error * dem_error_rms_m * (0.5 + steepness)).astype(np.float32)
    dem_error_m[water] = 0.0
    return vegetation, dem_error_m
