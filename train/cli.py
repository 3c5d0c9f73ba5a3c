"""Training verbs for the ``fringescan`` command, registered through the ``fringescan.commands`` entry point:
``dataset``, ``train``, ``mine``, ``evaluate`` and ``crossval``. Handlers import jax and zarr lazily."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path
from typing import Any

from scanner.errors import UsageError, problem

log = logging.getLogger(__name__)
DEFAULT_CONFIG = Path(__file__).resolve().parents[1] / "configs" / "demo.py"


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the training verbs (dataset, train, mine, evaluate, crossval) to ``fringescan``."""
    p = subparsers.add_parser("dataset", help="build a training patch set from a store and labels")
    p.add_argument("--store", required=True, type=Path)
    p.add_argument(
        "--labels",
        required=True,
        type=Path,
        help="GeoJSON points or polygons, any CRS; class candidate (default) or negative (docs/training.md)",
    )
    p.add_argument("--out", required=True, type=Path, help="output Zarr dataset directory")
    _config_args(p)
    p.set_defaults(func=run_dataset)

    p = subparsers.add_parser("train", help="train a model on a patch set and write a checkpoint")
    p.add_argument("--dataset", required=True, type=Path)
    p.add_argument("--out", required=True, type=Path, help="checkpoint directory")
    p.add_argument("--subset", choices=("A", "B"), default="B", help="Dataset A or B (default B = all)")
    p.add_argument("--fold", type=int, help="hold out this fold (train on the others)")
    p.add_argument("--workdir", type=Path, help="resumable state and metrics (default OUT.work)")
    _config_args(p)
    p.set_defaults(func=run_train)

    p = subparsers.add_parser("evaluate", help="patch-level recall, precision and BEP (paper section 2.5)")
    p.add_argument("--model", required=True, type=Path)
    p.add_argument("--dataset", required=True, type=Path)
    p.add_argument("--fold", type=int, help="evaluate this fold only (default all samples)")
    p.add_argument("--subset", choices=("A", "B"), default="B")
    p.add_argument("--out", type=Path, help="report directory (default MODEL/eval-<dataset name>)")
    p.set_defaults(func=run_evaluate)

    p = subparsers.add_parser(
        "mine", help="hard-negative mining: add a model's false-positive windows to a dataset as others"
    )
    p.add_argument("--model", required=True, type=Path, help="the first model (trained on --dataset)")
    p.add_argument("--store", required=True, type=Path, help="the training store (scanned here if needed)")
    p.add_argument(
        "--labels", required=True, type=Path, help="the training labels: no window is mined on a positive"
    )
    p.add_argument("--dataset", required=True, type=Path, help="the dataset the first model trained on")
    p.add_argument("--out", required=True, type=Path, help="output dataset: DATASET plus the mined windows")
    p.add_argument("--per-scene", type=int, default=None, help="most windows per scene (default 40)")
    p.set_defaults(func=run_mine)

    p = subparsers.add_parser(
        "crossval", help="k-fold cross-validation: Table 6 for A on A', A on B', B on B'"
    )
    p.add_argument("--dataset", required=True, type=Path)
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--out", required=True, type=Path)
    _config_args(p)
    p.set_defaults(func=run_crossval)


def _config_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="configs/<name>.py (default demo)"
    )
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")


def _load(args: argparse.Namespace):
    from scanner.config import load_config
    from train.config import ExperimentConfig

    config = load_config(args.config, args.overrides)
    if not isinstance(config, ExperimentConfig):
        raise UsageError(
            problem(
                f"config {args.config}",
                expected="get_config() returning an ExperimentConfig",
                found=type(config).__name__,
                fix="use configs/demo.py or configs/paper.py",
            )
        )
    return config


# ------------------------------------------------------------------------------------------- dataset


