"""Tables 6 and 7 with the paper's own model: ``python -m tools.accuracy.paper_cv``.

    .venv/bin/python -m tools.accuracy.paper_cv --out /tmp/paper-cv        # about an hour on 2 CPU cores
    .venv/bin/python -m tools.accuracy.paper_cv --out /tmp/pcv --size 300 --train-scenes 8 \\
        --paper-steps 2 --default-steps 2 --doc /tmp/accuracy.md --json /tmp/paper_cv.json   # a smoke run

The paper's protocol (its section 2.5 and Tables 3 to 7) with configs/paper.py, Caffe's bvlc_alexnet on the
16-colour ``phase_rgb`` input, beside the default recipe (configs/demo.py without its mining round), on one
synthetic TRAIN region:

1. ``fringescan synth`` (seed 8101, as docs/accuracy.md's TRAIN region, at this run's size) and ``ingest``.
2. ``fringescan dataset`` with each config (Datasets A and B, 5 nested folds per scene).
3. ``fringescan crossval`` with each config at a shortened schedule (the learning-rate drop moved to the same
   fraction of training) -> Table 6.
4. Each held-out fold scanned at the paper's 10 px stride with its fold's CNN-A and CNN-B: the paper AlexNet
   on the window path (every 150 px window through the whole network), the default model on the dense path
   -> Table 7 at threshold 0.5, without and with the size filter.

Each stage is resumable (``OUT/.done/<stage>``). The results go to ``--json`` (committed beside the doc) and
the section between ``<!-- paper-cv -->`` markers in ``--doc`` is rendered from that JSON alone
(``paper_cv_markdown``), so ``python -m tools.accuracy`` keeps the section when it rewrites the doc, and a test
checks that the two agree. The schedule is about 1/300 of Table 1's on this CPU; the full 30,000-iteration
schedule is the GPU script's job (docs/accuracy.md).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from scanner.io.readers import parse_json_file, read_geojson
from tools.accuracy.archive import build_dataset, region_scenes, synth_and_ingest, write_atomic
from tools.accuracy.plan import ROOT, SEEDS, Plan, Variant
from tools.accuracy.tables import CASES, PAPER_T7, pct, table7_markdown
from tools.accuracy.training import CrossVal, crossval
from tools.doc_blocks import replace_block

JSON_PATH = ROOT / "docs" / "accuracy_paper_cv.json"
"""The committed results of the last run: the doc's section is rendered from this file alone."""
MARKERS = ("<!-- paper-cv -->\n", "\n<!-- /paper-cv -->")
TABLE1_SAMPLES = 30000 * 50
"""Table 1's schedule: 30,000 iterations of batch 50."""

PAPER_T6 = {  # paper Table 6 averages (recall, precision, BEP, %), ALOS
    "A on A'": (95.3, 99.8, 99.8),
    "A on B'": (83.5, 99.7, 96.3),
    "B on B'": (90.9, 99.5, 99.4),
}

RUN_KEYS = ("paper", "default")


def cv_runs(args: argparse.Namespace) -> dict[str, tuple[str, str, CrossVal]]:
    """``{key: (title, schedule in words, CrossVal)}`` of the two models this tool cross-validates."""
    paper_sets = tuple(args.paper_set)
    paper = CrossVal(
        "cv-paper",
        "configs/paper.py",
        "ds-paper.zarr",
        args.paper_steps,
        30000,
        5000,
        "window",
        truncate=True,
        overrides=paper_sets,
    )
    default = CrossVal("cv-default", "configs/demo.py", "ds-default.zarr", args.default_steps, 1500, 600)
    changed = (
        f"; changed for the CPU schedule: {', '.join(f'`{o}`' for o in paper_sets)}" if paper_sets else ""
    )
    return {
        "paper": (
            "paper AlexNet (configs/paper.py)",
            f"Table 1's first {args.paper_steps} of 30,000 iterations (lr 0.01 throughout: Table 1's first drop "
            f"comes at 5,000){changed}",
            paper,
        ),
        "default": (
            "default recipe (configs/demo.py, no mining round)",
            f"{args.default_steps} of configs/demo.py's 1,500 steps, its lr drop moved to the same fraction",
            default,
        ),
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True, help="work folder (intermediate products; resumable)")
    p.add_argument("--size", type=int, default=600, help="scene side in px (default 600)")
    p.add_argument("--train-scenes", type=int, default=32, help="interferograms, 4 per area (default 32)")
    p.add_argument(
        "--bodies-per-100km2",
        type=float,
        default=3.0,
        help="landslide density (the simulator's default 1.3 leaves few bodies in small scenes)",
    )
    p.add_argument("--paper-steps", type=int, default=100, help="steps per paper AlexNet fold model")
    p.add_argument(
        "--paper-set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a --set for the paper AlexNet's dataset and models (repeatable), recorded in the doc",
    )
    p.add_argument("--default-steps", type=int, default=300, help="steps per default-recipe fold model")
    p.add_argument(
        "--runs",
        default="paper,default",
        help="which models to cross-validate (paper, default); the others' results are kept from --json "
        "when it describes the same archive",
    )
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "accuracy.md")
    p.add_argument("--json", type=Path, default=JSON_PATH)
    return p.parse_args(argv)


