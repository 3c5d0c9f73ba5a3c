"""The store lock: exclusive, released on exit, stale locks of dead processes taken over."""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from scan_helpers import make_checkpoint, make_store

from scanner.errors import StoreError
from scanner.io.layout import StoreLayout
from scanner.io.lock import (
    acquire,
    is_stale,
    pid_alive,
    read_lock,
    release,
    store_lock,
)


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_lock_holds_pid_host_and_start_time(tmp_path):
    with store_lock(tmp_path) as info:
        data = json.loads(StoreLayout(tmp_path).lock.read_text())
        assert data["pid"] == os.getpid() == info.pid
        assert data["host"] == socket.gethostname()
        assert data["started"].startswith("20")
    assert not StoreLayout(tmp_path).lock.exists()


def test_a_live_lock_refuses_a_second_run(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        StoreLayout(tmp_path).lock.write_text(
            json.dumps(
                {"pid": holder.pid, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"}
            )
        )
        with pytest.raises(StoreError, match=f"pid {holder.pid}.*fix: wait"):
            acquire(tmp_path)
        assert read_lock(tmp_path).pid == holder.pid
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_warning(tmp_path, caplog):
    dead = _dead_pid()
    StoreLayout(tmp_path).lock.write_text(
        json.dumps({"pid": dead, "host": socket.gethostname(), "started": "2026-01-01T00:00:00+00:00"})
    )
    assert is_stale(read_lock(tmp_path))
    with caplog.at_level(logging.WARNING, logger="scanner.io.lock"):
        info = acquire(tmp_path)
    assert f"pid {dead}" in caplog.text and "stale" in caplog.text
    assert read_lock(tmp_path).pid == os.getpid()
    release(tmp_path, info)
    assert read_lock(tmp_path) is None


def test_a_lock_from_another_host_is_never_taken_over(tmp_path):
    StoreLayout(tmp_path).lock.write_text(
        json.dumps({"pid": _dead_pid(), "host": "some-other-host", "started": "2026-01-01T00:00:00+00:00"})
    )
    with pytest.raises(StoreError, match="some-other-host.*remove"):
        acquire(tmp_path)


def test_a_lock_killed_with_sigkill_is_stale(tmp_path):
    code = f"from scanner.io.lock import acquire; acquire({str(tmp_path)!r}); import time; time.sleep(60)"
    child = subprocess.Popen([sys.executable, "-c", code])
    for _ in range(200):
        if read_lock(tmp_path) is not None:
            break
        subprocess.run(["sleep", "0.05"], check=True)
    assert pid_alive(child.pid) and not is_stale(read_lock(tmp_path))
    child.kill()
    child.wait()
    assert not pid_alive(child.pid)
    with store_lock(tmp_path) as info:
        assert info.pid == os.getpid()


def test_release_leaves_someone_elses_lock_alone(tmp_path):
    info = acquire(tmp_path)
    StoreLayout(tmp_path).lock.write_text(json.dumps({"pid": 1, "host": "other", "started": "x"}))
    release(tmp_path, info)
    assert read_lock(tmp_path).host == "other"


@pytest.mark.parametrize("verb", ["ingest", "scan", "detect", "mosaic"])
def test_every_writing_verb_refuses_a_locked_store(tmp_path, pyrate_dir, verb):
    """A nightly run (or any writer) holding the lock stops a single-step verb before it writes anything."""
    store = make_store(tmp_path / "store", {"a": (200, 200)})
    before = sorted(p.relative_to(store.root) for p in store.root.rglob("*"))
    argv = {
        "ingest": ["ingest", str(next(pyrate_dir.glob("*_unw.tif"))), "--kind", "unwrapped"],
        "scan": ["scan", "--model", str(make_checkpoint(tmp_path / "ckpt"))],
        "detect": ["detect", "--scene", "a", "--out", str(tmp_path / "sites.geojson")],
        "mosaic": ["mosaic", "--grid", "configs/grids/demo.py"],
    }[verb]
    with store_lock(store.root, "nightly"):
        result = subprocess.run(
            [sys.executable, "-m", "scanner.cli", *argv, "--store", str(store.root)],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parents[1],
        )
        after = sorted(p.relative_to(store.root) for p in store.root.rglob("*"))
    assert result.returncode == 4, result.stdout  # StoreError
    lines = result.stderr.strip().splitlines()
    assert "is locked" in lines[-1] and f"pid {os.getpid()}" in lines[-1], result.stderr
    lock_files = (StoreLayout(tmp_path).lock.name, StoreLayout(tmp_path).lock_guard.name)
    assert [p for p in after if p.name not in lock_files] == [p for p in before if p.name not in lock_files]
