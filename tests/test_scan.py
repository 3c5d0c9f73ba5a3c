"""Scan orchestration: tiled == untiled, dense == per-window, the nodata rule, resume after SIGKILL."""

import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st
from scan_helpers import PIXEL_M, make_checkpoint, make_store, scene_arrays

import scanner.pipeline.scan
from scanner.core.phase import preprocess
from scanner.core.tiling import in_strips, plan_tiles
from scanner.errors import InputError, ModelMismatchError
from scanner.geo import PixelWindow
from scanner.io.checkpoint import load_checkpoint
from scanner.io.lock import read_lock
from scanner.io.probgrid import read_prob
from scanner.nn.infer import InferConfig, Predictor
from scanner.pipeline.scan import ScanConfig, scan, strip_width_px, tile_input, tile_probability

SHAPE = (430, 370)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("scan")
    store = make_store(root / "store", {"a": SHAPE})
    checkpoint = make_checkpoint(root / "ckpt")
    return store, checkpoint


def scan_grid(store, checkpoint, **settings):
    scan(store, checkpoint, ["a"], ScanConfig(**settings))
    return read_prob(store.root, "a")


def test_tiled_equals_untiled_and_dense_equals_window(setup):
    store, checkpoint = setup
    untiled, attrs = scan_grid(store, checkpoint, tile_cells=60)
    tiled, _ = scan_grid(store, checkpoint, tile_cells=7)
    window, _ = scan_grid(store, checkpoint, tile_cells=13, path="window", batch_size=32)
    assert untiled.shape == (43, 37) and attrs["grid"]["height"] == 43
    assert np.isfinite(untiled).sum() > 300
    for other in (tiled, window):
        np.testing.assert_array_equal(np.isnan(other), np.isnan(untiled))
        assert np.nanmax(np.abs(other - untiled)) <= 1e-5


def test_nan_where_window_incomplete_or_mostly_invalid(setup):
    store, checkpoint = setup
    prob, attrs = scan_grid(store, checkpoint, tile_cells=11)
    assert attrs["min_valid_fraction"] == 0.75 and attrs["cell_px"] == 10
    phase, valid = scene_arrays(*SHAPE, seed=0)
    usable = (valid != 0) & np.isfinite(phase)
    expected = np.zeros(prob.shape, bool)
    for i in range(prob.shape[0]):
        for j in range(prob.shape[1]):
            y0, x0 = 10 * i - 70, 10 * j - 70
            if y0 >= 0 and x0 >= 0 and y0 + 150 <= SHAPE[0] and x0 + 150 <= SHAPE[1]:
                expected[i, j] = usable[y0 : y0 + 150, x0 : x0 + 150].mean() >= 0.75
    np.testing.assert_array_equal(np.isfinite(prob), expected)


def test_tile_input_is_bit_identical_to_the_whole_scene(setup):
    store, checkpoint = setup
    _, meta = load_checkpoint(checkpoint)
    scene = store.scene("a")
    whole = PixelWindow(0, 0, *SHAPE)
    full = preprocess(
        scene.read("phase", whole), scene.read("valid", whole), scene.grid.pixel_size.mean_m, meta.preprocess
    )
    plan = plan_tiles(*SHAPE, tile_cells=9, reach_px=meta.preprocess.reach_px(scene.grid.pixel_size.mean_m))
    tile = next(
        t
        for t in plan.tiles
        if t.model_window.row_off >= 0
        and t.model_window.col_off >= 0
        and t.model_window.row_end <= SHAPE[0]
        and t.model_window.col_end <= SHAPE[1]
    )
    x, usable = tile_input(scene, tile, meta)
    np.testing.assert_array_equal(x, full[tile.model_window.slices()])
    for threads in (2, 3):  # row bands preprocessed in parallel give the same bits
        banded, banded_usable = tile_input(scene, tile, meta, threads)
        np.testing.assert_array_equal(banded, x)
        np.testing.assert_array_equal(banded_usable, usable)


