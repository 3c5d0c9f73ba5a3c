"""The markdown tables and lines of docs/accuracy.md, each from the run's results."""

from __future__ import annotations

import math

import numpy as np

from scanner.eval.matching import DetectionCounts
from scanner.io.readers import read_geojson
from tools.accuracy.archive import region_scenes
from tools.accuracy.counting import MIN_RECALL
from tools.accuracy.evaluation import DEFAULT_SETTING, VariantResult, default_variant
from tools.accuracy.plan import SEEDS, Plan

PAPER_T7B_CASE2_PRECISION = 0.037


PAPER_T7 = {  # paper Table 7 averages (recall, precision, %): (a) no size filter, (b) size filter
    "1-0": (100, 3.1),
    "2-0": (89.2, 2.7),
    "3-0": (94.5, 1.5),
    "1-1": (100, 4.3),
    "2-1": (89.2, 3.7),
    "3-1": (94.5, 2.1),
}


CASES = {"1": ("CNN-A", "Dataset A'"), "2": ("CNN-A", "Dataset B'"), "3": ("CNN-B", "Dataset B'")}


def pct(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


def archive_table(plan: Plan) -> str:
    lines = [
        "| region | seed | role | interferograms | areas | landslide bodies | visible in >= 1 pair |",
        "|---|---|---|---|---|---|---|",
    ]
    roles = {
        "holdout": "the acceptance check only: looked at once, after every choice was made",
        "train": "cross-validation and the scan models",
        "val": "threshold choice, calibration",
        "test": "held out from training and from every VAL choice (seen while this page was developed)",
    }
    for split in ("train", "val", "test", "holdout"):
        region = plan.out / f"{split}-region"
        scenes = region_scenes(region)
        feats = read_geojson(region / "labels.geojson")["features"]
        visible = sum(1 for f in feats if f["properties"].get("visible_scene_ids"))
        lines.append(
            f"| {split.upper()} | {SEEDS[split]} | {roles[split]} | {len(scenes)} | "
            f"{len({s['area_id'] for s in scenes})} | {len(feats)} | {visible} |"
        )
    return "\n".join(lines)


def folds_table(plan: Plan) -> str:
    """Tables 3 and 4 in one: per fold, the training and test samples of Datasets A and B (raw counts)."""
    from train.dataset_store import load_dataset

    a = load_dataset(plan.out / "ds-demo.zarr").arrays
    lab, fold, in_a = a["label"], a["fold"], a["in_a"].astype(bool)
    lines = [
        "| fold | A train (cand / others) | A' test (cand / others) | B train (cand / others) | "
        "B' test (cand / others) |",
        "|---|---|---|---|---|",
    ]
    for k in range(5):

        def pair(mask: np.ndarray) -> str:
            return f"{int(np.sum(mask & (lab == 1)))} / {int(np.sum(mask & (lab == 0)))}"

        lines.append(
            f"| cv{k + 1} | {pair(in_a & (fold != k))} | {pair(in_a & (fold == k))} | "
            f"{pair(fold != k)} | {pair(fold == k)} |"
        )
    return "\n".join(lines)


def table7_markdown(table7: dict, filt: int) -> str:
    lines = [
        "| case | model | data | index | cv1 | cv2 | cv3 | cv4 | cv5 | total | paper average |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (model, data) in CASES.items():
        folds = [DetectionCounts(r["tp"], r["fn"], r["fp"]) for r in table7[f"{case}-{filt}"]]
        total = sum(folds, DetectionCounts(0, 0, 0))
        paper = PAPER_T7[f"{case}-{filt}"]
        for index in ("tp", "fn", "fp", "recall", "precision"):
            if index in ("tp", "fn", "fp"):
                vals = [str(getattr(f, index)) for f in folds] + [str(getattr(total, index)), "—"]
            else:
                vals = [pct(getattr(f, index)) for f in folds] + [
                    pct(getattr(total, index)),
                    f"{paper[0] if index == 'recall' else paper[1]}",
                ]
            head = f"| {case} | {model} | {data} |" if index == "tp" else "| | | |"
            lines.append(
                f"{head} {index.upper() if len(index) == 2 else index.capitalize()} | "
                + " | ".join(vals)
                + " |"
            )
    return "\n".join(lines)


def steps_table(results: list[VariantResult]) -> str:
    """Each precision step alone, then combined: site precision on TEST (recall >= 0.9 wanted)."""
    lines = [
        "| step | variant | setting | threshold | min cells | passes | median site (cells) | TEST TP / FN / FP | "
        "TEST recall | TEST precision | x paper's 3.7% |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for label, r in res.rows.items():
            ok = r["recall"] >= MIN_RECALL
            lines.append(
                f"| {_step_of(label)} | {res.name} | {label} | {r['threshold']:g} | {r['min_cells']} | "
                f"{r['k']} of {r['n']} | {r['median_cells']:.0f} | {r['tp']} / {r['fn']} / {r['fp']} | "
                f"{pct(r['recall'])}{'' if ok else ' (< 90)'} | {pct(r['precision'])} | "
                f"{r['precision'] / PAPER_T7B_CASE2_PRECISION:.1f} |"
            )
    return "\n".join(lines)


def _step_of(label: str) -> str:
    if "no size filter" in label:
        return "Table 7(a)"
    if "min size" in label:
        return "(c)+(d)+(e)" if "persistence" in label else "(d)+(e)"
    if "persistence" in label:
        return "(c)"
    return "(d)" if "VAL" in label else "Table 7(b)"


def oracle_table(results: list[VariantResult]) -> str:
    names = {
        "test-nofilter": "no size filter",
        "test-filter": "size filter (paper)",
        "test-filter-k2": "size filter, persistence 2",
        "test-size": "min size from VAL",
    }
    lines = ["| variant | setting | best TEST precision at TEST recall >= 0.9 (threshold) |", "|---|---|---|"]
    for res in results:
        for key, rows in res.sweeps.items():
            best = best_at_recall(rows)
            name = names.get(key, f"min size from VAL, persistence {key[-1]}")
            text = "no threshold reaches 0.9" if best is None else f"{pct(best[0])} ({best[1]:g})"
            lines.append(f"| {res.name} | {name} (min cells {rows[0]['min_cells']}) | {text} |")
    return "\n".join(lines)


def best_at_recall(rows: list[dict]) -> tuple[float, float] | None:
    ok = [
        r
        for r in rows
        if not math.isnan(r["recall"]) and r["recall"] >= MIN_RECALL and not math.isnan(r["precision"])
    ]
    return max((r["precision"], r["threshold"]) for r in ok) if ok else None


def patch_table(extra: dict) -> str:
    lines = [
        "| variant | BEP (%) | recall at 0.5 (%) | precision at 0.5 (%) | windows (cand / others) |",
        "|---|---|---|---|---|",
    ]
    for name, rep in extra.items():
        lines.append(
            f"| {name} | {_get(rep, 'bep')} | {_get(rep, 'recall')} | {_get(rep, 'precision')} | "
            f"{rep.get('n_candidates', '—')} / {rep.get('n_others', '—')} |"
        )
    return "\n".join(lines)


def _get(rep: dict, key: str) -> str:
    value = rep.get(key)
    if value is None:
        value = (rep.get("at_0.5") or rep.get("at_threshold") or {}).get(key)
    return "—" if value is None else f"{100 * float(value):.1f}"


def visibility_line(plan: Plan) -> str:
    """How many TEST bodies show fringes in 0, 1, 2... of their area's passes (bounds persistence's recall)."""
    feats = read_geojson(plan.out / "test-region" / "labels.geojson")["features"]
    counts = np.bincount([len(f["properties"].get("visible_scene_ids") or []) for f in feats])
    return ", ".join(f"{n} in {v} pass{'es' if v != 1 else ''}" for v, n in enumerate(counts) if n)


def calibration_line(results: list[VariantResult]) -> str:
    parts = []
    for res in results:
        row = res.rows.get(DEFAULT_SETTING)
        if res.platt and row:
            parts.append(
                f"{res.name}: a = {res.platt[0]:.3f}, b = {res.platt[1]:.3f}; its VAL-chosen threshold "
                f"{row['threshold']:g} reads as a calibrated probability of {row['calibrated_threshold']:.3f}"
            )
    return "; ".join(parts) or "not fitted"


def decision(results: list[VariantResult]) -> str:
    """One line per variant: VAL precision of its VAL-chosen setting (which decides), then TEST (which reports)."""
    chosen = default_variant(results)
    base = results[0]
    lines = []
    for res in results:
        row = res.rows.get(DEFAULT_SETTING)
        if not row:
            lines.append(f"- {res.title}: no setting reaches VAL recall 0.9.")
            continue
        lines.append(
            f"- {res.title}{' **(chosen)**' if res is chosen else ''}: VAL precision {pct(row['val_precision'])}% at "
            f"VAL recall {pct(row['val_recall'])}% (threshold {row['threshold']:g}, min {row['min_cells']} cells); "
            f"TEST {pct(row['precision'])}% at {pct(row['recall'])}%; {res.mflop / base.mflop:.2f}x "
            "configs/phase_only.py's dense FLOPs per window."
        )
    return "\n".join(lines)


def quartiles(values: list[int]) -> str:
    if not values:
        return "none"
    q = np.percentile(values, [25, 50, 75])
    return f"{len(values)} components, quartiles {q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f} cells"
