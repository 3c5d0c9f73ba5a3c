"""The full Table 1 schedule (configs/paper.py, 30,000 iterations) on lent GPU machines, one model per unit.

A lend is short (10 minutes a command, 15 a session) and starts bare, and a paper AlexNet's training state
(36 M parameters plus momentum, about 290 MB) cannot travel between lends within the 64 MiB carry, so the unit
of resumption is a whole model. Each run:

1. regenerates the seeded archive on the machine (``fringescan synth`` of the accuracy study's TRAIN seed 8101
   and TEST seed 8303, ``ingest``, the configs/paper.py dataset): the same bytes on every lend;
2. trains the next models not yet in ``--results`` (``MODELS``: first ``paper-B``, the full schedule on all of
   Dataset B, then the cross-validation models ``cv1-A`` .. ``cv5-B``), each only when the time left holds it
   (estimated from earlier results of the same schedule), and stops cleanly before ``--budget-s``;
3. evaluates each at the patch level (``paper-B`` on the TEST region's patches; ``cvK-A`` on A' and B' of fold
   K, ``cvK-B`` on B') and writes ``<model>.json`` into ``--out`` (and ``--results``).

The ``results/`` folder of those JSONs is what travels to the next lend; ``--report`` renders it into
docs/accuracy.md ("Full Table 1 schedule on a GPU"), each row labelled with its schedule.

On the device (wheels in ``.whl/`` as for tools/device_bench.sh: ``bash tools/device_bench.sh wheels`` here
once; ``table1-results/`` is git-ignored through .git/info/exclude), the device ``run``::

    command: python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade
             --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
             XLA_PYTHON_CLIENT_PREALLOCATE=false && mkdir -p table1-results &&
             python3 -m tools.table1_gpu --results table1-results --out $OUT --budget-s 540
             2>&1 | tee $OUT/table1.log
    carry: [".whl", "table1-results"]      timeout_s: 600

then copy the returned ``*.json`` from ``files_at`` into ``table1-results/`` here and run
``python -m tools.table1_gpu --report table1-results``. Here, on the CPU, ``--quick`` proves the whole chain
in a few minutes (a 12-scene archive of 800 px, 2 iterations of batch 10 per model, two models):

    .venv/bin/python -m tools.table1_gpu --quick --work /tmp/t1 --results /tmp/t1/results --out /tmp/t1/out
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from scanner.io.readers import read_json
from scanner.io.writers import write_bytes, write_json
from scanner.sim.files import ingest_argv, read_region
from tools.doc_blocks import block, replace_block
from tools.steps import run_step

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "accuracy.md"
BEGIN, END = "<!-- table1-gpu:begin -->", "<!-- table1-gpu:end -->"
MODELS = ("paper-B", *(f"cv{k}-{s}" for k in range(1, 6) for s in ("A", "B")))
SEEDS = {"train": 8101, "test": 8303}
SAFETY = 1.25
"""A model starts only when ``SAFETY`` x its estimated seconds fit in the time left."""


@dataclass(frozen=True)
class Archive:
    size_px: int
    scenes: dict[str, int]
    sets: tuple[str, ...]
    """``--set`` for every config (dataset and training), on top of configs/paper.py."""
    first_estimate_s: float
    """Seconds one model is assumed to take (training and evaluation) before any has run on this schedule."""


DEVICE = Archive(
    size_px=1000,
    scenes={"train": 52, "test": 24},
    # fewer others per scene than paper.py's 400 keeps the rebuild on each lend to minutes; training still
    # samples 40,000 / 45,000 of them per epoch (Table 3)
    sets=("dataset.others_per_scene=100",),
    first_estimate_s=240.0,
)
QUICK = Archive(
    size_px=800,
    scenes={"train": 8, "test": 4},
    sets=(
        "dataset.others_per_scene=8",
        "train.steps=2",
        "train.batch_size=10",
        "train.checkpoint_every=2",
        "train.samples_per_class=40",
        "train.samples_per_class_b=45",
    ),
    first_estimate_s=1.0,
)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m tools.table1_gpu", description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=Path("table1-results"), help="finished models' JSONs")
    p.add_argument("--out", type=Path, help="where this run's new JSONs go (the device's $OUT)")
    p.add_argument("--work", type=Path, default=Path("/tmp/table1-work"), help="archive, datasets, models")
    p.add_argument("--budget-s", type=float, default=540.0, help="stop cleanly before this many seconds")
    p.add_argument("--quick", action="store_true", help="CPU proof: tiny archive, 2 iterations, 2 models")
    p.add_argument("--models", help="comma-separated subset of " + ",".join(MODELS))
    p.add_argument("--report", type=Path, help="render this results folder into docs/accuracy.md and stop")
    return p.parse_args(argv)


# ------------------------------------------------------------------------------------------- archive


def build_archive(
    work: Path, config, archive: Archive, splits: tuple[str, ...] = ("train", "test")
) -> dict[str, Path]:
    """The regions, stores and ``config``'s datasets of ``splits`` under ``work`` (each step once).

    The dataset is built by calling ``train.dataset_store.build_dataset``, not the ``dataset`` verb: the device
    runs the repo from PYTHONPATH without installing it, so the ``fringescan.commands`` entry point that
    registers the training verbs does not exist there."""
    from train.dataset_store import build_dataset

    datasets = {}
    for split in splits:
        n = archive.scenes[split]
        region, store, dataset = work / f"{split}-region", work / f"{split}-store", work / f"{split}-dataset"
        synth = ["synth", "--out", str(region), "--seed", str(SEEDS[split]), "--size", str(archive.size_px)]
        run_step(
            work,
            f"synth-{split}",
            [*synth, "--set", f"scenes={n}", "--set", f"areas={max(1, n // 4)}"],
            "table1",
        )
        for scene in read_region(region)["scenes"]:
            run_step(work, f"ingest-{split}-{scene['scene_id']}", ingest_argv(region, scene, store), "table1")
        marker = work / ".done" / f"dataset-{split}"
        if not marker.exists():
            began = time.perf_counter()
            report = build_dataset(
                store, region / "labels.geojson", dataset, config.dataset, config.preprocess, overwrite=True
            )
            print(
                f"== dataset-{split}: {report['n_candidates']} candidates, {report['n_others']} others",
                flush=True,
            )
            marker.write_text(f"{time.perf_counter() - began:.1f}\n")
        datasets[split] = dataset
    return datasets


# ------------------------------------------------------------------------------------------- one model


def model_plan(name: str) -> tuple[str, int | None, list[tuple[str, str, str]]]:
    """(subset, held-out fold, [(case, dataset split, data subset)]) of a model name in ``MODELS``."""
    if name == "paper-B":
        return "B", None, [("B on TEST", "test", "B")]
    fold, subset = int(name[2]) - 1, name[-1]
    cases = (
        [("A on A'", "train", "A"), ("A on B'", "train", "B")]
        if subset == "A"
        else [("B on B'", "train", "B")]
    )
    return subset, fold, cases


def schedule_label(config) -> str:
    """How a model was trained, in words: Table 1's schedule or how it differs."""
    tc, oc = config.train, config.optim
    words = (
        f"{tc.steps:,} it. x batch {tc.batch_size}, lr x{oc.lr_decay_factor:g} every {oc.lr_decay_every:,}"
    )
    table1 = tc.steps == 30000 and tc.batch_size == 50 and oc.lr_decay_every == 5000
    return ("Table 1: " if table1 else "scaled: ") + words