@settings(max_examples=4, deadline=None)
@given(tile_cells=st.integers(4, 30), oy=st.integers(0, 29), ox=st.integers(0, 29))
def test_random_tile_sizes_and_offsets_give_the_same_grid(setup, tile_cells, oy, ox):
    store, checkpoint = setup
    model, meta = load_checkpoint(checkpoint)
    scene = store.scene("a")
    reach = meta.preprocess.reach_px(PIXEL_M)

    def assemble(plan, predictor):
        grid = np.full(plan.cell_shape, np.nan, np.float32)
        for t in plan.tiles:
            x, usable = tile_input(scene, t, meta)
            grid[t.cells.slices()] = tile_probability(x, usable, t, *SHAPE, predictor, 0.75)
        return grid

    whole = plan_tiles(*SHAPE, tile_cells=50, reach_px=reach)
    reference = assemble(whole, Predictor(model, InferConfig(path="dense", tile_cells=50)))
    plan = plan_tiles(*SHAPE, tile_cells=tile_cells, reach_px=reach, offset_cells=(oy, ox))
    tiled = assemble(plan, Predictor(model, InferConfig(path="dense", tile_cells=tile_cells)))
    np.testing.assert_array_equal(np.isnan(tiled), np.isnan(reference))
    assert np.nanmax(np.abs(tiled - reference)) <= 1e-5


def test_rescan_with_same_settings_is_skipped(setup):
    store, checkpoint = setup
    scan(store, checkpoint, ["a"], ScanConfig(tile_cells=25))
    again = scan(store, checkpoint, ["a"], ScanConfig(tile_cells=25))
    assert again[0].skipped_scene


def test_mismatched_model_is_refused(setup, tmp_path):
    store, _ = setup
    coarse = make_checkpoint(tmp_path / "coarse", pixel_m=60.0)
    with pytest.raises(ModelMismatchError, match="pixel size"):
        scan(store, coarse, ["a"])
    with pytest.raises(InputError, match="fringescan-model.json"):
        scan(store, tmp_path / "missing", ["a"])


