"""What the benchmarks share: the benchmark scene and its files, timing and memory helpers, the device check
and the PyTorch twin of the model (the baseline of the scan and training benchmarks).

Only the standard library and numpy are imported at module level, the rest where it is used:
``tools.bench.train --devices N`` sets ``XLA_FLAGS`` before JAX starts, torch is the optional ``[bench]``
extra, and the Dask workers of ``tools.bench.nightly`` re-import the main module when they are spawned, so an
import here would count in that benchmark's cluster start-up time.
"""

from __future__ import annotations

import math
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scanner.io.store import Store

ROOT = Path(__file__).resolve().parents[2]
"""The repository root (configs/ lives there)."""
PIXEL_M = 28.0
WAVELENGTH_M = 0.236
JAPAN_KM2 = 378_000.0
"""The national coverage every result is converted to (BENCHMARKS.md)."""
SCENE_SEED = 7
"""Seed of the benchmark scene (scan's default ``--seed``; ingest's speed run uses the same scene)."""

Blocks = Callable[[int, int, int, int], dict[str, np.ndarray]]


# ---------------------------------------------------------------------------------------------- device, time


def on_gpu() -> bool:
    import jax

    return jax.default_backend() == "gpu"


def min_rep_s() -> float:
    """Shortest repetition worth timing: 0.2 s on a GPU (calls take milliseconds there), any on the CPU."""
    return 0.2 if on_gpu() else 0.0


def timed(fn: Callable[[], object], reps: int, min_rep_s: float = 0.0) -> float:
    """Median seconds of one ``fn()`` over ``reps`` repetitions after one warm-up (``fn`` must block on its
    result). With ``min_rep_s`` (GPU runs) a repetition calls ``fn`` as often as it takes, from one more
    timed call, to last about that long (at most 100 calls), so a fast call is not timed alone."""
    fn()
    inner = 1
    if min_rep_s > 0:
        start = time.perf_counter()
        fn()
        inner = max(1, min(100, math.ceil(min_rep_s / max(time.perf_counter() - start, 1e-6))))
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - start) / inner)
    return statistics.median(times)


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_peak_rss_mib(argv: list[str]) -> tuple[float, float]:
    """Run ``argv`` in a fresh child process; (peak RSS MiB of that child, wall seconds)."""
    script = (
        "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); sys.exit(r.returncode)"
    )
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", script, *argv], capture_output=True, text=True, check=True)
    return int(done.stdout.strip().splitlines()[-1]) / 1024, time.perf_counter() - start


# ---------------------------------------------------------------------------------------------- the scene


def geotiff_profile(height: int, width: int, **extra: object) -> dict:
    """A tiled float32 one-band GeoTIFF at 28 m in UTM 54N with NaN nodata: the benchmarks' input files."""
    from affine import Affine

    return {
        "driver": "GTiff",
        "height": height,
        "width": width,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:32654",
        "transform": Affine(PIXEL_M, 0, 300_000.0, 0, -PIXEL_M, 4_500_000.0),
        "nodata": float("nan"),
        "tiled": True,
        "blockxsize": 512,
        "blockysize": 512,
        **extra,
    }


def synthetic_scene(size: int, seed: int) -> dict[str, np.ndarray]:
    """The simulator's scene (phase, valid, coherence, dem, slope) when it can make one this size, else
    seeded ramps + fringes + noise on a tilted plane."""
    from scanner.core.phase import slope_deg

    try:
        from scanner.sim.config import SynthConfig
        from scanner.sim.region import plan_region
        from scanner.sim.scene import simulate_pair

        scene = simulate_pair(plan_region(SynthConfig(size_px=size, scenes=1, seed=seed)), 0)
        rasters = {
            "phase": scene.phase.astype(np.float32),
            "valid": scene.valid.astype(np.uint8),
            "coherence": scene.coherence.astype(np.float32),
            "dem": scene.dem.astype(np.float32),
        }
    except Exception as error:  # the simulator is another module's; the benchmark still runs without it
        print(f"(synthetic simulator unavailable: {type(error).__name__}: {error}; using random phase)")
        rng = np.random.default_rng(seed)
        y, x = np.mgrid[0:size, 0:size].astype(np.float32)
        rasters = {
            "phase": random_block(0, 0, size, size, rng),
            "valid": np.ones((size, size), np.uint8),
            "coherence": rng.uniform(0.2, 0.9, (size, size)).astype(np.float32),
            "dem": (200.0 + 0.3 * PIXEL_M * x + 0.1 * PIXEL_M * y).astype(np.float32),
        }
    rasters["slope"] = slope_deg(rasters["dem"], PIXEL_M, PIXEL_M)
    return rasters


