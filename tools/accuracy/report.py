"""docs/accuracy.md from ``report_template.md`` (beside this module) and the run's results, and the PR plots."""

from __future__ import annotations

import os
from pathlib import Path

from tools.accuracy import tables
from tools.accuracy.counting import MIN_CELLS, MIN_RECALL, THRESHOLDS
from tools.accuracy.evaluation import DEFAULT_SETTING, VariantResult
from tools.accuracy.paper_cv import committed_section
from tools.accuracy.plan import SEEDS, Plan
from tools.table1_gpu import current_block
from tools.zoo.table import zoo_markdown

TEMPLATE = Path(__file__).with_name("report_template.md")
"""docs/accuracy.md with ``str.format`` fields for every number of the run."""


def render(
    plan: Plan,
    table6: str,
    table7: dict,
    results: list[VariantResult],
    extra: dict,
    check: dict,
    seconds: float,
) -> str:
    """docs/accuracy.md from the run's results (every number below comes from this run)."""
    command = "python -m tools.accuracy --out OUT " + " ".join(plan.argv)
    images = "\n".join(f"![PR {r.name}](img/accuracy_{r.name}.png)" for r in results)
    text = TEMPLATE.read_text().format(
        command=command,
        minutes=seconds / 60,
        seeds=SEEDS,
        archive=tables.archive_table(plan),
        folds=tables.folds_table(plan),
        table6=table6.split("\n", 2)[-1].strip(),
        t7a=tables.table7_markdown(table7, 0),
        t7b=tables.table7_markdown(table7, 1),
        cv_steps=plan.cv_steps,
        alexnet_steps=plan.alexnet_steps,
        alexnet_frac=plan.alexnet_steps / 30000,
        cv_frac=plan.cv_steps * 50 / (30000 * 50),
        steps=plan.steps,
        steps_table=tables.steps_table(results),
        oracle=tables.oracle_table(results),
        patch=tables.patch_table(extra),
        images=images,
        zoo=zoo_markdown(),
        paper_cv=committed_section(),
        table1_gpu=current_block(plan.doc),
        mflop="; ".join(f"{r.name} {r.mflop:.3f}" for r in results),
        visibility=tables.visibility_line(plan),
        holdout_seed=SEEDS["holdout"],
        size=plan.size,
        scenes=", ".join(f"{k.upper()} {v}" for k, v in plan.scenes.items()),
        min_cells=", ".join(map(str, MIN_CELLS)),
        sizes_tp=tables.quartiles(results[0].sizes.get("tp", [])),
        sizes_fp=tables.quartiles(results[0].sizes.get("fp", [])),
        calibration=tables.calibration_line(results),
        decision=tables.decision(results),
        check_command=check["command"],
        check_variant=check["variant"],
        t_lo=min(THRESHOLDS),
        t_hi=max(THRESHOLDS),
        check=check["with_size_filter"],
        default=DEFAULT_SETTING,
        check_recall=tables.pct(check["with_size_filter"]["recall"]),
        check_precision=tables.pct(check["with_size_filter"]["precision"]),
    )
    return text


def pr_plot(res: VariantResult, path: Path) -> None:
    """The variant's precision-recall curves on TEST, one per sweep, written to ``path`` (a PNG)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.2, 3.2), dpi=90)
    curves = [
        ("test-nofilter", "no size filter"),
        ("test-filter", "size filter (paper)"),
        ("test-filter-k2", "size filter, 2 passes"),
        ("test-size", "min size from VAL"),
    ]
    curves += [
        (k, f"min size from VAL, {k[-1]} passes") for k in sorted(res.sweeps) if k.startswith("test-size-k")
    ]
    for key, label in curves:
        rows = res.sweeps.get(key)
        if not rows:
            continue
        r = [x["recall"] for x in rows]
        p = [x["precision"] for x in rows]
        ax.plot(r, p, marker=".", ms=3, lw=1, label=label)
    ax.axvline(MIN_RECALL, color="grey", lw=0.6, ls=":")
    ax.axhline(0.37, color="grey", lw=0.6, ls="--")
    ax.set(
        xlabel="site recall (TEST)",
        ylabel="site precision (TEST)",
        xlim=(0, 1.02),
        ylim=(0, 1.02),
        title=res.title,
    )
    ax.title.set_fontsize(8)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)
