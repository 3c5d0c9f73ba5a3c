"""The nightly run: incremental, idempotent, crash-safe (real subprocesses killed), quarantine, Dask workers.

The acceptance scenario: three passes into an inbox, run; two more passes plus a corrupt file, run again; a
run killed mid-way; a final run. All five passes end up in the mosaic exactly once, the corrupt file is in
quarantine with its reason, and store and mosaic equal a clean single run over the five passes.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from rasters import snapshot, write_raster
from scan_helpers import make_checkpoint, scene_arrays

from scanner.core.tiling import complete_range
from scanner.errors import StoreError
from scanner.io.layout import StoreLayout
from scanner.io.store import Store
from scanner.mosaic.zarr_io import LevelArrays, current_version, read_manifest, version_path
from scanner.pipeline import nightly
from scanner.pipeline.history import load_history
from scanner.pipeline.nightly import EXIT_DONE, EXIT_NOTHING, EXIT_PARTIAL, NightlyConfig, run_nightly

ROOT = Path(__file__).resolve().parents[1]
GRID = ROOT / "configs" / "grids" / "demo.py"
SIZE_PX = 300
PASSES = {  # name: (first date, second date, origin offset in pixels)
    "p1": ("2020-01-01", "2020-02-12", 0),
    "p2": ("2020-02-12", "2020-03-25", 40),
    "p3": ("2020-03-25", "2020-05-06", 80),
    "p4": ("2020-05-06", "2020-06-17", 120),
    "p5": ("2020-06-17", "2020-07-29", 160),
}


def write_pass(folder: Path, name: str, *, seed: int | None = None, coherence: bool = True) -> Path:
    """A wrapped-phase GeoTIFF pass (plus coherence sidecar) inside the demo mosaic grid."""
    first, second, offset = PASSES[name]
    phase, valid = scene_arrays(SIZE_PX, SIZE_PX, seed if seed is not None else int(name[1:]))
    transform_origin = (400_000.0 + 28.0 * (200 + offset), 4_000_000.0 - 28.0 * (200 + offset))
    from rasters import utm_transform

    tags = {
        "FIRST_DATE": first,
        "SECOND_DATE": second,
        "WAVELENGTH_METRES": "0.236",
        "ORBIT": "100",
        "FRAME": "700",
        "PASS_DIRECTION": "ASCENDING",
        "INCIDENCE_DEGREES": "36",
    }
    path = write_raster(
        folder / f"{name}.phase.tif",
        phase,
        transform=utm_transform(28.0, transform_origin),
        nodata=float("nan"),
        tags=tags,
    )
    if coherence:
        coh = np.where(valid == 1, 0.7, np.nan).astype(np.float32)
        write_raster(
            folder / f"{name}.coh.tif",
            coh,
            transform=utm_transform(28.0, transform_origin),
            nodata=float("nan"),
        )
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("model") / "ckpt")


def config(tmp: Path, ckpt: Path, **kw) -> NightlyConfig:
    return NightlyConfig(inbox=tmp / "inbox", store=tmp / "store", model=ckpt, grid=GRID, **kw)


def store_state(root: Path) -> dict:
    """What must be equal between an incremental and a clean run: scenes, grids, sites, mosaic, history."""
    from scanner.io.probgrid import read_prob

    store = Store.open(root)
    state = {"scenes": {}, "prob": {}, "sites": {}}
    for sid in store.scene_ids():
        attrs = store.scene(sid).attrs
        state["scenes"][sid] = (
            attrs["content_sha256"],
            attrs["first_date"],
            attrs["second_date"],
            store.scene(sid).read("phase").tobytes(),
        )
        prob, _ = read_prob(root, sid)
        state["prob"][sid] = prob.tobytes()
        layer = json.loads((root / "sites" / f"{sid}.geojson").read_text())
        state["sites"][sid] = [(f["properties"]["site_id"], f["geometry"]) for f in layer["features"]]
    path = version_path(root, current_version(root))
    bands = LevelArrays(path, 0, mode="r")
    state["mosaic"] = {b: np.asarray(bands.read_band(b)).tobytes() for b in ("prob", "passes", "last_date")}
    manifest = read_manifest(path)
    state["mosaic_passes"] = sorted(manifest["passes"])
    state["history"] = load_history(root)
    return state


# ---------------------------------------------------------------------------------------------- fast tests


def test_nightly_is_incremental_idempotent_and_quarantines(tmp_path, checkpoint):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("p1", "p2", "p3"):
        write_pass(inbox, name)
    cfg = config(tmp_path, checkpoint)
    first = run_nightly(cfg)
    assert first["exit_code"] == EXIT_DONE
    assert sorted(o["scene_id"] for o in first["passes"]["processed"]) == ["p1", "p2", "p3"]
    assert first["figures"]["windows_scanned"] == 3 * len(complete_range(SIZE_PX)) ** 2
    before = snapshot(tmp_path / "store")
    again = run_nightly(cfg)
    assert again["exit_code"] == EXIT_NOTHING and not again["passes"]["processed"]
    assert len(again["passes"]["skipped"]) == 3 and "mosaic" not in again["figures"]
    assert snapshot(tmp_path / "store") == before  # nothing new: every file byte for byte, no run report

    write_pass(inbox, "p4")
    (inbox / "p3.phase.tif").rename(inbox / "p3-redelivered.phase.tif")
    (inbox / "junk.phase.tif").write_bytes(b"II*\x00 this is not a GeoTIFF")
    second = run_nightly(cfg)
    assert second["exit_code"] == EXIT_PARTIAL
    assert [o["scene_id"] for o in second["passes"]["processed"]] == ["p4"]
    (bad,) = second["passes"]["quarantined"]
    assert bad["name"] == "junk" and "expected" in bad["reason"]
    reason = json.loads((tmp_path / "store" / bad["quarantine"] / "reason.json").read_text())
    assert reason["files"] == ["junk.phase.tif"] and reason["reason"] == bad["reason"]
    assert not (inbox / "junk.phase.tif").exists()
    manifest = read_manifest(version_path(tmp_path / "store", current_version(tmp_path / "store")))
    assert sorted(manifest["passes"]) == ["p1", "p2", "p3", "p4"]
    report_file = tmp_path / "store" / "runs" / f"{second['run_id']}.json"
    assert json.loads(report_file.read_text())["exit_code"] == EXIT_PARTIAL
    assert "quarantined junk" in nightly.summary_text(second)
    assert not StoreLayout(tmp_path / "store").lock.exists()


def test_a_reprocessed_pass_supersedes_the_old_scene(tmp_path, checkpoint):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_pass(inbox, "p1")
    cfg = config(tmp_path, checkpoint)
    run_nightly(cfg)
    root = tmp_path / "store"
    old_prob = (root / "prob" / "p1").stat().st_ino
    write_pass(inbox, "p1", seed=99)  # same pair and track, new content
    shutil.move(inbox / "p1.phase.tif", inbox / "p1v2.phase.tif")
    shutil.move(inbox / "p1.coh.tif", inbox / "p1v2.coh.tif")
    report = run_nightly(cfg)
    (done,) = report["passes"]["processed"]
    assert (done["scene_id"], done["supersedes"]) == ("p1", "p1")
    assert Store.open(root).scene_ids() == ["p1"]
    expected_phase, _ = scene_arrays(SIZE_PX, SIZE_PX, 99)
    np.testing.assert_array_equal(Store.open(root).scene("p1").read("phase"), expected_phase)
    assert (root / "prob" / "p1").stat().st_ino != old_prob
    manifest = read_manifest(version_path(root, current_version(root)))
    assert list(manifest["passes"]) == ["p1"]


def test_a_live_lock_stops_a_second_run(tmp_path, checkpoint):
    (tmp_path / "inbox").mkdir()
    Store.create(tmp_path / "store")
    code = f"from scanner.io.lock import acquire; acquire({str(tmp_path / 'store')!r}, 'scan'); print(1, flush=True)"
    holder = subprocess.Popen(
        [sys.executable, "-c", code + "; import time; time.sleep(60)"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout.readline().strip() == "1"
        with pytest.raises(StoreError, match=f"locked.*scan run pid {holder.pid}"):
            run_nightly(config(tmp_path, checkpoint))
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()


# ---------------------------------------------------------------------------------------------- crash safety


def nightly_argv(tmp: Path, ckpt: Path, workers: int = 0) -> list[str]:
    return [
        sys.executable,
        "-m",
        "scanner.cli",
        "nightly",
        "--inbox",
        str(tmp / "inbox"),
        "--store",
        str(tmp / "store"),
        "--model",
        str(ckpt),
        "--grid",
        str(GRID),
        "--workers",
        str(workers),
    ]


def _stage_events(root: Path) -> list[str]:
    log = root / "log.jsonl"
    lines = log.read_text().splitlines() if log.is_file() else []
    return [json.loads(line).get("stage") for line in lines if '"nightly_stage"' in line]


def run_and_kill(tmp: Path, ckpt: Path, stage: str, *, workers: int = 0, delay_s: float = 0.3) -> bool:
    """Start a real nightly subprocess and SIGKILL it once it has entered ``stage``; True if it was killed."""
    seen = len(_stage_events(tmp / "store"))
    child = subprocess.Popen(
        nightly_argv(tmp, ckpt, workers),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 240
    try:
        while child.poll() is None and time.monotonic() < deadline:
            if stage in _stage_events(tmp / "store")[seen:]:
                time.sleep(delay_s)
                break
            time.sleep(0.05)
        killed = child.poll() is None
        os.killpg(child.pid, signal.SIGKILL)  # the child and any spawned Dask worker processes
    finally:
        child.wait()
    return killed


def clean_state(tmp: Path, ckpt: Path, names: list[str]) -> dict:
    clean = tmp / "clean"
    (clean / "inbox").mkdir(parents=True)
    for name in names:
        write_pass(clean / "inbox", name)
    report = run_nightly(config(clean, ckpt))
    assert report["exit_code"] == EXIT_DONE
    return store_state(clean / "store")


def check_final(tmp: Path, ckpt: Path) -> None:
    root = tmp / "store"
    state = store_state(root)
    assert state["mosaic_passes"] == ["p1", "p2", "p3", "p4", "p5"]
    ledger = nightly.load_ledger(root)["passes"]
    assert sorted(v["scene_id"] for v in ledger.values()) == ["p1", "p2", "p3", "p4", "p5"]
    (record,) = [json.loads(p.read_text()) for p in (root / "quarantine").glob("*/reason.json")]
    assert record["name"] == "junk" and record["files"] == ["junk.phase.tif"]
    assert "junk.phase.tif" in record["reason"] and "expected" in record["reason"], record["reason"]
    assert state == clean_state(tmp, ckpt, list(PASSES))


def deliver_second_batch(inbox: Path) -> None:
    write_pass(inbox, "p4")
    write_pass(inbox, "p5", coherence=False)
    (inbox / "junk.phase.tif").write_bytes(b"II*\x00 truncated delivery")


def test_a_killed_run_resumes_to_the_clean_result(tmp_path, checkpoint):
    """Fast variant: one real subprocess killed while scanning, then in-process runs."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("p1", "p2", "p3"):
        write_pass(inbox, name)
    assert run_nightly(config(tmp_path, checkpoint))["exit_code"] == EXIT_DONE
    deliver_second_batch(inbox)
    assert run_and_kill(tmp_path, checkpoint, "scan")
    final = run_nightly(config(tmp_path, checkpoint))
    assert final["exit_code"] in (EXIT_DONE, EXIT_PARTIAL)
    assert [o["scene_id"] for o in final["passes"]["processed"]] == ["p4", "p5"]
    assert run_nightly(config(tmp_path, checkpoint))["exit_code"] == EXIT_NOTHING
    check_final(tmp_path, checkpoint)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [0, 2])
