"""DInSAR scene simulator with ground truth: terrain, landslides, atmosphere, orbits and decorrelation.

Pure numpy (and scipy.fft / scipy.ndimage), seeded with ``np.random.Generator``; no file I/O. The physics and
the parameter choices are argued in ``docs/simulator.md``. Every path delay is carried in metres of range
change (positive = away from the satellite) and turned into phase with ``4 pi / wavelength``, so one fringe
(2 pi) is half a wavelength of line-of-sight motion: 11.8 cm at L band (0.236 m).

A region has one or more *areas* (a DEM, land cover and landslide bodies on one grid) and several *scenes*
per area: interferometric pairs of different dates from an ascending or descending track, each cut from the
area grid at a small offset so that the scenes overlap without being identical. ``plan_region`` builds the
areas, bodies and scene specs; ``simulate_scene`` builds one scene's arrays on demand (so a writer can stream
a large region); ``simulate_region`` does both.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely
from affine import Affine
from pyproj import CRS
from scipy import fft as sfft
from scipy import ndimage

from scanner.config import require
from scanner.core.phase import block_px, expand_blocks, slope_class_blocks, slope_deg, wrap
from scanner.geo import WINDOW_PX, GeoGrid, PixelWindow

TURBULENCE_BAND_M = (2_000.0, 20_000.0)
"""Scale band (metres) over which ``SynthConfig.turbulence_exponent`` holds (Hanssen 2001's middle regime)."""

NODATA_VALID, NODATA_WATER, NODATA_LAYOVER, NODATA_SHADOW = 0, 1, 2, 3
"""Codes of ``Scene.nodata``: why a pixel has no phase (0 = it has one)."""

PASS_HEADING_DEG = {"ascending": 350.0, "descending": 190.0}
"""Satellite heading (clockwise from north) of ALOS-like sun-synchronous passes; the radar looks right."""

SLANT_RANGE_M = 870_000.0
"""Slant range from an ALOS-like orbit (692 km altitude) to the ground at about 36 degrees incidence."""

Spectrum = Callable[[np.ndarray], np.ndarray]
"""A power spectral density as a function of radial wavenumber (cycles per metre)."""

VISIBLE_FRINGE_FRACTION = 0.25
"""A body is visible in a pair when its LOS peak is at least this fraction of a fringe (4 of 16 colours)."""

VISIBLE_VALID_FRACTION = 0.5
"""... and at least this fraction of its footprint has phase (not layover, shadow or water) ..."""

VISIBLE_MIN_COHERENCE = 0.3
"""... and the mean coherence over its valid pixels is at least this."""


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """Everything the simulator draws from; defaults give the small demo region (see docs/simulator.md)."""

    # Grid and region layout
    pixel_size_m: float = 28.0
    wavelength_m: float = 0.236
    size_px: int = 1000
    scenes: int = 4
    areas: int = 1
    seed: int = 0
    crs_epsg: int = 32654
    origin_x_m: float = 400_000.0
    origin_y_m: float = 4_000_000.0
    scene_shift_blocks: int = 1
    # Terrain
    mountain_fraction: float = 0.55
    sea_fraction: float = 0.04
    steep_slope_deg: float = 42.0
    # Landslides
    bodies_per_100km2: float = 1.3
    body_area_km2: tuple[float, float] = (0.16, 2.0)
    downslope_m: tuple[float, float] = (0.02, 0.15)
    elliptical_fraction: float = 0.4
    # Acquisition geometry and dates
    passes: tuple[str, ...] = ("ascending", "descending")
    incidence_deg: tuple[float, float] = (34.0, 39.0)
    first_acquisition: str = "2007-01-06"
    repeat_days: int = 46
    span_cycles: tuple[int, int] = (2, 6)
    perp_baseline_m: tuple[float, float] = (-1200.0, 1200.0)
    # Nuisance terms
    turbulence_rms_m: tuple[float, float] = (0.005, 0.03)
    turbulence_exponent: float = -8.0 / 3.0
    stratified_m_per_km: tuple[float, float] = (0.01, 0.06)
    ramp_m_per_km: tuple[float, float] = (0.0, 0.003)
    dem_error_rms_m: float = 4.0
    looks: int = 16
    coherence_max: float = 0.95
    vegetation_days: float = 400.0

    def __post_init__(self) -> None:
        require(
            isinstance(self.size_px, int) and self.size_px >= WINDOW_PX,
            "synth size_px",
            expected=f"an integer of at least {WINDOW_PX} px (one model window)",
            found=self.size_px,
            fix=f"use --size {WINDOW_PX} or more (the demo uses 1000)",
        )
        require(
            isinstance(self.scenes, int) and self.scenes >= 1,
            "synth scenes",
            expected="an integer >= 1",
            found=self.scenes,
            fix="use --scenes 4 or more",
        )
        require(
            isinstance(self.areas, int) and 1 <= self.areas <= self.scenes,
            "synth areas",
            expected=f"an integer between 1 and the number of scenes ({self.scenes})",
            found=self.areas,
            fix="give each area at least one scene",
        )
        require(
            self.pixel_size_m > 0 and self.wavelength_m > 0,
            "synth pixel_size_m and wavelength_m",
            expected="positive metres",
            found=(self.pixel_size_m, self.wavelength_m),
            fix="use 28.0 and 0.236 (ALOS/PALSAR L band)",
        )
        require(
            self.scene_shift_blocks >= 0,
            "synth scene_shift_blocks",
            expected=">= 0",
            found=self.scene_shift_blocks,
            fix="use 1",
        )
        require(
            0 <= self.mountain_fraction <= 1 and 0 <= self.sea_fraction <= 0.5,
            "synth terrain fractions",
            expected="mountain_fraction in [0, 1] and sea_fraction in [0, 0.5]",
            found=(self.mountain_fraction, self.sea_fraction),
            fix="use 0.55 and 0.04",
        )
        require(
            5 <= self.steep_slope_deg <= 80,
            "synth steep_slope_deg",
            expected="5..80 degrees",
            found=self.steep_slope_deg,
            fix="use 42",
        )
        require(
            self.bodies_per_100km2 >= 0,
            "synth bodies_per_100km2",
            expected=">= 0",
            found=self.bodies_per_100km2,
            fix="use 1.3",
        )
        for name in (
            "body_area_km2",
            "downslope_m",
            "incidence_deg",
            "span_cycles",
            "perp_baseline_m",
            "turbulence_rms_m",
            "stratified_m_per_km",
            "ramp_m_per_km",
        ):
            low, high = getattr(self, name)
            require(
                low <= high,
                f"synth {name}",
                expected="a (low, high) pair with low <= high",
                found=(low, high),
                fix="swap the two values",
            )
        require(
            self.body_area_km2[0] > 0 and self.downslope_m[0] > 0 and self.span_cycles[0] >= 1,
            "synth body sizes, motion and spans",
            expected="positive lower bounds",
            found=(self.body_area_km2, self.downslope_m, self.span_cycles),
            fix="use the defaults",
        )
        require(
            self.downslope_m[1] / self.downslope_m[0] >= self.span_cycles[1] / self.span_cycles[0],
            "synth downslope_m vs span_cycles",
            expected="a motion range at least as wide (ratio) as the span range, so a constant rate fits both",
            found=(self.downslope_m, self.span_cycles),
            fix="narrow span_cycles or widen downslope_m",
        )
        require(
            len(self.passes) > 0 and all(p in PASS_HEADING_DEG for p in self.passes),
            "synth passes",
            expected=f"a non-empty subset of {tuple(PASS_HEADING_DEG)}",
            found=self.passes,
            fix="use ['ascending', 'descending']",
        )
        require(
            self.incidence_deg[0] >= 10 and self.incidence_deg[1] <= 60,
            "synth incidence_deg",
            expected="angles within 10..60 degrees",
            found=self.incidence_deg,
            fix="use [34, 39]",
        )
        require(
            self.looks >= 1 and 0 < self.coherence_max <= 1,
            "synth looks and coherence_max",
            expected="looks >= 1 and coherence_max in (0, 1]",
            found=(self.looks, self.coherence_max),
            fix="use 8 and 0.92",
        )
        require(
            -4.5 < self.turbulence_exponent < -1.0,
            "synth turbulence_exponent",
            expected="a power-law exponent between -4.5 and -1 (2-D spectrum)",
            found=self.turbulence_exponent,
            fix="use -8/3 (Hanssen's thin-layer regime)",
        )
        require(
            _parse_date(self.first_acquisition) is not None,
            "synth first_acquisition",
            expected="an ISO date YYYY-MM-DD",
            found=self.first_acquisition,
            fix="use 2007-01-06",
        )

    @property
    def fringe_m(self) -> float:
        """Line-of-sight motion of one fringe (half a wavelength)."""
        return self.wavelength_m / 2


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------------------
# Value types
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """One satellite track (path) and frame: pass direction, incidence and heading."""

    pass_direction: str
    orbit: int
    frame: int
    incidence_deg: float
    heading_deg: float


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


@dataclass(frozen=True)
class BodyTruth:
    """A body as seen in one scene: its motion for the pair's time span and whether the pair shows it."""

    body_id: str
    downslope_m: float
    los_peak_m: float
    valid_fraction: float
    mean_coherence: float
    visible: bool


@dataclass(frozen=True, eq=False)
class Scene:
    """One simulated interferogram: wrapped phase (float32, NaN nodata), coherence, nodata reasons, truth."""

    spec: SceneSpec
    phase: np.ndarray
    coherence: np.ndarray
    nodata: np.ndarray
    dem: np.ndarray
    labels: np.ndarray
    truths: tuple[BodyTruth, ...]
    nuisance: dict[str, float] = field(default_factory=dict)

    @property
    def valid(self) -> np.ndarray:
        return self.nodata == NODATA_VALID


@dataclass(frozen=True, eq=False)
class RegionPlan:
    """Areas, bodies and scene specs of a region; scenes are simulated from it one at a time."""

    config: SynthConfig
    areas: tuple[Area, ...]
    bodies: tuple[Body, ...]
    specs: tuple[SceneSpec, ...]

    def area(self, area_id: str) -> Area:
        return next(a for a in self.areas if a.area_id == area_id)


@dataclass(frozen=True, eq=False)
class Region:
    plan: RegionPlan
    scenes: tuple[Scene, ...]


# ---------------------------------------------------------------------------------------------------------
# Random fields
# ---------------------------------------------------------------------------------------------------------


def _wavenumbers(shape: tuple[int, int], pixel_size_m: float) -> np.ndarray:
    """Radial wavenumber (cycles per metre) of every FFT bin of ``shape``."""
    ky = sfft.fftfreq(shape[0], d=pixel_size_m).astype(np.float32)
    kx = sfft.fftfreq(shape[1], d=pixel_size_m).astype(np.float32)
    return np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2)


