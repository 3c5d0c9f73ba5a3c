"""``fringescan calibrate``: choose a model's operating point (threshold, minimum site size) on a labelled,
scanned VAL store by the documented rule (docs/accuracy.md), and with ``--write`` record it in the model."""

from __future__ import annotations

import argparse

from scanner.cli.common import add_match_args, add_split_args, match_rule, split_prominence


def numbers(text: str) -> list[float]:
    return [float(v) for v in text.replace(",", " ").split()]


def whole_numbers(text: str) -> list[int]:
    return [int(v) for v in text.replace(",", " ").split()]


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "calibrate",
        help="choose a model's threshold and minimum site size on a labelled VAL store",
        description="Sweep thresholds x minimum site sizes over a store scanned with the model, count site-level "
        "TP / FN / FP against the labels (the sites and matching of detect and evaluate-scan, split at saddles "
        "unless --no-split) and choose the setting of highest "
        "precision at recall >= --min-recall (docs/accuracy.md, 'Raising precision'). --write records it "
        "as the model's operating point.",
    )
    parser.add_argument("--store", required=True, help="VAL scene store, already scanned with the model")
    parser.add_argument(
        "--labels",
        required=True,
        help="label GeoJSON of the VAL scenes (WGS84 unless a crs member); only positives are expected",
    )
    parser.add_argument(
        "--model",
        default=None,
        help="the checkpoint directory (or zoo name) that scanned the store; the store's grids must record it "
        "(default: the model the grids record, when it is a zoo model; needed for --write)",
    )
    parser.add_argument(
        "--min-recall",
        type=float,
        default=None,
        help="the VAL site recall the chosen setting must reach (default 0.92, docs/accuracy.md: a margin over "
        "the 0.9 target)",
    )
    parser.add_argument(
        "--thresholds",
        type=numbers,
        default=None,
        help="cell thresholds to sweep, comma- or space-separated (default 0.3 to 0.99 in 13 steps, denser "
        "near 1)",
    )
    parser.add_argument(
        "--min-cells",
        type=whole_numbers,
        default=None,
        help="minimum site sizes to sweep, in cells, comma- or space-separated (default 1 to 8)",
    )
    parser.add_argument(
        "--scene", action="append", dest="scenes", metavar="ID", help="scene(s); default every scanned scene"
    )
    parser.add_argument(
        "--min-support",
        type=whole_numbers,
        default=None,
        help="minimum supports to sweep, comma- or space-separated: how many other independent pairs of the "
        "store must also score a site where any covers it (default 0: no support rule; e.g. 0,1)",
    )
    add_split_args(parser)
    add_match_args(parser)
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the sweep and the choice as JSON on stdout instead of the table",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="record the chosen setting as the model's operating point (fringescan-model.json, and card.json "
        "when the model has one); the parameters and params_sha256 do not change",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import datetime as dt
    import json
    from pathlib import Path

    from scanner.cli.output import cells
    from scanner.core.detect import OperatingPoint, resolve_config
    from scanner.errors import InputError, ModelMismatchError, UsageError, problem
    from scanner.eval.calibrate import (
        CALIBRATION_MIN_CELLS,
        CALIBRATION_MIN_SUPPORT,
        CALIBRATION_THRESHOLDS,
        MAX_MEDIAN_CELLS,
        VAL_MIN_RECALL,
    )
    from scanner.io.checkpoint import meta_hash, read_meta, same_parameters, write_operating_point
    from scanner.io.probgrid import read_prob
    from scanner.io.store import Store
    from scanner.io.zoo import in_zoo, resolve_model, write_card_point
    from scanner.pipeline.sites import calibrate_store, evaluate_store, scanned_scenes

    args.thresholds = CALIBRATION_THRESHOLDS if args.thresholds is None else args.thresholds
    args.min_cells = CALIBRATION_MIN_CELLS if args.min_cells is None else args.min_cells
    args.min_support = CALIBRATION_MIN_SUPPORT if args.min_support is None else args.min_support
    args.min_recall = VAL_MIN_RECALL if args.min_recall is None else args.min_recall
    _check_sweep(args, UsageError, problem)
    prominence = split_prominence(args)
    rule = match_rule(args)
    store = Store.open(args.store)
    ids = scanned_scenes(store, args.scenes)
    grids = {s: read_prob(store.root, s)[1] for s in ids}
    model = None
    if args.model is not None:
        model = resolve_model(args.model)
    else:
        zoo_names = {(a.get("model") or {}).get("zoo_model") for a in grids.values()}
        if args.write or len(zoo_names) != 1 or None in zoo_names:
            raise UsageError(
                problem(
                    "calibrate --model",
                    expected="the checkpoint that scanned the store"
                    + (" (--write records the point in it)" if args.write else ""),
                    found="none given" + ("" if args.write else ", and the grids record no single zoo model"),
                    fix=f"pass --model CKPT_DIR, the model of `fringescan scan --store {args.store} --model CKPT_DIR`",
                )
            )
        model = resolve_model(zoo_names.pop())
    if args.write and in_zoo(model):
        raise UsageError(
            problem(
                f"calibrate --write into {model}",
                expected="a model you own (the shipped zoo inside the package is read-only)",
                found="a shipped zoo model",
                fix=f"copy it first: `cp -r {model} ./{model.name}-calibrated`, then pass "
                f"--model ./{model.name}-calibrated (the store stays valid: same parameters)",
            )
        )
    meta = read_meta(model)
    for scene_id, attrs in grids.items():
        if not same_parameters(meta, attrs.get("model") or {}, attrs.get("operating_point")):
            raise ModelMismatchError(
                problem(
                    f"scene {scene_id} of store {args.store}",
                    expected=f"probabilities scanned with the model {model} (checkpoint {meta_hash(meta)[:12]})",
                    found=f"checkpoint {str((attrs.get('model') or {}).get('checkpoint_sha256'))[:12]}",
                    fix=f"run `fringescan scan --store {args.store} --model {model}` first",
                )
            )
    result = calibrate_store(
        store,
        args.labels,
        args.thresholds,
        args.min_cells,
        args.min_recall,
        ids,
        split_prominence=prominence,
        rule=rule,
        min_support=args.min_support,
    )
    if result.chosen is None:
        best = max((r["recall"] for r in result.rows), default=0.0)
        small = [r["recall"] for r in result.rows if not r["median_cells"] > MAX_MEDIAN_CELLS]
        raise InputError(
            problem(
                f"calibration of {model} on {args.store}",
                expected=f"a setting with VAL site recall >= {args.min_recall:g} and a median site of at most "
                f"{MAX_MEDIAN_CELLS} cells",
                found=f"best recall {best:.3f} over {len(result.rows)} settings"
                + (
                    ""
                    if max(small, default=-1.0) == best
                    else f" ({max(small, default=0.0):.3f} with small sites)"
                ),
                fix="sweep lower thresholds or smaller --min-cells, label more of the VAL scenes, or lower "
                "--min-recall",
            )
        )
    chosen = result.chosen
    point = OperatingPoint(
        threshold=chosen["threshold"], min_cells=chosen["min_cells"], min_support=chosen.get("min_support", 0)
    )
    # What the chosen setting misses on VAL, and why (evaluate-scan's causes): whether a lower threshold could
    # help (below_threshold near it) or no threshold can (shared sites, points too far, unscanned ground).
    at_point = {
        sid: resolve_config(point.to_dict(), store.scene(sid).grid.cell_area_m2, split_prominence=prominence)[
            0
        ]
        for sid in ids
    }
    missed = evaluate_store(store, args.labels, at_point, ids, rule)
    source = (
        f"fringescan calibrate on VAL store {Path(args.store).absolute()} with labels "
        f"{Path(args.labels).absolute()} ({len(ids)} scene(s)): highest VAL precision at VAL recall >= "
        f"{args.min_recall:g}; {dt.date.today().isoformat()}"
    )
    written = []
    if args.write:
        write_operating_point(model, point)
        written.append(str(Path(model) / "fringescan-model.json"))
        if write_card_point(Path(model), point.to_dict(), source):
            written.append(str(Path(model) / "card.json"))
    report = {
        "model": str(model),
        "store": str(args.store),
        "labels": str(args.labels),
        "scenes": ids,
        "min_recall": args.min_recall,
        "rule": f"highest precision at recall >= {args.min_recall:g}; median site <= {MAX_MEDIAN_CELLS} cells",
        **rule.to_dict(),
        "split_prominence": prominence,
        "rows": result.rows,
        "chosen": chosen,
        "operating_point": point.to_dict(),
        "miss_causes": missed.miss_counts(),
        "misses": missed.misses,
        "written": written,
    }
    if args.json:
        print(json.dumps(report, indent=2, allow_nan=True))
        return 0
    print(f"scenes: {', '.join(ids)}; matching: {rule.describe()}; model {model}")
    swept = tuple(args.min_support) != (0,)
    print(
        f"{'threshold':>10}{'min cells':>10}"
        + (f"{'support':>9}" if swept else "")
        + f"{'median':>8}{'TP':>6}{'FN':>6}{'FP':>6}{'recall':>9}{'precision':>11}"
    )
    for r in result.rows:
        large = r["median_cells"] > MAX_MEDIAN_CELLS
        mark = "  <- chosen" if r is chosen else "  (sites too large)" if large else ""
        print(
            f"{r['threshold']:>10g}{r['min_cells']:>10}"
            + (f"{r['min_support']:>9}" if swept else "")
            + f"{r['median_cells']:>8g}{r['tp']:>6}{r['fn']:>6}"
            f"{r['fp']:>6}{r['recall']:>9.3f}{r['precision']:>11.3f}{mark}"
        )
    print(
        f"chosen: threshold {point.threshold:g}, min {cells(point.min_cells)}"
        + (f", support {point.min_support}" if swept else "")
        + f" (VAL recall {chosen['recall']:.3f}, "
        f"precision {chosen['precision']:.3f}; highest precision at recall >= {args.min_recall:g})"
    )
    if missed.misses:
        print(f"missed there: {missed.miss_summary()}")
    for path in written:  # fringescan-model.json, card.json
        print(f"operating point -> {path}")
    if not args.write:
        print("not written: pass --write to record it in the model")
    return 0


def _check_sweep(args: argparse.Namespace, error: type, problem) -> None:
    bad = (
        [t for t in args.thresholds if not 0.0 < t <= 1.0]
        + [m for m in args.min_cells if m < 1]
        + [k for k in args.min_support if k < 0]
    )
    empty = not args.thresholds or not args.min_cells or not args.min_support
    if bad or empty or not 0.0 <= args.min_recall <= 1.0:
        raise error(
            problem(
                "calibrate sweep",
                expected="thresholds in (0, 1], minimum sizes >= 1 cell, minimum supports >= 0, --min-recall in "
                "[0, 1]",
                found=f"thresholds {args.thresholds}, min cells {args.min_cells}, min support {args.min_support}, "
                f"min recall {args.min_recall}",
                fix="e.g. --thresholds 0.5,0.9,0.97 --min-cells 1,2,4 --min-support 0,1 --min-recall 0.92",
            )
        )
