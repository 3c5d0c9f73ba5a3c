"""``fringescan status``: what a store holds and how its last runs went."""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "status",
        help="scenes, last runs, mosaic versions and failures of a store",
        description="A read-only overview of a store (docs/operations.md).",
    )
    parser.add_argument("--store", required=True, type=Path, help="store directory")
    parser.add_argument("--sites", action="store_true", help="also list the reported sites")
    parser.add_argument("--min-detections", type=int, default=1, help="with --sites: seen in >= N passes")
    parser.add_argument("--json", action="store_true", help="print everything as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.pipeline.status import store_status

    status = store_status(args.store, min_detections=args.min_detections)
    if args.json:
        for site in status["sites"]["reported"]:
            site.pop("geometry", None)
        print(json.dumps(status, indent=1, default=str))
        return 0
    print("\n".join(format_status(status, with_sites=args.sites)))
    return 0


def format_status(status: dict, *, with_sites: bool) -> list[str]:
    scenes, runs, mosaic, failures = status["scenes"], status["runs"], status["mosaic"], status["failures"]
    scanned = sum(s["scanned"] for s in scenes)
    lines = [f"store {status['store']}: {len(scenes)} scenes ({scanned} scanned)"]
    lines += [
        f"  {s['scene_id']}: {s['first_date']} .. {s['second_date']}"
        + ("" if s["scanned"] else " (not scanned)")
        for s in scenes
    ]
    if runs:
        last = runs[0]
        lines.append(
            f"last run {last['run_id']} ({last['started']}): {last['outcome']} (exit {last['exit_code']}), "
            f"{last['processed']} processed, {last['failed']} failed, {last['quarantined']} quarantined, "
            f"{last['wall_s']} s"
        )
    else:
        lines.append("no nightly run yet")
    lines.append(f"mosaic: current {mosaic['current']}, versions {' '.join(mosaic['versions']) or 'none'}")
    lines.append(
        f"failures: {len(failures['quarantined'])} quarantined, {len(failures['failed_last_run'])} "
        "failed in the last run"
    )
    lines += [f"  quarantined {q['name']} ({q['time']}): {q['reason']}" for q in failures["quarantined"]]
    lines += [f"  failed {f['name']}: {f.get('reason', '')}" for f in failures["failed_last_run"]]
    if status["lock"]:
        lock = status["lock"]
        lines.append(
            f"locked by {lock['purpose']} pid {lock['pid']} on {lock['host']} since {lock['started']}"
        )
    lines.append(f"sites: {status['sites']['total']} in history, {len(status['sites']['reported'])} reported")
    if with_sites:
        lines += [
            f"  {s['site_id']}: {s['n_passes']} passes, {s['first_seen']} .. {s['last_seen']}, "
            f"{s['area_m2']:,.0f} m2, p_max {s['prob_max']:.2f}"
            + (f", {s['verdict']}" if s["verdict"] else "")
            for s in status["sites"]["reported"]
        ]
    return lines
