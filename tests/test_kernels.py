"""scanner.core.kernels: the compiled filter and channel assembly equal plain numpy references (tests/reference.py)
bit for bit, at every box width, crop and nodata pattern; usable-pixel block counts are exact; the compiled
Horn gradient equals the numpy formula bit for bit, and the slope ingest stores from it equals
scanner.core.phase.slope_deg; per-cell means are nan-aware."""

import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core import kernels
from scanner.core.dem import slope_from_gradient
from scanner.core.kernels import horn_gradient
from scanner.core.phase import PreprocessConfig, filter_width_px, preprocess, slope_deg

PIXEL_M = 28.0
ALL = ("cos", "sin", "coherence", "slope")


def rasters(height: int, width: int, seed: int, holes: float = 0.1) -> dict[str, np.ndarray]:
    """Wrapped phase with NaN holes, a valid mask with its own holes, and extras with NaN and +-inf."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-np.pi, np.pi, (height, width)).astype(np.float32)
    phase[rng.random((height, width)) < holes] = np.nan
    valid = (rng.random((height, width)) > holes).astype(np.uint8)
    coherence = rng.random((height, width)).astype(np.float32)
    slope = (rng.random((height, width)) * 60).astype(np.float32)
    for extra in (coherence, slope):
        extra[rng.random((height, width)) < holes] = np.nan
        extra[rng.random((height, width)) < holes / 10] = np.inf
        extra[rng.random((height, width)) < holes / 10] = -np.inf
    return {"phase": phase, "valid": valid, "coherence": coherence, "slope": slope}


def run(arrays: dict[str, np.ndarray], reach: int, crop: int, slots: list[int], channels: int, sums: bool):
    phase, valid = arrays["phase"], arrays["valid"]
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0).astype(np.float32)
    height, width = phase.shape[0] - 2 * crop, phase.shape[1] - 2 * crop
    out = np.full((height, width, channels), -7.0, np.float32)
    box = np.empty((2, height, width), np.int64) if sums else np.zeros((0, 0, 0), np.int64)
    kernels.filter_channels(
        np.cos(safe), np.sin(safe), usable, reach, crop, arrays["coherence"], arrays["slope"],
        np.array(slots, np.int64), out, box,
    )  # fmt: skip
    return out, box


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(1, 60),
    width=st.integers(1, 60),
    reach=st.integers(-1, 40),
    crop_fraction=st.floats(0, 1),
    seed=st.integers(0, 10_000),
)
def test_filter_channels_equal_the_numpy_reference(height, width, reach, crop_fraction, seed):
    """Every channel, and the box sums, bit for bit; boxes wider than the array, crops below and beyond the
    reach."""
    arrays = rasters(height, width, seed)
    crop = int(crop_fraction * ((min(height, width) - 1) // 2))
    out, box = run(arrays, reach, crop, [0, 1, 2, 3], 4, sums=reach >= 0)
    inner = (slice(crop, height - crop), slice(crop, width - crop))
    usable = ((arrays["valid"] != 0) & np.isfinite(arrays["phase"]))[inner]
    cos, sin = reference.filtered_cos_sin(arrays["phase"], arrays["valid"], reach)
    np.testing.assert_array_equal(out[..., 0], cos[inner])
    np.testing.assert_array_equal(out[..., 1], sin[inner])
    np.testing.assert_array_equal(out[..., 2], reference.extra_channel(arrays["coherence"][inner], usable))
    np.testing.assert_array_equal(out[..., 3], reference.extra_channel(arrays["slope"][inner], usable, 90))
    if reach >= 0:
        re, im = reference.phasor_sums(arrays["phase"], arrays["valid"], reach)
        np.testing.assert_array_equal(box[0], re[inner])
        np.testing.assert_array_equal(box[1], im[inner])


def test_slots_choose_output_channels_and_leave_the_others_alone():
    arrays = rasters(40, 30, 1)
    full, _ = run(arrays, 5, 2, [0, 1, 2, 3], 4, sums=False)
    part, _ = run(arrays, 5, 2, [-1, 0, -1, 2], 3, sums=False)  # sin -> 0, slope -> 2; channel 1 untouched
    np.testing.assert_array_equal(part[..., 0], full[..., 1])
    np.testing.assert_array_equal(part[..., 2], full[..., 3])
    assert np.all(part[..., 1] == -7.0)


def test_box_sums_wider_than_int32_are_exact():
    """Aligned phasors in a 301 px box sum to about 5.9e9: the kernel accumulates in int64."""
    arrays = rasters(320, 330, 2, holes=0.0)
    arrays["phase"][:] = 0.01
    _, box = run(arrays, 150, 0, [-1, -1, -1, -1], 0, sums=True)
    re, im = reference.phasor_sums(arrays["phase"], arrays["valid"], 150)
    assert re.max() > 2**32
    np.testing.assert_array_equal(box[0], re)
    np.testing.assert_array_equal(box[1], im)


@pytest.mark.parametrize("filter_size_m", [2000.0, None])
def test_preprocess_phase_channel_rides_along(filter_size_m):
    """``phase_q`` (numpy, from the kernel's sums) next to kernel channels, in any channel order."""
    arrays = rasters(150, 140, 3)
    extras = {"coherence": arrays["coherence"], "slope": arrays["slope"]}
    mixed = PreprocessConfig(filter_size_m=filter_size_m, channels=("slope", "phase_q", "cos"))
    alone = PreprocessConfig(filter_size_m=filter_size_m, channels=("phase_q",))
    both = preprocess(arrays["phase"], arrays["valid"], PIXEL_M, mixed, extras, crop=10)
    only = preprocess(arrays["phase"], arrays["valid"], PIXEL_M, alone, extras, crop=10)
    np.testing.assert_array_equal(both[..., 1], only[..., 0])
    reach = -1 if filter_size_m is None else filter_width_px(filter_size_m, PIXEL_M) // 2
    cos, _ = reference.filtered_cos_sin(arrays["phase"], arrays["valid"], reach)
    np.testing.assert_array_equal(both[..., 2], cos[10:-10, 10:-10])


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 12), cols=st.integers(1, 12), block=st.integers(1, 10), seed=st.integers(0, 999))
def test_block_counts_equal_reshaped_sums(rows, cols, block, seed):
    mask = np.random.default_rng(seed).random((rows * block, cols * block)) > 0.3
    expected = mask.reshape(rows, block, cols, block).sum(axis=(1, 3))
    np.testing.assert_array_equal(kernels.block_counts(mask, block), expected)


