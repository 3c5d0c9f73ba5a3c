"""scanner.core.phase: wrapping, the global filter (exactness under tiling, what it removes and keeps), quantization,
slope and preprocess."""

import math

import dask.array as da
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core import phase
from scanner.core.phase import (
    PreprocessConfig,
    filter_reach_px,
    filter_width_px,
    global_filter,
    global_filter_dask,
    levels_to_unit,
    preprocess,
    quantize,
    slope_class_blocks,
    slope_deg,
    wrap,
)
from scanner.errors import UsageError

PIXEL_M = 28.0


def noisy_scene(
    height: int, width: int, seed: int, hole_fraction: float = 0.1
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    values = wrap((0.05 * x + 0.02 * y + rng.normal(0, 0.8, (height, width))).astype(np.float32))
    values[rng.random((height, width)) < hole_fraction] = np.nan
    valid = (rng.random((height, width)) > hole_fraction).astype(np.uint8)
    return values, valid


@given(st.lists(st.floats(-1e4, 1e4, allow_nan=False, width=32), min_size=1, max_size=50))
def test_wrap_lands_in_half_open_interval_and_is_idempotent(values):
    wrapped = wrap(np.array(values, dtype=np.float32))
    assert wrapped.dtype == np.float32
    assert np.all(wrapped >= np.float32(-np.pi)) and np.all(wrapped < np.float32(np.pi))
    np.testing.assert_array_equal(wrap(wrapped), wrapped)
    np.testing.assert_allclose(np.cos(wrapped), np.cos(np.array(values, dtype=np.float64)), atol=2e-3)


@pytest.mark.parametrize(("size_m", "expected"), [(500, 19), (1000, 37), (2000, 71), (3000, 107), (10, 3)])
def test_filter_width_is_odd_and_nearest_to_size(size_m, expected):
    assert filter_width_px(size_m, PIXEL_M) == expected
    assert filter_reach_px(expected) == expected // 2


@settings(max_examples=40, deadline=None)
@given(
    row=st.integers(0, 119),
    col=st.integers(0, 99),
    height=st.integers(1, 120),
    width=st.integers(1, 100),
    filter_size_m=st.sampled_from([80.0, 250.0, 600.0, 2000.0]),
    seed=st.integers(0, 3),
)
def test_tiled_filter_equals_untiled(row, col, height, width, filter_size_m, seed):
    """Any tile, filtered with a halo of ``PreprocessConfig.reach_px`` and cropped, is bit-identical to the
    whole scene (filter widths 3, 9, 21 and 71 px at 28 m)."""
    scene, valid = noisy_scene(120, 100, seed)
    width_px = filter_width_px(filter_size_m, PIXEL_M)
    whole = global_filter(scene, valid, width_px=width_px)
    reach = PreprocessConfig(filter_size_m=filter_size_m).reach_px(PIXEL_M)
    r0, c0 = max(row - reach, 0), max(col - reach, 0)
    r1, c1 = min(row + height + reach, 120), min(col + width + reach, 100)
    tile = global_filter(scene[r0:r1, c0:c1], valid[r0:r1, c0:c1], width_px=width_px)
    got = tile[row - r0 : row - r0 + height, col - c0 : col - c0 + width]
    np.testing.assert_array_equal(got, whole[row : row + height, col : col + width])


def test_halo_smaller_than_reach_changes_the_result():
    """The halo is necessary: one pixel less and tile edges differ (so the property test can fail)."""
    scene, valid = noisy_scene(120, 100, 0, hole_fraction=0.0)
    whole = global_filter(scene, valid, width_px=21)
    short = global_filter(scene[:, 40 - 9 :], valid[:, 40 - 9 :], width_px=21)[:, 9:]
    assert not np.array_equal(short, whole[:, 40:])


def test_filter_matches_float_reference_and_respects_nodata():
    scene, valid = noisy_scene(60, 50, 2)
    out = global_filter(scene, valid, width_px=9)
    usable = (valid != 0) & np.isfinite(scene)
    assert np.all(np.isnan(out[~usable])) and np.all(np.isfinite(out[usable]))
    z = np.where(usable, np.exp(1j * np.nan_to_num(scene).astype(np.float64)), 0)
    padded = np.pad(z, 4)
    box = sum(padded[dy : dy + 60, dx : dx + 50] for dy in range(9) for dx in range(9))
    reference = np.angle(np.exp(1j * (scene - np.angle(box))))
    diff = np.angle(np.exp(1j * (out[usable] - reference[usable])))
    assert np.max(np.abs(diff)) < 1e-3
    assert np.all(out[usable] >= -np.pi) and np.all(out[usable] < np.pi)


def test_filter_rejects_even_width():
    with pytest.raises(UsageError, match="odd"):
        global_filter(np.zeros((5, 5), np.float32), np.ones((5, 5), np.uint8), width_px=4)


def _circular_rms(values: np.ndarray) -> float:
    mean = np.angle(np.mean(np.exp(1j * values)))
    return float(np.sqrt(np.mean(np.angle(np.exp(1j * (values - mean))) ** 2)))


def _landslide(area_km2: float, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A round cos^2-tapered bowl of ``area_km2`` (1 at the centre, 0 at the rim) and its disc."""
    y, x = np.mgrid[0:size, 0:size] * PIXEL_M
    radius = np.hypot(x - size / 2 * PIXEL_M, y - size / 2 * PIXEL_M) / math.sqrt(area_km2 * 1e6 / math.pi)
    return np.where(radius < 1, np.cos(np.pi * radius / 2) ** 2, 0.0), radius < 1


def test_filter_removes_ramp_and_turbulence_but_keeps_a_half_km2_landslide():
    """Acceptance: planar ramp + long-wavelength turbulence go; a 0.5 km^2 landslide's fringes stay."""
    size = 400
    y, x = np.mgrid[0:size, 0:size] * PIXEL_M
    ramp = 2 * np.pi * (x / 5000.0 + y / 9000.0)
    turbulence = 2.5 * np.sin(2 * np.pi * x / 14000 + 0.7) * np.cos(
        2 * np.pi * y / 11000 + 0.3
    ) + 1.5 * np.sin(2 * np.pi * (x + y) / 17000)
    nuisance = (ramp + turbulence).astype(np.float32)
    shape, disc = _landslide(0.5, size)
    slide = (2 * np.pi * shape).astype(np.float32)  # one full fringe
    valid = np.ones((size, size), np.uint8)
    width = filter_width_px(2000, PIXEL_M)
    inner = slice(width, size - width)

    without = global_filter(wrap(nuisance), valid, width_px=width)
    input_rms, residual_rms = (
        _circular_rms(wrap(nuisance)[inner, inner]),
        _circular_rms(without[inner, inner]),
    )
    print(f"input rms {input_rms:.3f} rad, residual rms {residual_rms:.4f} rad")
    assert residual_rms < 0.1 * input_rms, (residual_rms, input_rms)

    kept = global_filter(wrap(nuisance + slide), valid, width_px=width) - without
    similarity = float(np.abs(np.mean(np.exp(1j * (kept[disc] - slide[disc])))))
    print(f"0.5 km2 landslide: similarity {similarity:.3f}")
    assert similarity > 0.95, similarity


def test_small_filter_attenuates_a_large_body():
    """The measure can fail: a 500 m filter removes much of a 2 km^2 body's phase, 2000 m keeps it."""
    shape, disc = _landslide(2.0, 400)
    valid = np.ones(shape.shape, np.uint8)

    def gain(size_m: float) -> float:
        kept = global_filter(shape.astype(np.float32), valid, width_px=filter_width_px(size_m, PIXEL_M))
        truth, got = shape[disc] - shape[disc].mean(), kept[disc] - kept[disc].mean()
        return float(np.dot(got, truth) / np.dot(truth, truth))

    assert gain(500) < 0.4 and gain(2000) > 0.9


@given(st.lists(st.floats(-3.0, 3.0, width=32), min_size=1, max_size=40), st.sampled_from([2, 8, 16, 64]))
def test_quantize_is_monotone_and_in_range(values, levels):
    array = np.sort(np.array(values, dtype=np.float32))
    q = quantize(array, levels)
    assert q.dtype == np.uint8 and q.min() >= 0 and q.max() <= levels - 1
    assert np.all(np.diff(q.astype(int)) >= 0)
    unit = levels_to_unit(q, levels)
    assert unit.dtype == np.float32 and unit.min() >= 0 and unit.max() <= 1


def test_quantize_sixteen_step_edges():
    edges = -np.pi + 2 * np.pi * np.arange(16) / 16
    np.testing.assert_array_equal(quantize((edges + 1e-4).astype(np.float32)), np.arange(16))
    assert quantize(np.array([np.nan], np.float32))[0] == 0


def test_slope_of_a_plane_is_its_angle_and_blocks_classify():
    y, x = np.mgrid[0:80, 0:80]
    angle = 20.0
    dem = (x * PIXEL_M * math.tan(math.radians(angle))).astype(np.float32)
    slope = slope_deg(dem, PIXEL_M, PIXEL_M)
    np.testing.assert_allclose(slope[1:-1, 1:-1], angle, atol=1e-3)
    classes = slope_class_blocks(np.where(x < 40, slope, 2.0), phase.block_px(PIXEL_M))
    assert classes.shape == (3, 3)
    assert classes[0, 0] == phase.SLOPE_CLASS_SLOPE and classes[0, 2] == phase.SLOPE_CLASS_FLAT


def test_preprocess_channels_and_switches():
    scene, valid = noisy_scene(40, 30, 3)
    usable = (valid != 0) & np.isfinite(scene)
    on = preprocess(scene, valid, PIXEL_M, PreprocessConfig(filter_size_m=500, channels=("phase_q", "cos")))
    off = preprocess(scene, valid, PIXEL_M, PreprocessConfig(filter_size_m=None, quantize_levels=None))
    assert on.shape == (40, 30, 2) and off.shape == (40, 30, 1) and on.dtype == np.float32
    assert np.all(on[~usable] == 0) and np.all(off[~usable] == 0)
    expected = ((scene + np.pi) / (2 * np.pi)).astype(np.float32)
    np.testing.assert_allclose(off[..., 0][usable], expected[usable], atol=1e-6)
    assert len(np.unique(on[..., 0][usable])) <= 16
    with pytest.raises(UsageError, match="coherence"):
        preprocess(scene, valid, PIXEL_M, PreprocessConfig(channels=("coherence",)))


def reference_wrap(values: np.ndarray) -> np.ndarray:
    """The definition: ``mod(x + pi, 2 pi) - pi`` in float64 with numpy's ``np.mod``, rounded, pi -> -pi."""
    dtype = values.dtype
    wrapped = (np.mod(values.astype(np.float64) + np.pi, 2 * np.pi) - np.pi).astype(dtype)
    return np.where(wrapped >= dtype.type(np.pi), -dtype.type(np.pi), wrapped).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_wrap_fast_path_is_bit_identical_to_np_mod(dtype):
    """In [-2 pi, 3 pi) wrap takes its masked fast path; its bits must equal the np.mod definition, also at
    the edges where rounding decides (tiny negatives, values next to pi, 2 pi and 3 pi)."""
    rng = np.random.default_rng(5)
    edges = np.array([np.pi, -np.pi, 2 * np.pi, -2 * np.pi, 3 * np.pi, 0.0, -0.0, 1e-30, -1e-30, -1e-12])
    near = np.concatenate([np.nextafter(edges, np.inf), np.nextafter(edges, -np.inf), edges])
    values = np.concatenate([near, rng.uniform(-2 * np.pi, 3 * np.pi - 1e-9, 200_000)]).astype(dtype)
    values = values[(values >= -2 * np.pi) & (values < 3 * np.pi)]
    fast = wrap(values)
    assert fast.dtype == dtype
    np.testing.assert_array_equal(fast.view(np.uint8), reference_wrap(values).view(np.uint8))
    wide = np.array([-7.0, 10.0, 1e4, np.nan], dtype=dtype)  # outside the fast range: np.mod itself
    np.testing.assert_array_equal(wrap(wide), reference_wrap(wide))


@settings(max_examples=25, deadline=None)
@given(
    height=st.integers(80, 200),
    bands=st.integers(1, 5),
    crop=st.sampled_from([0, 5]),
    channels=st.sampled_from([("phase_q",), ("cos", "sin", "coherence", "slope"), ("slope", "phase_rgb")]),
    seed=st.integers(0, 10_000),
)
def test_preprocess_in_row_bands_is_bit_identical_to_one_pass(height, bands, crop, channels, seed):
    scene, valid = noisy_scene(height, 37, seed)
    rng = np.random.default_rng(seed)
    extras = {"coherence": rng.random(scene.shape).astype(np.float32), "slope": rng.random(scene.shape) * 60}
    config = PreprocessConfig(filter_size_m=500, channels=channels)
    reach = config.reach_px(PIXEL_M)
    whole = preprocess(scene, valid, PIXEL_M, config, extras)[crop : height - crop]
    parts = []
    for rows, keep in phase.row_bands(height, crop, bands, reach):
        band = preprocess(scene[rows], valid[rows], PIXEL_M, config, {k: v[rows] for k, v in extras.items()})
        parts.append(band[keep])
    np.testing.assert_array_equal(np.concatenate(parts), whole)


@settings(max_examples=10, deadline=None)
@given(chunk_y=st.integers(36, 90), chunk_x=st.integers(36, 90), seed=st.integers(0, 5))
def test_dask_map_overlap_filter_equals_untiled(chunk_y, chunk_x, seed):
    rng = np.random.default_rng(seed)
    phase = wrap(rng.normal(0, 2, (150, 170)).astype(np.float32))
    phase[rng.random(phase.shape) < 0.05] = np.nan
    valid = (rng.random(phase.shape) > 0.05).astype(np.uint8)
    tiled = global_filter_dask(
        da.from_array(phase, chunks=(chunk_y, chunk_x)),
        da.from_array(valid, chunks=(chunk_y, chunk_x)),
        width_px=71,
    )
    np.testing.assert_array_equal(tiled.compute(scheduler="sync"), global_filter(phase, valid, width_px=71))