def stage_seconds(out: Path, names: list[str]) -> float:
    """The recorded seconds of the finished stages ``names`` (their ``.done`` markers)."""
    done = out / ".done"
    return sum(float((done / n).read_text() or 0) for n in names if (done / n).exists())


def run(args: argparse.Namespace) -> dict:
    """Every stage (each once); the results as the JSON ``paper_cv_markdown`` renders."""
    plan = Plan(
        out=args.out.resolve(),
        quick=True,
        size=args.size,
        scenes={"train": args.train_scenes},
        steps=0,
        cv_steps=0,
        alexnet_steps=0,
        doc=args.doc,
        img_dir=ROOT / "docs" / "img",
    )
    plan.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    region, store = synth_and_ingest(plan, "train", [f"bodies_per_100km2={args.bodies_per_100km2:g}"])
    scenes = region_scenes(region)
    features = read_geojson(region / "labels.geojson")["features"]
    result = {
        "command": "python -m tools.accuracy.paper_cv --out OUT "
        f"--size {args.size} --train-scenes {args.train_scenes} --bodies-per-100km2 {args.bodies_per_100km2:g} "
        f"--paper-steps {args.paper_steps} --default-steps {args.default_steps}"
        + "".join(f" --paper-set {o}" for o in args.paper_set),
        "date": time.strftime("%Y-%m-%d"),
        "archive": {
            "seed": SEEDS["train"],
            "bodies_per_100km2": args.bodies_per_100km2,
            "size_px": args.size,
            "interferograms": len(scenes),
            "areas": len({s["area_id"] for s in scenes}),
            "bodies": len(features),
            "visible": sum(1 for f in features if f["properties"].get("visible_scene_ids")),
        },
        "runs": {},
    }
    previous = _previous(args.json)
    if previous and previous.get("archive") == result["archive"]:
        result["runs"] = previous["runs"]
    wanted = {name.strip() for name in args.runs.split(",")}
    for key, (title, schedule, cv_run) in cv_runs(args).items():
        if key not in wanted:
            continue
        variant = Variant(key, cv_run.config, title, cv_run.overrides)
        build_dataset(plan, f"dataset-{key}", variant, region, store, plan.out / cv_run.dataset)
        _, table7 = crossval(plan, store, region, cv_run)
        table6 = parse_json_file(
            plan.out / cv_run.name / "table6.json",
            what="cross-validation table",
            expected="its JSON",
            fix="delete the run's cv folder to recompute",
        )
        result["runs"][key] = {
            "title": title,
            "config": cv_run.config,
            "schedule": schedule,
            "command": f"{result['command']} --runs {key}",
            "steps": cv_run.steps,
            "batch": 50,
            "scan_path": cv_run.scan_path,
            "table6": {case: table6[case]["average"] for case in PAPER_T6},
            "table7": table7,
            "seconds": {
                "dataset": stage_seconds(plan.out, [f"dataset-{key}"]),
                "crossval": stage_seconds(plan.out, [f"crossval-{cv_run.name}"]),
            },
        }
    result["runs"] = {key: result["runs"][key] for key in RUN_KEYS if key in result["runs"]}
    return result


def _previous(path: Path) -> dict | None:
    if not path.exists():
        return None
    return parse_json_file(
        path,
        what="earlier paper cross-validation results",
        expected="tools.accuracy.paper_cv's JSON",
        fix="delete it to start afresh",
    )


