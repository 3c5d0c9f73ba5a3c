"""``python -m tools.accuracy``: parse the flags, run the stages in order, write docs/accuracy.md."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import tools.accuracy
from tools.accuracy.archive import synth_and_ingest, write_atomic
from tools.accuracy.check import product_check
from tools.accuracy.evaluation import VariantResult, default_variant, evaluate_model, patch_level
from tools.accuracy.plan import DEFAULT_VARIANTS, ROOT, make_plan
from tools.accuracy.report import pr_plot, render
from tools.accuracy.training import crossval, train_variant


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=tools.accuracy.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--out", type=Path, required=True, help="work folder (intermediate products; resumable)")
    p.add_argument("--quick", action="store_true", help="small archive and short schedules (about 40 min)")
    p.add_argument("--size", type=int, help="scene side in px (default 1000)")
    p.add_argument(
        "--train-scenes", type=int, help="TRAIN interferograms (4 per area; default 200, quick 52)"
    )
    p.add_argument("--eval-scenes", type=int, help="VAL and TEST interferograms each (default 48, quick 24)")
    p.add_argument("--steps", type=int, help="training steps per variant (configs/phase_only.py: 1500)")
    p.add_argument("--cv-steps", type=int, help="steps per cross-validation model (default 1500, quick 300)")
    p.add_argument(
        "--alexnet-steps", type=int, help="paper AlexNet steps (default 1500, quick 100; 0 skips it)"
    )
    p.add_argument(
        "--variants",
        default=DEFAULT_VARIANTS,
        help=f"comma-separated subset of {DEFAULT_VARIANTS} (demo first)",
    )
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "accuracy.md")
    p.add_argument("--img-dir", type=Path, default=ROOT / "docs" / "img")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = make_plan(args)
    plan.out.mkdir(parents=True, exist_ok=True)
    os.chdir(ROOT)
    started = time.perf_counter()
    done = plan.out / ".done"
    recorded = sum(float(p.read_text() or 0) for p in done.iterdir()) if done.is_dir() else 0.0
    regions = {split: synth_and_ingest(plan, split) for split in ("train", "val", "test", "holdout")}
    (train_region, train_store) = regions["train"]
    results: list[VariantResult] = []
    table6, table7 = "", {}
    for i, variant in enumerate(plan.variants):
        model = train_variant(plan, variant, regions)
        if variant.name != "alexnet":  # per-window AlexNet scans are too slow here: patch level only
            results.append(evaluate_model(plan, variant, model, regions))
            pr_plot(results[-1], plan.img_dir / f"accuracy_{variant.name}.png")
        if i == 0:
            table6, table7 = crossval(plan, train_store, train_region)
    extra = patch_level(plan, regions)
    check = product_check(plan, regions, default_variant(results))
    write_atomic(plan.out / "table7.json", json.dumps(table7, indent=1))
    doc = render(plan, table6, table7, results, extra, check, recorded + time.perf_counter() - started)
    write_atomic(plan.doc, doc)
    print(f"\nwrote {plan.doc} in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
