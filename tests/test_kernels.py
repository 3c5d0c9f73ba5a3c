"""scanner.kernels: the compiled filter and channel assembly equal plain numpy references (tests/reference.py)
bit for bit, at every box width, crop and nodata pattern; usable-pixel block counts are exact."""

import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner import kernels
from scanner.phase import PreprocessConfig, filter_width_px, preprocess

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