def horn_reference(z: np.ndarray, pixel_x_m: float, pixel_y_m: float) -> tuple[np.ndarray, np.ndarray]:
    """Horn's 3x3 gradient (east, north) on the interior of ``z`` in numpy float64 (ingest's former code)."""
    z = z.astype(np.float64)
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    return ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * pixel_x_m), ((a + 2 * b + c) - (g + 2 * h + i)) / (
        8 * pixel_y_m
    )


def _bits(values: np.ndarray) -> np.ndarray:
    return values.view(f"u{values.itemsize}")


@settings(max_examples=40, deadline=None)
@given(
    height=st.integers(3, 40),
    width=st.integers(3, 40),
    relief_m=st.sampled_from([0.0, 0.5, 30.0, 2000.0]),
    pixel_x_m=st.sampled_from([28.0, 27.5, 0.0002, 90.0]),
    pixel_y_m=st.sampled_from([28.0, 30.1, 0.00018]),
    dtype=st.sampled_from(["float32", "float64"]),
    nan_fraction=st.sampled_from([0.0, 0.05]),
    seed=st.integers(0, 2**16),
)
def test_horn_gradient_and_slope_equal_numpy_bit_for_bit(
    height, width, relief_m, pixel_x_m, pixel_y_m, dtype, nan_fraction, seed
):
    rng = np.random.default_rng(seed)
    z = (300 + relief_m * rng.normal(size=(height, width)).cumsum(axis=0)).astype(dtype)
    z[rng.random(z.shape) < nan_fraction] = np.nan
    dz_de, dz_dn = horn_gradient(z, pixel_x_m, pixel_y_m)
    ref_de, ref_dn = horn_reference(z, pixel_x_m, pixel_y_m)
    assert dz_de.shape == dz_dn.shape == (height - 2, width - 2) and dz_de.dtype == np.float64
    np.testing.assert_array_equal(_bits(dz_de), _bits(ref_de))
    np.testing.assert_array_equal(_bits(dz_dn), _bits(ref_dn))
    slope = slope_from_gradient(dz_de, dz_dn)
    np.testing.assert_array_equal(_bits(slope), _bits(slope_deg(z, pixel_x_m, pixel_y_m)[1:-1, 1:-1]))


def test_slope_of_a_plane_and_of_a_whole_chunk():
    """A 10 degree plane rising east, and a chunk-sized random DEM (the ingest case) against slope_deg."""
    x = np.arange(12) * 28.0
    plane = np.tile(x * np.tan(np.radians(10.0)), (9, 1)).astype(np.float32)
    np.testing.assert_allclose(slope_from_gradient(*horn_gradient(plane, 28.0, 28.0)), 10.0, atol=1e-4)
    dz_de, dz_dn = horn_gradient(plane, 28.0, 28.0)
    assert (dz_de > 0).all() and (dz_dn == 0).all()
    dem = (500 + np.random.default_rng(0).normal(0, 4, (502, 502)).cumsum(axis=1)).astype(np.float32)
    np.testing.assert_array_equal(
        _bits(slope_from_gradient(*horn_gradient(dem, 28.0, 28.0))),
        _bits(slope_deg(dem, 28.0, 28.0)[1:-1, 1:-1]),
    )


def test_block_means():
    values = np.arange(400, dtype=np.float32).reshape(20, 20)
    values[:10, :10] = np.nan
    out = kernels.block_means(values, 10, 2, 3)
    assert np.isnan(out[0, 0]) and np.isnan(out[0, 2])
    assert out[1, 1] == pytest.approx(values[10:, 10:].mean())


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(1, 60), width=st.integers(1, 60), rows=st.integers(1, 7), cols=st.integers(1, 7),
    seed=st.integers(0, 999),
)  # fmt: skip
def test_block_means_equal_a_nan_aware_reshape(height, width, rows, cols, seed):
    rng = np.random.default_rng(seed)
    values = (rng.random((height, width)) * 50).astype(np.float32)
    values[rng.random((height, width)) < 0.3] = np.nan
    values[rng.random((height, width)) < 0.05] = np.inf
    padded = np.full((rows * 10, cols * 10), np.nan)
    h, w = min(height, rows * 10), min(width, cols * 10)
    padded[:h, :w] = values[:h, :w]
    cells = padded.reshape(rows, 10, cols, 10)
    finite = np.isfinite(cells)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = np.where(finite, cells, 0).sum(axis=(1, 3)) / finite.sum(axis=(1, 3))
    np.testing.assert_allclose(
        kernels.block_means(values, 10, rows, cols), expected.astype(np.float32), rtol=1e-6
    )
