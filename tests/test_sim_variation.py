"""Generator families and domain randomisation (scanner/sim; configs/sim_randomised.py, configs/sim_variant.py):
each family does what its docstring says, a range draws only when it is one, and the home generator's own
streams never shift."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage, stats

from scanner.errors import UsageError
from scanner.sim.config import SynthConfig, load_synth_config
from scanner.sim.fields import gaussian_field_pair, red_psd, simulate_turbulence
from scanner.sim.filtering import goldstein_filter
from scanner.sim.region import plan_region
from scanner.sim.scene import _variation, simulate_pair
from scanner.sim.terrain import simulate_dem

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def circular_residual(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.angle(np.exp(1j * (a - b)))


def test_goldstein_removes_noise_and_keeps_the_fringes():
    rows, cols = np.mgrid[0:200, 0:240].astype(np.float32)
    truth = np.angle(np.exp(1j * (0.15 * cols + 0.05 * rows))).astype(np.float32)
    noisy = np.angle(np.exp(1j * (truth + np.random.default_rng(1).normal(0, 0.9, truth.shape)))).astype(
        np.float32
    )
    noisy[50:60, 70:90] = np.nan
    weak, strong = goldstein_filter(noisy, 0.3), goldstein_filter(noisy, 0.8)
    inner = (slice(20, -20), slice(20, -20))
    errors = [float(np.nanstd(circular_residual(x, truth)[inner])) for x in (noisy, weak, strong)]
    assert errors[0] > errors[1] > errors[2] and errors[2] < 0.5 * errors[0], errors
    assert np.isnan(strong[50:60, 70:90]).all() and np.isfinite(strong[:50]).all()
    assert np.nanmax(np.abs(strong)) <= math.pi
    np.testing.assert_array_equal(goldstein_filter(noisy, 0.0), noisy)


def correlation_length(field: np.ndarray, axis: int) -> int:
    """First lag (px) along ``axis`` at which the autocorrelation falls below 1/e."""
    centred = field - field.mean()
    for lag in range(1, field.shape[axis] // 2):
        a = np.take(centred, range(field.shape[axis] - lag), axis=axis)
        b = np.take(centred, range(lag, field.shape[axis]), axis=axis)
        if float((a * b).mean() / centred.var()) < 1 / math.e:
            return lag
    return field.shape[axis]


def test_anisotropic_turbulence_is_longer_along_its_direction():
    along_x = simulate_turbulence((512, 512), 28.0, np.random.default_rng(2), rms_m=0.02, stretch=(3.0, 0.0))
    along_y = simulate_turbulence(
        (512, 512), 28.0, np.random.default_rng(2), rms_m=0.02, stretch=(3.0, math.pi / 2)
    )
    assert correlation_length(along_x, 1) > 2 * correlation_length(along_x, 0)
    assert correlation_length(along_y, 0) > 2 * correlation_length(along_y, 1)
    assert float(along_x.std()) == pytest.approx(0.02, rel=1e-3)
    plain = simulate_turbulence((64, 64), 28.0, np.random.default_rng(3), rms_m=0.02)
    same = simulate_turbulence((64, 64), 28.0, np.random.default_rng(3), rms_m=0.02, stretch=(1.0, 0.7))
    np.testing.assert_array_equal(plain, same)


@pytest.mark.parametrize("seed", [0, 1])
def test_ridged_terrain_has_sharper_ridges_than_fractal(seed):
    """Sharp ridges give the Laplacian over the slopes a long negative tail: its skew is far lower for the
    ridged family than for the fractal one (whose V-shaped valleys and rounded ridges about balance)."""
    skews = {}
    for family in ("fractal", "ridged"):
        dem, water = simulate_dem((400, 400), 28.0, np.random.default_rng(seed), terrain=family)
        relief = ndimage.laplace(dem.astype(np.float64))[5:-5, 5:-5]
        steep = ndimage.gaussian_gradient_magnitude(dem.astype(np.float64), 1)[5:-5, 5:-5] > 10
        skews[family] = float(stats.skew(relief[steep]))
    assert skews["ridged"] < skews["fractal"] - 0.3 and skews["ridged"] < -0.4, skews


def test_home_defaults_draw_nothing():
    rng = np.random.default_rng(7)
    before = rng.bit_generator.state
    varied = _variation(SynthConfig(), rng, (64, 64))
    assert rng.bit_generator.state == before
    assert varied.record(SynthConfig()) == {} and varied.patches is None and varied.filter_alpha == 0


def test_randomised_draws_stay_in_their_ranges_and_differ_between_pairs():
    config = load_synth_config(CONFIGS / "sim_randomised.py", scenes=6, size_px=300)
    plan = plan_region(config)
    drawn = [simulate_pair(plan, i).nuisance for i in range(6)]
    exponents = [d["turbulence_exponent"] for d in drawn]
    assert len(set(exponents)) == 6
    assert all(abs(e - config.turbulence_exponent) <= config.turbulence_exponent_spread for e in exponents)
    looks = [d.get("looks", float(config.looks)) for d in drawn]
    assert all(config.looks_range[0] <= x <= config.looks_range[1] for x in looks) and len(set(looks)) > 1
    filtered = [d["filter_alpha"] for d in drawn if "filter_alpha" in d]
    assert all(config.filter_alpha[0] <= a <= config.filter_alpha[1] for a in filtered)


def test_variation_never_shifts_the_home_streams():
    """Terrain draws change the DEM, not the bodies' seeds; per-pair draws change no area raster."""
    home = SynthConfig(size_px=300, scenes=2)
    patchy = dataclasses.replace(home, coherence_patches=(0.6, 0.6), filter_fraction=1.0, looks_range=(4, 8))
    a, b = plan_region(home), plan_region(patchy)
    np.testing.assert_array_equal(a.areas[0].dem, b.areas[0].dem)
    np.testing.assert_array_equal(a.areas[0].labels, b.areas[0].labels)
    home_scene, patchy_scene = simulate_pair(a, 0), simulate_pair(b, 0)
    assert home_scene.nuisance["turbulence_rms_m"] == patchy_scene.nuisance["turbulence_rms_m"]
    assert float(patchy_scene.coherence.mean()) < float(home_scene.coherence.mean())
    assert not np.array_equal(np.nan_to_num(home_scene.phase), np.nan_to_num(patchy_scene.phase))


