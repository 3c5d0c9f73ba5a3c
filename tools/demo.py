"""The main job end to end on the built-in synthetic region (README: ``./run demo``).

synth (a training region and a separate demo region, different seeds) -> ingest -> dataset -> train
(configs/demo.py) -> mine (scan the training store, add the false positives as others) -> train again ->
scan -> detect -> evaluate-scan (at the model's recorded operating point) -> mosaic -> viewer. Every step is a ``fringescan`` verb
run in this process, exactly as a user would type it; the script stops at the first failing step with that
step's exit code.

    python tools/demo.py --out out/demo [--train-scenes 12] [--train-areas 3] [--skip-train CKPT]
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    parser.add_argument("--train-scenes", type=int, default=12, help="interferograms in the training region")
    parser.add_argument("--train-areas", type=int, default=3, help="separate areas in the training region")
    parser.add_argument(
        "--skip-train", type=Path, default=None, help="use this checkpoint instead of training"
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
    model = args.skip_train
    if model is None:
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
                "configs/demo.py",
            ],
        )
        step(
            "train the first model (configs/demo.py)",
            ["train", "--config", "configs/demo.py", "--dataset", str(dataset), "--out", str(first)],
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
            ["train", "--config", "configs/demo.py", "--dataset", str(mined), "--out", str(model)],
        )

    # Scan, detect, evaluate against the simulator's ground truth, mosaic and viewer.
    step("scan", ["scan", "--store", str(store), "--model", str(model)])
    step("detect", ["detect", "--store", str(store), "--out", str(out / "sites.geojson")])
    step(
        "evaluate against ground truth",
        [
            "evaluate-scan",
            "--store",
            str(store),
            "--labels",
            str(region / "labels_wgs84.geojson"),
            "--json",
            str(out / "evaluate-scan.json"),
        ],
    )
    step("mosaic", ["mosaic", "--store", str(store), "--grid", "configs/grids/demo.py"])
    step("viewer", ["view", "--store", str(store), "--no-serve"])

    print(f"\nDemo finished in {time.perf_counter() - started:.0f} s. Results:")
    for label, path in [
        ("synthetic interferograms, labels", region),
        ("quicklooks", region / "quicklooks"),
        ("scene store (Zarr v3)", store),
        ("model checkpoint", model),
        ("candidate sites (GeoJSON, WGS84)", out / "sites.geojson"),
        ("detection-level evaluation", out / "evaluate-scan.json"),
        ("mosaic versions", store / "mosaic"),
        ("viewer (open in a browser)", store / "viewer" / "index.html"),
    ]:
        print(f"  {label:36s} {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