def gaussian_field_pair(
    shape: tuple[int, int], pixel_size_m: float, psd: Spectrum, rng: np.random.Generator, pad: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent stationary Gaussian fields with power spectral density ``psd(k)`` (k in cycles/m).

    One complex inverse FFT of complex white noise times ``sqrt(psd)`` gives both (real and imaginary parts).
    ``pad`` > 1 synthesises on a larger periodic grid and crops, so the field does not wrap around the scene.
    Each field has zero mean and unit standard deviation over ``shape``.
    """
    big = (
        sfft.next_fast_len(int(math.ceil(shape[0] * pad))),
        sfft.next_fast_len(int(math.ceil(shape[1] * pad))),
    )
    k = _wavenumbers(big, pixel_size_m)
    k[0, 0] = 1.0
    amplitude = np.sqrt(psd(k)).astype(np.float32)
    amplitude[0, 0] = 0.0
    noise = rng.standard_normal(big, dtype=np.float32) + 1j * rng.standard_normal(big, dtype=np.float32)
    noise *= amplitude
    complex_field = sfft.ifft2(noise, workers=-1, overwrite_x=True)[: shape[0], : shape[1]]
    return _standardize(complex_field.real), _standardize(complex_field.imag)


def _standardize(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    values -= values.mean(dtype=np.float64)
    std = float(values.std(dtype=np.float64))
    return values / np.float32(std if std > 0 else 1.0)


def turbulence_psd(k: np.ndarray, exponent: float) -> np.ndarray:
    """2-D radially symmetric PSD of turbulent delay, continuous power law with Hanssen's three regimes.

    ``exponent`` holds for scales of 2-20 km (thin-layer 2-D turbulence; -8/3 for the 2-D spectrum, i.e.
    Hanssen's -5/3 for 1-D profiles); it steepens by -1 below 2 km (3-D Kolmogorov, -11/3) and flattens by
    +1 above 20 km (-5/3).
    """
    k_low, k_high = 1.0 / TURBULENCE_BAND_M[1], 1.0 / TURBULENCE_BAND_M[0]
    middle = (k / k_low) ** exponent
    low = (k / k_low) ** (exponent + 1.0)
    high = (k_high / k_low) ** exponent * (k / k_high) ** (exponent - 1.0)
    return np.where(k < k_low, low, np.where(k < k_high, middle, high))


def simulate_turbulence(
    shape: tuple[int, int],
    pixel_size_m: float,
    rng: np.random.Generator,
    *,
    rms_m: float,
    exponent: float = -8.0 / 3.0,
) -> np.ndarray:
    """Turbulent tropospheric delay difference (m), zero mean, ``rms_m`` standard deviation over the scene."""
    field_m, _ = gaussian_field_pair(shape, pixel_size_m, lambda k: turbulence_psd(k, exponent), rng)
    return field_m * np.float32(rms_m)


# ---------------------------------------------------------------------------------------------------------
# Terrain
# ---------------------------------------------------------------------------------------------------------


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def _red_psd(corner_m: float, exponent: float) -> Spectrum:
    """A power law ``k**-exponent`` that flattens below the corner wavenumber ``1 / corner_m``."""
    k0 = 1.0 / corner_m
    return lambda k: (k * k + k0 * k0) ** (-exponent / 2.0)


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
) -> tuple[np.ndarray, np.ndarray]:
    """Fractal terrain (m) and its water mask: mountain ranges with V-shaped valleys, plains and sea.

    A landform field (corner 25 km) splits the area into mountains (the highest ``mountain_fraction``) and
    plains; the sea (``sea_fraction`` of the area) lies on the low side of a random coastline tilt. Mountain
    relief is the absolute value of a fractal field (corner 8 km, spectrum k^-4): its zero lines become a
    connected network of narrow valleys, its maxima ridges. The relief is scaled so that 10% of the core
    mountain pixels are steeper than ``steep_slope_deg``.
    """
    landform, texture = gaussian_field_pair(shape, pixel_size_m, _red_psd(25_000.0, 4.0), rng)
    relief, massif = gaussian_field_pair(shape, pixel_size_m, _red_psd(8_000.0, 4.0), rng)
    mountain_cut = np.quantile(landform, 1.0 - mountain_fraction) if mountain_fraction > 0 else np.inf
    weight = _smoothstep((landform - mountain_cut) / 0.8 + 0.5) if mountain_fraction > 0 else 0 * landform
    unit = weight * (
        np.maximum(np.abs(relief) - 0.08, 0.0) + 0.8 * np.maximum(landform - mountain_cut, 0.0) + 0.1 * massif
    )
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
    cover, _ = gaussian_field_pair(dem.shape, pixel_size_m, _red_psd(1_500.0, 3.0), rng)
    error, _ = gaussian_field_pair(dem.shape, pixel_size_m, _red_psd(800.0, 4.5), rng)
    highland = np.clip(dem / 600.0, 0.0, 1.0)
    vegetation = np.clip(0.25 + 0.6 * highland + 0.2 * cover, 0.0, 1.0).astype(np.float32)
    vegetation[water] = 0.0
    steepness = np.sin(np.radians(slope_deg(dem, pixel_size_m, pixel_size_m)))
    dem_error_m = (error * dem_error_rms_m * (0.5 + steepness)).astype(np.float32)
    dem_error_m[water] = 0.0
    return vegetation, dem_error_m


# ---------------------------------------------------------------------------------------------------------
# Landslides
# ---------------------------------------------------------------------------------------------------------


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


HILLSLOPE_MIN_DEG = 20.0
"""Bodies start on hillslopes at least this steep (DEM smoothed over ~200 m), inside slope-class blocks."""


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


def _label_raster(shape: tuple[int, int], bodies: list[Body]) -> np.ndarray:
    labels = np.zeros(shape, dtype=np.uint16)
    for number, body in enumerate(bodies, start=1):
        h, w = body.profile.shape
        view = labels[body.row_off : body.row_off + h, body.col_off : body.col_off + w]
        view[body.profile > 0] = number
    return labels


# ---------------------------------------------------------------------------------------------------------
# Acquisition geometry
# ---------------------------------------------------------------------------------------------------------


def los_vector(incidence_deg: float, heading_deg: float) -> np.ndarray:
    """Unit vector (east, north, up) from the ground to a right-looking radar."""
    incidence = math.radians(incidence_deg)
    azimuth = math.radians(heading_deg - 90.0)
    return np.array(
        [
            math.sin(incidence) * math.sin(azimuth),
            math.sin(incidence) * math.cos(azimuth),
            math.cos(incidence),
        ]
    )


def layover_shadow(
    dem: np.ndarray, pixel_size_m: float, incidence_deg: float, looks_east: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Layover and shadow masks along image rows (range lines taken east-west; the ~10 degree heading tilt
    is neglected here). Shadow: the terrain hides a pixel from the radar beam. Layover: slant range is not
    monotonic along the range line, so pixels fold onto others."""
    z = dem.astype(np.float64)
    if not looks_east:
        z = z[:, ::-1]
    incidence = math.radians(incidence_deg)
    ground_m = np.arange(z.shape[1], dtype=np.float64) * pixel_size_m
    beam = z + ground_m / math.tan(incidence)
    shadow = beam < np.maximum.accumulate(beam, axis=1) - 1e-6
    slant = ground_m * math.sin(incidence) - z * math.cos(incidence)
    later_min = np.minimum.accumulate(slant[:, ::-1], axis=1)[:, ::-1]
    layover = (slant < np.maximum.accumulate(slant, axis=1) - 1e-6) | (slant > later_min + 1e-6)
    if not looks_east:
        shadow, layover = shadow[:, ::-1], layover[:, ::-1]
    return layover, shadow & ~layover


def local_incidence_deg(dem: np.ndarray, pixel_size_m: float, los_enu: np.ndarray) -> np.ndarray:
    """Angle between the terrain normal and the line of sight (degrees)."""
    gy, gx = np.gradient(dem.astype(np.float32), np.float32(pixel_size_m))
    normal = np.stack([-gx, gy, np.ones_like(gx)])
    cosine = np.tensordot(los_enu.astype(np.float32), normal, axes=1) / np.linalg.norm(normal, axis=0)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))


