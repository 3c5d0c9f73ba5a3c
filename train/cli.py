"""Training verbs for the ``fringescan`` command, registered through the ``fringescan.commands`` entry point:
``dataset``, ``train``, ``mine``, ``evaluate`` and ``crossval``. Handlers import jax and zarr lazily."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from scanner.cli.common import add_overwrite_arg
from scanner.errors import UsageError, problem

log = logging.getLogger(__name__)
DEFAULT_CONFIG = "demo"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the training verbs (dataset, train, mine, evaluate, crossval) to ``fringescan``.

    Outputs default to a folder beside the input, named after it (``STORE-dataset``, ``DATASET-model``,
    ``DATASET-mined``, ``DATASET-crossval``), so no verb requires ``--out``.
    """
    p = subparsers.add_parser(
        "dataset",
        help="build a training patch set from a store and labels",
        description="Cut candidate windows around the positive labels, class-0 windows on the negative ones and "
        "random others into a Zarr patch set with folds and subsets A/B (docs/training.md). Prints a summary "
        "(--json: the report as JSON).",
    )
    p.add_argument("--store", required=True, type=Path, help="scene store directory (ingested scenes)")
    p.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="GeoJSON points or polygons, any CRS; class candidate (default) or negative (docs/training.md)",
    )
    p.add_argument(
        "--out", type=Path, help="output Zarr dataset directory (default: STORE-dataset beside the store)"
    )
    p.add_argument(
        "--json", action="store_true", help="print the dataset report as JSON instead of a summary"
    )
    _config_args(p)
    add_overwrite_arg(p)
    p.set_defaults(func=run_dataset)

    p = subparsers.add_parser(
        "train",
        help="train a model on a patch set and write a checkpoint",
        description="Train the config's model on a dataset (resumable from --workdir) and publish an orbax "
        "checkpoint with the model's operating point (docs/training.md).",
    )
    p.add_argument("--dataset", required=True, type=Path, help="patch set from `fringescan dataset`")
    p.add_argument(
        "--out",
        type=Path,
        help="checkpoint directory (default: DATASET-model beside the dataset, plus -A / -foldK when given)",
    )
    p.add_argument("--subset", choices=("A", "B"), default="B", help="Dataset A or B (default B = all)")
    p.add_argument("--fold", type=int, help="hold out this fold (train on the others)")
    p.add_argument("--workdir", type=Path, help="resumable state and metrics (default OUT.work)")
    _config_args(p)
    add_overwrite_arg(p)
    p.set_defaults(func=run_train)

    p = subparsers.add_parser(
        "evaluate",
        help="patch-level recall, precision and BEP (paper section 2.5)",
        description="Evaluate a checkpoint on a dataset's patches: report.md, report.json and pr_curve.png.",
    )
    p.add_argument("--model", required=True, type=Path, help="model checkpoint directory")
    p.add_argument("--dataset", required=True, type=Path, help="patch set from `fringescan dataset`")
    p.add_argument("--fold", type=int, help="evaluate this fold only (default all samples)")
    p.add_argument("--subset", choices=("A", "B"), default="B", help="Dataset A or B (default B = all)")
    p.add_argument("--out", type=Path, help="report directory (default MODEL/eval-<dataset name>)")
    add_overwrite_arg(p)
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "mine",
        help="hard-negative mining: add a model's false-positive windows to a dataset as others",
        description="Scan the dataset's scenes with the first model and add its most confident windows away "
        "from every positive label to a copy of the dataset (docs/training.md).",
    )
    p.add_argument("--model", required=True, type=Path, help="the first model (trained on --dataset)")
    p.add_argument("--store", required=True, type=Path, help="the training store (scanned here if needed)")
    p.add_argument(
        "--labels", required=True, type=Path, help="the training labels: no window is mined on a positive"
    )
    p.add_argument("--dataset", required=True, type=Path, help="the dataset the first model trained on")
    p.add_argument(
        "--out",
        type=Path,
        help="output dataset: DATASET plus the mined windows (default: DATASET-mined beside it)",
    )
    p.add_argument("--per-scene", type=int, default=None, help="most windows per scene (default 40)")
    add_overwrite_arg(p)
    p.set_defaults(func=run_mine)

    p = subparsers.add_parser(
        "crossval",
        help="k-fold cross-validation: Table 6 for A on A', A on B', B on B'",
        description="Train subsets A and B once per held-out fold and evaluate them; writes one checkpoint and "
        "report per fold and case, table6.md and table6.json.",
    )
    p.add_argument("--dataset", required=True, type=Path, help="patch set from `fringescan dataset`")
    p.add_argument(
        "--folds", type=int, default=5, help="number of folds; must match the dataset's (default 5)"
    )
    p.add_argument("--out", type=Path, help="output directory (default: DATASET-crossval beside the dataset)")
    _config_args(p)
    add_overwrite_arg(p)
    p.set_defaults(func=run_crossval)


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        default=DEFAULT_CONFIG,
        help="experiment config: a shipped name (demo, paper, phase_only, ...) or a .py file (default demo)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config field, e.g. --set train.steps=300 (repeatable)",
    )


