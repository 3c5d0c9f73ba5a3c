"""Scan throughput benchmark (BENCHMARKS.md), every path in one run on the 2,500 x 2,500 px synthetic scene.

    .venv/bin/pip install torch==2.13.0                      # the [bench] extra (a wheel on this machine)
    .venv/bin/python -m tools.bench.scan                      # about 2-4 minutes on 2 cores
    .venv/bin/python -m tools.bench.scan --widths demo --size 1200 --reps 1   # a short run
    .venv/bin/python -m tools.bench.scan --memory 2500 10000 20000  # peak RSS of `fringescan scan` per size
    bash tools/device_bench.sh                                # on a lent GPU machine (see that script)

Paths, all measured in this process with the same thread count, medians of ``--reps``:
1. PyTorch per-window paper AlexNet (faster of default and channels-last), windows cut with numpy at 10 px;
2. fringescan per-window paper AlexNet (Flax, ``scanner.nn.infer`` window path);
3. fringescan dense ``alexnet_scan`` at the demo width (configs/demo.py) and at the paper's conv widths with
   fc 1024 (``--widths all``): model only on one ``--tile-cells`` tile per call, and model only on every tile
   of the scene (preprocessed beforehand) with ``--workers`` threads as ``scan`` runs them;
4. the end-to-end ``scan`` (``--workers``; ``--prep auto``: device preprocessing on a GPU) and detection.
The per-window rows take the paper's input, one 16-level quantized phase channel (``PreprocessConfig()``). The
dense and end-to-end rows take configs/demo.py's recipe (its ``preprocess``: cos, sin, coherence, slope, so
``in_channels=4`` for both widths) on a scene stored with phase, valid, coherence, DEM and slope.
The per-window paths are slow, so they time a fixed count of windows (``--windows``), not the scene.
Also: the machine's large matmul GFLOP/s, analytic and XLA ``cost_analysis`` FLOPs per window, the
end-to-end scan of the whole scene (store read -> filter -> preprocess -> dense model -> write -> detect)
against the model-only rate, and the national conversion (Japan, 378,000 km^2, about 4.8 M windows).
``--memory`` runs ``fringescan scan`` in a child process on stores of the given sizes (written chunk by chunk,
a narrow phase-only model so the 20,000 px scene finishes in minutes) and reports each child's peak RSS.

On a GPU (``jax.default_backend() == "gpu"``) the PyTorch baseline runs on CUDA (cuDNN autotuning, TF32
matmuls like JAX's default precision, ``torch.cuda.synchronize`` before the clock is read), ``--windows``
defaults to 8192 instead of 256, and the matmul peak is measured in bfloat16, float32 at JAX's default
precision (the denominator of the achieved column: the models run at that precision) and float32 at
``HIGHEST``. A JAX call faster than 0.2 s (a dense tile, a matmul) is repeated within each repetition so it is
not timed alone. Every timed JAX call ends in ``np.asarray`` or ``block_until_ready``.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from scanner.config import load_config
from scanner.core.detect import DetectConfig
from scanner.core.phase import PreprocessConfig, preprocess
from scanner.io.checkpoint import ModelMeta, save_checkpoint
from scanner.io.readers import read_geojson
from scanner.io.store import Store
from scanner.nn.infer import InferConfig, Predictor
from scanner.nn.model import ModelConfig, build_model, flops_per_window
from scanner.pipeline.scan import ScanConfig, scan, tile_input
from scanner.pipeline.sites import scene_sites, write_scene_sites
from tools.bench.common import (
    JAPAN_KM2,
    PIXEL_M,
    ROOT,
    SCENE_SEED,
    WAVELENGTH_M,
    child_peak_rss_mib,
    min_rep_s,
    on_gpu,
    peak_rss_mib,
    random_block,
    scene_blocks,
    synthetic_scene,
    timed,
    torch_device,
    torch_sync,
    torch_twin,
    write_geotiffs,
    write_scene,
)

EXPERIMENT = load_config(ROOT / "configs" / "demo.py")
DEMO: ModelConfig = EXPERIMENT.model
DEMO_PREP: PreprocessConfig = EXPERIMENT.preprocess
PAPER_PREP = PreprocessConfig()
"""The paper's input for the per-window rows: the 16-level quantized phase, one channel."""
PAPER = ModelConfig(name="alexnet", fc_width=4096, dropout=0.5)
WIDE = ModelConfig(
    name="alexnet_scan",
    in_channels=len(DEMO_PREP.channels),
    conv_widths=(96, 256, 384, 384, 256),
    fc_width=1024,
    dropout=0.5,
)
SCAN_WIDTHS = {
    f"demo {DEMO.conv_widths}/fc{DEMO.fc_width} (configs/demo.py)": DEMO,
    "paper convs/fc1024": WIDE,
}
WIDTH_CHOICES = {"demo": list(SCAN_WIDTHS)[:1], "all": list(SCAN_WIDTHS)}
NARROW = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 16, 16, 16), fc_width=32, dropout=0.0)
KM2_PER_WINDOW = (10 * PIXEL_M) ** 2 / 1e6
WINDOWS_DEFAULT = {"cpu": 256, "gpu": 8192}
EXTRAS = ("coherence", "slope")


