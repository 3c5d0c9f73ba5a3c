"""Regenerate docs/accuracy.md: Tables 6 and 7 on a synthetic archive, then the precision steps (issue 8).

    .venv/bin/python tools/accuracy.py --out /tmp/accuracy [--quick] [--doc docs/accuracy.md]

SLOW: the full run takes hours on a 2-core CPU; ``--quick`` (the run behind the committed docs/accuracy.md)
about 40 minutes. Stages, each resumable (a finished stage leaves ``OUT/.done/<stage>`` and is skipped):

1. ``fringescan synth`` of three regions from fixed seeds: TRAIN (cross-validation and the scan model),
   VAL (threshold choice, calibration) and TEST (held out: never used in training or tuning).
2. ``fringescan ingest`` of every scene (phase, coherence, DEM) into one store per region.
3. ``fringescan dataset`` on TRAIN with each variant's config (Datasets A and B with nested folds).
4. ``fringescan crossval`` (5 folds, A and B) with configs/phase_only.py at a reduced step count -> Table 6.
5. Each held-out fold's scenes scanned with that fold's CNN-A and CNN-B -> Table 7 (a) and (b).
6. Each variant trained on all of TRAIN, VAL and TEST scanned; threshold sweeps at the site level,
   with the size filter, persistence k of n, threshold chosen on VAL -> precision table, PR plots.

Every figure comes from the seeds below and the knobs on the command line (both recorded in the doc).
Intermediate products stay under ``--out``; only the doc and its PNGs are written into the repository.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry

from scanner.cli import main as fringescan
from scanner.core.detect import DetectConfig, detect
from scanner.eval.calibrate import apply_platt, fit_platt, persistent_sites, select_setting
from scanner.eval.matching import DetectionCounts, match_sites
from scanner.geo import WGS84, GeoGrid
from scanner.io.labels import read_labels
from scanner.io.probgrid import read_prob, scanned_scene_ids
from scanner.io.site_layers import component_polygons, to_wgs84
from scanner.io.store import Store
from scanner.io.writers import write_bytes
from scanner.pipeline.sites import scanned_footprint, slope_cells

ROOT = Path(__file__).resolve().parent.parent
SEEDS = {"train": 8101, "val": 8202, "test": 8303, "holdout": 8404}
THRESHOLDS = (
    (0.01, 0.02, 0.03) + tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05)) + (0.97, 0.98, 0.99, 0.995)
)
MIN_RECALL = 0.9
MIN_CELLS = (2, 3, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150)
MIN_VAL_RECALL = 0.92
MAX_MEDIAN_CELLS = 225  # 15 x 15 cells: the cells whose windows all contain one point
PAPER_T7B_CASE2_PRECISION = 0.037


@dataclass(frozen=True)
class Variant:
    """A trained model variant: its config file, ``--set`` overrides and what the doc calls it."""

    name: str
    config: str
    title: str
    overrides: tuple[str, ...] = ()
    mined_from: str | None = None  # hard negatives mined with this variant's model, added to its dataset


@dataclass
class Plan:
    out: Path
    quick: bool
    size: int
    scenes: dict[str, int]
    steps: int
    cv_steps: int
    alexnet_steps: int
    doc: Path
    img_dir: Path
    variants: list[Variant] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------------ plumbing


def step(out: Path, name: str, argv: list[str]) -> None:
    """Run one ``fringescan`` verb in this process once (marker file ``OUT/.done/<name>``)."""
    marker = out / ".done" / name
    if marker.exists():
        return
    print(f"\n== {name}: fringescan {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    code = fringescan(argv)
    if code != 0:
        print(f"accuracy: step '{name}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{time.perf_counter() - start:.1f}\n")
    print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)


def write_atomic(path: Path, data: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data.encode() if isinstance(data, str) else data)


def region_scenes(region: Path) -> list[dict]:
    return json.loads((region / "region.json").read_text())["scenes"]


def synth_and_ingest(plan: Plan, split: str) -> tuple[Path, Path]:
    """The region of ``split`` and its ingested store."""
    region, store = plan.out / f"{split}-region", plan.out / f"{split}-store"
    n = plan.scenes[split]
    step(
        plan.out,
        f"synth-{split}",
        [
            "synth",
            "--out",
            str(region),
            "--seed",
            str(SEEDS[split]),
            "--size",
            str(plan.size),
            "--set",
            f"scenes={n}",
            "--set",
            f"areas={max(1, n // 4)}",
        ],
    )
    for scene in region_scenes(region):
        files = scene["files"]
        step(
            plan.out,
            f"ingest-{split}-{scene['scene_id']}",
            [
                "ingest",
                str(region / files["phase"]),
                "--coherence",
                str(region / files["coherence"]),
                "--dem",
                str(region / files["dem"]),
                "--id",
                scene["scene_id"],
                "--store",
                str(store),
            ],
        )
    return region, store


def steps_overrides(steps: int, config_steps: int = 1500, decay_every: int = 600) -> list[str]:
    """Scale a step schedule: ``steps`` iterations, the lr drop at the same fraction of training."""
    decay = max(1, round(steps * decay_every / config_steps))
    return [
        "--set",
        f"train.steps={steps}",
        "--set",
        f"optim.lr_decay_every={decay}",
        "--set",
        f"train.checkpoint_every={max(1, steps // 4)}",
    ]


def sets(overrides: Sequence[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


# ------------------------------------------------------------------------------------------------ scenes


@dataclass
class SceneProb:
    """One scanned scene, ready for detection at any threshold."""

    scene_id: str
    area_id: str
    prob: np.ndarray
    cell_transform: object
    crs_wkt: str
    cell_area_m2: float
    slope: np.ndarray | None
    expected: list[BaseGeometry]
    hidden: list[BaseGeometry]
    cache: dict = field(default_factory=dict)

    def sites(
        self, threshold: float, min_cells: int = 2, prob: np.ndarray | None = None
    ) -> list[BaseGeometry]:
        """WGS84 polygons of the components at ``threshold`` with at least ``min_cells`` cells (2 = the
        paper's size filter, 1 = none)."""
        key = (threshold, prob is not None)
        if key not in self.cache:
            grid = self.prob if prob is None else prob
            found, labels = detect(
                grid,
                DetectConfig(threshold=threshold),
                self.cell_area_m2,
                slope_cells=self.slope,
                size_filtered=False,
            )
            polygons = component_polygons(labels, self.cell_transform)
            self.cache[key] = [(to_wgs84(polygons[c.label], self.crs_wkt), c.n_cells) for c in found]
        return [g for g, n in self.cache[key] if n >= min_cells]


def load_scenes(
    store_root: Path, labels_path: Path, scene_ids: Sequence[str], area_of: dict[str, str]
) -> list[SceneProb]:
    store = Store.open(store_root)
    labels = [lab.to_crs(WGS84) for lab in read_labels(labels_path) if lab.positive]
    out = []
    for scene_id in scene_ids:
        prob, attrs = read_prob(store_root, scene_id)
        cells = GeoGrid.from_attrs(attrs["grid"])
        footprint = scanned_footprint(prob, cells.transform, cells.crs_wkt)
        inside = [lab for lab in labels if lab.geometry.intersects(footprint)]
        scene = store.scene(scene_id)
        out.append(
            SceneProb(
                scene_id=scene_id,
                area_id=area_of[scene_id],
                prob=prob,
                cell_transform=cells.transform,
                crs_wkt=cells.crs_wkt,
                cell_area_m2=scene.grid.cell_area_m2,
                slope=slope_cells(scene, prob.shape),
                expected=[
                    lab.geometry for lab in inside if lab.visible_in is None or scene_id in lab.visible_in
                ],
                hidden=[
                    lab.geometry
                    for lab in inside
                    if lab.visible_in is not None and scene_id not in lab.visible_in
                ],
            )
        )
    return out


def count(
    scenes: Sequence[SceneProb],
    threshold: float,
    min_cells: int = 2,
    k: int = 1,
    calibrated: tuple[float, float] | None = None,
) -> DetectionCounts:
    """Site-level TP/FN/FP summed over scenes; with ``k > 1`` a site must show in k passes of its area."""
    total = DetectionCounts(0, 0, 0)
    by_area: dict[str, list[SceneProb]] = {}
    for s in scenes:
        by_area.setdefault(s.area_id, []).append(s)
    for group in by_area.values():
        passes = [s.sites(threshold, min_cells, _calibrated(s, calibrated)) for s in group]
        keep = persistent_sites(passes, min(k, len(passes))) if k > 1 else [range(len(p)) for p in passes]
        for s, sites, kept in zip(group, passes, keep, strict=True):
            total = total + match_sites(s.expected, [sites[i] for i in kept], s.hidden)
    return total


def _calibrated(scene: SceneProb, platt: tuple[float, float] | None) -> np.ndarray | None:
    return None if platt is None else apply_platt(scene.prob, *platt)


def sweep(scenes: Sequence[SceneProb], k: int = 1, min_cells: int = 2) -> list[dict]:
    return [
        {
            "threshold": t,
            "min_cells": min_cells,
            "median_cells": _median_cells(scenes, t, min_cells),
            **count(scenes, t, min_cells, k).to_dict(),
        }
        for t in THRESHOLDS
    ]


def grid_sweep(scenes: Sequence[SceneProb], k: int) -> list[dict]:
    """Every (threshold, minimum site size in cells) pair of the grid."""
    return [row for m in MIN_CELLS for row in sweep(scenes, k, m)]


def choose(rows: list[dict]) -> dict | None:
    """The VAL row of best precision at recall >= MIN_VAL_RECALL (``scanner.eval.calibrate.select_setting``): 0.92,
    a margin over the 0.9 target, because a setting chosen at the edge of VAL's recall comes out a little
    lower on new areas. Settings whose median VAL site is larger than one window's footprint
    (``MAX_MEDIAN_CELLS``) are not sites a field team can visit, and overlap matching would flatter them."""
    rows = [r for r in rows if not r["median_cells"] > MAX_MEDIAN_CELLS]
    return select_setting(rows, [r["recall"] for r in rows], [r["precision"] for r in rows], MIN_VAL_RECALL)


def scan_to(plan: Plan, name: str, store: Path, model: Path, scene_ids: Sequence[str] | None = None) -> None:
    argv = ["scan", "--store", str(store), "--model", str(model)]
    for s in scene_ids or ():
        argv += ["--scene", s]
    step(plan.out, name, argv)


# ------------------------------------------------------------------------------------------------ stages


def crossval(plan: Plan, train_store: Path, train_region: Path) -> tuple[str, dict]:
    """Table 6 from ``fringescan crossval``; Table 7 from scanning each held-out fold with its models."""
    dataset = plan.out / "ds-demo.zarr"
    cv = plan.out / "cv"
    step(
        plan.out,
        "crossval",
        [
            "crossval",
            "--config",
            "configs/phase_only.py",
            "--dataset",
            str(dataset),
            "--folds",
            "5",
            "--out",
            str(cv),
            *steps_overrides(plan.cv_steps),
        ],
    )
    table6 = (cv / "table6.md").read_text()
    from train.dataset_store import load_dataset

    attrs = load_dataset(dataset).attrs
    area_of = {s["scene_id"]: s["area_id"] for s in region_scenes(train_region)}
    labels = train_region / "labels_wgs84.geojson"
    table7: dict = {}
    cached = cv / "table7.json"
    if cached.exists():
        return table6, json.loads(cached.read_text())
    for fold in range(5):
        held = [s for s in attrs["scenes"] if int(s["fold"]) == fold]
        ids_b = [s["scene_id"] for s in held]
        ids_a = [s["scene_id"] for s in held if s["in_a"]]
        for model_subset, cases in (("A", (("1", ids_a), ("2", ids_b))), ("B", (("3", ids_b),))):
            scan_to(
                plan,
                f"scan-cv{fold + 1}-{model_subset}",
                train_store,
                cv / f"cv{fold + 1}-{model_subset}",
                ids_b,
            )
            scenes = load_scenes(train_store, labels, ids_b, area_of)
            for case, ids in cases:
                subset = [s for s in scenes if s.scene_id in ids]
                for filt in (False, True):
                    c = count(subset, 0.5, 2 if filt else 1) if subset else DetectionCounts(0, 0, 0)
                    table7.setdefault(f"{case}-{int(filt)}", []).append(c.to_dict())
            (plan.out / ".done" / f"scan-cv{fold + 1}-{model_subset}").unlink()
    write_atomic(cached, json.dumps(table7, indent=1))
    return table6, table7


def train_variant(plan: Plan, variant: Variant, regions: dict) -> Path:
    train_region, train_store = regions["train"]
    dataset = plan.out / f"ds-{variant.name}.zarr"
    if variant.mined_from:
        hard_negative_dataset(plan, regions, variant)
    else:
        _build_dataset(plan, variant, train_store, train_region, dataset)
    model = plan.out / f"model-{variant.name}"
    steps = plan.alexnet_steps if variant.name == "alexnet" else plan.steps
    step(
        plan.out,
        f"train-{variant.name}",
        [
            "train",
            "--config",
            variant.config,
            "--dataset",
            str(dataset),
            "--out",
            str(model),
            *sets(variant.overrides),
            *steps_overrides(steps),
        ],
    )
    return model


def _build_dataset(
    plan: Plan, variant: Variant, train_store: Path, train_region: Path, dataset: Path
) -> None:
    step(
        plan.out,
        f"dataset-{variant.name}",
        [
            "dataset",
            "--store",
            str(train_store),
            "--labels",
            str(train_region / "labels.geojson"),
            "--out",
            str(dataset),
            "--config",
            variant.config,
            *sets(variant.overrides),
        ],
    )


def hard_negative_dataset(plan: Plan, regions: dict, variant: Variant) -> Path:
    """(e) One round of hard-negative mining: Dataset B of ``variant.mined_from`` plus, per TRAIN scene, the
    false-positive windows of that variant's model (trained on all of TRAIN), labelled "other"
    (``train.mining``, the same code as ``fringescan mine``; its docstring states the rules)."""
    from train.dataset_store import load_dataset, mine_hard_negatives

    out = plan.out / f"ds-{variant.name}.zarr"
    if (plan.out / ".done" / f"dataset-{variant.name}").exists():
        return out
    start = time.perf_counter()
    train_region, train_store = regions["train"]
    source = next(v for v in plan.variants if v.name == variant.mined_from)
    base = load_dataset(plan.out / f"ds-{source.name}.zarr")
    scenes = variant_scenes(
        plan, source, plan.out / f"model-{source.name}", "train", train_region, train_store
    )
    probs = {sp.scene_id: sp.prob for sp in scenes}
    n = mine_hard_negatives(train_store, train_region / "labels.geojson", base, out, probs.get)
    (plan.out / ".done").mkdir(exist_ok=True)
    (plan.out / ".done" / f"dataset-{variant.name}").write_text(f"{time.perf_counter() - start:.1f}\n")
    print(f"hard negatives: {n} windows added to {len(base.labels)}", flush=True)
    return out


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


@dataclass
class VariantResult:
    name: str
    title: str
    rows: dict = field(default_factory=dict)  # case -> counts dict on TEST
    sweeps: dict = field(default_factory=dict)  # (split, k) -> rows
    mflop: float = math.nan
    platt: tuple[float, float] | None = None
    sizes: dict = field(default_factory=dict)


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
            "median_cells": _median_cells(test, threshold, min_cells),
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


def _median_cells(scenes: Sequence[SceneProb], threshold: float, min_cells: int) -> float:
    """Median size in cells of the sites kept at ``threshold`` and ``min_cells`` (before any persistence)."""
    kept = []
    for s in scenes:
        s.sites(threshold, 1)  # fills the cache
        kept += [n for _, n in s.cache[(threshold, False)] if n >= min_cells]
    return float(np.median(kept)) if kept else math.nan


def size_stats(scenes: Sequence[SceneProb], threshold: float = 0.5) -> dict[str, list[int]]:
    """Sizes (cells) of the components at ``threshold`` that hit a visible label (TP) or no label (FP)."""
    sizes: dict[str, list[int]] = {"tp": [], "fp": []}
    for s in scenes:
        s.sites(threshold, 1)
        for geometry, n_cells in s.cache[(threshold, False)]:
            hit = any(geometry.intersection(lab).area > 0 for lab in s.expected)
            hidden = any(geometry.intersection(lab).area > 0 for lab in s.hidden)
            if hit or not hidden:
                sizes["tp" if hit else "fp"].append(n_cells)
    return sizes


def _quartiles(values: list[int]) -> str:
    if not values:
        return "none"
    q = np.percentile(values, [25, 50, 75])
    return f"{len(values)} components, quartiles {q[0]:.0f} / {q[1]:.0f} / {q[2]:.0f} cells"


def _calibrated_value(raw_threshold: float, platt: tuple[float, float]) -> float:
    """What a raw threshold reads as on the calibrated scale."""
    return float(apply_platt(np.array([raw_threshold]), *platt)[0])


# ------------------------------------------------------------------------------------------------ report


def pr_plot(res: VariantResult, path: Path) -> None:
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


def pct(v: float) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


PAPER_T7 = {  # paper Table 7 averages (recall, precision, %): (a) no size filter, (b) size filter
    "1-0": (100, 3.1),
    "2-0": (89.2, 2.7),
    "3-0": (94.5, 1.5),
    "1-1": (100, 4.3),
    "2-1": (89.2, 3.7),
    "3-1": (94.5, 2.1),
}
CASES = {"1": ("CNN-A", "Dataset A'"), "2": ("CNN-A", "Dataset B'"), "3": ("CNN-B", "Dataset B'")}


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


def variant_table(results: list[VariantResult]) -> str:
    lines = [
        "| variant | MFLOP/window | detection setting (all on TEST) | threshold | TP | FN | FP | recall | "
        "precision |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for res in results:
        for label, r in res.rows.items():
            lines.append(
                f"| {res.title} | {res.mflop:.2f} | {label} | {r['threshold']:g} | {r['tp']} | {r['fn']} "
                f"| {r['fp']} | {pct(r['recall'])} | {pct(r['precision'])} |"
            )
    return "\n".join(lines)


def best_at_recall(rows: list[dict]) -> tuple[float, float] | None:
    ok = [
        r
        for r in rows
        if not math.isnan(r["recall"]) and r["recall"] >= MIN_RECALL and not math.isnan(r["precision"])
    ]
    return max((r["precision"], r["threshold"]) for r in ok) if ok else None


# ------------------------------------------------------------------------------------------------ main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
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
        default="demo,channels,hardneg,channels-hardneg,alexnet",
        help="comma-separated subset of demo,channels,hardneg,channels-hardneg,alexnet (demo first)",
    )
    p.add_argument("--doc", type=Path, default=ROOT / "docs" / "accuracy.md")
    p.add_argument("--img-dir", type=Path, default=ROOT / "docs" / "img")
    return p.parse_args(argv)


def make_plan(args: argparse.Namespace) -> Plan:
    q = args.quick
    train_n = args.train_scenes or (52 if q else 200)
    eval_n = args.eval_scenes or (24 if q else 48)
    plan = Plan(
        out=args.out.resolve(),
        quick=q,
        size=args.size or 1000,
        scenes={"train": train_n, "val": eval_n, "test": eval_n, "holdout": eval_n},
        steps=args.steps or 1500,
        cv_steps=args.cv_steps or (300 if q else 1500),
        alexnet_steps=args.alexnet_steps if args.alexnet_steps is not None else (100 if q else 1500),
        doc=args.doc,
        img_dir=args.img_dir,
    )
    known = {
        "demo": Variant(
            "demo", "configs/phase_only.py", "scan-native, phase 16 steps (configs/phase_only.py)"
        ),
        "channels": Variant(
            "channels", "configs/accuracy_channels.py", "scan-native, cos/sin + coherence + slope"
        ),
        "hardneg": Variant(
            "hardneg",
            "configs/phase_only.py",
            "configs/phase_only.py + one round of hard-negative mining",
            mined_from="demo",
        ),
        "channels-hardneg": Variant(
            "channels-hardneg",
            "configs/accuracy_channels.py",
            "cos/sin + coherence + slope + hard-negative mining",
            mined_from="channels",
        ),
        "alexnet": Variant("alexnet", "configs/accuracy_alexnet.py", "paper AlexNet, phase 16 steps"),
    }
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if not names or names[0] != "demo" or not set(names) <= set(known):
        raise SystemExit(
            f"accuracy: --variants must start with demo and name only {sorted(known)}; got {names}"
        )
    plan.variants = [known[n] for n in names if n != "alexnet" or plan.alexnet_steps > 0]
    plan.argv = ["--quick"] if q else []
    for flag, value in (
        ("--size", args.size),
        ("--train-scenes", args.train_scenes),
        ("--eval-scenes", args.eval_scenes),
        ("--steps", args.steps),
        ("--cv-steps", args.cv_steps),
        ("--alexnet-steps", args.alexnet_steps),
    ):
        if value is not None:
            plan.argv += [flag, str(value)]
    if args.variants != "demo,channels,hardneg,channels-hardneg,alexnet":
        plan.argv += ["--variants", args.variants]
    return plan


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
        if i == 0:
            table6, table7 = crossval(plan, train_store, train_region)
    extra = patch_level(plan, regions)
    check = product_check(plan, regions, default_variant(results))
    write_atomic(plan.out / "table7.json", json.dumps(table7, indent=1))
    doc = render(plan, table6, table7, results, extra, check, recorded + time.perf_counter() - started)
    write_atomic(plan.doc, doc)
    print(f"\nwrote {plan.doc} in {time.perf_counter() - started:.0f} s")
    return 0


def evaluate_model(plan: Plan, variant: Variant, model: Path, regions: dict) -> VariantResult:
    val = variant_scenes(plan, variant, model, "val", *regions["val"])
    test = variant_scenes(plan, variant, model, "test", *regions["test"])
    step(
        plan.out,
        f"dataset-val-{variant.name}",
        [
            "dataset",
            "--store",
            str(regions["val"][1]),
            "--labels",
            str(regions["val"][0] / "labels.geojson"),
            "--out",
            str(plan.out / f"val-ds-{variant.name}.zarr"),
            "--config",
            variant.config,
            *sets(variant.overrides),
        ],
    )
    platt = window_calibration(model, plan.out / f"val-ds-{variant.name}.zarr")
    res = evaluate_variant(plan, variant, val, test, platt)
    pr_plot(res, plan.img_dir / f"accuracy_{variant.name}.png")
    write_atomic(
        plan.out / f"results-{variant.name}.json",
        json.dumps({"rows": res.rows, "sweeps": res.sweeps, "mflop": res.mflop, "platt": platt}, indent=1),
    )
    return res


DEFAULT_SETTING = "threshold and min size from VAL"


def product_check(plan: Plan, regions: dict, res: VariantResult) -> dict:
    """The default operating point through the product's own verbs: scan TEST with the default model, then
    ``fringescan evaluate-scan --threshold T --min-area-m2 A`` (A from the VAL-chosen minimum size)."""
    from scanner.core.detect import min_area_for_cells

    row = res.rows.get(DEFAULT_SETTING) or res.rows["threshold 0.5, size filter"]
    test_region, test_store = regions["holdout"]
    scene = Store.open(test_store).scene(region_scenes(test_region)[0]["scene_id"])
    area = min_area_for_cells(row["min_cells"], scene.grid.cell_area_m2)
    out = plan.out / f"check-{res.name}.json"
    argv_scan = ["scan", "--store", str(test_store), "--model", str(plan.out / f"model-{res.name}")]
    argv_eval = [
        "evaluate-scan",
        "--store",
        str(test_store),
        "--labels",
        str(test_region / "labels_wgs84.geojson"),
        "--threshold",
        f"{row['threshold']:g}",
        "--min-area-m2",
        f"{area:.0f}",
        "--json",
        str(out),
    ]
    for name, argv in (("check-scan", argv_scan), ("check-evaluate", argv_eval)):
        print(f"\n== {name}: fringescan {' '.join(argv)}", flush=True)
        if fringescan(argv) != 0:
            sys.exit(f"accuracy: {name} failed")
    report = json.loads(out.read_text())
    return {
        "variant": res.title,
        "command": "fringescan " + " ".join(argv_eval).replace(str(plan.out), "OUT"),
        "with_size_filter": report["total"]["with_size_filter"],
    }


def patch_level(plan: Plan, regions: dict) -> dict[str, str]:
    """Patch-level BEP on the TEST region's windows for every variant (``fringescan evaluate``)."""
    reports = {}
    test_region, test_store = regions["test"]
    for variant in plan.variants:
        ds = plan.out / f"test-ds-{variant.name}.zarr"
        step(
            plan.out,
            f"dataset-test-{variant.name}",
            [
                "dataset",
                "--store",
                str(test_store),
                "--labels",
                str(test_region / "labels.geojson"),
                "--out",
                str(ds),
                "--config",
                variant.config,
                *sets(variant.overrides),
            ],
        )
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
        reports[variant.name] = json.loads((out / "report.json").read_text())
    return reports


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
        feats = json.loads((region / "labels.geojson").read_text())["features"]
        visible = sum(1 for f in feats if f["properties"].get("visible_scene_ids"))
        lines.append(
            f"| {split.upper()} | {SEEDS[split]} | {roles[split]} | {len(scenes)} | "
            f"{len({s['area_id'] for s in scenes})} | {len(feats)} | {visible} |"
        )
    return "\n".join(lines)


def visibility_line(plan: Plan) -> str:
    """How many TEST bodies show fringes in 0, 1, 2... of their area's passes (bounds persistence's recall)."""
    feats = json.loads((plan.out / "test-region" / "labels.geojson").read_text())["features"]
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


def default_variant(results: list[VariantResult]) -> VariantResult:
    """The default: the variant whose VAL-chosen setting ("threshold and min size from VAL") has the best VAL
    precision, among those costing < 2x configs/phase_only.py's dense FLOPs per window. TEST plays no part."""
    base = results[0]
    ok = [r for r in results if r.rows.get(DEFAULT_SETTING) and r.mflop < 2 * base.mflop]
    return max(ok, key=lambda r: r.rows[DEFAULT_SETTING]["val_precision"]) if ok else base


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
    command = "python tools/accuracy.py --out OUT " + " ".join(plan.argv)
    images = "\n".join(f"![PR {r.name}](img/accuracy_{r.name}.png)" for r in results)
    text = TEMPLATE.format(
        command=command,
        minutes=seconds / 60,
        seeds=SEEDS,
        archive=archive_table(plan),
        folds=folds_table(plan),
        table6=table6.split("\n", 2)[-1].strip(),
        t7a=table7_markdown(table7, 0),
        t7b=table7_markdown(table7, 1),
        cv_steps=plan.cv_steps,
        alexnet_steps=plan.alexnet_steps,
        alexnet_frac=plan.alexnet_steps / 30000,
        cv_frac=plan.cv_steps * 50 / (30000 * 50),
        steps=plan.steps,
        steps_table=steps_table(results),
        oracle=oracle_table(results),
        patch=patch_table(extra),
        images=images,
        mflop="; ".join(f"{r.name} {r.mflop:.3f}" for r in results),
        visibility=visibility_line(plan),
        holdout_seed=SEEDS["holdout"],
        size=plan.size,
        scenes=", ".join(f"{k.upper()} {v}" for k, v in plan.scenes.items()),
        min_cells=", ".join(map(str, MIN_CELLS)),
        sizes_tp=_quartiles(results[0].sizes.get("tp", [])),
        sizes_fp=_quartiles(results[0].sizes.get("fp", [])),
        calibration=calibration_line(results),
        decision=decision(results),
        check_command=check["command"],
        check_variant=check["variant"],
        t_lo=min(THRESHOLDS),
        t_hi=max(THRESHOLDS),
        check=check["with_size_filter"],
        default=DEFAULT_SETTING,
        check_recall=pct(check["with_size_filter"]["recall"]),
        check_precision=pct(check["with_size_filter"]["precision"]),
    )
    return text


TEMPLATE = """# Accuracy: the paper's Tables 6 and 7 on a synthetic archive, and the precision steps

**Ours come from synthetic interferograms (`fringescan synth`), the paper's from real ALOS/PALSAR data.** The
numbers side by side show that the protocol runs end to end and how our models behave on our simulator; they
do not say how fringescan would do on real interferograms.

Regenerate everything on this page (tables and `docs/img/accuracy_*.png`) with one command. It is slow
(the run behind this page: {minutes:.0f} min on the shared 2-core CPU, the sum of its stages' recorded times;
resumable, intermediate products under OUT):

```
{command}
```

(scene side {size} px; interferograms {scenes}; {steps} steps per variant model, {cv_steps} per
cross-validation model, {alexnet_steps} for the paper AlexNet.)

## Archive (seeds {seeds})

{archive}

Scenes are 4 pairs per area (2 ascending, 2 descending). A label counts in a scene only when the simulator
lists the scene in its `visible_scene_ids` (a body moving across the line of sight shows no fringes).

## Iterations, scaled

configs/paper.py trains 30,000 iterations at batch 50 (1.5 M samples, AlexNet, 832 MFLOP/window): days on
this CPU. The cross-validation models are the narrow scan-native `configs/phase_only.py` model with {cv_steps}
iterations at batch 50 ({cv_frac:.2%} of the paper's samples), the learning-rate drop moved to the same
fraction of training (600 of 1500 as in configs/phase_only.py). The variant models get {steps} iterations
(configs/phase_only.py's own schedule); the paper AlexNet variant (b), `configs/accuracy_alexnet.py`, gets
{alexnet_steps} iterations ({alexnet_frac:.2%} of configs/paper.py's samples; 0 means not run).

## Tables 3 and 4: Datasets A and B, 5 nested folds (raw patch counts, TRAIN region)

{folds}

Training draws `balanced_indices` of these (Table 3's padding with rotations/flips/shifts on the device).
Folds are per scene, so the same landslide body can appear in a training fold (another pass of its area) and
in the test fold; the held-out TEST region below has no such overlap.

## Table 6: patch level (synthetic; the paper's column is ALOS)

{table6}

Paper averages (ALOS): Case 1 recall 95.3, precision 99.8, BEP 99.8; Case 2 83.5, 99.7, 96.3; Case 3
90.9, 99.5, 99.4.

## Table 7: detection level, each held-out fold scanned with its fold's models (threshold 0.5)

Synthetic data (ours) against ALOS (paper, last column: the paper's averages). Our "total" pools the five
folds' counts.

### (a) size filter not applied

{t7a}

### (b) size filter applied

{t7b}

## Raising precision (held-out TEST region, site level)

Every setting below marked "from VAL" was chosen on the VAL region only (`scanner.eval.calibrate.select_setting`:
the highest VAL precision with VAL recall >= 0.92, a margin over the 0.9 target because a setting picked at the
edge of VAL's recall comes out a little lower on new areas; among settings whose median VAL site is at most
225 cells, one window's footprint, since a larger "site" is a region rather than a place to visit and overlap
matching would flatter it; over thresholds {t_lo:g} to {t_hi:g} and minimum sizes
{min_cells} cells); TEST never chose anything; its numbers were seen while this procedure was developed (the
grid's range and the margin were widened after seeing them), which is why the acceptance check below runs on a
fourth region, HOLDOUT, evaluated once at the end. Persistence
(`scanner.eval.calibrate.persistent_sites`) keeps a site of one pass when overlapping sites were detected in at
least k of the n = 4 passes of its area. Dense cost (MFLOP/window, `scanner.nn.model.flops_per_window`):
{mflop}.

{steps_table}

For reference only (chosen on TEST, so optimistic): the best TEST precision any threshold of the sweep gives
at TEST recall >= 0.9:

{oracle}

Why persistence (c) costs recall on this archive: a body's fringes show only where its motion projects onto
the line of sight and the pair keeps coherence, so many bodies show in one pass only. TEST bodies: {visibility}.
A site seen in one pass cannot be confirmed by another, so k >= 2 drops it whatever the model does.

Why a minimum size (e) works: a 150 px window scores a fringe from every offset that still contains it, so a
real fringe lights up a block of cells about as wide as the window, while atmospheric and noise patterns
that fool the model at a few offsets only give small components. On VAL at threshold 0.5 (configs/phase_only.py's
model): true detections {sizes_tp}; false ones {sizes_fp}. The paper's filter (1 cell = 10 x 10 px) removes only the smallest of those. The minimum size is chosen
on VAL together with the threshold; `scanner.eval.calibrate.min_area_for_cells` turns it into `--min-area-m2`.

Variants (a) extra channels and (e) hard-negative mining against configs/phase_only.py; the default is chosen on VAL:

{decision}

(d) Calibration: Platt scaling (`scanner.eval.calibrate.fit_platt`) fitted on all VAL windows of a dataset built
from the VAL region ({calibration}). VAL windows are mostly "others" (about 150 per scene against one or two
candidates), so calibrated probabilities are low: they estimate how often a window at that score is a
landslide at this base rate. Platt scaling is monotone, so at the site level it only renames the threshold;
the precision gain of (d) is the threshold choice itself.

(b) and patch level on TEST windows (`fringescan evaluate` on a dataset built from the TEST region):

{patch}

## The default and the acceptance check

The recommended default is "{check_variant}" with "{default}" (both chosen on VAL, see above).
**This is the default configuration: configs/demo.py** (configs/phase_only.py keeps the phase-only "demo"
variant of this page for stores without coherence or a DEM). It is built in three verbs: `fringescan train`
(configs/demo.py on Dataset B), `fringescan mine` (one round of hard negatives: the first model's
false-positive windows on the training scenes added as "others", `train.mining`, the same code this page's
`hard_negative_dataset` calls) and `fringescan train` again on the mined dataset; configs/demo.py carries the
operating point chosen on VAL (threshold 0.97, sites of at least 4 cells), `fringescan train` records it in
the checkpoint, `fringescan scan` copies it into each probability grid, and `fringescan detect` /
`evaluate-scan` use it when no --threshold / --min-area-m2 is given. Scenes need coherence and a DEM (for the
slope channel); `./run demo` builds the default this way. Checked through
the product itself on the HOLDOUT region (seed {holdout_seed}: never used in training, tuning or development),
scanned with `fringescan scan`:

```
{check_command}
```

with size filter: TP {check[tp]}, FN {check[fn]}, FP {check[fp]}: **recall {check_recall}%, precision
{check_precision}%** (the target: precision >= 37% at recall >= 90%; paper Table 7(b) Case 2: 3.7% at 89.2%,
on real ALOS data).

Precision-recall curves on TEST per variant (sweep of the cell threshold; size filter; persistence k):

{images}

## Not measured here

- (e) test-time augmentation: not run (time box). (e) here is the minimum site size and one round of
  hard-negative mining (`hardneg`, `channels-hardneg`: the windows where the TRAIN model fires on no label,
  stratified valley fringes among them, added as "others" and the model retrained).
- End-to-end scan throughput of the variants is not measured by this command (only the dense FLOPs per
  window above); `tools/bench_scan.py` measures it.
- (b) at the site level: the paper AlexNet scans about 120 windows/s per window here (docs/scanning.md),
  hours for the TEST region, so it is compared at the patch level only, after a reduced step count.
"""


if __name__ == "__main__":
    sys.exit(main())
