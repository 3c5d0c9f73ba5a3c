"""Ingest benchmarks: peak memory of streaming a big scene, global-filter speed, and filter attenuation.

    .venv/bin/python -m tools.bench.ingest                    # all three, 20,000 x 20,000 px (a few minutes)
    .venv/bin/python -m tools.bench.ingest --size 5000 --only memory

memory: writes a float32 GeoTIFF of ``size`` x ``size`` px (wrapped ramps + noise, rasterio windowed writes),
  ingests it in a child process (``fringescan ingest``) and reports the child's peak RSS (ru_maxrss). A small
  2,000 x 2,000 scene is ingested the same way first, so the two peaks show memory does not grow with size.
speed: ``scanner.core.phase.global_filter`` on 2,500 x 2,500 px against the first implementation (summed-area
  table with fancy indexing, int64 phasors at 2**20), same process, medians of 5, and the ratio. Then the
  whole ``ingest_scene`` of the benchmark scene (``tools.bench.common``'s simulator scene, seed 7, as the scan
  benchmark's end-to-end run ingests it: phase + coherence + DEM GeoTIFFs on one 28 m grid), median of 5 after
  a warm-up, with a profile breakdown of one more run. The first ingest (zarr-python chunk writes, coherence
  and DEM warped) took 0.9-1.0 s here; it is no longer in the tree, so that figure is quoted, not re-measured.
attenuation: for a 0.5, 1 and 2 km^2 landslide (a round cos^2-tapered bowl, 1 rad at the centre, 0 at the rim)
  at 28 m, the least-squares gain of the filtered phase on the true phase inside the body for each filter size
  (500, 1000, 2000, 3000 m): 1 = kept whole, 0 = removed; attenuation = 1 - gain.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import rasterio

from scanner.core.phase import filter_width_px, global_filter, wrap
from tools.bench.common import (
    JAPAN_KM2,
    PIXEL_M,
    SCENE_SEED,
    child_peak_rss_mib,
    geotiff_profile,
    peak_rss_mib,
    synthetic_scene,
    write_geotiffs,
)


def write_big_scene(path: Path, size: int, *, block: int = 1024, seed: int = 0) -> Path:
    """A ``size`` x ``size`` float32 wrapped-phase GeoTIFF, written block by block (memory stays small)."""
    rng = np.random.default_rng(seed)
    with rasterio.open(path, "w", **geotiff_profile(size, size, BIGTIFF="YES")) as dst:
        for row in range(0, size, block):
            for col in range(0, size, block):
                h, w = min(block, size - row), min(block, size - col)
                y, x = np.mgrid[row : row + h, col : col + w].astype(np.float32)
                values = 0.013 * x + 0.007 * y + rng.normal(0, 0.3, (h, w)).astype(np.float32)
                dst.write(wrap(values.astype(np.float32)), 1, window=rasterio.windows.Window(col, row, w, h))
    return path


def bench_memory(size: int, work: Path) -> None:
    fringescan = str(Path(sys.executable).with_name("fringescan"))
    for n in (2000, size):
        tif = write_big_scene(work / f"big{n}.phase.tif", n)
        peak, wall = child_peak_rss_mib([fringescan, "ingest", str(tif), "--store", str(work / f"store{n}")])
        print(
            f"memory: ingest {n} x {n} px ({tif.stat().st_size / 2**30:.2f} GiB input): "
            f"peak RSS {peak:,.0f} MiB, {wall:.0f} s, {n * n / wall / 1e6:.1f} Mpx/s "
            f"({n * n * (PIXEL_M / 1000) ** 2 / wall:,.0f} km2/s)"
        )
        tif.unlink()


def first_filter(phase: np.ndarray, valid: np.ndarray, *, width_px: int) -> np.ndarray:
    """The first global_filter (baseline): 2-D summed-area table gathered with fancy indexing, 2**20 phasors."""
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0.0).astype(np.float64)
    re = np.where(usable, np.rint(np.cos(safe) * (1 << 20)), 0).astype(np.int64)
    im = np.where(usable, np.rint(np.sin(safe) * (1 << 20)), 0).astype(np.int64)
    reach = width_px // 2

    def box(values: np.ndarray) -> np.ndarray:
        height, width = values.shape
        table = np.zeros((height + 1, width + 1), dtype=np.int64)
        np.cumsum(np.cumsum(values, axis=0, dtype=np.int64), axis=1, out=table[1:, 1:])
        y0 = np.clip(np.arange(height) - reach, 0, height)[:, None]
        y1 = np.clip(np.arange(height) + reach + 1, 0, height)[:, None]
        x0 = np.clip(np.arange(width) - reach, 0, width)[None, :]
        x1 = np.clip(np.arange(width) + reach + 1, 0, width)[None, :]
        return table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]

    low = np.arctan2(box(im).astype(np.float64), box(re).astype(np.float64))
    return np.where(usable, wrap((safe - low).astype(np.float32)), np.float32(np.nan)).astype(np.float32)


def bench_speed(repeats: int = 5) -> None:
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:2500, 0:2500]
    phase = wrap((0.01 * x + 0.004 * y + rng.normal(0, 0.5, (2500, 2500))).astype(np.float32))
    valid = (rng.random(phase.shape) > 0.05).astype(np.uint8)
    width = filter_width_px(2000, PIXEL_M)
    times = {}
    for name, fn in (("first", first_filter), ("current", global_filter)):
        runs = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn(phase, valid, width_px=width)
            runs.append(time.perf_counter() - start)
        times[name] = statistics.median(runs)
    print(
        f"speed: global_filter 2500 x 2500 px, width {width} px: first {times['first']:.3f} s, "
        f"current {times['current']:.3f} s, ratio {times['first'] / times['current']:.2f}x "
        f"(national coverage ~{JAPAN_KM2 / 4_900 * times['current'] / 60:.1f} min of filtering)"
    )


INGEST_STAGES = {
    "read phase (GDAL)": ("readers.py", "read_phase"),
    "read coherence + DEM": ("ingest.py", "_aux_window"),
    "Horn gradient (numba)": ("kernels.py", "horn_gradient"),
    "slope from it (numpy hypot, arctan)": ("ingest.py", "slope_from_gradient"),
    "hash the input files": ("readers.py", "sha256_file"),
    "queue chunk writes": ("store.py", "write"),
    "wait for chunk writes": ("store.py", "finish"),
}
"""Profile rows of the ingest breakdown: label -> (file name, function name), cumulative seconds."""


def bench_scene_ingest(work: Path, size: int = 2500, repeats: int = 5) -> None:
    from scanner.io.store import Store
    from scanner.pipeline.ingest import IngestRequest, ingest_scene

    # the benchmark scene and its GeoTIFFs, exactly as the scan benchmark's end-to-end run ingests them
    tiffs = write_geotiffs(work / "tiff", synthetic_scene(size, SCENE_SEED))
    store = Store.create(work / "ingest-store")

    def run(index: int) -> float:
        request = IngestRequest(
            phase=tiffs["phase"], coherence=tiffs["coherence"], dem=tiffs["dem"], scene_id=f"s{index}"
        )
        start = time.perf_counter()
        ingest_scene(store, request)
        return time.perf_counter() - start

    run(0)  # warm-up: compiled kernels, GDAL and tensorstore set-up
    seconds = statistics.median(run(index) for index in range(1, repeats + 1))
    km2 = size * size * (PIXEL_M / 1000) ** 2
    print(
        f"speed: ingest_scene {size} x {size} px (phase + coherence + DEM, 28 m): median {seconds:.3f} s "
        f"({size * size / seconds / 1e6:.1f} Mpx/s, {km2 / seconds:,.0f} km2/s; national coverage "
        f"~{JAPAN_KM2 / km2 * seconds / 60:.1f} min of ingest); first implementation 0.9-1.0 s (quoted)"
    )
    profile = cProfile.Profile()
    profile.runcall(run, repeats + 1)
    stats = pstats.Stats(profile).stats
    total = sum(row[2] for row in stats.values())
    parts = []
    for label, (file_name, function) in INGEST_STAGES.items():
        cumulative = sum(
            row[3] for (path, _, name), row in stats.items() if name == function and path.endswith(file_name)
        )
        parts.append(f"{label} {cumulative:.3f} s")
    print(f"speed: ingest profile (one run, {total:.3f} s under cProfile): " + "; ".join(parts))


def landslide_body(area_km2: float, size: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """A cos^2-tapered deformation bowl of ``area_km2`` (1 at the centre, 0 at the rim) and its disc mask."""
    y, x = np.mgrid[0:size, 0:size] * PIXEL_M
    radius = np.hypot(x - size / 2 * PIXEL_M, y - size / 2 * PIXEL_M) / math.sqrt(area_km2 * 1e6 / math.pi)
    return np.where(radius < 1, np.cos(np.pi * radius / 2) ** 2, 0.0), radius < 1


def body_gain(area_km2: float, filter_size_m: float, amplitude_rad: float = 1.0) -> float:
    """Least-squares gain of the filtered body phase on the true one inside the body (1 = kept whole)."""
    shape, disc = landslide_body(area_km2)
    signal = amplitude_rad * shape
    kept = global_filter(
        wrap(signal.astype(np.float32)),
        np.ones(shape.shape, np.uint8),
        width_px=filter_width_px(filter_size_m, PIXEL_M),
    ).astype(np.float64)
    truth = signal[disc] - signal[disc].mean()
    got = kept[disc] - kept[disc].mean()
    return float(np.dot(got, truth) / np.dot(truth, truth))


def bench_attenuation() -> None:
    print("attenuation (1 - gain) of a cos^2 landslide bowl of 1 rad, 28 m pixels:")
    print("| body | 500 m | 1000 m | 2000 m | 3000 m |")
    print("|---|---|---|---|---|")
    for area in (0.5, 1.0, 2.0):
        cells = [f"{1 - body_gain(area, size):.2f}" for size in (500, 1000, 2000, 3000)]
        print(f"| {area:g} km2 | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=20_000, help="side of the big scene in px")
    parser.add_argument("--only", choices=("memory", "speed", "attenuation"))
    parser.add_argument("--workdir", type=Path, help="scratch directory (default: a temporary one)")
    args = parser.parse_args()
    if args.only in (None, "attenuation"):
        bench_attenuation()
    if args.only in (None, "speed"):
        bench_speed()
        with tempfile.TemporaryDirectory(dir=args.workdir) as work:
            bench_scene_ingest(Path(work))
    if args.only in (None, "memory"):
        with tempfile.TemporaryDirectory(dir=args.workdir) as work:
            bench_memory(args.size, Path(work))
    print(f"bench process peak RSS {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    main()
