"""Scan throughput benchmark (BENCHMARKS.md), every path in one run on the 2,500 x 2,500 px synthetic scene.

    .venv/bin/pip install torch==2.13.0                      # the [bench] extra (a wheel on this machine)
    .venv/bin/python tools/bench_scan.py                      # about 2-4 minutes on 2 cores
    .venv/bin/python tools/bench_scan.py --memory 2500 20000  # peak RSS of `fringescan scan` per scene size

Paths, all measured in this process with the same thread count, medians of ``--reps``:
1. PyTorch per-window paper AlexNet (faster of default and channels-last), windows cut with numpy at 10 px;
2. fringescan per-window paper AlexNet (Flax, ``scanner.infer`` window path);
3. fringescan dense ``alexnet_scan`` at the demo width (configs/demo.py), one 50 x 50 cell tile per call.
The per-window paths are slow, so they time a fixed count of windows (``--windows``), not the scene.
Also: the machine's large float32 matmul GFLOP/s, analytic and XLA ``cost_analysis`` FLOPs per window, the
end-to-end scan of the whole scene (store read -> filter -> quantize -> dense model -> write -> detect) against
the model-only rate, and the national conversion (Japan, 378,000 km^2, about 4.8 M windows).
``--memory`` runs ``fringescan scan`` in a child process on stores of the given sizes (written chunk by chunk,
a narrow model so the 20,000 px scene finishes in minutes) and reports each child's peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from affine import Affine
from flax import nnx
from pyproj import CRS

from scanner.checkpoint import ModelMeta, save_checkpoint
from scanner.config import load_config
from scanner.detect import DetectConfig
from scanner.geo import GeoGrid, PixelWindow
from scanner.infer import InferConfig, Predictor
from scanner.model import ModelConfig, build_model, flops_per_window
from scanner.phase import PreprocessConfig, preprocess
from scanner.readers import read_geojson
from scanner.scan import ScanConfig, scan
from scanner.sites import scene_sites, write_scene_sites
from scanner.store import SceneWriter, Store

PIXEL_M = 28.0
WAVELENGTH_M = 0.236
JAPAN_KM2 = 378_000.0
DEMO: ModelConfig = load_config(Path(__file__).resolve().parents[1] / "configs" / "demo.py").model
PAPER = ModelConfig(name="alexnet", fc_width=4096, dropout=0.5)
WIDE = ModelConfig(name="alexnet_scan", conv_widths=(96, 256, 384, 384, 256), fc_width=1024, dropout=0.5)
SCAN_WIDTHS = {
    f"demo {DEMO.conv_widths}/fc{DEMO.fc_width} (configs/demo.py)": DEMO,
    "paper convs/fc1024": WIDE,
}
NARROW = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 16, 16, 16), fc_width=32, dropout=0.0)
KM2_PER_WINDOW = (10 * PIXEL_M) ** 2 / 1e6


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, reps: int) -> float:
    """Median seconds of ``fn()`` over ``reps`` runs after one warm-up."""
    fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# ---------------------------------------------------------------------------------------------- the scene


def synthetic_scene(size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The simulator's scene when it can make one this size, else seeded ramps + fringes + noise."""
    try:
        from scanner.synthetic import SynthConfig, plan_region, simulate_pair

        scene = simulate_pair(plan_region(SynthConfig(size_px=size, scenes=1, seed=seed)), 0)
        return scene.phase.astype(np.float32), scene.valid.astype(np.uint8)
    except Exception as error:  # the simulator is another module's; the benchmark still runs without it
        print(f"(synthetic simulator unavailable: {type(error).__name__}: {error}; using random phase)")
        return random_block(0, 0, size, size, np.random.default_rng(seed)), np.ones((size, size), np.uint8)


