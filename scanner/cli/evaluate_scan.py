"""``fringescan evaluate-scan``: detection-level TP / FN / FP, recall and precision (the paper's Table 7)."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate-scan",
        help="site-level recall and precision against labels",
        description="Match detected sites to labelled candidates by polygon overlap, "
        "with and without the size filter (Table 7).",
    )
    parser.add_argument("--store", required=True, help="scene store directory (scanned)")
    parser.add_argument("--labels", required=True, help="GeoJSON (WGS84) of labelled landslide candidates")
    parser.add_argument(
        "--scene", action="append", dest="scenes", metavar="ID", help="scene(s); default every scanned scene"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="cell probability threshold (default 0.5)"
    )
    parser.add_argument("--min-area-m2", type=float, default=None, help="size filter (default one cell)")
    parser.add_argument("--json", dest="json_out", default=None, help="also write the report as JSON here")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from scanner.detect import DetectConfig
    from scanner.evaluation import format_table7
    from scanner.sites import evaluate_store
    from scanner.store import Store

    store = Store.open(args.store)
    config = DetectConfig(threshold=args.threshold, min_area_m2=args.min_area_m2)
    rows, per_scene = evaluate_store(store, args.labels, config, args.scenes)
    print(f"scenes: {', '.join(per_scene)}; threshold {config.threshold}; matching: polygon overlap")
    print(format_table7(rows))
    if args.json_out:
        report = {
            "threshold": config.threshold,
            "min_area_m2": config.min_area_m2,
            "matching": "overlap",
            "total": {k: v.to_dict() for k, v in rows.items()},
            "scenes": {s: {k: v.to_dict() for k, v in r.items()} for s, r in per_scene.items()},
        }
        with open(args.json_out, "w") as out:
            json.dump(report, out, indent=2, allow_nan=True)
    return 0
