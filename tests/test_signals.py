"""SIGTERM and SIGINT stop a verb cleanly: exit 143 / 130, the lock released, nothing half-written left in
.staging/, the store as before, and the next run succeeds (real subprocesses and signals).

The scan's variant (the finished tiles are kept and resumed) is ``test_scan.py::test_stopped_run_resumes_...``.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rasters import ramp_phase, snapshot, utm_transform, write_raster
from scan_helpers import make_store

from scanner.io.lock import read_lock

ROOT = Path(__file__).resolve().parents[1]
TAGS = {
    "FIRST_DATE": "2020-01-01",
    "SECOND_DATE": "2020-02-12",
    "WAVELENGTH_METRES": "0.236",
    "INCIDENCE_DEGREES": "36",
}


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_a_stopped_ingest_leaves_the_store_as_it_was(tmp_path, signum, code):
    store = make_store(tmp_path / "store", {"a": (200, 200)})
    phase = write_raster(
        tmp_path / "big.phase.tif", ramp_phase(4000, 4000), transform=utm_transform(28.0), tags=TAGS
    )
    before = snapshot(store.root)
    argv = [sys.executable, "-m", "scanner.cli", "ingest", str(phase), "--kind", "unwrapped"]
    argv += ["--store", str(store.root)]
    child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    deadline = time.monotonic() + 120
    while child.poll() is None and time.monotonic() < deadline:
        if any(p.name.startswith(".tmp-") for p in store.layout.staging.iterdir()):
            time.sleep(0.05)  # some chunks written
            child.send_signal(signum)
            break
        time.sleep(0.002)
    _, err = child.communicate()
    assert child.returncode == code, f"finished before it could be stopped? {err}"
    assert err.strip().splitlines()[-1].startswith(f"fringescan: stopped by {signal.Signals(signum).name}")
    assert read_lock(store.root) is None and not store.layout.lock.exists()
    assert list(store.layout.staging.iterdir()) == []
    assert snapshot(store.root) == before

    again = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT)
    assert again.returncode == 0, again.stderr
    assert store.has_scene("big")