def beside(path: Path, suffix: str) -> Path:
    """The default output for an input ``path``: a sibling named after it, ``NAME<suffix>``."""
    path = Path(path).absolute()
    return path.with_name(path.name + suffix)


def _load(args: argparse.Namespace):
    from scanner.config import load_config
    from train.config import ExperimentConfig

    return load_config(args.config, args.overrides, expect=ExperimentConfig)


# ------------------------------------------------------------------------------------------- dataset


def run_dataset(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from train.dataset_store import build_dataset

    config = _load(args)
    out = args.out or beside(args.store, "-dataset")
    with progress_bar("dataset", "scenes") as progress:
        report = build_dataset(
            args.store,
            args.labels,
            out,
            config.dataset,
            config.preprocess,
            progress,
            overwrite=args.overwrite,
        )
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print("\n".join(dataset_summary(report)))
    print(f"dataset -> {out}")
    return 0


def dataset_summary(report: dict) -> list[str]:
    """The human summary of a dataset report (``--json`` prints the report itself)."""
    lines = [
        f"{report['n_samples']} windows from {report['n_scenes']} scenes ({report['n_scenes_a']} in subset A): "
        f"{report['n_candidates']} candidates, {report['n_others']} random others, "
        f"{report['n_negative_windows']} on {report['n_negative_labels']} negative labels",
        f"subset A: {report['n_candidates_a']} candidates, {report['n_others_a']} others, "
        f"{report['n_negative_windows_a']} on negative labels",
    ]
    if report["scene_slope_area_ratio"] is not None:
        others = report["others_slope_ratio"]
        lines.append(
            f"slope/flat: scenes {report['scene_slope_area_ratio']:.2f} of area, "
            f"others sampled {'n/a' if others is None else f'{others:.2f}'}"
        )
    return lines


# ------------------------------------------------------------------------------------------- train


def train_checkpoint(
    config,
    dataset,
    *,
    subset: str,
    fold: int | None,
    out: Path,
    workdir: Path,
    progress=None,
    overwrite: bool = False,
) -> Any:
    """Train on ``subset`` minus ``fold`` of a dataset and publish the checkpoint at ``out``
    (an existing checkpoint there is replaced only with ``overwrite``; anything else is refused first).

    Dataset B trains with ``train.samples_per_class_b`` when the config sets it (``for_subset``). A stored
    margin too small for the augmentation (``margin_shortfall``) is trained on with a warning: the shipped
    demo and zoo recipes store 32 px against the 41 px their rotations reach, and were trained that way."""
    from scanner.config import config_to_dict
    from scanner.io.artifact import check_target
    from scanner.io.checkpoint import ModelMeta, save_checkpoint
    from train.augment import margin_shortfall
    from train.config import for_subset
    from train.dataset import select_samples
    from train.host_heap import aligned_empty
    from train.loop import train

    config = for_subset(config, subset)
    _check_preprocess(config, dataset)
    check_target(out, "model", overwrite=overwrite)
    shortfall = margin_shortfall(dataset.patches.shape[1], config.train.augment)
    if shortfall is not None:
        log.warning("%s", shortfall)
    arrays = dataset.arrays
    index = select_samples(
        arrays["scene_index"], arrays["fold"], arrays["in_a"], subset=subset, fold=fold, part="train"
    )
    # aligned, so XLA aliases it and steps gather from it without batch copies (train.loop.use_device_pool);
    # read from disk straight into it, so the training set is in memory once
    patches = dataset.take(
        index, aligned_empty((len(index), *dataset.patches.shape[1:]), dataset.patches.dtype)
    )
    result = train(config, patches, dataset.labels[index], workdir, progress=progress)
    meta = ModelMeta(
        model_config=config.model,
        preprocess=dataset.preprocess_config(),
        pixel_size_m=dataset.attrs["pixel_size_m"],
        wavelength_m=dataset.attrs["wavelength_m"],
        operating_point=config.detect,
        train_config={
            "experiment": config_to_dict(config),
            "subset": subset,
            "held_out_fold": fold,
            "n_train_samples": int(len(index)),
            "devices": result.devices_used,
            "dataset_created": dataset.attrs.get("created"),
        },
    )
    save_checkpoint(out, result.model, meta, overwrite=overwrite)
    (Path(workdir) / "config.json").write_text(json.dumps(config_to_dict(config), indent=2) + "\n")
    return result


def _check_preprocess(config, dataset) -> None:
    if dataset.preprocess_config() != config.preprocess:
        raise UsageError(
            problem(
                "preprocessing",
                expected=f"the dataset's {dataset.attrs['preprocess']}",
                found=str(dataclasses.asdict(config.preprocess)),
                fix="rebuild the dataset with this config, or use the dataset's config",
            )
        )


def run_train(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from scanner.io.artifact import check_target
    from train.dataset_store import load_dataset

    out = args.out or beside(
        args.dataset,
        "-model" + ("-A" if args.subset == "A" else "") + ("" if args.fold is None else f"-fold{args.fold}"),
    )
    check_target(out, "model", overwrite=args.overwrite)
    config = _load(args)
    dataset = load_dataset(args.dataset)
    workdir = args.workdir or out.with_name(out.name + ".work")
    with progress_bar("train", "steps") as progress:
        result = train_checkpoint(
            config,
            dataset,
            subset=args.subset,
            fold=args.fold,
            out=out,
            workdir=workdir,
            progress=progress,
            overwrite=args.overwrite,
        )
    print(
        f"checkpoint {out} after {result.step} steps on {result.devices_used} device(s); "
        f"metrics {result.metrics_path}"
    )
    return 0


# ------------------------------------------------------------------------------------------- mine


def run_mine(args: argparse.Namespace) -> int:
    """Scan the dataset's scenes with the model (published grids of this model are reused), then mine."""
    from scanner.cli.output import progress_bar
    from scanner.io.artifact import check_target
    from scanner.io.checkpoint import check_compatible, checkpoint_hash, read_meta
    from scanner.io.lock import store_lock
    from scanner.io.probgrid import has_prob, read_prob
    from scanner.io.store import Store
    from scanner.pipeline.scan import scan
    from train.dataset_store import load_dataset, mine_hard_negatives

    out = args.out or beside(args.dataset, "-mined")
    check_target(out, "dataset", overwrite=args.overwrite)
    dataset = load_dataset(args.dataset)
    meta = read_meta(args.model)
    check_compatible(
        meta, dataset.attrs["pixel_size_m"], dataset.attrs["wavelength_m"], dataset.preprocess_config()
    )
    store = Store.open(args.store)
    ids = [s["scene_id"] for s in dataset.attrs["scenes"] if s["scene_id"] in set(store.scene_ids())]
    if not ids:
        raise UsageError(
            problem(
                f"store {args.store}",
                expected=f"the scenes of dataset {args.dataset}",
                found="none of them",
                fix="pass the store the dataset was built from",
            )
        )
    with store_lock(store.root, "mine"), progress_bar("scan", "windows") as progress:
        scan(store, args.model, ids, progress=progress)
    digest = checkpoint_hash(args.model)

    def prob_of(scene_id: str):
        if scene_id not in ids or not has_prob(store.root, scene_id):
            return None
        prob, attrs = read_prob(store.root, scene_id)
        return prob if attrs["model"]["checkpoint_sha256"] == digest else None

    n = mine_hard_negatives(
        args.store, args.labels, dataset, out, prob_of, args.per_scene, overwrite=args.overwrite
    )
    print(f"hard negatives: {n} windows added to {len(dataset.labels)} -> {out}")
    return 0


# ------------------------------------------------------------------------------------------- evaluate


def evaluate_checkpoint(model_path: Path, dataset, *, subset: str, fold: int | None):
    """Load a checkpoint, refuse mismatched data, and evaluate it on the chosen samples."""
    from scanner.io.checkpoint import check_compatible, load_checkpoint
    from train.augment import centre_crop
    from train.dataset import select_samples
    from train.evaluate import evaluate_probabilities, predict_probabilities

    model, meta = load_checkpoint(model_path)
    check_compatible(
        meta, dataset.attrs["pixel_size_m"], dataset.attrs["wavelength_m"], dataset.preprocess_config()
    )
    arrays = dataset.arrays
    index = select_samples(
        arrays["scene_index"],
        arrays["fold"],
        arrays["in_a"],
        subset=subset,
        fold=fold,
        part="test" if fold is not None else "all",
    )
    probs = predict_probabilities(model, centre_crop(dataset.take(index)))
    return evaluate_probabilities(probs, dataset.labels[index])


def write_report(out: Path, title: str, evaluation, *, overwrite: bool = False) -> None:
    """report.md, report.json and pr_curve.png in ``out``, published together by rename (an existing report
    folder there is replaced only with ``overwrite``)."""
    from scanner.io.checkpoint import publish_dir
    from train.evaluate import markdown_report, plot_pr_curve

    def write(tmp: Path) -> None:
        (tmp / "report.md").write_text(markdown_report(title, evaluation))
        (tmp / "report.json").write_text(
            json.dumps({"title": title, **evaluation.to_dict()}, indent=2) + "\n"
        )
        plot_pr_curve(evaluation, title).savefig(tmp / "pr_curve.png", dpi=100)

    publish_dir(out, write, kind="evaluation", overwrite=overwrite)


def run_evaluate(args: argparse.Namespace) -> int:
    from scanner.io.artifact import check_target
    from train.dataset_store import load_dataset

    out = args.out or args.model / f"eval-{args.dataset.name}"
    check_target(out, "evaluation", overwrite=args.overwrite)
    dataset = load_dataset(args.dataset)
    evaluation = evaluate_checkpoint(args.model, dataset, subset=args.subset, fold=args.fold)
    title = f"{args.model.name} on {args.dataset.name} ({args.subset}{'' if args.fold is None else f' fold {args.fold}'})"
    write_report(out, title, evaluation, overwrite=args.overwrite)
    print((out / "report.md").read_text())
    return 0


# ------------------------------------------------------------------------------------------- crossval


def run_crossval(args: argparse.Namespace) -> int:
    """Build every fold's checkpoints and reports in ``.OUT.crossval-partial`` beside ``--out`` (a killed run
    resumes there), then publish it onto ``--out`` by rename."""
    from scanner.cli.output import progress_bar
    from scanner.io.artifact import CROSSVAL_MARKER, check_target
    from scanner.io.writers import publish_directory
    from train.dataset_store import load_dataset
    from train.evaluate import table6_dict, table6_markdown

    out = args.out or beside(args.dataset, "-crossval")
    check_target(out, "crossval", overwrite=args.overwrite)
    work = out.parent / f".{out.name}.crossval-partial"
    config = _load(args)
    dataset = load_dataset(args.dataset)
    n_folds = int(dataset.attrs["config"]["n_folds"])
    if args.folds != n_folds:
        raise UsageError(
            problem(
                "--folds",
                expected=f"the dataset's {n_folds} folds",
                found=args.folds,
                fix=f"pass --folds {n_folds} or rebuild the dataset with dataset.n_folds",
            )
        )
    rows: dict[str, list] = {"A on A'": [], "A on B'": [], "B on B'": []}
    for fold in range(n_folds):
        for subset in ("A", "B"):
            ckpt = work / f"cv{fold + 1}-{subset}"
            with progress_bar(f"cv{fold + 1} {subset}", "steps") as progress:
                train_checkpoint(
                    config,
                    dataset,
                    subset=subset,
                    fold=fold,
                    out=ckpt,
                    workdir=work / f"cv{fold + 1}-{subset}.work",
                    progress=progress,
                    overwrite=True,  # the run's own partial folder: a resumed run publishes again
                )
        for case, model_subset, data_subset in (
            ("A on A'", "A", "A"),
            ("A on B'", "A", "B"),
            ("B on B'", "B", "B"),
        ):
            evaluation = evaluate_checkpoint(
                work / f"cv{fold + 1}-{model_subset}", dataset, subset=data_subset, fold=fold
            )
            write_report(
                work / f"cv{fold + 1}-{case[0]}-on-{data_subset}",
                f"cv{fold + 1} {case}",
                evaluation,
                overwrite=True,
            )
            rows[case].append(evaluation)
    table = table6_markdown(rows)
    _write_text(
        work / "table6.md",
        "# Cross-validation (Table 6 layout; normalized counts, raw in brackets)\n\n" + table,
    )
    _write_text(work / "table6.json", json.dumps(table6_dict(rows), indent=2) + "\n")
    _write_text(
        work / CROSSVAL_MARKER, json.dumps({"format": "fringescan-crossval", "folds": n_folds}) + "\n"
    )
    check_target(out, "crossval", overwrite=args.overwrite)
    publish_directory(work, out, replace=True)
    print(table)
    print(f"cross-validation -> {out}")
    return 0


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (never half-written)."""
    from scanner.io.writers import write_bytes

    write_bytes(path, text.encode())
