"""``scanner.sim.scene``: determinism, wrapping, nodata reasons and scenes that overlap but differ."""

from __future__ import annotations

import numpy as np
import pytest
import sim_fixtures
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.sim.config import SynthConfig
from scanner.sim.region import plan_region
from scanner.sim.scene import (
    NODATA_LAYOVER,
    NODATA_SHADOW,
    NODATA_VALID,
    NODATA_WATER,
    simulate_region,
    simulate_scene,
)


@pytest.fixture(scope="module")
def small_region():
    return sim_fixtures.small_region()


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


def test_nodata_reasons_cover_water_and_geometry(small_region):
    codes = set()
    for scene in small_region.scenes:
        codes |= set(np.unique(scene.nodata).tolist())
    assert NODATA_VALID in codes and NODATA_LAYOVER in codes
    assert codes <= {NODATA_VALID, NODATA_WATER, NODATA_LAYOVER, NODATA_SHADOW}
