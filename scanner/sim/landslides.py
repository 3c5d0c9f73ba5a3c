"""Landslide bodies (ground truth): outlines, displacement profiles and their placement on hillslopes.

Pure numpy, scipy.ndimage and shapely. A body sits on slope-class mesh cells (``scanner.core.phase``) inside
the pixels every scene of its area covers, never overlapping another; ``label_raster`` numbers the bodies of
an area on its grid.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from affine import Affine
from scipy import ndimage

from scanner.core.phase import block_px, expand_blocks, slope_class_blocks, slope_deg
from scanner.geo import PixelWindow
from scanner.sim.config import SynthConfig
from scanner.sim.terrain import Area

HILLSLOPE_MIN_DEG = 20.0
"""Bodies start on hillslopes at least this steep (DEM smoothed over ~200 m), inside slope-class blocks."""


@dataclass(frozen=True, eq=False)
class Body:
    """A landslide body (ground truth). ``profile`` is its unit displacement on the area grid at
    ``(row_off, col_off)``: 0 outside, a sharp step at the margin and scarp, a smooth interior, peak 1."""

    body_id: str
    area_id: str
    polygon: tuple[tuple[float, float], ...]
    centre_x: float
    centre_y: float
    area_m2: float
    rate_m_per_yr: float
    motion_enu: tuple[float, float, float]
    slope_deg: float
    row_off: int
    col_off: int
    profile: np.ndarray

    def shape(self) -> shapely.Polygon:
        return shapely.Polygon(self.polygon)

    def downslope_m(self, span_days: int) -> float:
        return self.rate_m_per_yr * span_days / 365.25


def _body_outline(
    rng: np.random.Generator, area_m2: float, axis_angle: float, elliptical: bool, centre: tuple[float, float]
) -> shapely.Polygon:
    """An ellipse or an irregular lobe (ellipse with random low harmonics) of exactly ``area_m2``."""
    theta = np.linspace(0.0, 2.0 * np.pi, 72, endpoint=False)
    aspect = rng.uniform(1.2, 2.5)
    radius = np.ones_like(theta)
    if not elliptical:
        for harmonic in (2, 3, 4, 5):
            radius += rng.normal(0.0, 0.12 / harmonic * 2) * np.cos(
                harmonic * theta + rng.uniform(0, 2 * np.pi)
            )
        radius = np.clip(radius, 0.55, None)
    u = aspect * radius * np.cos(theta)
    v = radius * np.sin(theta)
    cos_a, sin_a = math.cos(axis_angle), math.sin(axis_angle)
    unit = shapely.Polygon(np.column_stack([u * cos_a - v * sin_a, u * sin_a + v * cos_a]))
    scale = math.sqrt(area_m2 / unit.area)
    coords = np.asarray(unit.exterior.coords) * scale + np.asarray(centre)
    return shapely.Polygon(coords)


def _rasterize(polygon: shapely.Polygon, transform: Affine) -> tuple[int, int, np.ndarray]:
    """Pixel-centre mask of ``polygon`` on the grid of ``transform``: (row_off, col_off, mask)."""
    inverse = ~transform
    left, bottom, right, top = polygon.bounds
    cols, rows = zip(*(inverse * xy for xy in ((left, top), (right, bottom))), strict=True)
    row0, row1 = int(math.floor(min(rows))), int(math.ceil(max(rows)))
    col0, col1 = int(math.floor(min(cols))), int(math.ceil(max(cols)))
    rr, cc = np.mgrid[row0:row1, col0:col1]
    xs = transform.c + (cc + 0.5) * transform.a
    ys = transform.f + (rr + 0.5) * transform.e
    return row0, col0, shapely.contains_xy(polygon, xs, ys)


def _body_profile(mask: np.ndarray, downslope_rc: np.ndarray, pixel_size_m: float) -> np.ndarray:
    """Unit displacement inside ``mask``: sharp step at the margin (larger at the head scarp), smooth rise
    inside, peak 1 in the upper-middle part of the body."""
    distance_m = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1] * pixel_size_m
    rr, cc = np.nonzero(mask)
    along = (rr - rr.mean()) * downslope_rc[0] + (cc - cc.mean()) * downslope_rc[1]
    half_length = max(float(np.abs(along).max()), 1.0)
    along_full = np.zeros(mask.shape, dtype=np.float64)
    along_full[rr, cc] = along / half_length
    head = np.clip(-along_full, 0.0, 1.0)
    width_m = max(float(distance_m.max()), pixel_size_m)
    step = 0.3 + 0.35 * head
    interior = 1.0 - np.exp(-distance_m / (0.45 * width_m))
    profile = (step + (1.0 - step) * interior) * (1.0 - 0.25 * along_full)
    profile = np.where(mask, profile, 0.0)
    return (profile / profile.max()).astype(np.float32)


@dataclass(frozen=True)
class _Placement:
    """Where bodies may go: slope-class mask, candidate centres, smoothed downslope field, occupied pixels."""

    allowed: np.ndarray
    occupied: np.ndarray
    core: PixelWindow
    candidates: np.ndarray
    gradient_en: tuple[np.ndarray, np.ndarray]


def _placement(area: Area, config: SynthConfig, core: PixelWindow) -> _Placement:
    pixel = config.pixel_size_m
    block = block_px(pixel)
    classes = slope_class_blocks(slope_deg(area.dem, pixel, pixel), block)
    allowed = (expand_blocks(classes, block, area.dem.shape) == 1) & ~area.water
    smooth = ndimage.gaussian_filter(area.dem.astype(np.float32), sigma=200.0 / pixel)
    gy, gx = np.gradient(smooth, np.float32(pixel))
    hillslope = np.degrees(np.arctan(np.hypot(gx, gy))) >= HILLSLOPE_MIN_DEG
    inside = np.zeros_like(allowed)
    inside[core.slices()] = True
    candidates = np.flatnonzero(allowed & hillslope & inside)
    return _Placement(
        allowed=allowed,
        occupied=np.zeros_like(allowed),
        core=core,
        candidates=candidates,
        gradient_en=(gx, -gy),
    )


def simulate_landslides(
    area: Area, config: SynthConfig, core: PixelWindow, rng: np.random.Generator, spans_days: tuple[int, int]
) -> list[Body]:
    """Place bodies on slope-class mesh cells inside ``core`` (area pixels), none overlapping.

    Count: ``bodies_per_100km2`` times the core area. Centres on hillslopes (``HILLSLOPE_MIN_DEG``), footprint
    area log-uniform in ``body_area_km2``, long axis downslope. The rate is chosen so that every pair's
    downslope motion lies in ``downslope_m``.
    """
    placement = _placement(area, config, core)
    core_km2 = core.height * core.width * config.pixel_size_m**2 / 1e6
    count = int(round(config.bodies_per_100km2 * core_km2 / 100.0))
    rate_low = config.downslope_m[0] / spans_days[0] * 365.25
    rate_high = config.downslope_m[1] / spans_days[1] * 365.25
    bodies: list[Body] = []
    for _ in range(count * 40):
        if len(bodies) == count or placement.candidates.size == 0:
            break
        body = _try_body(
            area,
            config,
            placement,
            rng,
            f"{area.area_id}-b{len(bodies):03d}",
            rng.uniform(rate_low, rate_high),
        )
        if body is not None:
            bodies.append(body)
    return bodies


def _try_body(
    area: Area,
    config: SynthConfig,
    placement: _Placement,
    rng: np.random.Generator,
    body_id: str,
    rate: float,
) -> Body | None:
    """Draw one candidate body; return it (and mark it occupied) if it fits, else None."""
    flat = int(placement.candidates[rng.integers(placement.candidates.size)])
    row, col = divmod(flat, area.dem.shape[1])
    pixel = config.pixel_size_m
    area_m2 = math.exp(rng.uniform(*np.log(np.asarray(config.body_area_km2) * 1e6)))
    dz_east, dz_north = (float(g[row, col]) for g in placement.gradient_en)
    norm = max(math.hypot(dz_east, dz_north), 1e-9)
    east, north = -dz_east / norm, -dz_north / norm
    slope = math.degrees(math.atan(norm))
    transform = area.grid.transform
    centre = transform * (col + 0.5, row + 0.5)
    angle = math.atan2(north, east) + rng.normal(0.0, 0.25)
    polygon = _body_outline(rng, area_m2, angle, rng.random() < config.elliptical_fraction, centre)
    row0, col0, mask = _rasterize(polygon, transform)
    if not _fits(placement, row0, col0, mask):
        return None
    _occupy(placement.occupied, row0, col0, mask)
    profile = _body_profile(mask, np.array([-north, east]), pixel)
    cos_s, sin_s = math.cos(math.radians(slope)), math.sin(math.radians(slope))
    return Body(
        body_id=body_id,
        area_id=area.area_id,
        polygon=tuple(map(tuple, polygon.exterior.coords)),
        centre_x=polygon.centroid.x,
        centre_y=polygon.centroid.y,
        area_m2=polygon.area,
        rate_m_per_yr=float(rate),
        motion_enu=(east * cos_s, north * cos_s, -sin_s),
        slope_deg=slope,
        row_off=row0,
        col_off=col0,
        profile=profile,
    )


def _fits(placement: _Placement, row0: int, col0: int, mask: np.ndarray) -> bool:
    core = placement.core
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return False
    rows, cols = rows + row0, cols + col0
    if (
        rows.min() < core.row_off
        or rows.max() >= core.row_end
        or cols.min() < core.col_off
        or cols.max() >= core.col_end
    ):
        return False
    return bool(placement.allowed[rows, cols].all() and not placement.occupied[rows, cols].any())


def _occupy(occupied: np.ndarray, row0: int, col0: int, mask: np.ndarray, gap: int = 6) -> None:
    grown = ndimage.binary_dilation(np.pad(mask, gap), iterations=gap)
    r0, c0 = row0 - gap, col0 - gap
    rs, cs = max(r0, 0), max(c0, 0)
    re = min(r0 + grown.shape[0], occupied.shape[0])
    ce = min(c0 + grown.shape[1], occupied.shape[1])
    occupied[rs:re, cs:ce] |= grown[rs - r0 : re - r0, cs - c0 : ce - c0]


def label_raster(shape: tuple[int, int], bodies: list[Body]) -> np.ndarray:
    """uint16 raster of body numbers on the area grid: the n-th of ``bodies`` is n (0 = no body)."""
    labels = np.zeros(shape, dtype=np.uint16)
    for number, body in enumerate(bodies, start=1):
        h, w = body.profile.shape
        view = labels[body.row_off : body.row_off + h, body.col_off : body.col_off + w]
        view[body.profile > 0] = number
    return labels
