"""Training stages: the cross-validation behind Tables 6 and 7, each variant's model on all of TRAIN, and the
hard-negative dataset of the mined variants."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from scanner.eval.matching import DetectionCounts
from scanner.io.readers import parse_json_file
from tools.accuracy.archive import build_dataset, region_scenes, scan_to, step, write_atomic
from tools.accuracy.counting import count, load_scenes
from tools.accuracy.evaluation import variant_scenes
from tools.accuracy.plan import Plan, Variant, sets, steps_overrides


@dataclass(frozen=True)
class CrossVal:
    """One cross-validation run: its config, dataset, step schedule and scan path, and its folders' name.

    ``steps`` replaces the config's ``config_steps``: with ``truncate`` False the learning-rate drop (every
    ``decay_every``) moves to the same fraction of training (``steps_overrides``); with ``truncate`` True the
    run is the config's first ``steps`` iterations, its learning-rate schedule untouched. ``overrides`` are more
    ``--set`` values for the dataset and the models.
    """

    name: str
    config: str
    dataset: str
    steps: int
    config_steps: int = 1500
    decay_every: int = 600
    scan_path: str = "dense"
    truncate: bool = False
    overrides: tuple[str, ...] = ()

    def schedule_args(self) -> list[str]:
        """The ``--set`` arguments of this run's schedule and overrides."""
        if self.truncate:
            schedule = ["--set", f"train.steps={self.steps}", "--set", f"train.checkpoint_every={self.steps}"]
        else:
            schedule = steps_overrides(self.steps, self.config_steps, self.decay_every)
        return schedule + sets(self.overrides)


def demo_crossval(plan: Plan) -> CrossVal:
    """The cross-validation of docs/accuracy.md's Tables 6 and 7: configs/phase_only.py on ds-demo.zarr."""
    return CrossVal("cv", "configs/phase_only.py", "ds-demo.zarr", plan.cv_steps)


def crossval(
    plan: Plan, train_store: Path, train_region: Path, cv_run: CrossVal | None = None
) -> tuple[str, dict]:
    """Table 6 from ``fringescan crossval``; Table 7 from scanning each held-out fold with its models."""
    run = cv_run or demo_crossval(plan)
    dataset = plan.out / run.dataset
    cv = plan.out / run.name
    step(
        plan.out,
        "crossval" if run.name == "cv" else f"crossval-{run.name}",
        [
            "crossval",
            "--config",
            run.config,
            "--dataset",
            str(dataset),
            "--folds",
            "5",
            "--out",
            str(cv),
            *run.schedule_args(),
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
        return table6, parse_json_file(
            cached, what="cached cross-validation", expected="its JSON", fix="delete it to recompute"
        )
    for fold in range(5):
        held = [s for s in attrs["scenes"] if int(s["fold"]) == fold]
        ids_b = [s["scene_id"] for s in held]
        ids_a = [s["scene_id"] for s in held if s["in_a"]]
        for model_subset, cases in (("A", (("1", ids_a), ("2", ids_b))), ("B", (("3", ids_b),))):
            scan_to(
                plan,
                f"scan-{run.name}{fold + 1}-{model_subset}",
                train_store,
                cv / f"cv{fold + 1}-{model_subset}",
                ids_b,
                path=run.scan_path,
            )
            scenes = load_scenes(train_store, labels, ids_b, area_of)
            for case, ids in cases:
                subset = [s for s in scenes if s.scene_id in ids]
                for filt in (False, True):
                    c = count(subset, 0.5, 2 if filt else 1) if subset else DetectionCounts(0, 0, 0)
                    table7.setdefault(f"{case}-{int(filt)}", []).append(c.to_dict())
            (plan.out / ".done" / f"scan-{run.name}{fold + 1}-{model_subset}").unlink()
    write_atomic(cached, json.dumps(table7, indent=1))
    return table6, table7


def train_variant(plan: Plan, variant: Variant, regions: dict) -> Path:
    """The variant's model trained on all of TRAIN (its dataset built, or mined, first)."""
    train_region, train_store = regions["train"]
    dataset = plan.out / f"ds-{variant.name}.zarr"
    if variant.mined_from:
        hard_negative_dataset(plan, regions, variant)
    else:
        build_dataset(plan, f"dataset-{variant.name}", variant, train_region, train_store, dataset)
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
    n = mine_hard_negatives(  # the .done marker decides; a published but unmarked one is redone
        train_store, train_region / "labels.geojson", base, out, probs.get, overwrite=True
    )
    (plan.out / ".done").mkdir(exist_ok=True)
    (plan.out / ".done" / f"dataset-{variant.name}").write_text(f"{time.perf_counter() - start:.1f}\n")
    print(f"hard negatives: {n} windows added to {len(base.labels)}", flush=True)
    return out
