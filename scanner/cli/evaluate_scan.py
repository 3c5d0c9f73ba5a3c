"""``fringescan evaluate-scan``: detection-level TP / FN / FP, recall and precision (the paper's Table 7)."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.cli.common import (
    add_match_args,
    add_operating_point_args,
    add_overwrite_arg,
    add_scene_args,
    add_split_args,
    match_rule,
    split_prominence,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "evaluate-scan",
        help="site-level recall and precision against labels",
        description="Match detected sites to labelled candidates by polygon overlap (or with --match point, "
        "by the site's point within --within-m of the label), with and without the size filter (Table 7).",
    )
    parser.add_argument("--store", required=True, help="scene store directory (scanned)")
    parser.add_argument(
        "--labels",
        required=True,
        help="label GeoJSON (WGS84 unless a crs member); only positives are expected",
    )
    add_scene_args(parser)
    add_operating_point_args(parser)
    add_split_args(parser)
    add_match_args(parser)
    parser.add_argument("--out", type=Path, default=None, help="also write the report as a JSON file here")
    parser.add_argument(
        "--json", action="store_true", help="print the report as JSON on stdout instead of the table"
    )
    add_overwrite_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import json

    from scanner.eval.matching import DetectionCounts, format_table7
    from scanner.io.artifact import check_target
    from scanner.io.store import Store
    from scanner.io.writers import write_json
    from scanner.pipeline.sites import evaluate_store, operating_config, scanned_scenes

    if args.out:
        check_target(args.out, "scan-report", overwrite=args.overwrite)
    prominence = split_prominence(args)
    rule = match_rule(args)
    store = Store.open(args.store)
    ids = scanned_scenes(store, args.scenes)
    settings, used = {}, {}
    for scene_id in ids:
        config, origin = operating_config(
            store,
            scene_id,
            threshold=args.threshold,
            min_area_m2=args.min_area_m2,
            split_prominence=prominence,
            min_support=args.min_support,
        )
        settings[scene_id] = config
        used[config] = origin
    # One call over every scene: a scene without labels inside is fine as long as some scene has them.
    evaluation = evaluate_store(store, args.labels, settings, ids, rule)
    per_scene = evaluation.per_scene
    rows = {
        case: sum((r[case] for r in per_scene.values()), DetectionCounts(0, 0, 0))
        for case in ("without_size_filter", "with_size_filter")
    }
    configs = list(used)
    report = {
        "threshold": configs[0].threshold if len(configs) == 1 else [c.threshold for c in configs],
        "min_area_m2": configs[0].min_area_m2 if len(configs) == 1 else [c.min_area_m2 for c in configs],
        "split_prominence": prominence,
        "operating_point": list(dict.fromkeys(used.values())),
        **rule.to_dict(),
        "total": {k: v.to_dict() for k, v in rows.items()},
        "scenes": {s: {k: v.to_dict() for k, v in r.items()} for s, r in per_scene.items()},
        "miss_causes": evaluation.miss_counts(),
        "misses": evaluation.misses,
    }
    if args.out:
        write_json(args.out, report, allow_nan=True)
    if args.json:
        print(json.dumps(report, indent=2, allow_nan=True))
        return 0
    for origin in report["operating_point"]:
        print(f"operating point: {origin}")
    print(f"scenes: {', '.join(per_scene)}; matching: {rule.describe()}")
    print(format_table7(rows))
    if evaluation.misses:
        print(f"missed (with size filter): {evaluation.miss_summary()}")
    if args.out:
        print(f"report -> {args.out}")
    return 0