def random_block(row: int, col: int, h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """Wrapped ramps + noise for pixels [row, row + h) x [col, col + w) of a scene."""
    y, x = np.mgrid[row : row + h, col : col + w].astype(np.float32)
    values = 0.013 * x + 0.007 * y + rng.normal(0, 0.6, (h, w)).astype(np.float32)
    return (np.mod(values + np.pi, 2 * np.pi) - np.pi).astype(np.float32)


def write_geotiffs(folder: Path, rasters: dict[str, np.ndarray]) -> dict[str, Path]:
    """The scene as the GeoTIFFs a user ingests: phase (NaN where invalid), coherence and DEM."""
    import rasterio

    folder.mkdir(parents=True, exist_ok=True)
    phase = np.where(rasters["valid"] != 0, rasters["phase"], np.float32(np.nan)).astype(np.float32)
    layers = {"phase": phase, "coherence": rasters["coherence"], "dem": rasters["dem"]}
    profile = geotiff_profile(*phase.shape)
    paths = {}
    for name, values in layers.items():
        paths[name] = folder / f"{name}.tif"
        with rasterio.open(paths[name], "w", **profile) as dst:
            dst.write(values.astype(np.float32), 1)
            if name == "phase":  # the GAMMA-style tags a processor writes
                dst.update_tags(
                    WAVELENGTH_METRES=str(WAVELENGTH_M), FIRST_DATE="2024-01-01", SECOND_DATE="2024-02-12"
                )
    return paths


def scene_blocks(rasters: dict[str, np.ndarray]) -> Blocks:
    """``blocks(row, col, h, w)`` cutting every raster of an in-memory scene."""

    def blocks(r: int, c: int, h: int, w: int) -> dict[str, np.ndarray]:
        return {name: array[r : r + h, c : c + w] for name, array in rasters.items()}

    return blocks


def write_scene(store: Store, scene_id: str, size: int, names: list[str], blocks: Blocks) -> None:
    """Publish a ``size`` x ``size`` scene of arrays ``names`` written block by block from
    ``blocks(row, col, h, w) -> {name: block}``."""
    from affine import Affine
    from pyproj import CRS

    from scanner.geo import GeoGrid, PixelWindow
    from scanner.io.store import SceneWriter

    grid = GeoGrid(
        size, size, Affine(PIXEL_M, 0, 300_000.0, 0, -PIXEL_M, 4_500_000.0), CRS.from_epsg(32654).to_wkt()
    )
    with store.staging(store.layout.scene(scene_id)) as tmp:
        writer = SceneWriter(tmp, grid, names)
        step = 2000
        for row in range(0, size, step):
            for col in range(0, size, step):
                h, w = min(step, size - row), min(step, size - col)
                for name, block in blocks(row, col, h, w).items():
                    writer.write(name, PixelWindow(row, col, h, w), block)
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


# ---------------------------------------------------------------------------------------------- PyTorch


def torch_twin(model_config, *, softmax: bool = False):
    """The PyTorch twin of ``scanner.nn.model``'s network for ``model_config`` (same shapes, NCHW):
    ``alexnet`` conv1 11x11/4 unpadded, conv2-5 padded like SAME, pools 3/2, fc x2 with dropout;
    ``alexnet_scan`` conv1 10x10/5, pool 3/2, conv2 5x5, pool 3/1, conv3-5 3x3, all VALID, fc1 2x2, fc2/fc3
    1x1. With ``softmax`` the class probabilities come out (the per-window inference baseline), else the
    logits (training)."""
    from torch import nn

    from scanner.nn.model import NUM_CLASSES, alexnet_feature_side

    c1, c2, c3, c4, c5 = model_config.conv_widths
    cin, fc, p = model_config.in_channels, model_config.fc_width, model_config.dropout
    relu = nn.ReLU
    if model_config.name == "alexnet":  # with configs/paper.py's Caffe options: groups, LRN, ceil-mode pools
        ceil = model_config.ceil_pool
        side = alexnet_feature_side(ceil_pool=ceil)
        g = 2 if model_config.groups else 1

        def norm():
            return nn.LocalResponseNorm(5, 1e-4, 0.75, 1.0) if model_config.lrn else nn.Identity()

        layers = [
            nn.Conv2d(cin, c1, 11, stride=4), relu(), norm(), nn.MaxPool2d(3, 2, ceil_mode=ceil),
            nn.Conv2d(c1, c2, 5, padding=2, groups=g), relu(), norm(), nn.MaxPool2d(3, 2, ceil_mode=ceil),
            nn.Conv2d(c2, c3, 3, padding=1), relu(),
            nn.Conv2d(c3, c4, 3, padding=1, groups=g), relu(),
            nn.Conv2d(c4, c5, 3, padding=1, groups=g), relu(), nn.MaxPool2d(3, 2, ceil_mode=ceil),
            nn.Flatten(), nn.Linear(c5 * side * side, fc), relu(), nn.Dropout(p),
        ]  # fmt: skip
    else:
        layers = [
            nn.Conv2d(cin, c1, 10, stride=5), relu(), nn.MaxPool2d(3, 2),
            nn.Conv2d(c1, c2, 5), relu(), nn.MaxPool2d(3, 1),
            nn.Conv2d(c2, c3, 3), relu(), nn.Conv2d(c3, c4, 3), relu(), nn.Conv2d(c4, c5, 3), relu(),
            nn.Conv2d(c5, fc, 2), relu(), nn.Dropout(p), nn.Flatten(),
        ]  # fmt: skip
    layers += [nn.Linear(fc, fc), relu(), nn.Dropout(p), nn.Linear(fc, NUM_CLASSES)]
    if softmax:
        layers.append(nn.Softmax(dim=1))
    return nn.Sequential(*layers)


def torch_device(torch):
    """CUDA (autotuned cuDNN, TF32 matmuls like JAX's default precision) when JAX runs on a GPU, else the CPU
    with every thread."""
    if on_gpu() and torch.cuda.is_available():
        torch.backends.cudnn.benchmark = True
        torch.set_float32_matmul_precision("high")
        return torch.device("cuda")
    torch.set_num_threads(os.cpu_count() or 1)
    return torch.device("cpu")


def torch_sync(torch, device) -> None:
    """Wait for queued CUDA work, so the clock reads the work done (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize()