def save_model(path: Path, config: ModelConfig, preprocess_config: PreprocessConfig) -> Path:
    meta = ModelMeta(
        model_config=config, preprocess=preprocess_config, pixel_size_m=PIXEL_M, wavelength_m=WAVELENGTH_M
    )
    save_checkpoint(path, build_model(config, rngs=nnx.Rngs(0)), meta)
    return path


# ---------------------------------------------------------------------------------------------- baselines


def matmul_gflops(dtype=jnp.float32, n: int = 3072, reps: int = 5, precision=None) -> float:
    """Peak GFLOP/s of a jitted ``n x n`` matmul (best of ``reps``): ones on the CPU, random normal values on
    a GPU (zeros and ones run faster than real data there)."""
    if on_gpu():
        a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32).astype(dtype)
    else:
        a = jnp.ones((n, n), dtype)
    f = jax.jit(lambda x: jnp.matmul(x, x, precision=precision))
    # a peak: the best of the repetitions (a median would let one busy moment on a shared machine lower
    # the denominator of every achieved-GFLOP/s figure)
    seconds = min(timed(lambda: f(a).block_until_ready(), 1, min_rep_s()) for _ in range(reps))
    return 2 * n**3 / seconds / 1e9


def matmul_peaks() -> dict[str, float]:
    """``{label: GFLOP/s}``; the first entry is the denominator of the achieved column."""
    if not on_gpu():
        return {"float32": matmul_gflops()}
    return {
        "float32 (default precision)": matmul_gflops(jnp.float32, 8192, 10),
        "bfloat16": matmul_gflops(jnp.bfloat16, 8192, 10),
        "float32 (HIGHEST)": matmul_gflops(jnp.float32, 8192, 5, jax.lax.Precision.HIGHEST),
    }


