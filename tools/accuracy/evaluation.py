"""Scanning and evaluation: each variant's VAL and TEST scans, every precision step on TEST with its setting
chosen on VAL, the patch level, and the product check of the default on HOLDOUT."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scanner.eval.calibrate import apply_platt, fit_platt
from scanner.io.probgrid import read_prob, scanned_scene_ids
from scanner.io.readers import parse_json_file
from tools.accuracy.archive import build_dataset, region_scenes, scan_to, step, write_atomic
from tools.accuracy.counting import (
    SceneProb,
    choose,
    count,
    grid_sweep,
    load_scenes,
    median_cells,
    size_stats,
    sweep,
)
from tools.accuracy.plan import Plan, Variant

DEFAULT_SETTING = "threshold and min size from VAL"
"""The setting the default variant is chosen by and checked with."""


@dataclass
class VariantResult:
    """One variant's evaluation: TEST counts per detection setting, the sweeps, its cost and calibration."""

    name: str
    title: str
    rows: dict = field(default_factory=dict)  # case -> counts dict on TEST
    sweeps: dict = field(default_factory=dict)  # (split, k) -> rows
    mflop: float = math.nan
    platt: tuple[float, float] | None = None
    sizes: dict = field(default_factory=dict)


def variant_scenes(
    plan: Plan, variant: Variant, model: Path, split: str, region: Path, store: Path
) -> list[SceneProb]:
    """Scan ``split`` with the variant's model and keep the grids (another variant's scan replaces them)."""
    saved = plan.out / "probs" / f"{variant.name}-{split}"
    area_of = {s["scene_id"]: s["area_id"] for s in region_scenes(region)}
    if not (saved / "done").exists():
        scan_to(plan, f"scan-{variant.name}-{split}", store, model)
        saved.mkdir(parents=True, exist_ok=True)
        for scene_id in scanned_scene_ids(store):
            prob, _ = read_prob(store, scene_id)
            np.save(saved / f"{scene_id}.npy", prob)
        (saved / "done").write_text("")
        (plan.out / ".done" / f"scan-{variant.name}-{split}").unlink()
    ids = sorted(p.stem for p in saved.glob("*.npy"))
    scenes = load_scenes(store, region / "labels_wgs84.geojson", ids, area_of)
    for s in scenes:
        s.prob = np.load(saved / f"{s.scene_id}.npy")
    return scenes


def window_calibration(model: Path, val_dataset: Path) -> tuple[float, float]:
    """Platt scaling fitted on the VAL dataset's windows (all of them: VAL is never used for training)."""
    from scanner.io.checkpoint import load_checkpoint
    from train.dataset_store import load_dataset
    from train.evaluate import predict_probabilities

    ds = load_dataset(val_dataset)
    net, _ = load_checkpoint(model)
    half = (ds.patches.shape[1] - 150) // 2
    windows = np.asarray(ds.patches[:, half : half + 150, half : half + 150])
    prob = predict_probabilities(net, windows)
    return fit_platt(prob, ds.labels)


def evaluate_model(plan: Plan, variant: Variant, model: Path, regions: dict) -> VariantResult:
    """Scan VAL and TEST with the variant's model, calibrate on VAL's windows, evaluate every precision step
    (results also in ``OUT/results-<variant>.json``)."""
    val = variant_scenes(plan, variant, model, "val", *regions["val"])
    test = variant_scenes(plan, variant, model, "test", *regions["test"])
    val_dataset = plan.out / f"val-ds-{variant.name}.zarr"
    build_dataset(plan, f"dataset-val-{variant.name}", variant, *regions["val"], val_dataset)
    platt = window_calibration(model, val_dataset)
    res = evaluate_variant(plan, variant, val, test, platt)
    write_atomic(
        plan.out / f"results-{variant.name}.json",
        json.dumps({"rows": res.rows, "sweeps": res.sweeps, "mflop": res.mflop, "platt": platt}, indent=1),
    )
    return res