# ---------------------------------------------------------------------------------------------------------
# Coherence and decorrelation
# ---------------------------------------------------------------------------------------------------------


def coherence_model(
    slope: np.ndarray,
    local_incidence: np.ndarray,
    vegetation: np.ndarray,
    *,
    span_days: int,
    perp_baseline_m: float,
    incidence_deg: float,
    wavelength_m: float,
    coherence_max: float,
    vegetation_days: float,
) -> np.ndarray:
    """Coherence 0..1: temporal decorrelation over vegetation, steep-slope and foreshortening loss, and
    geometric (baseline) decorrelation. See docs/simulator.md for the factors."""
    temporal = 0.2 + 0.8 * np.exp(-vegetation * (span_days / vegetation_days))
    steep = 1.0 - 0.4 * np.clip((slope - 15.0) / 35.0, 0.0, 1.0)
    facing = 1.0 - 0.35 * np.clip((incidence_deg - local_incidence) / incidence_deg, 0.0, 1.0)
    critical_m = wavelength_m * SLANT_RANGE_M * math.tan(math.radians(incidence_deg)) / (2 * 5.36)
    geometric = max(0.0, 1.0 - abs(perp_baseline_m) / critical_m)
    gamma = coherence_max * geometric * temporal * steep * facing
    return np.clip(gamma, 0.02, 0.98).astype(np.float32)


