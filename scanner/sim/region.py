"""Region planning: areas (terrain, land cover, bodies) and every scene's spec, before any scene array exists.

A region has one or more *areas* (a DEM, land cover and landslide bodies on one grid) and several *scenes*
per area: interferometric pairs of different dates from an ascending or descending track, each cut from the
area grid at a small offset of whole mesh blocks, so that the scenes overlap without being identical.
``plan_region`` builds them; ``scanner.sim.scene`` simulates the scenes one at a time.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from affine import Affine
from pyproj import CRS

from scanner.config import require
from scanner.core.phase import block_px
from scanner.geo import GeoGrid, PixelWindow
from scanner.sim.config import SynthConfig, draw, seeded_rng
from scanner.sim.landslides import Body, label_raster, simulate_landslides
from scanner.sim.radar import PASS_HEADING_DEG, Track
from scanner.sim.terrain import Area, simulate_dem, simulate_land_cover

AREA_GAP_M = 10_000.0
"""Gap between neighbouring areas along x (metres): areas sit side by side eastwards."""


@dataclass(frozen=True)
class SceneSpec:
    """What a scene is before its arrays exist: id, grid, its window in the area grid, dates and baseline."""

    scene_id: str
    area_id: str
    index: int
    grid: GeoGrid
    window: PixelWindow
    track: Track
    first_date: date
    second_date: date
    perp_baseline_m: float

    @property
    def span_days(self) -> int:
        return (self.second_date - self.first_date).days


@dataclass(frozen=True, eq=False)
class RegionPlan:
    """Areas, bodies and scene specs of a region; scenes are simulated from it one at a time."""

    config: SynthConfig
    areas: tuple[Area, ...]
    bodies: tuple[Body, ...]
    specs: tuple[SceneSpec, ...]

    def area(self, area_id: str) -> Area:
        return next(a for a in self.areas if a.area_id == area_id)


def _area_grid(config: SynthConfig, index: int, size_px: int) -> GeoGrid:
    extent_m = size_px * config.pixel_size_m
    x0 = config.origin_x_m + index * (extent_m + AREA_GAP_M)
    transform = Affine(config.pixel_size_m, 0.0, x0, 0.0, -config.pixel_size_m, config.origin_y_m)
    return GeoGrid(
        height=size_px, width=size_px, transform=transform, crs_wkt=CRS.from_epsg(config.crs_epsg).to_wkt()
    )


def _tracks(config: SynthConfig, rng: np.random.Generator) -> list[Track]:
    tracks = []
    for direction in config.passes:
        ascending = direction == "ascending"
        tracks.append(
            Track(
                pass_direction=direction,
                orbit=int(rng.integers(400, 430) if ascending else rng.integers(55, 75)),
                frame=int(rng.integers(690, 730) if ascending else rng.integers(2880, 2960)),
                incidence_deg=round(float(rng.uniform(*config.incidence_deg)), 2),
                heading_deg=PASS_HEADING_DEG[direction],
            )
        )
    return tracks


def _scene_offsets(
    count: int, shift_blocks: int, block: int, rng: np.random.Generator
) -> list[tuple[int, int]]:
    """Distinct (row, col) offsets in whole mesh blocks (so every scene's 1 km mesh matches the area's)."""
    choices = [(r, c) for r in range(shift_blocks + 1) for c in range(shift_blocks + 1)]
    order = list(rng.permutation(len(choices)))
    picks = [choices[order[i % len(choices)]] for i in range(count)]
    return [(r * block, c * block) for r, c in picks]


def _pair_dates(
    config: SynthConfig, track_index: int, count: int, rng: np.random.Generator
) -> list[tuple[date, date]]:
    start = config.first_acquisition_date + timedelta(days=7 * track_index)
    low, high = config.span_cycles
    pairs: list[tuple[int, int]] = []
    while len(pairs) < count:
        first = int(rng.integers(0, 12 + count))
        pair = (first, first + int(rng.integers(low, high + 1)))
        if pair not in pairs:
            pairs.append(pair)
    step = timedelta(days=config.repeat_days)
    return [(start + a * step, start + b * step) for a, b in sorted(pairs)]


def _core_window(offsets: list[tuple[int, int]], size_px: int, block: int) -> PixelWindow:
    """Area pixels inside every scene, minus one mesh block at each scene edge (edge blocks are partial or
    see edge effects in the slope), so every body lies on full, identical mesh blocks in all its scenes."""
    full = (size_px // block) * block
    row0 = max(r for r, _ in offsets) + block
    col0 = max(c for _, c in offsets) + block
    row1 = min(r for r, _ in offsets) + full - block
    col1 = min(c for _, c in offsets) + full - block
    return PixelWindow(row0, col0, max(row1 - row0, 0), max(col1 - col0, 0))


def plan_region(config: SynthConfig, dem: np.ndarray | None = None) -> RegionPlan:
    """Build every area (terrain, land cover, bodies) and every scene's spec; no scene arrays yet.

    ``dem`` (metres, optional) replaces the fractal terrain of every area; it must be at least as large as an
    area grid (``size_px`` plus the scene shifts) and is cropped from its top-left corner. Non-finite values
    and heights <= 0 are water.
    """
    block = block_px(config.pixel_size_m)
    shift_px = config.scene_shift_blocks * block
    area_px = config.size_px + shift_px
    counts = [len(range(i, config.scenes, config.areas)) for i in range(config.areas)]
    areas, bodies, specs = [], [], []
    for index, count in enumerate(counts):
        area, area_bodies, area_specs = _plan_area(config, index, count, area_px, dem, start=len(specs))
        areas.append(area)
        bodies.extend(area_bodies)
        specs.extend(area_specs)
    return RegionPlan(config=config, areas=tuple(areas), bodies=tuple(bodies), specs=tuple(specs))


def _plan_area(
    config: SynthConfig, index: int, count: int, area_px: int, user_dem: np.ndarray | None, start: int
) -> tuple[Area, list[Body], list[SceneSpec]]:
    block = block_px(config.pixel_size_m)
    grid = _area_grid(config, index, area_px)
    dem, water = _area_terrain(config, index, area_px, user_dem)
    vegetation, dem_error = simulate_land_cover(
        dem,
        water,
        config.pixel_size_m,
        seeded_rng(config, index, 0, 2),
        dem_error_rms_m=config.dem_error_rms_m,
    )
    area_id = f"area{index}"
    area = Area(
        area_id=area_id,
        index=index,
        grid=grid,
        dem=dem,
        water=water,
        vegetation=vegetation,
        dem_error_m=dem_error,
        labels=np.zeros(dem.shape, np.uint16),
    )
    rng = seeded_rng(config, index, 0, 3)
    offsets = _scene_offsets(count, config.scene_shift_blocks, block, rng)
    spans = (config.span_cycles[0] * config.repeat_days, config.span_cycles[1] * config.repeat_days)
    bodies = simulate_landslides(area, config, _core_window(offsets, config.size_px, block), rng, spans)
    area = dataclasses.replace(area, labels=label_raster(dem.shape, bodies))
    return area, bodies, _scene_specs(config, area, offsets, rng, start)


def _area_terrain(
    config: SynthConfig, index: int, area_px: int, user_dem: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if user_dem is None:
        varied = seeded_rng(config, index, 0, 8)  # domain randomisation: its own stream (config.draw)
        spread = config.steep_slope_spread_deg
        return simulate_dem(
            (area_px, area_px),
            config.pixel_size_m,
            seeded_rng(config, index, 0, 1),
            mountain_fraction=config.mountain_fraction,
            sea_fraction=config.sea_fraction,
            steep_slope_deg=draw(varied, config.steep_slope_deg - spread, config.steep_slope_deg + spread),
            terrain=str(varied.choice(["fractal", "ridged"]))
            if config.terrain == "mixed"
            else config.terrain,
            relief_corner_m=1000.0 * draw(varied, *config.relief_corner_km),
        )
    require(
        user_dem.ndim == 2 and min(user_dem.shape) >= area_px,
        "DEM for the simulator",
        expected=f"a 2-D array of at least {area_px} x {area_px} px (size plus scene shifts)",
        found=user_dem.shape,
        fix="supply a larger DEM or reduce size_px",
    )
    dem = np.asarray(user_dem[:area_px, :area_px], dtype=np.float32)
    water = ~np.isfinite(dem) | (dem <= 0)
    return np.where(water, np.float32(0), dem).astype(np.float32), water


def _scene_specs(
    config: SynthConfig, area: Area, offsets: list[tuple[int, int]], rng: np.random.Generator, start: int
) -> list[SceneSpec]:
    tracks = _tracks(config, rng)
    per_track = [list(range(i, len(offsets), len(tracks))) for i in range(len(tracks))]
    specs: list[SceneSpec] = []
    for track_index, (track, members) in enumerate(zip(tracks, per_track, strict=True)):
        for member, (first, second) in zip(
            members, _pair_dates(config, track_index, len(members), rng), strict=True
        ):
            row, col = offsets[member]
            window = PixelWindow(row, col, config.size_px, config.size_px)
            grid = GeoGrid(
                height=config.size_px,
                width=config.size_px,
                transform=area.grid.window_transform(window),
                crs_wkt=area.grid.crs_wkt,
            )
            scene_id = (
                f"{area.area_id}_{track.pass_direction[0].upper()}{track.orbit}_"
                f"{first:%Y%m%d}_{second:%Y%m%d}"
            )
            specs.append(
                SceneSpec(
                    scene_id=scene_id,
                    area_id=area.area_id,
                    index=start + member,
                    grid=grid,
                    window=window,
                    track=track,
                    first_date=first,
                    second_date=second,
                    perp_baseline_m=round(float(rng.uniform(*config.perp_baseline_m)), 1),
                )
            )
    return sorted(specs, key=lambda s: s.index)