def random_block(row: int, col: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    y, x = np.mgrid[row : row + h, col : col + w].astype(np.float32)
    values = 0.013 * x + 0.007 * y + rng.normal(0, 0.6, (h, w)).astype(np.float32)
    return (np.mod(values + np.pi, 2 * np.pi) - np.pi).astype(np.float32)


def write_scene(store: Store, scene_id: str, size: int, blocks) -> None:
    """Publish a ``size`` x ``size`` scene written block by block from ``blocks(row, col, h, w)``."""
    grid = GeoGrid(
        size, size, Affine(PIXEL_M, 0, 300_000.0, 0, -PIXEL_M, 4_500_000.0), CRS.from_epsg(32654).to_wkt()
    )
    with store.staging(f"scenes/{scene_id}") as tmp:
        writer = SceneWriter(tmp, grid, ["phase", "valid"])
        step = 2000
        for row in range(0, size, step):
            for col in range(0, size, step):
                h, w = min(step, size - row), min(step, size - col)
                phase, valid = blocks(row, col, h, w)
                writer.write("phase", PixelWindow(row, col, h, w), phase)
                writer.write("valid", PixelWindow(row, col, h, w), valid)
        writer.finish(
            {
                "scene_id": scene_id,
                "kind": "wrapped",
                "grid": grid.to_attrs(),
                "wavelength_m": WAVELENGTH_M,
                "first_date": "2024-01-01",
                "second_date": "2024-02-12",
                "content_sha256": f"bench-{scene_id}-{size}",
            }
        )


def save_model(path: Path, config: ModelConfig, preprocess_config: PreprocessConfig) -> Path:
    meta = ModelMeta(
        model_config=config, preprocess=preprocess_config, pixel_size_m=PIXEL_M, wavelength_m=WAVELENGTH_M
    )
    save_checkpoint(path, build_model(config, rngs=nnx.Rngs(0)), meta)
    return path


# ---------------------------------------------------------------------------------------------- baselines


def matmul_gflops(n: int = 3072, reps: int = 5) -> float:
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda x: x @ x)
    seconds = timed(lambda: f(a).block_until_ready(), reps)
    return 2 * n**3 / seconds / 1e9