def run_dataset(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from train.dataset_store import build_dataset

    config = _load(args)
    with progress_bar("dataset", "scenes") as progress:
        report = build_dataset(args.store, args.labels, args.out, config.dataset, config.preprocess, progress)
    print(json.dumps(report, indent=2))
    if report["scene_slope_area_ratio"] is not None:
        print(
            f"slope/flat: scenes {report['scene_slope_area_ratio']:.2f} of area, "
            f"others sampled {report['others_slope_ratio']:.2f}"
        )
    return 0


# ------------------------------------------------------------------------------------------- train


def train_checkpoint(
    config, dataset, *, subset: str, fold: int | None, out: Path, workdir: Path, progress=None
) -> Any:
    """Train on ``subset`` minus ``fold`` of an in-memory dataset and publish the checkpoint at ``out``."""
    from scanner.config import config_to_dict
    from scanner.io.checkpoint import ModelMeta, save_checkpoint
    from train.dataset import select_samples
    from train.loop import train

    _check_preprocess(config, dataset)
    arrays = dataset.arrays
    index = select_samples(
        arrays["scene_index"], arrays["fold"], arrays["in_a"], subset=subset, fold=fold, part="train"
    )
    result = train(config, dataset.patches[index], dataset.labels[index], workdir, progress=progress)
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
    save_checkpoint(out, result.model, meta)
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
    from train.dataset_store import load_dataset

    config = _load(args)
    dataset = load_dataset(args.dataset)
    workdir = args.workdir or args.out.with_name(args.out.name + ".work")
    with progress_bar("train", "steps") as progress:
        result = train_checkpoint(
            config,
            dataset,
            subset=args.subset,
            fold=args.fold,
            out=args.out,
            workdir=workdir,
            progress=progress,
        )
    print(
        f"checkpoint {args.out} after {result.step} steps on {result.devices_used} device(s); "
        f"metrics {result.metrics_path}"
    )
    return 0


# ------------------------------------------------------------------------------------------- mine


def run_mine(args: argparse.Namespace) -> int:
    """Scan the dataset's scenes with the model (published grids of this model are reused), then mine."""
    from scanner.cli.output import progress_bar
    from scanner.io.checkpoint import check_compatible, checkpoint_hash, read_meta
    from scanner.io.probgrid import has_prob, read_prob
    from scanner.io.store import Store
    from scanner.pipeline.scan import scan
    from train.dataset_store import load_dataset, mine_hard_negatives

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
    with progress_bar("scan", "windows") as progress:
        scan(store, args.model, ids, progress=progress)
    digest = checkpoint_hash(args.model)

    def prob_of(scene_id: str):
        if scene_id not in ids or not has_prob(store.root, scene_id):
            return None
        prob, attrs = read_prob(store.root, scene_id)
        return prob if attrs["model"]["checkpoint_sha256"] == digest else None

    n = mine_hard_negatives(args.store, args.labels, dataset, args.out, prob_of, args.per_scene)
    print(f"hard negatives: {n} windows added to {len(dataset.labels)} -> {args.out}")
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
    probs = predict_probabilities(model, centre_crop(dataset.patches[index]))
    return evaluate_probabilities(probs, dataset.labels[index])


def write_report(out: Path, title: str, evaluation) -> None:
    """report.md, report.json and pr_curve.png in ``out``, published together by rename."""
    from scanner.io.checkpoint import publish_dir
    from train.evaluate import markdown_report, plot_pr_curve

    def write(tmp: Path) -> None:
        (tmp / "report.md").write_text(markdown_report(title, evaluation))
        (tmp / "report.json").write_text(
            json.dumps({"title": title, **evaluation.to_dict()}, indent=2) + "\n"
        )
        plot_pr_curve(evaluation, title).savefig(tmp / "pr_curve.png", dpi=100)

    publish_dir(out, write)


def run_evaluate(args: argparse.Namespace) -> int:
    from train.dataset_store import load_dataset

    dataset = load_dataset(args.dataset)
    evaluation = evaluate_checkpoint(args.model, dataset, subset=args.subset, fold=args.fold)
    out = args.out or args.model / f"eval-{args.dataset.name}"
    title = f"{args.model.name} on {args.dataset.name} ({args.subset}{'' if args.fold is None else f' fold {args.fold}'})"
    write_report(out, title, evaluation)
    print((out / "report.md").read_text())
    return 0


# ------------------------------------------------------------------------------------------- crossval


def run_crossval(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from train.dataset_store import load_dataset
    from train.evaluate import table6_dict, table6_markdown

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
            ckpt = args.out / f"cv{fold + 1}-{subset}"
            with progress_bar(f"cv{fold + 1} {subset}", "steps") as progress:
                train_checkpoint(
                    config,
                    dataset,
                    subset=subset,
                    fold=fold,
                    out=ckpt,
                    workdir=args.out / f"cv{fold + 1}-{subset}.work",
                    progress=progress,
                )
        for case, model_subset, data_subset in (
            ("A on A'", "A", "A"),
            ("A on B'", "A", "B"),
            ("B on B'", "B", "B"),
        ):
            evaluation = evaluate_checkpoint(
                args.out / f"cv{fold + 1}-{model_subset}", dataset, subset=data_subset, fold=fold
            )
            write_report(
                args.out / f"cv{fold + 1}-{case[0]}-on-{data_subset}", f"cv{fold + 1} {case}", evaluation
            )
            rows[case].append(evaluation)
    table = table6_markdown(rows)
    _write_text(
        args.out / "table6.md",
        "# Cross-validation (Table 6 layout; normalized counts, raw in brackets)\n\n" + table,
    )
    _write_text(args.out / "table6.json", json.dumps(table6_dict(rows), indent=2) + "\n")
    print(table)
    return 0


def _write_text(path: Path, text: str) -> None:
    """Write ``text`` atomically (never half-written)."""
    from scanner.io.writers import write_bytes

    write_bytes(path, text.encode())
