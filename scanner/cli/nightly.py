"""``fringescan nightly``: process whatever the satellites delivered into the inbox (docs/operations.md)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scanner.cli.common import add_operating_point_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "nightly",
        help="ingest, scan, detect and mosaic the new passes of an inbox (idempotent, resumable)",
        description="One unattended run: lock the store, find new passes in the inbox by content hash, ingest, "
        "scan, detect (at the model's operating point, like `fringescan detect`), update the site history, publish a new mosaic version and write a run report to "
        "STORE/runs/<run_id>.json. Exit codes: 0 all done, 10 done with some passes failed or quarantined, "
        "11 nothing done (nothing new). See docs/operations.md.",
    )
    parser.add_argument("--inbox", required=True, type=Path, help="directory the passes are delivered into")
    parser.add_argument("--store", required=True, type=Path, help="store directory (created when missing)")
    parser.add_argument(
        "--model",
        help="a zoo model name (`fringescan models`) or a checkpoint directory (default: the zoo's default)",
    )
    parser.add_argument(
        "--grid", required=True, help="mosaic grid: a shipped name (japan, demo) or a grid config file"
    )
    parser.add_argument(
        "--aux-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="read-only folder of shared auxiliary files (e.g. DEMs) that pass manifests may name; "
        "files there are never moved. Every other file a manifest names must be inside the inbox",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="start a Dask LocalCluster of N spawned worker processes (default 0: threads in this process)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="use an existing dask.distributed cluster (default: Dask config scheduler-address)",
    )
    parser.add_argument(
        "--min-detections",
        type=int,
        default=1,
        help="report a site only when seen in at least N passes (default 1)",
    )
    add_operating_point_args(parser)
    parser.add_argument(
        "--json", action="store_true", help="print the run report as JSON instead of a summary"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.io.zoo import resolve_model
    from scanner.pipeline.nightly import NightlyConfig, run_nightly, summary_text

    config = NightlyConfig(
        inbox=args.inbox,
        store=args.store,
        model=resolve_model(args.model),
        grid=args.grid,
        workers=args.workers,
        scheduler=args.scheduler,
        min_detections=args.min_detections,
        threshold=args.threshold,
        min_area_m2=args.min_area_m2,
        aux_dir=args.aux_dir,
    )
    report = run_nightly(config)
    print(json.dumps(report, indent=1) if args.json else summary_text(report))
    return int(report["exit_code"])
