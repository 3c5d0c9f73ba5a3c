"""What ``fringescan status`` shows of a store: scenes and whether they are scanned, the latest nightly runs,
mosaic versions, failures (quarantine, failed passes), the lock and the reported sites. Read only."""

from __future__ import annotations

from pathlib import Path

from scanner.io.layout import StoreLayout
from scanner.io.readers import read_json
from scanner.pipeline import history, inbox


def last_runs(root: Path, n: int = 5) -> list[dict]:
    """The ``n`` latest run reports (newest first)."""
    folder = StoreLayout(root).runs
    paths = sorted(folder.glob("[0-9]*T*Z-*.json"), reverse=True) if folder.is_dir() else []
    return [read_json(p, {}) for p in paths[:n]]


def store_status(root: str | Path, *, min_detections: int = 1) -> dict:
    """What `fringescan status` shows: scenes, runs, mosaic versions, failures, lock and sites."""
    from scanner.io.lock import read_lock
    from scanner.io.probgrid import has_prob
    from scanner.io.store import Store
    from scanner.mosaic import zarr_io

    root = Path(root)
    store = Store.open(root)
    scenes = [
        {
            "scene_id": sid,
            "first_date": a.get("first_date"),
            "second_date": a.get("second_date"),
            "scanned": has_prob(root, sid),
        }
        for sid in store.scene_ids()
        for a in [store.scene(sid).attrs]
    ]
    runs = last_runs(root)
    hist = history.load_history(root)
    lock = read_lock(root)
    return {
        "store": str(root),
        "scenes": scenes,
        "runs": [
            {k: r.get(k) for k in ("run_id", "started", "outcome", "exit_code", "wall_s")}
            | {k: len(r.get("passes", {}).get(k, [])) for k in ("processed", "failed", "quarantined")}
            for r in runs
        ],
        "mosaic": {"current": zarr_io.current_version(root), "versions": zarr_io.list_versions(root)},
        "failures": {
            "quarantined": inbox.quarantined(root),
            "failed_last_run": runs[0].get("passes", {}).get("failed", []) if runs else [],
        },
        "lock": None if lock is None else lock.__dict__,
        "sites": {
            "total": len(hist["sites"]),
            "reported": history.report_sites(
                hist, history.load_feedback(root), min_detections=min_detections
            ),
        },
    }