def evaluate_variant(
    plan: Plan,
    variant: Variant,
    val: list[SceneProb],
    test: list[SceneProb],
    platt: tuple[float, float] | None,
) -> VariantResult:
    """Every precision step on TEST, each chosen on VAL only."""
    from scanner.io.checkpoint import load_checkpoint
    from scanner.nn.model import flops_per_window

    res = VariantResult(variant.name, variant.title, platt=platt)
    _, meta = load_checkpoint(plan.out / f"model-{variant.name}")
    res.mflop = flops_per_window(meta.model_config, dense=meta.model_config.name == "alexnet_scan") / 1e6
    n = max(len([s for s in test if s.area_id == a]) for a in {s.area_id for s in test})

    def add(label: str, threshold: float, min_cells: int = 2, k: int = 1, picked: dict | None = None) -> None:
        res.rows[label] = count(test, threshold, min_cells, k).to_dict() | {
            "median_cells": median_cells(test, threshold, min_cells),
            "val_recall": None if picked is None else picked["recall"],
            "val_precision": None if picked is None else picked["precision"],
            "threshold": threshold,
            "min_cells": min_cells,
            "k": k,
            "n": n,
            "calibrated_threshold": None if platt is None else _calibrated_value(threshold, platt),
        }

    add("threshold 0.5, no size filter", 0.5, 1)
    add("threshold 0.5, size filter", 0.5, 2)
    for k in range(2, n + 1):
        add(f"threshold 0.5, size filter, persistence {k} of {n}", 0.5, 2, k)
    picked = choose(sweep(val, 1, 2))
    if picked:
        add("threshold from VAL, size filter", picked["threshold"], 2, picked=picked)
    picked = choose(grid_sweep(val, 1))
    if picked:
        add("threshold and min size from VAL", picked["threshold"], picked["min_cells"], picked=picked)
        res.sweeps["test-size"] = sweep(test, 1, picked["min_cells"])
    for k in range(2, min(n, 2) + 1):
        picked = choose(grid_sweep(val, k))
        if picked:
            add(
                f"threshold and min size from VAL, persistence {k} of {n}",
                picked["threshold"],
                picked["min_cells"],
                k,
                picked=picked,
            )
            res.sweeps[f"test-size-k{k}"] = sweep(test, k, picked["min_cells"])
    res.sizes = size_stats(val)
    res.sweeps["test-nofilter"] = sweep(test, 1, 1)
    res.sweeps["test-filter"] = sweep(test, 1, 2)
    res.sweeps["test-filter-k2"] = sweep(test, 2, 2)
    return res


def _calibrated_value(raw_threshold: float, platt: tuple[float, float]) -> float:
    """What a raw threshold reads as on the calibrated scale."""
    return float(apply_platt(np.array([raw_threshold]), *platt)[0])


def default_variant(results: list[VariantResult]) -> VariantResult:
    """The default: the variant whose VAL-chosen setting ("threshold and min size from VAL") has the best VAL
    precision, among those costing < 2x configs/phase_only.py's dense FLOPs per window. TEST plays no part."""
    base = results[0]
    ok = [r for r in results if r.rows.get(DEFAULT_SETTING) and r.mflop < 2 * base.mflop]
    return max(ok, key=lambda r: r.rows[DEFAULT_SETTING]["val_precision"]) if ok else base


def patch_level(plan: Plan, regions: dict) -> dict[str, str]:
    """Patch-level BEP on the TEST region's windows for every variant (``fringescan evaluate``)."""
    reports = {}
    test_region, test_store = regions["test"]
    for variant in plan.variants:
        ds = plan.out / f"test-ds-{variant.name}.zarr"
        build_dataset(plan, f"dataset-test-{variant.name}", variant, test_region, test_store, ds)
        out = plan.out / f"eval-test-{variant.name}"
        step(
            plan.out,
            f"evaluate-test-{variant.name}",
            [
                "evaluate",
                "--model",
                str(plan.out / f"model-{variant.name}"),
                "--dataset",
                str(ds),
                "--out",
                str(out),
            ],
        )
        reports[variant.name] = parse_json_file(
            out / "report.json",
            what="patch-level report",
            expected="the evaluate verb's report.json",
            fix="re-run",
        )
    return reports
