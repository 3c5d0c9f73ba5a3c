"""scanner.core.prep_device: preprocessing inside the jitted kernel equals the host's numpy preprocessing (to float32
rounding), is exact under tiling, and a ``--prep device`` scan gives the host scan's grid."""

import shutil

import jax
import numpy as np
import pytest
import reference
from hypothesis import given, settings
from hypothesis import strategies as st
from scan_helpers import make_checkpoint, make_store

from scanner.core.phase import PreprocessConfig, preprocess
from scanner.core.prep_device import DevicePrep, _box_sum_axis, preprocess_raw
from scanner.io.probgrid import read_prob
from scanner.pipeline.scan import ScanConfig, scan

PIXEL_M = 28.0
CHANNELS = [("cos", "sin", "coherence", "slope"), ("phase_q",), ("phase_q", "cos", "slope")]


def rasters(height: int, width: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    phase = (0.02 * x + 0.011 * y + rng.normal(0, 0.7, (height, width))).astype(np.float32)
    phase = (np.mod(phase + np.pi, 2 * np.pi) - np.pi).astype(np.float32)
    phase[rng.random((height, width)) < 0.03] = np.nan
    coherence = rng.random((height, width)).astype(np.float32)
    coherence[rng.random((height, width)) < 0.02] = np.nan
    return {
        "phase": phase,
        "valid": (rng.random((height, width)) > 0.05).astype(np.uint8),
        "coherence": coherence,
        "slope": (rng.random((height, width)) * 60).astype(np.float32),
    }


def raw_tile(arrays: dict[str, np.ndarray], prep: DevicePrep) -> np.ndarray:
    return np.stack([arrays[name].astype(np.float32) for name in prep.raw_names], axis=-1)


@pytest.mark.parametrize("channels", CHANNELS)
@pytest.mark.parametrize("filter_size_m", [2000.0, None])
def test_device_preprocessing_equals_host_preprocessing(channels, filter_size_m):
    arrays = rasters(230, 260, 1)
    config = PreprocessConfig(filter_size_m=filter_size_m, channels=channels)
    prep = DevicePrep(config, PIXEL_M)
    extras = {k: arrays[k] for k in ("coherence", "slope")}
    host = preprocess(arrays["phase"], arrays["valid"], PIXEL_M, config, extras, crop=prep.reach_px)
    device = np.asarray(jax.jit(lambda raw: preprocess_raw(raw, prep))(raw_tile(arrays, prep)))
    assert device.shape == host.shape and device.dtype == np.float32
    # float32 rounding of the device's cos/sin/arctan2; a phase_q level could flip on an exact level edge
    diff = np.abs(device - host)
    assert diff.max() < 1e-5 or (diff > 1e-5).mean() < 1e-4
    np.testing.assert_array_equal(device == 0, host == 0)


@settings(max_examples=10, deadline=None)
@given(row=st.integers(0, 60), col=st.integers(0, 60), height=st.integers(80, 150), seed=st.integers(0, 99))
def test_device_preprocessing_is_exact_under_tiling(row, col, height, seed):
    arrays = rasters(230, 230, seed)
    prep = DevicePrep(PreprocessConfig(channels=("cos", "sin", "coherence", "slope")), PIXEL_M)
    r = prep.reach_px
    run = jax.jit(lambda raw: preprocess_raw(raw, prep))
    whole = np.asarray(run(raw_tile(arrays, prep)))
    part = {k: a[row : row + height, col : col + 150] for k, a in arrays.items()}
    tile = np.asarray(run(raw_tile(part, prep)))
    np.testing.assert_array_equal(tile, whole[row : row + height - 2 * r, col : col + 150 - 2 * r])


def test_device_box_sums_are_exact_when_running_sums_overflow_int32():
    values = np.random.default_rng(3).integers(-65536, 65537, (300, 420)).astype(np.int32)
    values[:, :300] = 65_000  # running sums of 151 px boxes along a row pass 2**31
    reach = 75
    device = np.asarray(jax.jit(lambda v: _box_sum_axis(_box_sum_axis(v, reach, 0), reach, 1))(values))
    np.testing.assert_array_equal(device, reference.box_sum(values, reach)[reach:-reach, reach:-reach])


def test_device_prep_scan_equals_host_prep_scan(tmp_path):
    store = make_store(tmp_path / "store", {"a": (430, 370)})
    checkpoint = make_checkpoint(tmp_path / "ckpt")

    def grid(**settings) -> tuple[np.ndarray, dict]:
        result = scan(store, checkpoint, ["a"], ScanConfig(**settings))[0]
        values, attrs = read_prob(store.root, "a")
        shutil.rmtree(result.path)  # the next setting scans afresh
        return values, attrs

    host, host_attrs = grid(tile_cells=13, prep="host")
    device, device_attrs = grid(tile_cells=13, prep="device")
    untiled, _ = grid(tile_cells=60, prep="device")
    assert host_attrs["config"]["prep"] == "host" and device_attrs["config"]["prep"] == "device"
    assert host_attrs["run_key"] != device_attrs["run_key"]
    np.testing.assert_array_equal(np.isnan(device), np.isnan(host))
    assert np.isfinite(host).sum() > 300
    assert np.nanmax(np.abs(device - host)) <= 1e-4
    np.testing.assert_array_equal(np.isnan(untiled), np.isnan(device))
    assert np.nanmax(np.abs(untiled - device)) <= 1e-5  # tiled equals untiled with device preprocessing too


def test_device_prep_needs_the_dense_path():
    with pytest.raises(Exception, match="dense"):
        ScanConfig(path="window", prep="device")


def test_phase_rgb_is_refused_on_the_device_in_one_line():
    from scanner.errors import UsageError

    with pytest.raises(UsageError, match="phase_rgb.*--prep host") as caught:
        DevicePrep(PreprocessConfig(channels=("phase_rgb",)), 30.0)
    assert "\n" not in str(caught.value)
