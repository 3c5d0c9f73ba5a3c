"""Throughput of a nightly run over the demo region with 1 and with 2 local Dask workers, in one invocation.

    .venv/bin/python -m tools.bench.nightly [--model CKPT] [--workers 1 2] [--scenes 4] [--size 1000]

Steps: simulate the demo region once (``fringescan synth`` defaults: one area, 4 scenes of 1000 x 1000 px at
28 m), deliver it into an inbox with one manifest per pass (phase, coherence and the area's shared DEM), make
a checkpoint of ``configs/phase_only.py``'s model (random weights: speed does not depend on them) unless ``--model``
is given, then for each worker count start the cluster (``--workers 0``: the in-process threaded scheduler, the
baseline) and run ``scanner.pipeline.nightly.run_nightly`` twice into fresh stores: *cold* (workers import JAX, load
and compile the model) and *warm* (the same cluster again). It prints the run reports' scan and run times,
windows/s and km^2/s, and ratios against the first worker count. The machine is shared: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import sys
import tempfile
import time
from pathlib import Path

from tools.bench.common import JAPAN_KM2, PIXEL_M, ROOT, WAVELENGTH_M


def make_region(folder: Path, scenes: int, size: int) -> dict:
    from scanner.cli import main
    from scanner.sim.files import read_region

    code = main(["synth", "--out", str(folder), "--scenes", str(scenes), "--size", str(size), "--seed", "0"])
    if code != 0:
        sys.exit(f"synth failed with exit code {code}")
    logging.getLogger().setLevel(logging.WARNING)  # synth's CLI set INFO; keep the benchmark's output short
    return read_region(folder)


def deliver(region: dict, source: Path, inbox: Path) -> None:
    """One manifest per pass naming its phase, coherence and the area's DEM."""
    inbox.mkdir(parents=True)
    for area in region["areas"]:
        shutil.copy2(source / area["dem"], inbox / area["dem"])
    for scene in region["scenes"]:
        files = scene["files"]
        for role in ("phase", "coherence"):
            shutil.copy2(source / files[role], inbox / files[role])
        manifest = {
            "phase": files["phase"],
            "coherence": files["coherence"],
            "dem": files["dem"],
            "scene_id": scene["scene_id"],
        }
        (inbox / f"{scene['scene_id']}.pass.json").write_text(json.dumps(manifest))


def make_model(path: Path) -> Path:
    from flax import nnx

    from scanner.config import load_config
    from scanner.io.checkpoint import ModelMeta, save_checkpoint
    from scanner.nn.model import build_model

    experiment = load_config(ROOT / "configs" / "phase_only.py")
    model = build_model(experiment.model, rngs=nnx.Rngs(0))
    meta = ModelMeta(
        model_config=experiment.model,
        preprocess=experiment.preprocess,
        pixel_size_m=PIXEL_M,
        wavelength_m=WAVELENGTH_M,
    )
    save_checkpoint(path, model, meta)
    return path


def run_once(inbox: Path, store: Path, model: Path, scheduler: str | None) -> dict:
    from scanner.pipeline.nightly import NightlyConfig, run_nightly

    config = NightlyConfig(
        inbox=inbox,
        store=store,
        model=model,
        grid=ROOT / "configs" / "grids" / "demo.py",
        scheduler=scheduler,
    )
    return run_nightly(config)


def cold_and_warm(tmp: Path, model: Path, workers: int) -> tuple[dict, dict, float]:
    """A first run on a fresh cluster (workers import JAX, load and compile the model), then a second run
    into another fresh store on the same, now warm, cluster; and the cluster's start-up seconds."""
    from scanner.pipeline.nightly import dask_scheduler

    start = time.perf_counter()
    with dask_scheduler(workers, None) as address:
        startup = time.perf_counter() - start
        cold = run_once(tmp / "inbox", tmp / f"store-{workers}-cold", model, address)
        warm = run_once(tmp / "inbox", tmp / f"store-{workers}-warm", model, address)
    return cold, warm, startup


def row(label: str, report: dict, base: dict | None) -> str:
    s, f, t = report["stages_s"], report["figures"], report["throughput"]
    ratio = "" if base is None else f"{base['wall_s'] / report['wall_s']:.2f}x"
    scan_ratio = "" if base is None else f"{base['stages_s']['scan'] / s['scan']:.2f}x"
    return (
        f"| {label} | {f.get('windows_scanned', 0):,} | {s.get('scan', 0):.1f} | {report['wall_s']:.1f} | "
        f"{t['windows_per_s_scan']:,} | {t['windows_per_s_run']:,} | {t['km2_per_s_run']} | "
        f"{ratio} | {scan_ratio} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", type=Path, help="checkpoint (default: random-weight configs/phase_only.py model)"
    )
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--scenes", type=int, default=4)
    parser.add_argument("--size", type=int, default=1000)
    parser.add_argument("--json", type=Path, help="also write all run reports here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-nightly-") as tmp:
        tmp = Path(tmp)
        region = make_region(tmp / "region", args.scenes, args.size)
        deliver(region, tmp / "region", tmp / "inbox")
        model = args.model or make_model(tmp / "ckpt")
        runs = {w: cold_and_warm(tmp, model, w) for w in args.workers}
    print(
        f"demo region: {args.scenes} scenes of {args.size} x {args.size} px at 28 m, model {model.name}; "
        "windows = complete windows as the scanner counts them; ratios against the first row of the same kind (cold/warm)"
    )
    print(
        "| workers, run | windows | scan s | run s | windows/s scan | windows/s run | km²/s run | "
        "run speed-up | scan speed-up |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    first = runs[args.workers[0]]
    for kind, index in (("cold", 0), ("warm", 1)):
        for w, result in runs.items():
            base = None if w == args.workers[0] else first[index]
            who = "threads" if w == 0 else f"{w} worker" + ("s" if w > 1 else "")
            label = f"{who}, {kind}"
            print(row(label, result[index], base))
    print("cluster start-up s: " + ", ".join(f"{w}: {r[2]:.1f}" for w, r in runs.items()))
    best = max((r[1] for r in runs.values()), key=lambda r: r["throughput"]["km2_per_s_run"] or 0)
    hours = JAPAN_KM2 / best["throughput"]["km2_per_s_run"] / 3600
    print(f"national coverage (Japan, {JAPAN_KM2:,.0f} km²) at the best warm run rate: {hours:.2f} h")
    if args.json:
        args.json.write_text(
            json.dumps(
                {w: {"cold": r[0], "warm": r[1], "startup_s": r[2]} for w, r in runs.items()},
                indent=1,
                default=str,
            )
        )


if __name__ == "__main__":
    main()