def paper_cv_markdown(result: dict) -> str:
    """The doc's section, from the JSON alone."""
    a = result["archive"]
    runs = result["runs"]
    lines = [
        "## Tables 6 and 7 with the paper's AlexNet (`configs/paper.py`), beside the default recipe",
        "",
        "**Synthetic data, CPU schedule.** Both models are cross-validated on one synthetic TRAIN region "
        f"(seed {a['seed']}, {a['size_px']} px scenes at 28 m, {a['interferograms']} interferograms over "
        f"{a['areas']} areas, {a['bodies_per_100km2']:g} bodies per 100 km² instead of the simulator's 1.3 so "
        f"that small scenes hold enough of them: {a['bodies']} landslide bodies, of which {a['visible']} show fringes in at least "
        "one pair), 5 folds per scene as in Tables 3 and 4. The paper's columns are its ALOS averages. Regenerate "
        f"with `{result['command']}` ({result['date']}).",
        "",
        "| model | schedule | steps x batch | share of Table 1's 1.5 M samples | scan path for Table 7 | "
        "CPU minutes (dataset, then training and patch evaluation of the 10 fold models; fold scans not counted) |",
        "|---|---|---|---|---|---|",
    ]
    for run in runs.values():
        samples = run["steps"] * run["batch"]
        minutes = (run["seconds"]["dataset"] + run["seconds"]["crossval"]) / 60
        lines.append(
            f"| {run['title']} | {run['schedule']} | {run['steps']} x {run['batch']} | {100 * samples / TABLE1_SAMPLES:.2f}% | "
            f"{run['scan_path']} | {minutes:.0f} |"
        )
    lines += [
        "",
        "Table 6 (patch level, averages over the 5 folds, %):",
        "",
        "| case | "
        + " | ".join(f"{run['title']}: recall / precision / BEP" for run in runs.values())
        + " | paper (ALOS): recall / precision / BEP |",
        "|---|" + "---|" * (len(runs) + 1),
    ]
    for case, paper in PAPER_T6.items():
        cells = [
            " / ".join(pct(run["table6"][case].get(k)) for k in ("recall", "precision", "bep"))
            for run in runs.values()
        ]
        lines.append(f"| {case} | " + " | ".join(cells) + f" | {paper[0]} / {paper[1]} / {paper[2]} |")
    lines += [
        "",
        "Table 7 (detection level at threshold 0.5, the 5 folds pooled: recall / precision, %):",
        "",
        "| case | size filter | "
        + " | ".join(f"{run['title']}: TP / FN / FP, recall / precision" for run in runs.values())
        + " | paper average: recall / precision |",
        "|---|---|" + "---|" * (len(runs) + 1),
    ]
    for case, (model, data) in CASES.items():
        for filt in (0, 1):
            cells = []
            for run in runs.values():
                folds = run["table7"][f"{case}-{filt}"]
                tp, fn, fp = (sum(f[k] for f in folds) for k in ("tp", "fn", "fp"))
                recall = tp / (tp + fn) if tp + fn else float("nan")
                precision = tp / (tp + fp) if tp + fp else float("nan")
                cells.append(f"{tp} / {fn} / {fp}, {pct(recall)} / {pct(precision)}")
            paper = PAPER_T7[f"{case}-{filt}"]
            lines.append(
                f"| {case} ({model} on {data}) | {'yes' if filt else 'no'} | "
                + " | ".join(cells)
                + f" | {paper[0]} / {paper[1]} |"
            )
    for run in runs.values():
        lines += [
            "",
            f"Per fold, {run['title']}, (b) size filter applied:",
            "",
            table7_markdown(run["table7"], 1),
        ]
    return "\n".join(lines)


def replace_section(doc: str, section: str) -> str:
    """``doc`` with the text between the paper-cv markers replaced by ``section`` (the markers kept)."""
    return replace_block(doc, *MARKERS, section)


def committed_section() -> str:
    """The section rendered from the committed JSON (docs/accuracy.md's template uses it)."""
    if not JSON_PATH.exists():
        return "Not run yet: `python -m tools.accuracy.paper_cv --out OUT`."
    result = parse_json_file(
        JSON_PATH,
        what="paper cross-validation results",
        expected="tools.accuracy.paper_cv's JSON",
        fix="rerun python -m tools.accuracy.paper_cv",
    )
    return paper_cv_markdown(result)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    write_atomic(args.json, json.dumps(result, indent=1) + "\n")
    doc = args.doc.read_text() if args.doc.exists() else "\n".join(MARKERS)
    write_atomic(args.doc, replace_section(doc, paper_cv_markdown(result)))
    print(f"wrote {args.json} and the paper-cv section of {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