def bench_torch(x: np.ndarray, n_windows: int, batch: int, reps: int) -> dict:
    """Per-window PyTorch: windows cut with numpy (sliding_window_view at a 10 px stride) in batches, the
    class-1 probabilities brought back to the host."""
    import torch

    model = torch_twin(PAPER, softmax=True).eval()
    device = torch_device(torch)
    views = np.lib.stride_tricks.sliding_window_view(x[..., 0], (150, 150))[::10, ::10]
    rows = -(-n_windows // views.shape[1])  # copy only the window rows used, not the whole scene's windows
    flat = views[:rows].reshape(-1, 150, 150)[:n_windows]
    out = {"windows": len(flat), "device": str(device)}
    for layout in ("default", "channels_last"):
        fmt = torch.channels_last if layout == "channels_last" else torch.contiguous_format
        net = model.to(device=device, memory_format=fmt)

        def run(net=net, fmt=fmt) -> None:
            probs = []
            with torch.inference_mode():
                for start in range(0, len(flat), batch):
                    chunk = torch.from_numpy(np.ascontiguousarray(flat[start : start + batch])[:, None])
                    probs.append(net(chunk.to(device).contiguous(memory_format=fmt))[:, 1])
                torch.cat(probs).cpu()
            torch_sync(torch, device)

        out[layout] = len(flat) / timed(run, reps)
    return out


def bench_flax(config: ModelConfig, x: np.ndarray, path: str, cells: int, batch: int, reps: int) -> dict:
    """A ``cells`` x ``cells`` tile through the Predictor; windows/s and FLOPs per window."""
    model = build_model(config, rngs=nnx.Rngs(0))
    predictor = Predictor(
        model, InferConfig(path=path, tile_cells=cells, batch_size=batch, strip_cells=cells)
    )
    tile = x[: 10 * cells + 140, : 10 * cells + 140]
    # predict_tile returns numpy, so each call blocks on its result
    run = functools.partial(predictor.predict_tile, tile, cells, cells)
    seconds = timed(run, reps, min_rep_s())
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
        "run": run,
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


def device_header() -> str:
    """Backend, device names and versions, so every figure can be attributed to its machine."""
    kind = jax.devices()[0].device_kind
    text = f"jax {jax.__version__} on {jax.default_backend()}: {jax.device_count()} x {kind}"
    try:
        import torch
    except ImportError:
        return text + "; torch not installed"
    text += f"; torch {torch.__version__}"
    if on_gpu() and torch.cuda.is_available():
        text += f" on {torch.cuda.get_device_name()}"
    return text + f"; {os.cpu_count()} CPU threads"


def per_window_rows(x1: np.ndarray, args: argparse.Namespace) -> dict:
    torch_rates = bench_torch(x1, args.windows, args.batch, args.reps)
    cells = int(np.sqrt(args.windows))
    flax_window = bench_flax(PAPER, x1, "window", cells, args.batch, args.reps)
    print(
        f"\nPyTorch per-window on {torch_rates['device']}: default {torch_rates['default']:,.0f}, "
        f"channels-last {torch_rates['channels_last']:,.0f} windows/s ({torch_rates['windows']} windows, "
        f"batch {args.batch}); Flax per-window {flax_window['windows_per_s']:,.0f} windows/s "
        f"({flax_window['windows']} windows)"
    )
    return {"torch": torch_rates, "flax": flax_window}


def dense_rows(
    store: Store, work: Path, rasters: dict[str, np.ndarray], x4: np.ndarray, args: argparse.Namespace
) -> dict:
    """Every dense width in ``args.reps`` interleaved rounds (one tile, the scene model only, the scan, the
    detection, ingest to sites), so the machine's drift hits every path alike; medians of the rounds."""
    names = list(rasters)
    complete = max(0, (args.size - 150) // 10 + 1) ** 2
    tiffs = write_geotiffs(work / "tiff", rasters)
    scan_rows = {}
    for w, name in enumerate(WIDTH_CHOICES[args.widths]):
        config = SCAN_WIDTHS[name]
        dense = bench_flax(config, x4, "dense", args.tile_cells, args.batch, 1)
        ckpt = save_model(work / f"ckpt-{w}", config, DEMO_PREP)
        scan_config = ScanConfig(path="dense", tile_cells=args.tile_cells, workers=args.workers)
        scene_model = model_only_scene(store, ckpt, scan_config)
        ids = [f"width{w}-{k}" for k in range(args.reps + 1)]
        for scene_id in ids:
            write_scene(store, scene_id, args.size, names, scene_blocks(rasters))
        t_cold = sum(end_to_end(store, ckpt, ids[0], scan_config))
        rounds = []
        for k, scene_id in enumerate(ids[1:]):
            one = timed(dense["run"], 10, min_rep_s())  # a tile takes milliseconds: a median of 10 calls
            whole = timed(scene_model, 1, min_rep_s())
            t_scan, t_detect = end_to_end(store, ckpt, scene_id, scan_config)
            t_full = ingest_to_sites(store, ckpt, tiffs, f"ingested{w}-{k}", scan_config)
            rounds.append((dense["windows"] / one, complete / whole, t_scan, t_detect, t_full))
        one_wps, scene_wps, t_scan, t_detect, t_full = (
            statistics.median(r) for r in zip(*rounds, strict=True)
        )
        sites = len(read_geojson(store.root / "sites" / f"{ids[-1]}.geojson")["features"])
        scan_rows[name] = {
            **dense,
            "windows_per_s": one_wps,
            "scene_wps": scene_wps,
            "scan_wps": complete / t_scan,
            "e2e": complete / (t_scan + t_detect),
            "full": complete / t_full,
            "complete": complete,
            "t_scan": t_scan,
            "t_detect": t_detect,
            "t_full": t_full,
            "t_cold": t_cold,
            "sites": sites,
            "rounds": rounds,
        }
    return scan_rows


def report(per_window: dict | None, scan_rows: dict, peak: float) -> None:
    print("\n| path | windows/s | km²/s | MFLOP/window (analytic) | achieved GFLOP/s (of matmul) | Japan |")
    print("|---|---|---|---|---|---|")
    paper_flops = flops_per_window(PAPER, dense=False)
    if per_window is not None:
        torch_rates, flax_window = per_window["torch"], per_window["flax"]
        best_layout = max(("default", "channels_last"), key=torch_rates.get)
        best_torch = torch_rates[best_layout]
        print(row(f"PyTorch paper AlexNet, per-window ({best_layout})", best_torch, paper_flops, peak))
        print(
            row(
                "fringescan paper AlexNet, per-window (Flax)", flax_window["windows_per_s"], paper_flops, peak
            )
        )
    for name, r in scan_rows.items():
        label = f"fringescan alexnet_scan {name}"
        print(row(f"{label}, dense (model only, one tile)", r["windows_per_s"], r["analytic_flops"], peak))
        print(row(f"{label}, dense (model only, scene)", r["scene_wps"], r["analytic_flops"], peak))
        print(row(f"{label}, scan (store -> published grid)", r["scan_wps"], r["analytic_flops"], peak))
        print(row(f"{label}, scan + detect", r["e2e"], r["analytic_flops"], peak))
        print(row(f"{label}, ingest -> scan -> sites", r["full"], r["analytic_flops"], peak))
    xla = "".join(
        f", dense {n} {r['xla_flops'] / 1e6:,.1f} M (analytic {r['analytic_flops'] / 1e6:,.1f} M)"
        for n, r in scan_rows.items()
    )
    if per_window is not None:
        xla = (
            f"paper per-window {flax_window['xla_flops'] / 1e6:,.1f} M (analytic {paper_flops / 1e6:,.1f} M; "
            f"XLA skips SAME padding taps)" + xla
        )
        print(f"Flax per-window / PyTorch per-window: {flax_window['windows_per_s'] / best_torch:.2f}x")
    print(f"\nXLA cost_analysis FLOPs/window: {xla.lstrip(', ')}")
    for name, r in scan_rows.items():
        versus = (
            f"dense / PyTorch per-window {r['windows_per_s'] / best_torch:,.1f}x (target >= 20x); "
            if per_window is not None
            else ""
        )
        one, whole = r["windows_per_s"], r["scene_wps"]
        print(
            f"{name}: {versus}{r['complete']:,} windows, medians of {len(r['rounds'])} interleaved rounds: "
            f"scan {r['t_scan']:.2f} s = {r['scan_wps'] / one:.0%} of model-only one tile, "
            f"{r['scan_wps'] / whole:.0%} of model-only scene (target >= 80%); + detect {r['t_detect']:.2f} s "
            f"= {r['e2e'] / one:.0%} / {r['e2e'] / whole:.0%}; ingest -> sites {r['t_full']:.2f} s "
            f"= {r['full'] / one:.0%} / {r['full'] / whole:.0%}; {r['sites']} sites (random weights); "
            f"cold first scan {r['t_cold']:.1f} s"
        )
        for k, (o, w, ts, td, tf) in enumerate(r["rounds"]):
            print(
                f"  round {k}: one tile {o:,.0f} w/s, scene {w:,.0f} w/s, scan {ts:.3f} s, detect {td:.3f} s, "
                f"ingest -> sites {tf:.3f} s"
            )
    print(f"peak RSS of this process (includes PyTorch and the paper AlexNet): {peak_rss_mib():,.0f} MiB")


def main_throughput(args: argparse.Namespace) -> None:
    print(device_header())
    work = Path(tempfile.mkdtemp(prefix="bench-scan-"))
    start = time.perf_counter()
    rasters = synthetic_scene(args.size, args.seed)
    t_synth = time.perf_counter() - start
    store = Store.create(work / "store")
    start = time.perf_counter()
    write_scene(store, "bench", args.size, list(rasters), scene_blocks(rasters))
    t_write = time.perf_counter() - start
    phase, valid = rasters["phase"], rasters["valid"]
    x1 = preprocess(phase, valid, PIXEL_M, PAPER_PREP)
    x4 = preprocess(phase, valid, PIXEL_M, DEMO_PREP, {k: rasters[k] for k in EXTRAS})
    peaks = matmul_peaks()
    print(
        f"scene {args.size} x {args.size} px ({', '.join(rasters)}), simulated in {t_synth:.1f} s, stored in "
        f"{t_write:.1f} s; per-window input {PAPER_PREP.channels}, dense input {DEMO_PREP.channels}; "
        "matmul " + ", ".join(f"{k} {v:,.0f} GFLOP/s" for k, v in peaks.items())
    )
    per_window = None if args.dense_only else per_window_rows(x1, args)
    scan_rows = dense_rows(store, work, rasters, x4, args)
    report(per_window, scan_rows, next(iter(peaks.values())))


def model_only_scene(store: Store, ckpt: Path, config: ScanConfig) -> Callable[[], None]:
    """The model alone over every tile of the stored scene "bench", with the scan's concurrency: a call scores
    the scene once.

    The scan pipeline with its reads, preprocessing and writes taken out: each tile's model input is built
    beforehand (``scanner.pipeline.scan.tile_input``) and kept in memory, then ``config.worker_count()`` threads score
    the tiles as ``scan`` does (same Predictor, same tile shape). The end-to-end rate is compared with this and
    with the single-tile rate; the higher of the two is the stricter reference.
    """
    from concurrent.futures import ThreadPoolExecutor

    from scanner.core.tiling import plan_tiles
    from scanner.io.checkpoint import load_checkpoint

    model, meta = load_checkpoint(ckpt)
    scene = store.scene("bench")
    plan = plan_tiles(
        *scene.grid.shape, tile_cells=config.tile_cells, reach_px=meta.preprocess.reach_px(PIXEL_M)
    )
    inputs = [(tile_input(scene, t, meta)[0], t.cells.height, t.cells.width) for t in plan.tiles]
    predictor = Predictor(model, config.infer_config())

    def run() -> None:
        with ThreadPoolExecutor(config.worker_count()) as pool:
            list(pool.map(lambda job: predictor.predict_tile(*job), inputs))

    return run


def end_to_end(store: Store, ckpt: Path, scene_id: str, config: ScanConfig) -> tuple[float, float]:
    """Seconds of ``scan`` (store read -> filter -> model -> write) and of detection for one scene."""
    start = time.perf_counter()
    scan(store, ckpt, [scene_id], config)
    t_scan = time.perf_counter() - start
    start = time.perf_counter()
    features, _ = scene_sites(store, scene_id, DetectConfig())
    write_scene_sites(store, scene_id, features, DetectConfig())
    return t_scan, time.perf_counter() - start


def ingest_to_sites(
    store: Store, ckpt: Path, tiffs: dict[str, Path], scene_id: str, config: ScanConfig
) -> float:
    """Seconds of the whole run for one scene: ingest of its GeoTIFFs, scan, detection and the site layer."""
    from scanner.pipeline.ingest import IngestRequest, ingest_scene

    start = time.perf_counter()
    request = IngestRequest(
        phase=tiffs["phase"], coherence=tiffs["coherence"], dem=tiffs["dem"], scene_id=scene_id
    )
    ingest_scene(store, request)
    end_to_end(store, ckpt, scene_id, config)
    return time.perf_counter() - start


def main_memory(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-scan-mem-"))
    ckpt = save_model(work / "ckpt", NARROW, PreprocessConfig())
    for size in args.memory:
        store = Store.create(work / f"store{size}")
        rng = np.random.default_rng(size)

        def blocks(r: int, c: int, h: int, w: int, rng=rng) -> dict[str, np.ndarray]:
            return {"phase": random_block(r, c, h, w, rng), "valid": np.ones((h, w), np.uint8)}

        write_scene(store, "big", size, ["phase", "valid"], blocks)
        argv = [sys.executable, "-m", "scanner.cli", "scan", "--store", str(store.root), "--model", str(ckpt)]
        rss, seconds = child_peak_rss_mib(argv)
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
    parser.add_argument("--seed", type=int, default=SCENE_SEED)
    parser.add_argument(
        "--windows", type=int, help="windows timed on the per-window paths (default: 256 on CPU, 8192 on GPU)"
    )
    parser.add_argument("--batch", type=int, default=64, help="windows per batch (per-window paths)")
    parser.add_argument(
        "--reps", type=int, default=5, help="repetitions, or interleaved rounds for the scans"
    )
    parser.add_argument("--tile-cells", type=int, default=50, help="scan tile side in cells")
    parser.add_argument(
        "--widths", choices=sorted(WIDTH_CHOICES), default="all", help="dense widths: demo only, or all"
    )
    parser.add_argument("--dense-only", action="store_true", help="skip the per-window rows")
    parser.add_argument(
        "--workers",
        type=int,
        default=ScanConfig().workers,
        help="scan tiles in flight (fringescan scan --threads)",
    )
    parser.add_argument("--memory", type=int, nargs="*", help="scene sizes for the peak-RSS runs")
    args = parser.parse_args()
    if args.windows is None:
        args.windows = WINDOWS_DEFAULT["gpu" if on_gpu() else "cpu"]
    if args.memory:
        main_memory(args)
    else:
        main_throughput(args)


if __name__ == "__main__":
    main()