def test_acceptance_kills_at_every_stage(tmp_path, checkpoint, workers):
    """Three passes, run; two more plus a corrupt file; runs killed at each stage; a last run; == clean run."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for name in ("p1", "p2", "p3"):
        write_pass(inbox, name)
    first = subprocess.run(nightly_argv(tmp_path, checkpoint, workers), capture_output=True, text=True)
    assert first.returncode == EXIT_DONE, first.stderr
    deliver_second_batch(inbox)
    stages = ("ingest", "scan", "detect", "history", "mosaic")
    killed = [run_and_kill(tmp_path, checkpoint, stage, workers=workers, delay_s=0.1) for stage in stages]
    assert all(killed), dict(zip(stages, killed, strict=True))
    last = subprocess.run(nightly_argv(tmp_path, checkpoint, workers), capture_output=True, text=True)
    assert last.returncode in (EXIT_DONE, EXIT_PARTIAL, EXIT_NOTHING), last.stderr
    again = subprocess.run(nightly_argv(tmp_path, checkpoint, workers), capture_output=True, text=True)
    assert again.returncode == EXIT_NOTHING, again.stdout + again.stderr
    check_final(tmp_path, checkpoint)


def test_scheduler_choice_without_starting_a_cluster():
    import dask

    with nightly.dask_scheduler(0, "tcp://10.0.0.1:8786") as address:
        assert address == "tcp://10.0.0.1:8786"
    with (
        dask.config.set({"scheduler-address": "tcp://10.0.0.2:8786"}),
        nightly.dask_scheduler(0, None) as address,
    ):
        assert address == "tcp://10.0.0.2:8786"
    with nightly.dask_scheduler(0, None) as address:
        assert address is None


def test_hash_cache_forgets_files_that_left_the_inbox(tmp_path, checkpoint):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "junk.phase.tif").write_bytes(b"not a raster")
    report = run_nightly(config(tmp_path, checkpoint))
    assert report["exit_code"] == EXIT_PARTIAL and report["passes"]["quarantined"][0]["name"] == "junk"
    cache = json.loads(StoreLayout(tmp_path / "store").hash_cache.read_text())
    assert str(inbox / "junk.phase.tif") in cache
    assert run_nightly(config(tmp_path, checkpoint))["exit_code"] == EXIT_NOTHING
    assert json.loads(StoreLayout(tmp_path / "store").hash_cache.read_text()) == {}


def test_a_pass_whose_name_is_no_scene_id_is_quarantined_with_the_fix(tmp_path, checkpoint):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_pass(inbox, "p1", coherence=False)
    (inbox / "p1.phase.tif").rename(inbox / "bad name!.phase.tif")
    report = run_nightly(config(tmp_path, checkpoint))
    (bad,) = report["passes"]["quarantined"]
    assert report["exit_code"] == EXIT_PARTIAL and bad["name"] == "bad name!"
    assert "scene id" in bad["reason"] and "fix:" in bad["reason"]
    assert not list(inbox.iterdir())