def decorrelation_phase(coherence: np.ndarray, looks: int, rng: np.random.Generator) -> np.ndarray:
    """Phase noise of an ``looks``-look interferogram of coherence ``coherence`` (exact distribution).

    With z1 = a, z2 = g*a + sqrt(1-g^2)*b (a, b unit complex Gaussians), the multilooked product sums to
    g*G + sqrt(1-g^2)*sqrt(G)*c, G ~ Gamma(looks, 1), c ~ CN(0, 1): its phase is the noise drawn here.
    """
    gamma = coherence.astype(np.float32)
    power = rng.gamma(float(looks), 1.0, size=gamma.shape).astype(np.float32)
    scale = np.float32(math.sqrt(0.5))
    real = rng.standard_normal(gamma.shape, dtype=np.float32) * scale
    imag = rng.standard_normal(gamma.shape, dtype=np.float32) * scale
    spread = np.sqrt(1.0 - gamma * gamma)
    return np.arctan2(spread * imag, gamma * np.sqrt(power) + spread * real).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------
# Region planning
# ---------------------------------------------------------------------------------------------------------


def _rng(config: SynthConfig, *path: int) -> np.random.Generator:
    """An independent generator per (area, scene, purpose): results do not depend on generation order."""
    return np.random.default_rng([config.seed, *path])


