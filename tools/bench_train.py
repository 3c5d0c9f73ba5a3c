"""CPU training speed, before and after (issue 17): samples/s of the paper AlexNet (configs/paper.py) and of the
default model (configs/demo.py) through the real ``train.loop.train``, for the code of a BEFORE commit and for
this tree, on the same stored patch set, with each side's share of CPU time in the kernel and its peak RSS.

    .venv/bin/python -m tools.bench_train                      # both models, 3 reps, about 8 minutes (idle)
    .venv/bin/python -m tools.bench_train --models demo --reps 5 --before a763f78

a763f78 (the default BEFORE) is main just before issue 17's CPU speed work. The BEFORE tree is ``git archive
REV`` unpacked into a temporary folder; each run is a fresh child process (this venv's Python, the side's tree
first on ``sys.path``) that reads the patch set from an ``.npy`` file into a 64-byte aligned array (as
``fringescan train`` passes it since ``train.host_heap.aligned_take``; the same for both sides, no second copy)
and calls ``train.loop.train`` for
``--steps`` steps. Its progress callback reads the clock and the child's own ``getrusage`` after each step: the
figures cover steps ``--warmup`` to ``steps - 1`` (no compilation, no final checkpoint). samples/s = batch x
measured steps / seconds; kernel share = system / (user + system) CPU seconds over those steps; peak RSS is the
child's whole life (patch set included). Repetitions are interleaved (before, after, before, ...) so the shared
machine's load hits both sides alike; medians are printed with the ratio after / before per
model. No speed is asserted anywhere.

The patch set is synthetic but shaped and valued like the real one: ``N`` patches of ``150 + 2 * margin``
px, the config's channels (cos/sin of a fringe phase, coherence in [0, 1], slope in degrees; the paper's
``phase_rgb`` colours of 16 levels) and half of them class 1.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tools.bench.common import ROOT

MODELS = {"paper": "configs/paper.py", "demo": "configs/demo.py"}
DEFAULT_STEPS = {"paper": 6, "demo": 30}
DEFAULT_PATCHES = {"paper": 400, "demo": 2000}

CHILD = r"""
import json, os, resource, sys, tempfile, time
tree, config_path, patches_path, steps, warmup = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
sys.path.insert(0, tree)
import numpy as np
from scanner.config import load_config
from train.loop import train
import scanner
assert os.path.dirname(os.path.dirname(os.path.abspath(scanner.__file__))) == os.path.abspath(tree), scanner.__file__
config = load_config(config_path, [f"train.steps={steps}", f"train.checkpoint_every={steps}"])
with open(patches_path, "rb") as stored:  # read into a 64-byte aligned array, as `fringescan train` passes it
    major, _ = np.lib.format.read_magic(stored)
    read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
    shape, _, dtype = read_header(stored)
    buffer = np.empty(int(np.prod(shape)) * dtype.itemsize + 64, np.uint8)
    start = -buffer.ctypes.data % 64
    patches = buffer[start : start + int(np.prod(shape)) * dtype.itemsize].view(dtype).reshape(shape)
    stored.readinto(memoryview(patches).cast("B"))
labels = (np.arange(len(patches)) % 2).astype(np.uint8)
marks = {}
def progress(done, total):
    usage = resource.getrusage(resource.RUSAGE_SELF)
    marks[done] = (time.perf_counter(), usage.ru_utime, usage.ru_stime)
with tempfile.TemporaryDirectory() as workdir:
    train(config, patches, labels, workdir, progress=progress)
