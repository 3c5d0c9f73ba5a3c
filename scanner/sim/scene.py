"""Scene simulation: one interferometric pair of a planned region, every term summed, wrapped and masked.

Pure numpy. Every path delay is carried in metres of range change (positive = away from the satellite) and
turned into phase with ``4 pi / wavelength``, so one fringe (2 pi) is half a wavelength of line-of-sight
motion: 11.8 cm at L band (0.236 m). ``simulate_scene`` builds one scene's arrays on demand (so a writer can
stream a large region); ``simulate_region`` plans the region and simulates every scene.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from scanner.core.phase import slope_deg, wrap
from scanner.geo import PixelWindow
from scanner.sim.coherence import coherence_model, decorrelation_phase
from scanner.sim.config import SynthConfig, draw, seeded_rng
from scanner.sim.fields import gaussian_field_pair, red_psd, simulate_turbulence
from scanner.sim.filtering import goldstein_filter
from scanner.sim.radar import SLANT_RANGE_M, layover_shadow, local_incidence_deg, los_vector
from scanner.sim.region import RegionPlan, SceneSpec, plan_region
from scanner.sim.terrain import Area

NODATA_VALID, NODATA_WATER, NODATA_LAYOVER, NODATA_SHADOW = 0, 1, 2, 3
"""Codes of ``Scene.nodata``: why a pixel has no phase (0 = it has one)."""

VISIBLE_FRINGE_FRACTION = 0.25
"""A body is visible in a pair when its LOS peak is at least this fraction of a fringe (4 of 16 colours)."""

VISIBLE_VALID_FRACTION = 0.5
"""... and at least this fraction of its footprint has phase (not layover, shadow or water) ..."""

VISIBLE_MIN_COHERENCE = 0.3
"""... and the mean coherence over its valid pixels is at least this."""


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
class Region:
    """A planned region with every scene simulated (all arrays in memory)."""

    plan: RegionPlan
    scenes: tuple[Scene, ...]


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
    rng = seeded_rng(config, area.index, 1 + spec.index, 0)
    dem = _crop(area.dem, spec.window)
    los = los_vector(spec.track.incidence_deg, spec.track.heading_deg)
    pixel = config.pixel_size_m
    shape = dem.shape
    range_change, peaks = _deformation(plan, spec, los)
    varied = _variation(config, seeded_rng(config, area.index, 1 + spec.index, 7), area.dem.shape)
    turbulence_rms = float(rng.uniform(*config.turbulence_rms_m))
    range_change += simulate_turbulence(
        shape, pixel, rng, rms_m=turbulence_rms, exponent=varied.exponent, stretch=varied.stretch
    )
    stratified = float(rng.uniform(*config.stratified_m_per_km)) * float(rng.choice([-1.0, 1.0])) / 1000.0
    land = ~_crop(area.water, spec.window)
    reference_m = float(dem[land].mean()) if land.any() else 0.0
    range_change += np.float32(stratified) * (dem - np.float32(reference_m))
    range_change += _orbital_ramp(shape, pixel, rng, config.ramp_m_per_km)
    dem_factor = spec.perp_baseline_m / (SLANT_RANGE_M * math.sin(math.radians(spec.track.incidence_deg)))
    range_change += np.float32(dem_factor) * _crop(area.dem_error_m, spec.window)
    coherence, nodata = _coherence_and_nodata(area, spec, los, config, varied)
    phase = range_change * np.float32(4 * math.pi / config.wavelength_m)
    phase += decorrelation_phase(coherence, varied.looks, rng)
    phase = wrap(phase.astype(np.float32))
    phase[nodata != NODATA_VALID] = np.nan
    if varied.filter_alpha > 0:
        phase = goldstein_filter(phase, varied.filter_alpha)
    labels = _crop(area.labels, spec.window)
    truths = _truths(plan, spec, peaks, labels, nodata, coherence)
    nuisance = {
        "turbulence_rms_m": turbulence_rms,
        "stratified_m_per_km": stratified * 1000.0,
        "perp_baseline_m": spec.perp_baseline_m,
        **varied.record(config),
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


@dataclass(frozen=True)
class Variation:
    """What domain randomisation and the generator variants draw per scene (``SynthConfig``'s variation
    fields); with the home generator's defaults every value is the config's own and nothing is drawn."""

    exponent: float
    stretch: tuple[float, float]
    looks: int
    coherence_max: float
    patches: np.ndarray | None
    filter_alpha: float

    def record(self, config: SynthConfig) -> dict[str, float]:
        """The drawn values that differ from the home generator's, for ``Scene.nuisance``."""
        drawn = {
            "turbulence_exponent": self.exponent,
            "turbulence_anisotropy": self.stretch[0],
            "looks": float(self.looks),
            "coherence_max": self.coherence_max,
            "filter_alpha": self.filter_alpha,
        }
        home = {
            "turbulence_exponent": config.turbulence_exponent,
            "turbulence_anisotropy": 1.0,
            "looks": float(config.looks),
            "coherence_max": config.coherence_max,
            "filter_alpha": 0.0,
        }
        return {k: v for k, v in drawn.items() if v != home[k]}


def _variation(config: SynthConfig, rng: np.random.Generator, area_shape: tuple[int, int]) -> Variation:
    """One pair's draws; a patch field covers the whole area grid (``area_shape``) and is cropped per scene."""
    exponent_spread = config.turbulence_exponent_spread
    ratio = draw(rng, *config.turbulence_anisotropy)
    low, high = config.looks_range
    patches = None
    if config.coherence_patches[1] > 0:
        depth = draw(rng, *config.coherence_patches)
        field, _ = gaussian_field_pair(area_shape, config.pixel_size_m, red_psd(1_500.0, 3.0), rng)
        patches = (np.float32(depth) * np.clip(field - 0.5, 0.0, 1.0)).astype(np.float32)
    filtered = config.filter_fraction > 0 and rng.random() < config.filter_fraction
    return Variation(
        exponent=draw(
            rng, config.turbulence_exponent - exponent_spread, config.turbulence_exponent + exponent_spread
        ),
        stretch=(ratio, float(rng.uniform(0.0, math.pi)) if ratio > 1.0 else 0.0),
        looks=config.looks if high == 0 else int(rng.integers(low, high + 1)),
        coherence_max=draw(rng, config.coherence_max - config.coherence_max_spread, config.coherence_max),
        patches=patches,
        filter_alpha=draw(rng, *config.filter_alpha) if filtered else 0.0,
    )


def _coherence_and_nodata(
    area: Area, spec: SceneSpec, los: np.ndarray, config: SynthConfig, varied: Variation
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
        coherence_max=varied.coherence_max,
        vegetation_days=config.vegetation_days,
    )
    if varied.patches is not None:  # patchy decorrelation (fields, snow, works)
        coherence = np.clip(coherence * (1.0 - _crop(varied.patches, spec.window)), 0.02, 0.98)
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