def _area_grid(config: SynthConfig, index: int, size_px: int) -> GeoGrid:
    extent_m = size_px * config.pixel_size_m
    x0 = config.origin_x_m + index * (extent_m + 10_000.0)
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
    start = _parse_date(config.first_acquisition) + timedelta(days=7 * track_index)
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
        dem, water, config.pixel_size_m, _rng(config, index, 0, 2), dem_error_rms_m=config.dem_error_rms_m
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
    rng = _rng(config, index, 0, 3)
    offsets = _scene_offsets(count, config.scene_shift_blocks, block, rng)
    spans = (config.span_cycles[0] * config.repeat_days, config.span_cycles[1] * config.repeat_days)
    bodies = simulate_landslides(area, config, _core_window(offsets, config.size_px, block), rng, spans)
    area = Area(
        area_id=area_id,
        index=index,
        grid=grid,
        dem=dem,
        water=water,
        vegetation=vegetation,
        dem_error_m=dem_error,
        labels=_label_raster(dem.shape, bodies),
    )
    return area, bodies, _scene_specs(config, area, offsets, rng, start)


def _area_terrain(
    config: SynthConfig, index: int, area_px: int, user_dem: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    if user_dem is None:
        return simulate_dem(
            (area_px, area_px),
            config.pixel_size_m,
            _rng(config, index, 0, 1),
            mountain_fraction=config.mountain_fraction,
            sea_fraction=config.sea_fraction,
            steep_slope_deg=config.steep_slope_deg,
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


# ---------------------------------------------------------------------------------------------------------
# Scenes
# ---------------------------------------------------------------------------------------------------------


def _crop(array: np.ndarray, window: PixelWindow) -> np.ndarray:
    return array[window.slices()]


def _orbital_ramp(
    shape: tuple[int, int],
    pixel_size_m: float,
    rng: np.random.Generator,
    gradient_m_per_km: tuple[float, float],
) -> np.ndarray:
    """Planar (half the pairs) or quadratic ramp in metres, zero at the scene centre."""
    y = (np.arange(shape[0], dtype=np.float32) - shape[0] / 2) * np.float32(pixel_size_m / 1000.0)
    x = (np.arange(shape[1], dtype=np.float32) - shape[1] / 2) * np.float32(pixel_size_m / 1000.0)
    gradient = rng.uniform(*gradient_m_per_km)
    direction = rng.uniform(0, 2 * np.pi)
    ramp = gradient * (math.cos(direction) * x[None, :] + math.sin(direction) * y[:, None])
    if rng.random() < 0.5:
        half_km = max(shape) * pixel_size_m / 2000.0
        curvature = rng.normal(0.0, gradient / max(half_km, 1e-6), size=3)
        ramp = (
            ramp
            + curvature[0] * x[None, :] ** 2
            + curvature[1] * x[None, :] * y[:, None]
            + curvature[2] * y[:, None] ** 2
        )
    return ramp.astype(np.float32)


def _deformation(plan: RegionPlan, spec: SceneSpec, los: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
    """Range change (m) of every body of the scene's area, and each body's signed LOS peak (toward radar)."""
    range_change = np.zeros((spec.window.height, spec.window.width), dtype=np.float32)
    peaks: dict[str, float] = {}
    for body in plan.bodies:
        if body.area_id != spec.area_id:
            continue
        toward = body.downslope_m(spec.span_days) * float(np.dot(body.motion_enu, los))
        peaks[body.body_id] = toward
        h, w = body.profile.shape
        r0, c0 = body.row_off - spec.window.row_off, body.col_off - spec.window.col_off
        view = range_change[r0 : r0 + h, c0 : c0 + w]
        view -= np.float32(toward) * body.profile
    return range_change, peaks


def simulate_scene(plan: RegionPlan, spec: SceneSpec) -> Scene:
    """All the terms of one interferometric pair, summed, wrapped, with decorrelation noise and nodata."""
    config = plan.config
    area = plan.area(spec.area_id)
    rng = _rng(config, area.index, 1 + spec.index, 0)
    dem = _crop(area.dem, spec.window)
    los = los_vector(spec.track.incidence_deg, spec.track.heading_deg)
    pixel = config.pixel_size_m
    shape = dem.shape
    range_change, peaks = _deformation(plan, spec, los)
    turbulence_rms = float(rng.uniform(*config.turbulence_rms_m))
    range_change += simulate_turbulence(
        shape, pixel, rng, rms_m=turbulence_rms, exponent=config.turbulence_exponent
    )
    stratified = float(rng.uniform(*config.stratified_m_per_km)) * float(rng.choice([-1.0, 1.0])) / 1000.0
    land = ~_crop(area.water, spec.window)
    reference_m = float(dem[land].mean()) if land.any() else 0.0
    range_change += np.float32(stratified) * (dem - np.float32(reference_m))
    range_change += _orbital_ramp(shape, pixel, rng, config.ramp_m_per_km)
    dem_factor = spec.perp_baseline_m / (SLANT_RANGE_M * math.sin(math.radians(spec.track.incidence_deg)))
    range_change += np.float32(dem_factor) * _crop(area.dem_error_m, spec.window)
    coherence, nodata = _coherence_and_nodata(area, spec, los, config)
    phase = range_change * np.float32(4 * math.pi / config.wavelength_m)
    phase += decorrelation_phase(coherence, config.looks, rng)
    phase = wrap(phase.astype(np.float32))
    phase[nodata != NODATA_VALID] = np.nan
    labels = _crop(area.labels, spec.window)
    truths = _truths(plan, spec, peaks, labels, nodata, coherence)
    nuisance = {
        "turbulence_rms_m": turbulence_rms,
        "stratified_m_per_km": stratified * 1000.0,
        "perp_baseline_m": spec.perp_baseline_m,
    }
    return Scene(
        spec=spec,
        phase=phase,
        coherence=coherence,
        nodata=nodata,
        dem=dem,
        labels=labels,
        truths=truths,
        nuisance=nuisance,
    )


def _coherence_and_nodata(
    area: Area, spec: SceneSpec, los: np.ndarray, config: SynthConfig
) -> tuple[np.ndarray, np.ndarray]:
    dem = _crop(area.dem, spec.window)
    pixel = config.pixel_size_m
    slope = slope_deg(dem, pixel, pixel)
    coherence = coherence_model(
        slope,
        local_incidence_deg(dem, pixel, los),
        _crop(area.vegetation, spec.window),
        span_days=spec.span_days,
        perp_baseline_m=spec.perp_baseline_m,
        incidence_deg=spec.track.incidence_deg,
        wavelength_m=config.wavelength_m,
        coherence_max=config.coherence_max,
        vegetation_days=config.vegetation_days,
    )
    layover, shadow = layover_shadow(
        area.dem, pixel, spec.track.incidence_deg, looks_east=spec.track.pass_direction == "ascending"
    )
    nodata = np.zeros(dem.shape, dtype=np.uint8)
    nodata[_crop(shadow, spec.window)] = NODATA_SHADOW
    nodata[_crop(layover, spec.window)] = NODATA_LAYOVER
    water = _crop(area.water, spec.window)
    nodata[water] = NODATA_WATER
    coherence[water] = np.float32(0.02)
    return coherence, nodata


def _truths(
    plan: RegionPlan,
    spec: SceneSpec,
    peaks: dict[str, float],
    labels: np.ndarray,
    nodata: np.ndarray,
    coherence: np.ndarray,
) -> tuple[BodyTruth, ...]:
    """Per body: motion, LOS peak and the visibility rule (see ``VISIBLE_*``)."""
    area_bodies = [b for b in plan.bodies if b.area_id == spec.area_id]
    local = {body.body_id: number for number, body in enumerate(area_bodies, start=1)}
    fringe_m = plan.config.fringe_m
    truths = []
    for body in area_bodies:
        inside = labels == local[body.body_id]
        valid = inside & (nodata == NODATA_VALID)
        valid_fraction = float(valid.sum() / max(int(inside.sum()), 1))
        mean_coherence = float(coherence[valid].mean()) if valid.any() else 0.0
        peak = peaks[body.body_id]
        visible = (
            abs(peak) >= VISIBLE_FRINGE_FRACTION * fringe_m
            and valid_fraction >= VISIBLE_VALID_FRACTION
            and mean_coherence >= VISIBLE_MIN_COHERENCE
        )
        truths.append(
            BodyTruth(
                body_id=body.body_id,
                downslope_m=body.downslope_m(spec.span_days),
                los_peak_m=peak,
                valid_fraction=valid_fraction,
                mean_coherence=mean_coherence,
                visible=bool(visible),
            )
        )
    return tuple(truths)


def simulate_pair(plan: RegionPlan, index: int) -> Scene:
    """The ``index``-th scene (interferometric pair) of a planned region."""
    return simulate_scene(plan, plan.specs[index])


def simulate_region(config: SynthConfig, dem: np.ndarray | None = None) -> Region:
    """Plan the region and simulate every scene (holds all arrays in memory; stream with ``simulate_scene``
    for large regions)."""
    plan = plan_region(config, dem)
    return Region(plan=plan, scenes=tuple(simulate_scene(plan, spec) for spec in plan.specs))