(t0, u0, s0), (t1, u1, s1) = marks[warmup], marks[steps - 1]
print(json.dumps({
    "samples_per_s": (steps - 1 - warmup) * config.train.batch_size / (t1 - t0),
    "kernel_share": (s1 - s0) / max((u1 - u0) + (s1 - s0), 1e-9),
    "cpu_per_wall": ((u1 - u0) + (s1 - s0)) / (t1 - t0),
    "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
"""


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["paper", "demo"])
    parser.add_argument("--before", default="a763f78", help="git revision of the BEFORE side")
    parser.add_argument("--reps", type=int, default=3, help="runs per side and model (median reported)")
    parser.add_argument("--steps", type=int, default=0, help="steps per run (default: 6 paper, 30 demo)")
    parser.add_argument("--warmup", type=int, default=2, help="steps before the clock starts")
    parser.add_argument(
        "--patches", type=int, default=0, help="stored patches (default: 400 paper, 2000 demo)"
    )
    return parser.parse_args()


def synthetic_patches(config, n: int, seed: int = 0) -> np.ndarray:
    """``(n, P, P, C)`` float32 patches with the config's channels, valued like ``preprocess`` output."""
    from scanner.core.palette import phase_rgb_table, quantize
    from scanner.core.phase import levels_to_unit

    side = 150 + 2 * config.dataset.margin_px
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:side, 0:side].astype(np.float32)
    out = np.empty((n, side, side, config.model.in_channels), np.float32)
    for i in range(n):
        fy, fx = rng.uniform(-0.3, 0.3, 2)
        phase = np.angle(np.exp(1j * (fy * y + fx * x + rng.normal(0, 0.5, (side, side))))).astype(np.float32)
        planes = []
        for name in config.preprocess.channels:
            if name == "phase_rgb":
                planes.extend(np.moveaxis(phase_rgb_table(16)[quantize(phase, 16)], -1, 0))
            elif name == "phase_q":
                planes.append(levels_to_unit(quantize(phase, 16), 16))
            elif name in ("cos", "sin"):
                planes.append(np.cos(phase) if name == "cos" else np.sin(phase))
            elif name == "coherence":
                planes.append(rng.uniform(0.1, 0.9, (side, side)))
            else:
                planes.append(rng.uniform(0.0, 45.0, (side, side)))
        out[i] = np.stack(planes, -1)
    return out


def run_child(tree: Path, config_path: Path, patches: Path, steps: int, warmup: int) -> dict:
    argv = [sys.executable, "-c", CHILD, str(tree), str(config_path), str(patches), str(steps), str(warmup)]
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run(argv, capture_output=True, text=True, cwd=tree, env=env)
    if done.returncode != 0:
        raise SystemExit(f"child run in {tree} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def export_tree(revision: str, into: Path) -> Path:
    """The files of ``revision`` unpacked into ``into`` (``git archive``; the repository is untouched)."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "archive", revision], cwd=ROOT, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def summary(runs: list[dict]) -> dict[str, float]:
    return {key: statistics.median(r[key] for r in runs) for key in runs[0]}


def main() -> None:
    args = parse_args()
    from scanner.config import load_config

    sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    print(
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {os.cpu_count()} CPUs, load average "
        f"{os.getloadavg()[0]:.1f}; BEFORE {args.before}, AFTER this tree (HEAD {sha.stdout.strip()} + edits)"
    )
    with tempfile.TemporaryDirectory(prefix="bench-train-") as tmp:
        before = export_tree(args.before, Path(tmp) / "before")
        sides = {"before": before, "after": ROOT}
        results: dict[tuple[str, str], list[dict]] = {}
        sets = {}
        for name in args.models:
            config = load_config(ROOT / MODELS[name], [])
            n = args.patches or DEFAULT_PATCHES[name]
            sets[name] = Path(tmp) / f"{name}.npy"
            np.save(sets[name], synthetic_patches(config, n))
            print(f"{name}: {n} patches, {sets[name].stat().st_size / 2**30:.2f} GiB float32", flush=True)
        for rep in range(args.reps):
            for name in args.models:
                steps = args.steps or DEFAULT_STEPS[name]
                for side, tree in sides.items():
                    run = run_child(tree, tree / MODELS[name], sets[name], steps, args.warmup)
                    results.setdefault((name, side), []).append(run)
                    print(f"  rep {rep + 1} {name} {side}: {json.dumps(run)}", flush=True)
    print("\n| model | side | samples/s (median) | range | kernel share of CPU | CPU/wall | peak RSS MiB |")
    print("|---|---|---|---|---|---|---|")
    for (name, side), runs in results.items():
        med = summary(runs)
        rates = [r["samples_per_s"] for r in runs]
        print(
            f"| {name} | {side} | {med['samples_per_s']:,.1f} | {min(rates):,.1f}-{max(rates):,.1f} | "
            f"{med['kernel_share']:.0%} | {med['cpu_per_wall']:.2f} | {med['peak_rss_mib']:,.0f} |"
        )
    for name in args.models:
        after, before = summary(results[name, "after"]), summary(results[name, "before"])
        print(
            f"{name} ({MODELS[name]}): after / before = {after['samples_per_s'] / before['samples_per_s']:.2f}x "
            f"samples/s; peak RSS {after['peak_rss_mib'] / before['peak_rss_mib']:.2f}x"
        )


if __name__ == "__main__":
    main()