def test_the_variant_region_never_meets_a_home_region():
    home = plan_region(SynthConfig(size_px=300, scenes=2))
    variant = plan_region(load_synth_config(CONFIGS / "sim_variant.py", scenes=2, size_px=300))
    assert not {s.scene_id for s in home.specs} & {s.scene_id for s in variant.specs}
    boxes = [s.grid.bounds for s in (*home.specs, *variant.specs)]
    home_boxes, variant_boxes = boxes[:2], boxes[2:]
    assert all(h[1] > v[3] or v[1] > h[3] for h in home_boxes for v in variant_boxes)


@pytest.mark.parametrize(
    "change",
    [
        {"terrain": "alpine"},
        {"looks_range": (8, 4)},
        {"turbulence_anisotropy": (0.5, 2.0)},
        {"steep_slope_spread_deg": 40.0},
        {"turbulence_exponent_spread": 2.0},
        {"filter_alpha": (0.2, 1.5)},
        {"coherence_max_spread": 0.99},
    ],
)
def test_bad_variation_settings_are_usage_errors(change):
    with pytest.raises(UsageError, match="synth"):
        dataclasses.replace(SynthConfig(), **change)


def test_red_psd_pair_is_unchanged_by_an_isotropic_stretch():
    a = gaussian_field_pair((32, 40), 28.0, red_psd(800.0, 3.0), np.random.default_rng(4))
    b = gaussian_field_pair((32, 40), 28.0, red_psd(800.0, 3.0), np.random.default_rng(4), stretch=(1.0, 2.0))
    np.testing.assert_array_equal(a[0], b[0])