def scan_command(store_root, checkpoint):
    return [
        sys.executable,
        "-m",
        "scanner.cli",
        "scan",
        "--store",
        str(store_root),
        "--model",
        str(checkpoint),
        "--tile-cells",
        "4",
        "--path",
        "window",
        "--batch",
        "16",
        "--scheduler",
        "synchronous",
    ]


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGKILL, -signal.SIGKILL), (signal.SIGTERM, 143), (signal.SIGINT, 130)]
)
def test_stopped_run_resumes_to_the_uninterrupted_grid(tmp_path, signum, code):
    """Killed (SIGKILL) or stopped (SIGTERM, Ctrl-C) mid-run: the lock is free, nothing is published, the
    finished tiles are kept (a stopped run finishes its tiles in flight first) and the next run resumes them."""
    shape = {"k": (560, 520)}
    killed_store = make_store(tmp_path / "killed", shape, seed=4)
    clean_store = make_store(tmp_path / "clean", shape, seed=4)
    checkpoint = make_checkpoint(tmp_path / "ckpt")
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    process = subprocess.Popen(
        scan_command(killed_store.root, checkpoint)[:-2],  # the threaded scheduler
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    staging = killed_store.root / ".staging"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if len(list(staging.glob("scan-k-*/done/*"))) >= 3:
            process.send_signal(signum)
            break
        time.sleep(0.002)
    _, err = process.communicate()
    assert process.returncode == code, err
    if signum != signal.SIGKILL:
        assert err.strip().splitlines()[-1].startswith("fringescan: stopped by SIG"), err
    done = len(list(staging.glob("scan-k-*/done/*")))
    assert not (killed_store.root / "prob" / "k").exists()
    assert [p.name.startswith("scan-k-") for p in staging.iterdir()] == [True]  # only the resumable staging
    assert read_lock(killed_store.root) is None
    total = len(plan_tiles(560, 520, tile_cells=4).tiles)
    assert 3 <= done < total

    rerun = subprocess.run(
        scan_command(killed_store.root, checkpoint), capture_output=True, text=True, env=env
    )
    assert rerun.returncode == 0, rerun.stderr
    assert f"k: {total} tiles ({done} resumed)" in rerun.stdout, rerun.stdout
    scan(clean_store, checkpoint, ["k"], ScanConfig(tile_cells=4, path="window", batch_size=16))
    got, _ = read_prob(killed_store.root, "k")
    want, _ = read_prob(clean_store.root, "k")
    np.testing.assert_array_equal(got, want)
    assert not list(staging.glob("scan-k-*"))


def test_a_checkpoint_loads_without_compiling_random_initialisers(tmp_path):
    """Why a killed scan never resumed: rebuilding the model drew fresh random parameters eagerly (dozens of
    XLA compilations, ~15 s on CPU) before they were overwritten, so every tile waited for it and all of them
    finished in the last seconds of a run; a kill at any earlier moment found no finished tile."""
    checkpoint = make_checkpoint(tmp_path / "ckpt")
    code = f"""
import jax
from scanner.io.checkpoint import load_checkpoint
compiles = []
jax.monitoring.register_event_duration_secs_listener(
    lambda event, duration, **kw: compiles.append(event) if event.endswith("backend_compile_duration") else None
)
load_checkpoint({str(checkpoint)!r})
print(len(compiles))
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # 34 compilations before (one per initialiser op and shape), 11 now (restore, hashing, the dropout streams)
    assert int(result.stdout.split()[-1]) <= 16, result.stdout


def test_distributed_scheduler_gives_the_same_grid(setup, tmp_path):
    from dask.distributed import LocalCluster

    store, checkpoint = setup
    local, _ = scan_grid(store, checkpoint, tile_cells=21)
    other = make_store(tmp_path / "store", {"a": SHAPE})
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address=":0") as cluster:
        scan(other, checkpoint, ["a"], ScanConfig(tile_cells=21), scheduler=cluster.scheduler_address)
    got, _ = read_prob(other.root, "a")
    np.testing.assert_array_equal(got, local)


def test_result_counts_complete_windows(setup):
    store, checkpoint = setup
    result = scan(store, checkpoint, ["a"], ScanConfig(tile_cells=17))[0]
    rows, cols = (SHAPE[0] - 150) // 10 + 1, (SHAPE[1] - 150) // 10 + 1
    assert result.windows == rows * cols and result.tiles_skipped == 0
    # the grid is chunked like the tiles, so no two tiles ever rewrite the same chunk
    assert zarr.open_array(result.path / "prob", mode="r").chunks == (17, 17)


def test_workers_and_prep_threads_do_not_change_the_grid_or_its_key(setup):
    store, checkpoint = setup
    one, attrs = scan_grid(store, checkpoint, tile_cells=19, workers=1, prep_threads=1)
    skipped = scan(store, checkpoint, ["a"], ScanConfig(tile_cells=19, workers=3, prep_threads=2))[0]
    assert skipped.skipped_scene  # same run key: nothing to redo
    shutil.rmtree(skipped.path)
    many, again = scan_grid(store, checkpoint, tile_cells=19, workers=3, prep_threads=2)
    np.testing.assert_array_equal(many, one)
    assert again["run_key"] == attrs["run_key"]


def test_scan_runs_tiles_in_plan_order(setup, monkeypatch):
    """Tiles run strip by strip, each strip row by row (the order that keeps reads in the chunk cache); this
    holds Dask's local scheduler to the key order scanner.pipeline.scan relies on."""
    store, checkpoint = setup
    ran = []
    run_tile = scanner.pipeline.scan.run_tile
    monkeypatch.setattr(
        scanner.pipeline.scan, "run_tile", lambda job, tile: ran.append(tile) or run_tile(job, tile)
    )
    monkeypatch.setattr(scanner.pipeline.scan, "strip_width_px", lambda names: 120)
    # min_valid_fraction: a setting no other test uses, so this scan runs instead of being skipped
    scan(store, checkpoint, ["a"], ScanConfig(tile_cells=7, workers=1, min_valid_fraction=0.74))
    plan = plan_tiles(*SHAPE, tile_cells=7, reach_px=ran[0].reach_px)
    assert len(ran) == len(plan.tiles) > 10
    assert ran == in_strips(plan.tiles, 120)
    assert len({t.pixels.col_off // 120 for t in ran}) > 1


def test_strip_width_fits_three_chunk_rows_in_the_cache():
    four = ["phase", "valid", "coherence", "slope"]  # 3.25 MB per 500 px chunk of all four
    assert strip_width_px(four, cache_bytes=64 << 20) == 4 * 500
    assert strip_width_px(["phase", "valid"], cache_bytes=64 << 20) == 15 * 500
    assert strip_width_px(four, cache_bytes=0) == 500
