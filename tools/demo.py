"""The main job end to end on a fresh synthetic region (README: ``./run demo``).

By default the demo scans with the shipped default model (the zoo's ``lband-28m``, ``fringescan models``):
synth (the demo region) -> ingest -> scan -> detect -> evaluate-scan (at the model's recorded operating point)
-> mosaic -> viewer, in about a minute on 2 CPU cores.

``--train`` runs a small training path first, in about 4 minutes: synth a training region of the home
generator (another seed, so the model never sees the demo area) -> ingest -> dataset -> train
(configs/demo.py) -> mine (scan the training store, add the false positives as others) -> train again; then it
scans with the new model and says how long training took. The shipped default is built the same way, larger
and on the domain-randomised generator, by ``python -m tools.zoo lband-28m`` (its card says how). Every step
is a ``fringescan`` verb run in this process, exactly as a user would type it; the script stops at the first
failing step with that step's exit code.

    python tools/demo.py --out out/demo [--train [--train-scenes 12] [--train-areas 3]] [--model NAME|DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from scanner.cli import main as fringescan
from scanner.sim.files import ingest_argv, read_region

DEMO_SEED = 0
TRAIN_SEED = 1000


def step(title: str, argv: list[str]) -> None:
    print(f"\n== {title}: fringescan {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    code = fringescan(argv)
    if code != 0:
        print(f"demo: step '{title}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)


def ingest_region(region_dir: Path, store: Path) -> list[str]:
    """Ingest every scene of a synthetic region (phase + coherence + DEM) into ``store``."""
    region = read_region(region_dir)
    ids = []
    for scene in region["scenes"]:
        step(f"ingest {scene['scene_id']}", ingest_argv(region_dir, scene, store))
        ids.append(scene["scene_id"])
    return ids


def report_training(model: Path, seconds: float) -> None:
    """How long the training path took, and the trained parameters' sha256."""
    from scanner.io.checkpoint import read_meta

    trained = read_meta(model).params_sha256
    print(
        f"\n   training path took {seconds:.0f} s; parameters sha256 {trained[:16]} (configs/demo.py on the home "
        "generator; the shipped default is built by `python -m tools.zoo lband-28m`)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    parser.add_argument("--train-scenes", type=int, default=12, help="interferograms in the training region")
    parser.add_argument("--train-areas", type=int, default=3, help="separate areas in the training region")
    parser.add_argument(
        "--train", action="store_true", help="train the model first (about 4 min on 2 idle CPU cores)"
    )
    parser.add_argument(
        "--model", default=None, help="scan with this zoo name or checkpoint (default: the shipped default)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    out: Path = args.out.resolve()
    if out.exists() and any(out.iterdir()):
        print(
            f"demo: error: expected an empty or new output folder, found {out} with content; "
            f"fix: remove it or pass --out elsewhere",
            file=sys.stderr,
        )
        return 2
    region, store = out / "region", out / "store"
    started = time.perf_counter()

    # The demo region (scanned) and a training region from another seed: the model never sees the demo area.
    step("simulate the demo region", ["synth", "--out", str(region), "--seed", str(DEMO_SEED)])
    ingest_region(region, store)
    model = args.model
    if args.train:
        train_started = time.perf_counter()
        train_region, train_store = out / "train-region", out / "train-store"
        step(
            "simulate a training region",
            [
                "synth",
                "--out",
                str(train_region),
                "--seed",
                str(TRAIN_SEED),
                "--scenes",
                str(args.train_scenes),
                "--set",
                f"areas={args.train_areas}",
            ],
        )
        ingest_region(train_region, train_store)
        labels = str(train_region / "labels.geojson")
        dataset, first = out / "dataset.zarr", out / "model-first"
        mined, model = out / "dataset-mined.zarr", out / "model"
        step(
            "build the training set",
            [
                "dataset",
                "--store",
                str(train_store),
                "--labels",
                labels,
                "--out",
                str(dataset),
                "--config",
                "demo",
            ],
        )
        step(
            "train the first model (configs/demo.py)",
            ["train", "--config", "demo", "--dataset", str(dataset), "--out", str(first)],
        )
        # One round of hard-negative mining (docs/training.md): scan the training store with the first
        # model, add its false-positive windows as "others", train again. The operating point of
        # configs/demo.py (chosen on VAL, docs/accuracy.md) belongs to this second model.
        step(
            "mine hard negatives",
            [
                "mine",
                "--model",
                str(first),
                "--store",
                str(train_store),
                "--labels",
                labels,
                "--dataset",
                str(dataset),
                "--out",
                str(mined),
            ],
        )
        step(
            "train again on the mined set",
            ["train", "--config", "demo", "--dataset", str(mined), "--out", str(model)],
        )
        report_training(model, time.perf_counter() - train_started)

    # Scan, detect, evaluate against the simulator's ground truth, mosaic and viewer.
    step("scan", ["scan", "--store", str(store)] + (["--model", str(model)] if model else []))
    step("detect", ["detect", "--store", str(store), "--out", str(out / "sites.geojson")])
    step(
        "evaluate against ground truth",
        [
            "evaluate-scan",
            "--store",
            str(store),
            "--labels",
            str(region / "labels_wgs84.geojson"),
            "--out",
            str(out / "evaluate-scan.json"),
        ],
    )
    step("mosaic", ["mosaic", "--store", str(store), "--grid", "demo"])
    step("viewer", ["view", "--store", str(store), "--no-serve"])

    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s. Results:")
    for label, path in [
        ("synthetic interferograms, labels", region),
        ("quicklooks", region / "quicklooks"),
        ("scene store (Zarr v3)", store),
        ("model checkpoint", model or "the shipped default (fringescan models)"),
        ("candidate sites (GeoJSON, WGS84)", out / "sites.geojson"),
        ("detection-level evaluation", out / "evaluate-scan.json"),
        ("mosaic versions", store / "mosaic"),
        ("viewer (open in a browser)", store / "viewer" / "index.html"),
    ]:
        print(f"  {label:36s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