def train_one(name: str, config, datasets: dict, work: Path) -> dict:
    """Train and evaluate model ``name``; the result record (no arrays)."""
    import jax

    from train.cli import evaluate_checkpoint, train_checkpoint
    from train.config import for_subset

    subset, fold, cases = model_plan(name)
    began = time.perf_counter()
    ckpt = work / "models" / name
    result = train_checkpoint(
        config,
        datasets["train"],
        subset=subset,
        fold=fold,
        out=ckpt,
        workdir=work / "models" / f"{name}.work",
        overwrite=True,
    )
    trained_s = time.perf_counter() - began
    evaluations = {}
    for case, split, data_subset in cases:
        evaluation = evaluate_checkpoint(
            ckpt, datasets[split], subset=data_subset, fold=fold if split == "train" else None
        )
        evaluations[case] = evaluation.to_dict()
    meta = read_json(ckpt / "fringescan-model.json", {})
    resolved = for_subset(config, subset)
    return {
        "model": name,
        "subset": subset,
        "held_out_fold": None if fold is None else fold + 1,
        "schedule": schedule_label(resolved),
        "steps": result.step,
        "samples_per_class": resolved.train.samples_per_class,
        "n_train_samples": meta.get("train_config", {}).get("n_train_samples"),
        "params_sha256": meta.get("params_sha256"),
        "device": str(jax.devices()[0].device_kind),
        "train_s": round(trained_s, 1),
        "total_s": round(time.perf_counter() - began, 1),
        "evaluations": evaluations,
    }


