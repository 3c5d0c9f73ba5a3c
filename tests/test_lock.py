"""The store lock: an OS lock (flock) held for the run, freed by the kernel however the holder ends; the
record in the file is information only; taking it sweeps what dead runs left in .staging/."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rasters import snapshot
from scan_helpers import make_checkpoint, make_store

from scanner.errors import StoreError
from scanner.io.layout import StoreLayout
from scanner.io.lock import acquire, read_lock, release, store_lock

ROOT = Path(__file__).resolve().parents[1]


def hold_lock(
    root: Path, code: str = "from scanner.io.lock import acquire; acquire({root!r}, 'scan')"
) -> subprocess.Popen:
    """A real process that takes the lock of ``root`` and sleeps; returns once it holds it."""
    script = code.format(root=str(root)) + "\nprint('held', flush=True)\nimport time; time.sleep(120)"
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert child.stdout.readline().strip() == "held"
    return child


def stop(holder: subprocess.Popen, signum: int = signal.SIGKILL) -> None:
    holder.send_signal(signum)
    holder.wait()
    holder.stdout.close()


def test_lock_holds_pid_host_and_start_time_and_leaves_no_file(tmp_path):
    with store_lock(tmp_path, "scan") as info:
        data = json.loads(StoreLayout(tmp_path).lock.read_text())
        assert data["pid"] == os.getpid() == info.pid
        assert data["host"] == socket.gethostname() and data["purpose"] == "scan"
        assert data["started"].startswith("20")
        assert read_lock(tmp_path) == info
    assert not StoreLayout(tmp_path).lock.exists()
    assert read_lock(tmp_path) is None


def test_a_live_holder_refuses_a_second_run_and_is_named(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        with pytest.raises(StoreError, match=f"locked.*scan run pid {holder.pid} on .*fix: wait"):
            acquire(tmp_path)
        assert read_lock(tmp_path).pid == holder.pid
    finally:
        stop(holder)


def test_a_holder_killed_with_sigkill_frees_the_lock(tmp_path, caplog):
    holder = hold_lock(tmp_path)
    stop(holder, signal.SIGKILL)
    assert json.loads(StoreLayout(tmp_path).lock.read_text())["pid"] == holder.pid  # its record stays
    assert read_lock(tmp_path) is None  # but nobody holds the lock
    with caplog.at_level(logging.WARNING, logger="scanner.io.lock"), store_lock(tmp_path) as info:
        assert info.pid == os.getpid()
    assert f"pid {holder.pid}" in caplog.text and "ended without releasing" in caplog.text


@pytest.mark.parametrize(
    "content", [b"", b"garbage\x00{", b'{"pid": 1, "host": "elsewhere", "started": "x"}']
)
def test_a_lock_file_nobody_holds_is_no_lock_whatever_it_holds(tmp_path, content):
    """A 0-byte record (disk full while it was written), garbage, or a record of another host: not locked."""
    StoreLayout(tmp_path).lock.write_bytes(content)
    assert read_lock(tmp_path) is None
    with store_lock(tmp_path, "ingest") as info:
        assert json.loads(StoreLayout(tmp_path).lock.read_text())["pid"] == info.pid
    assert not StoreLayout(tmp_path).lock.exists()


def test_a_held_lock_with_an_unreadable_record_is_still_held(tmp_path):
    code = "import fcntl, os; fd = os.open({root!r} + '/.lock', os.O_RDWR | os.O_CREAT); fcntl.flock(fd, fcntl.LOCK_EX)"
    holder = hold_lock(tmp_path, code)
    try:
        with pytest.raises(StoreError, match="locked.*holder record '' is unreadable"):
            acquire(tmp_path)
        assert read_lock(tmp_path).pid == -1
    finally:
        stop(holder)


def test_a_run_that_opened_the_file_being_released_does_not_share_the_lock(tmp_path):
    """The releasing run deletes the file while holding the flock; a run that opened it just before must
    not end up holding the flock of the deleted file while a third run holds the new one."""
    first = acquire(tmp_path)
    stale_fd = os.open(StoreLayout(tmp_path).lock, os.O_RDWR)
    release(first)
    second = acquire(tmp_path)  # creates a new file
    try:
        import fcntl

        fcntl.flock(stale_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the old inode: free, and not the store's lock
        with pytest.raises(StoreError, match="locked"):
            acquire(tmp_path)
    finally:
        os.close(stale_fd)
        release(second)


def test_taking_the_lock_sweeps_what_dead_runs_left(tmp_path):
    """Leftovers of killed runs go; the unfinished scan staging a rerun resumes from stays."""
    store = make_store(tmp_path / "store", {"a": (200, 200)})
    layout = store.layout
    staging = layout.staging
    (staging / ".tmp-0123abcd-a").mkdir()  # a scene of a killed ingest
    (staging / ".tmp-0123abcd-a" / "zarr.json").write_text("{}")
    (staging / ".prob.old-0123456789ab").mkdir()  # an old grid moved aside
    (staging / "scan-gone-0123456789abcdef" / "done").mkdir(parents=True)  # its scene is not in the store
    resumable = staging / "scan-a-fedcba9876543210"
    (resumable / "done").mkdir(parents=True)
    (resumable / "done" / "r000000_c000000").write_text("{}")
    layout.runs.mkdir()
    leftover = layout.runs / ".r.json.abcd1234.tmp.json"  # atomic_path's temporary of a killed writer
    leftover.write_text("{")
    kept = layout.runs / "r.json"
    kept.write_text("{}")
    with store_lock(store.root, "detect"):
        assert sorted(p.name for p in staging.iterdir()) == [resumable.name]
        assert not leftover.exists() and kept.exists()
    assert (resumable / "done" / "r000000_c000000").is_file()


@pytest.mark.parametrize("verb", ["ingest", "scan", "detect", "mosaic", "view"])
def test_every_writing_verb_refuses_a_locked_store(tmp_path, pyrate_dir, verb):
    """A run holding the lock (here: another process) stops a single-step verb before it writes anything."""
    store = make_store(tmp_path / "store", {"a": (200, 200)})
    argv = {
        "ingest": ["ingest", str(next(pyrate_dir.glob("*_unw.tif"))), "--kind", "unwrapped"],
        "scan": ["scan", "--model", str(make_checkpoint(tmp_path / "ckpt"))],
        "detect": ["detect", "--scene", "a", "--out", str(tmp_path / "sites.geojson")],
        "mosaic": ["mosaic", "--grid", "configs/grids/demo.py"],
        "view": ["view", "--no-serve"],
    }[verb]
    holder = hold_lock(store.root, "from scanner.io.lock import acquire; acquire({root!r}, 'nightly')")
    try:
        before = snapshot(store.root)
        result = subprocess.run(
            [sys.executable, "-m", "scanner.cli", *argv, "--store", str(store.root)],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        after = snapshot(store.root)
    finally:
        stop(holder)
    assert result.returncode == 4, result.stdout + result.stderr  # StoreError
    lines = result.stderr.strip().splitlines()
    assert "is locked" in lines[-1] and f"nightly run pid {holder.pid}" in lines[-1], result.stderr
    assert after == before


def test_a_zero_byte_lock_left_by_a_full_disk_does_not_stop_a_writer(tmp_path):
    """The reported failure: a 0-byte .lock made every later writer exit 4 until deleted by hand."""
    store = make_store(tmp_path / "store", {"a": (200, 200)})
    store.layout.lock.write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "scanner.cli", "scan", "--store", str(store.root)]
        + ["--model", str(make_checkpoint(tmp_path / "ckpt")), "--path", "window"],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert (store.layout.prob("a") / "zarr.json").is_file()
    assert not store.layout.lock.exists()


def test_status_shows_the_holder_only_while_held(tmp_path):
    holder = hold_lock(tmp_path)
    try:
        deadline = time.monotonic() + 5
        while read_lock(tmp_path) is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert read_lock(tmp_path).purpose == "scan"
    finally:
        stop(holder)
    assert read_lock(tmp_path) is None
