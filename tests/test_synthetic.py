"""The DInSAR simulator: determinism, wrapping, atmosphere spectrum, landslide placement and physics."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core.phase import block_px, expand_blocks, slope_class_blocks, slope_deg
from scanner.errors import UsageError
from scanner.sim.simulate import (
    NODATA_LAYOVER,
    NODATA_SHADOW,
    NODATA_VALID,
    NODATA_WATER,
    VISIBLE_FRINGE_FRACTION,
    SynthConfig,
    decorrelation_phase,
    layover_shadow,
    los_vector,
    plan_region,
    simulate_dem,
    simulate_region,
    simulate_scene,
    simulate_turbulence,
)

SMALL = SynthConfig(size_px=400, scenes=3, seed=7, bodies_per_100km2=4.0)


@pytest.fixture(scope="module")
def small_region():
    return simulate_region(SMALL)


def measured_exponent(field: np.ndarray, pixel_size_m: float, band_m: tuple[float, float]) -> float:
    """Slope of log power against log wavenumber over every FFT coefficient in the band (the log of an
    exponentially distributed power has a constant bias, so the fitted slope is unbiased)."""
    power = np.abs(np.fft.rfft2(field - field.mean())) ** 2
    ky = np.fft.fftfreq(field.shape[0], d=pixel_size_m)
    kx = np.fft.rfftfreq(field.shape[1], d=pixel_size_m)
    k = np.hypot(ky[:, None], kx[None, :])
    band = (k >= 1.0 / band_m[1]) & (k <= 1.0 / band_m[0])
    return float(np.polyfit(np.log(k[band]), np.log(power[band]), 1)[0])


def test_same_seed_same_arrays_and_other_seed_differs():
    first = simulate_region(SynthConfig(size_px=200, scenes=2, seed=3))
    again = simulate_region(SynthConfig(size_px=200, scenes=2, seed=3))
    other = simulate_region(SynthConfig(size_px=200, scenes=2, seed=4))
    for a, b in zip(first.scenes, again.scenes, strict=True):
        np.testing.assert_array_equal(a.phase, b.phase)
        np.testing.assert_array_equal(a.coherence, b.coherence)
        assert a.spec == b.spec
    np.testing.assert_array_equal(first.plan.areas[0].dem, again.plan.areas[0].dem)
    assert not np.array_equal(first.plan.areas[0].dem, other.plan.areas[0].dem)


def test_scene_does_not_depend_on_generation_order():
    plan = plan_region(SynthConfig(size_px=200, scenes=3, seed=1))
    last_first = simulate_scene(plan, plan.specs[2])
    in_order = [simulate_scene(plan, spec) for spec in plan.specs]
    np.testing.assert_array_equal(last_first.phase, in_order[2].phase)


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), size=st.integers(150, 260))
def test_phase_is_wrapped_float32_with_nan_exactly_on_nodata(seed, size):
    region = simulate_region(SynthConfig(size_px=size, scenes=1, seed=seed))
    scene = region.scenes[0]
    assert scene.phase.dtype == np.float32 and scene.phase.shape == (size, size)
    finite = scene.phase[np.isfinite(scene.phase)]
    assert finite.min() >= -np.float32(np.pi)
    assert finite.max() < np.float32(np.pi)
    np.testing.assert_array_equal(np.isnan(scene.phase), scene.nodata != NODATA_VALID)
    assert scene.coherence.dtype == np.float32
    assert scene.coherence.min() >= 0.0 and scene.coherence.max() <= 1.0


@pytest.mark.parametrize("exponent", [-8.0 / 3.0, -2.2, -3.3])
def test_turbulence_spectrum_exponent_over_2_to_20_km(exponent):
    slopes = [
        measured_exponent(
            simulate_turbulence(
                (1024, 1024), 28.0, np.random.default_rng(seed), rms_m=0.02, exponent=exponent
            ),
            28.0,
            (2_000.0, 20_000.0),
        )
        for seed in range(4)
    ]
    assert abs(float(np.mean(slopes)) - exponent) < 0.3, slopes


def test_turbulence_rms_is_the_requested_one():
    field = simulate_turbulence((300, 300), 28.0, np.random.default_rng(0), rms_m=0.017)
    assert float(field.std()) == pytest.approx(0.017, rel=1e-3)
    assert abs(float(field.mean())) < 1e-6


def test_dem_has_steep_mountains_plains_and_sea():
    dem, water = simulate_dem((700, 700), 28.0, np.random.default_rng(2), sea_fraction=0.1)
    slope = slope_deg(dem, 28.0, 28.0)
    land = ~water
    assert (slope[land] > 40).mean() > 0.01
    assert (slope[land] < 5).mean() > 0.1
    assert water.mean() == pytest.approx(0.1, abs=0.01)
    assert np.all(dem[water] == 0)
    assert dem.max() - np.median(dem[land]) > 500
    classes = slope_class_blocks(slope, block_px(28.0))
    assert 0.2 < (classes == 1).mean() < 0.9


def test_landslides_lie_on_slope_class_cells_inside_every_scene(small_region):
    plan = small_region.plan
    assert len(plan.bodies) >= 2
    block = block_px(SMALL.pixel_size_m)
    for scene in small_region.scenes:
        grid = scene.spec.grid
        classes = expand_blocks(
            slope_class_blocks(slope_deg(scene.dem, 28.0, 28.0), block), block, grid.shape
        )
        left, bottom, right, top = grid.bounds
        rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
        xs, ys = grid.transform * (cols + 0.5, rows + 0.5)
        for body in plan.bodies:
            polygon = body.shape()
            assert shapely.box(left, bottom, right, top).contains(polygon)
            inside = shapely.contains_xy(polygon, xs, ys)
            assert inside.sum() > 0
            assert np.all(classes[inside] == 1), body.body_id


def test_bodies_area_motion_and_time_growth(small_region):
    config = small_region.plan.config
    for body in small_region.plan.bodies:
        assert config.body_area_km2[0] * 1e6 * 0.98 <= body.area_m2 <= config.body_area_km2[1] * 1e6 * 1.02
        assert body.motion_enu[2] < 0 and math.isclose(np.linalg.norm(body.motion_enu), 1.0, rel_tol=1e-6)
    spans = {s.spec.scene_id: s.spec.span_days for s in small_region.scenes}
    for scene in small_region.scenes:
        for truth in scene.truths:
            assert config.downslope_m[0] - 1e-9 <= truth.downslope_m <= config.downslope_m[1] + 1e-9
            assert abs(truth.los_peak_m) <= truth.downslope_m + 1e-12
            if truth.visible:
                assert abs(truth.los_peak_m) >= VISIBLE_FRINGE_FRACTION * config.fringe_m
    by_body: dict[str, list[tuple[int, float]]] = {}
    for scene in small_region.scenes:
        for truth in scene.truths:
            by_body.setdefault(truth.body_id, []).append((spans[scene.spec.scene_id], truth.downslope_m))
    for pairs in by_body.values():
        pairs.sort()
        assert all(a[1] <= b[1] + 1e-12 for a, b in zip(pairs, pairs[1:], strict=False))


def test_scenes_overlap_but_differ_and_atmosphere_changes(small_region):
    scenes = small_region.scenes
    windows = {(s.spec.window.row_off, s.spec.window.col_off) for s in scenes}
    assert len(windows) == len(scenes)
    assert len({(s.spec.first_date, s.spec.second_date) for s in scenes}) == len(scenes)
    rms = {round(s.nuisance["turbulence_rms_m"], 6) for s in scenes}
    assert len(rms) == len(scenes)
    config = small_region.plan.config
    for s in scenes:
        assert config.turbulence_rms_m[0] <= s.nuisance["turbulence_rms_m"] <= config.turbulence_rms_m[1]
        assert config.incidence_deg[0] <= s.spec.track.incidence_deg <= config.incidence_deg[1]


def test_landslide_signal_shows_a_sharp_step_at_the_margin():
    config = SynthConfig(size_px=400, scenes=1, seed=11, bodies_per_100km2=4.0)
    plan = plan_region(config)
    body = max(plan.bodies, key=lambda b: b.area_m2)
    inside = body.profile > 0
    ring = inside & ~np.pad(inside, 1)[2:, 1:-1] | inside & ~np.pad(inside, 1)[:-2, 1:-1]
    assert body.profile.max() == pytest.approx(1.0)
    assert body.profile[ring].min() >= 0.25
    assert np.all(body.profile[~inside] == 0)


def test_layover_and_shadow_from_pass_geometry():
    ground = np.arange(60, dtype=np.float64) * 28.0
    # a 50 degree slope facing west (towards an ascending, east-looking radar) from 600 m to 900 m, then a plateau
    facing_west = np.tile(np.clip(ground - 600, 0, 300) * math.tan(math.radians(50)), (3, 1))
    layover_asc, _ = layover_shadow(facing_west, 28.0, 35.0, looks_east=True)
    layover_desc, shadow_desc = layover_shadow(facing_west, 28.0, 35.0, looks_east=False)
    assert layover_asc[:, 22:32].all()
    assert not layover_asc[:, :13].any() and not layover_asc[:, 45:].any()
    assert not layover_desc.any() and not shadow_desc.any()
    cliff = np.tile(np.where(ground < 840, 800.0, 0.0), (3, 1))
    _, shadow_asc = layover_shadow(cliff, 28.0, 35.0, looks_east=True)
    beyond = int(800 * math.tan(math.radians(35)) / 28.0)
    assert shadow_asc[:, 30 : 30 + beyond - 1].all() and not shadow_asc[:, :29].any()


def test_los_vector_points_up_to_the_radar():
    ascending = los_vector(36.0, 350.0)
    descending = los_vector(36.0, 190.0)
    for los in (ascending, descending):
        assert np.linalg.norm(los) == pytest.approx(1.0)
        assert los[2] == pytest.approx(math.cos(math.radians(36.0)))
    assert ascending[0] < 0 < descending[0]


@given(low=st.floats(0.05, 0.5), high=st.floats(0.55, 0.99))
@settings(max_examples=10, deadline=None)
def test_decorrelation_spread_shrinks_with_coherence(low, high):
    rng = np.random.default_rng(0)
    noisy = decorrelation_phase(np.full(20_000, low, np.float32), 16, rng)
    clean = decorrelation_phase(np.full(20_000, high, np.float32), 16, rng)
    assert np.abs(np.exp(1j * clean).mean()) > np.abs(np.exp(1j * noisy).mean())
    assert np.allclose(decorrelation_phase(np.ones(100, np.float32), 4, rng), 0.0, atol=1e-6)


def test_nodata_reasons_cover_water_and_geometry(small_region):
    codes = set()
    for scene in small_region.scenes:
        codes |= set(np.unique(scene.nodata).tolist())
    assert NODATA_VALID in codes and NODATA_LAYOVER in codes
    assert codes <= {NODATA_VALID, NODATA_WATER, NODATA_LAYOVER, NODATA_SHADOW}


def test_user_dem_replaces_the_fractal_terrain():
    block = block_px(28.0)
    ramp = np.add.outer(np.arange(200 + block), np.zeros(200 + block)) * 28.0 * 0.5
    region = simulate_region(SynthConfig(size_px=200, scenes=1, seed=0), dem=ramp.astype(np.float32) + 10)
    np.testing.assert_allclose(region.plan.areas[0].dem, ramp + 10)


@pytest.mark.parametrize("size", [-5, 0, 149])
def test_bad_sizes_raise_a_clear_usage_error(size):
    with pytest.raises(UsageError, match="size_px.*at least 150"):
        SynthConfig(size_px=size)


def test_other_bad_values_raise_usage_errors():
    with pytest.raises(UsageError, match="passes"):
        SynthConfig(passes=("sideways",))
    with pytest.raises(UsageError, match="areas"):
        SynthConfig(scenes=2, areas=3)
    with pytest.raises(UsageError, match="low <= high"):
        SynthConfig(turbulence_rms_m=(0.03, 0.005))


def test_areas_sit_at_different_map_locations():
    plan = plan_region(SynthConfig(size_px=200, scenes=3, areas=2, seed=0))
    assert [a.area_id for a in plan.areas] == ["area0", "area1"]
    box0, box1 = (shapely.box(*a.grid.bounds) for a in plan.areas)
    assert not box0.intersects(box1)
    assert sorted(s.area_id for s in plan.specs) == ["area0", "area0", "area1"]
    for spec in plan.specs:
        area = plan.area(spec.area_id)
        assert shapely.box(*area.grid.bounds).contains(shapely.box(*spec.grid.bounds))