# ------------------------------------------------------------------------------------------- the run


def estimate_s(results: list[dict], schedule: str, measured: list[float], first: float) -> float:
    """Seconds the next model should take: the longest this run or earlier results of this schedule took."""
    times = measured + [r["total_s"] for r in results if r.get("schedule") == schedule]
    return max(times) if times else first


def run(args: argparse.Namespace) -> int:
    began = time.monotonic()
    archive = QUICK if args.quick else DEVICE
    wanted = MODELS[:2] if args.quick else MODELS
    if args.models:
        wanted = tuple(m for m in args.models.split(",") if m)
        unknown = sorted(set(wanted) - set(MODELS))
        if unknown:
            print(f"table1_gpu: unknown models {unknown}; choose from {','.join(MODELS)}", file=sys.stderr)
            return 2
    args.results.mkdir(parents=True, exist_ok=True)
    done = {p.stem: read_json(p, {}) for p in sorted(args.results.glob("*.json"))}
    pending = [m for m in wanted if m not in done]
    print(f"table1_gpu: {len(done)} done, pending {pending}", flush=True)
    if not pending:
        return 0

    from scanner.config import load_config
    from train.config import ExperimentConfig
    from train.dataset_store import load_dataset

    config = load_config("paper", list(archive.sets), expect=ExperimentConfig)
    splits = ("train", "test") if "paper-B" in pending else ("train",)  # TEST only evaluates paper-B
    paths = build_archive(args.work, config, archive, splits)
    datasets = {split: load_dataset(path) for split, path in paths.items()}
    print(f"table1_gpu: archive ready after {time.monotonic() - began:.0f} s", flush=True)
    measured: list[float] = []
    for name in pending:
        from train.config import for_subset

        schedule = schedule_label(for_subset(config, model_plan(name)[0]))
        need = SAFETY * estimate_s(list(done.values()), schedule, measured, archive.first_estimate_s)
        left = args.budget_s - (time.monotonic() - began)
        if need > left:
            print(f"table1_gpu: stopping before {name}: {left:.0f} s left, {need:.0f} s needed", flush=True)
            break
        record = train_one(name, config, datasets, args.work)
        measured.append(record["total_s"])
        for folder in filter(None, (args.out, args.results)):
            folder.mkdir(parents=True, exist_ok=True)
            write_json(folder / f"{name}.json", record)
        done[name] = record
        print(f"table1_gpu: {name} done in {record['total_s']:.0f} s ({record['schedule']})", flush=True)
    return 0


# ------------------------------------------------------------------------------------------- report


def report_markdown(results: list[dict]) -> str:
    """The table of finished models: one row per model and evaluation, with its schedule."""
    if not results:
        return "No model has run yet.\n"
    lines = [
        "| model | schedule | N per class | evaluated | TP | FN | FP | TN | recall | precision | BEP | device | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    order = {m: i for i, m in enumerate(MODELS)}
    for r in sorted(results, key=lambda r: order.get(r["model"], len(order))):
        for case, ev in r["evaluations"].items():
            at = ev["at_0.5"]
            raw = at["raw"]
            lines.append(
                f"| {r['model']} | {r['schedule']} | {r['samples_per_class']:,} | {case} "
                f"| {raw['tp']:g} | {raw['fn']:g} | {raw['fp']:g} | {raw['tn']:g} | {_pct(at['recall'])} "
                f"| {_pct(at['precision'])} | {_pct(ev['bep'])} | {r['device']} | {r['total_s']:.0f} |"
            )
    return "\n".join(lines) + "\n"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def current_block(doc: Path = DOC) -> str:
    """The body of ``doc``'s block between ``BEGIN`` and ``END`` (what has run so far), newline-terminated;
    ``python -m tools.accuracy`` keeps it when it rewrites the doc."""
    body = block(doc.read_text(), BEGIN, END) if doc.exists() else None
    return "No model has run yet.\n" if body is None else body.lstrip("\n")


def write_report(results_dir: Path, doc: Path = DOC) -> None:
    """Replace the block between ``BEGIN`` and ``END`` in ``doc`` with the table of ``results_dir``."""
    results = [read_json(p, {}) for p in sorted(results_dir.glob("*.json"))]
    write_bytes(doc, replace_block(doc.read_text(), BEGIN, END, f"\n{report_markdown(results)}").encode())


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report is not None:
        write_report(args.report)
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