def torch_alexnet():
    import torch
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 96, 11, stride=4),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(96, 256, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Conv2d(256, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 384, 3, padding=1),
        nn.ReLU(),
        nn.Conv2d(384, 256, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(3, 2),
        nn.Flatten(),
        nn.Linear(256 * 3 * 3, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 4096),
        nn.ReLU(),
        nn.Dropout(),
        nn.Linear(4096, 2),
        nn.Softmax(dim=1),
    ).eval(), torch


def bench_torch(x: np.ndarray, n_windows: int, batch: int, reps: int) -> dict:
    """Per-window PyTorch: windows cut with numpy (sliding_window_view at a 10 px stride) in batches."""
    model, torch = torch_alexnet()
    torch.set_num_threads(os.cpu_count() or 1)
    views = np.lib.stride_tricks.sliding_window_view(x[..., 0], (150, 150))[::10, ::10]
    flat = views.reshape(-1, 150, 150)[:n_windows]
    out = {}
    for layout in ("default", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        net = model.to(memory_format=fmt)

        def run(net=net, fmt=fmt) -> None:
            with torch.inference_mode():
                for start in range(0, len(flat), batch):
                    chunk = torch.from_numpy(np.ascontiguousarray(flat[start : start + batch])[:, None])
                    net(chunk.contiguous(memory_format=fmt))

        out[layout] = len(flat) / timed(run, reps)
    return out


def bench_flax(config: ModelConfig, x: np.ndarray, path: str, cells: int, batch: int, reps: int) -> dict:
    """A ``cells`` x ``cells`` tile through the Predictor; windows/s and FLOPs per window."""
    model = build_model(config, rngs=nnx.Rngs(0))
    predictor = Predictor(
        model, InferConfig(path=path, tile_cells=cells, batch_size=batch, strip_cells=cells)
    )
    tile = x[: 10 * cells + 140, : 10 * cells + 140]
    seconds = timed(lambda: predictor.predict_tile(tile, cells, cells), reps)
    windows = cells * cells
    compiled = predictor.lower().compile()
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    calls = 1 if path == "dense" else -(-windows // predictor.batch_size)
    per_call = predictor.batch_size if path == "window" else windows
    return {
        "windows_per_s": windows / seconds,
        "seconds": seconds,
        "windows": windows,
        "analytic_flops": flops_per_window(config, dense=(path == "dense")),
        "xla_flops": float(cost.get("flops", float("nan"))) / per_call,
        "calls": calls,
    }


# ---------------------------------------------------------------------------------------------- report


def national(windows_per_s: float) -> str:
    windows = JAPAN_KM2 / KM2_PER_WINDOW
    hours = windows / windows_per_s / 3600
    return f"{windows / 1e6:.1f} M windows -> {hours * 60:,.0f} min" if hours < 2 else f"{hours:.1f} h"


def row(name: str, wps: float, flops: float, peak_gflops: float) -> str:
    achieved = wps * flops / 1e9
    return (
        f"| {name} | {wps:,.0f} | {wps * KM2_PER_WINDOW:,.2f} | {flops / 1e6:,.1f} | {achieved:,.1f} "
        f"({achieved / peak_gflops:.0%}) | {national(wps)} |"
    )


def main_throughput(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    start = time.perf_counter()
    phase, valid = synthetic_scene(args.size, args.seed)
    t_synth = time.perf_counter() - start
    store = Store.create(work / "store")
    start = time.perf_counter()
    write_scene(
        store,
        "bench",
        args.size,
        lambda r, c, h, w: (phase[r : r + h, c : c + w], valid[r : r + h, c : c + w]),
    )
    t_write = time.perf_counter() - start
    prep = PreprocessConfig()
    x = preprocess(phase, valid, PIXEL_M, prep)
    peak = matmul_gflops()
    print(
        f"scene {args.size} x {args.size} px, simulated in {t_synth:.1f} s, stored in {t_write:.1f} s; "
        f"devices {jax.device_count()}, threads {os.cpu_count()}; matmul {peak:,.0f} GFLOP/s"
    )

    torch_rates = bench_torch(x, args.windows, 64, args.reps)
    flax_window = bench_flax(PAPER, x, "window", int(np.sqrt(args.windows)), 64, args.reps)
    paper_flops = flops_per_window(PAPER, dense=False)
    best_torch = max(torch_rates.values())
    print(
        f"\nPyTorch per-window: default {torch_rates['default']:,.0f}, channels-last "
        f"{torch_rates['channels_last']:,.0f} windows/s ({args.windows} windows, batch 64)"
    )

    def blocks(r: int, c: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        return phase[r : r + h, c : c + w], valid[r : r + h, c : c + w]

    complete = max(0, (args.size - 150) // 10 + 1) ** 2
    scan_rows = {}
    for name, config in SCAN_WIDTHS.items():
        dense = bench_flax(config, x, "dense", args.tile_cells, 64, args.reps)
        ckpt = save_model(work / f"ckpt-{name}", config, prep)
        scan_config = ScanConfig(path="dense", tile_cells=args.tile_cells)
        write_scene(store, f"cold-{name}", args.size, blocks)
        write_scene(store, f"warm-{name}", args.size, blocks)
        t_cold = sum(end_to_end(store, ckpt, f"cold-{name}", scan_config))
        t_scan, t_detect = end_to_end(store, ckpt, f"warm-{name}", scan_config)
        sites = len(read_geojson(store.root / "sites" / f"warm-{name}.geojson")["features"])
        scan_rows[name] = {
            **dense,
            "e2e": complete / (t_scan + t_detect),
            "t_scan": t_scan,
            "t_detect": t_detect,
            "t_cold": t_cold,
            "sites": sites,
        }

    print("\n| path | windows/s | km²/s | MFLOP/window (analytic) | achieved GFLOP/s (of matmul) | Japan |")
    print("|---|---|---|---|---|---|")
    best_layout = max(torch_rates, key=torch_rates.get)
    print(row(f"PyTorch paper AlexNet, per-window ({best_layout})", best_torch, paper_flops, peak))
    print(row("fringescan paper AlexNet, per-window (Flax)", flax_window["windows_per_s"], paper_flops, peak))
    for name, r in scan_rows.items():
        print(
            row(
                f"fringescan alexnet_scan {name}, dense (model only)",
                r["windows_per_s"],
                r["analytic_flops"],
                peak,
            )
        )
        print(
            row(
                f"fringescan alexnet_scan {name}, end-to-end scan + detect",
                r["e2e"],
                r["analytic_flops"],
                peak,
            )
        )
    print(
        f"\nXLA cost_analysis FLOPs/window: paper per-window {flax_window['xla_flops'] / 1e6:,.1f} M "
        f"(analytic {paper_flops / 1e6:,.1f} M; XLA skips SAME padding taps)"
        + "".join(
            f", dense {n} {r['xla_flops'] / 1e6:,.1f} M (analytic {r['analytic_flops'] / 1e6:,.1f} M)"
            for n, r in scan_rows.items()
        )
    )
    print(f"Flax per-window / PyTorch per-window: {flax_window['windows_per_s'] / best_torch:.2f}x")
    for name, r in scan_rows.items():
        print(
            f"{name}: dense / PyTorch per-window {r['windows_per_s'] / best_torch:,.1f}x (target >= 20x); "
            f"end-to-end {complete:,} windows in {r['t_scan']:.2f} s scan + {r['t_detect']:.2f} s detect = "
            f"{r['e2e']:,.0f} windows/s, {r['e2e'] / r['windows_per_s']:.0%} of model-only (target >= 80%), "
            f"{r['sites']} sites (random weights); cold first run {r['t_cold']:.1f} s"
        )
    print(f"peak RSS of this process (includes PyTorch and the paper AlexNet): {peak_rss_mib():,.0f} MiB")


def end_to_end(store: Store, ckpt: Path, scene_id: str, config: ScanConfig) -> tuple[float, float]:
    """Seconds of ``scan`` (store read -> filter -> model -> write) and of detection for one scene."""
    start = time.perf_counter()
    scan(store, ckpt, [scene_id], config)
    t_scan = time.perf_counter() - start
    start = time.perf_counter()
    features, _ = scene_sites(store, scene_id, DetectConfig())
    write_scene_sites(store, scene_id, features, DetectConfig())
    return t_scan, time.perf_counter() - start


def main_memory(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-scan-mem-"))
    ckpt = save_model(work / "ckpt", NARROW, PreprocessConfig())
    script = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    for size in args.memory:
        store = Store.create(work / f"store{size}")
        rng = np.random.default_rng(size)
        write_scene(
            store,
            "big",
            size,
            lambda r, c, h, w, rng=rng: (random_block(r, c, h, w, rng), np.ones((h, w), np.uint8)),
        )
        argv = [sys.executable, "-m", "scanner.cli", "scan", "--store", str(store.root), "--model", str(ckpt)]
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True
        )
        seconds = time.perf_counter() - start
        rss = int(done.stdout.strip().splitlines()[-1]) / 1024
        print(
            f"scan {size} x {size} px ({(size * PIXEL_M / 1000) ** 2:,.0f} km²): peak RSS {rss:,.0f} MiB, "
            f"{seconds:.0f} s"
        )
        subprocess.run(["rm", "-rf", str(store.root)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=2500)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--windows", type=int, default=256, help="windows timed on the per-window paths")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tile-cells", type=int, default=50, help="scan tile side in cells (end-to-end run)")
    parser.add_argument("--memory", type=int, nargs="*", help="scene sizes for the peak-RSS runs")
    args = parser.parse_args()
    if args.memory:
        main_memory(args)
    else:
        main_throughput(args)


if __name__ == "__main__":
    main()
