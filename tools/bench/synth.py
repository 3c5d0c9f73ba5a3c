"""Benchmark: simulate one 2500 x 2500 scene at 28 m with every component (issue 2, target <= 20 s).

Every repetition builds the area from scratch (fractal DEM, land cover, DEM error, landslide placement) and
then the scene (deformation, turbulence, stratified delay, orbital ramp, DEM-error term, coherence,
decorrelation noise, layover/shadow, wrapping). Prints each repetition and the median; a numpy FFT of the
same size is timed in the same run as a machine-speed reference (the machines are shared and noisy).

    .venv/bin/python -m tools.bench.synth [--size 2500] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from scanner.sim.config import SynthConfig
from scanner.sim.region import plan_region
from scanner.sim.scene import simulate_scene


def time_scene(size_px: int, seed: int) -> tuple[float, float, int]:
    """Seconds to plan the area and to simulate the scene, and the number of landslide bodies."""
    start = time.perf_counter()
    plan = plan_region(SynthConfig(size_px=size_px, scenes=1, seed=seed))
    planned = time.perf_counter()
    simulate_scene(plan, plan.specs[0])
    return planned - start, time.perf_counter() - planned, len(plan.bodies)


def time_fft(size_px: int) -> float:
    data = np.random.default_rng(0).standard_normal((size_px, size_px)).astype(np.complex64)
    start = time.perf_counter()
    np.fft.ifft2(data)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2500)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    totals, ffts = [], []
    for repeat in range(args.repeats):
        plan_s, scene_s, bodies = time_scene(args.size, seed=repeat)
        ffts.append(time_fft(args.size))
        totals.append(plan_s + scene_s)
        print(
            f"repeat {repeat}: area {plan_s:.2f} s + scene {scene_s:.2f} s = {plan_s + scene_s:.2f} s "
            f"({bodies} bodies); reference complex FFT {ffts[-1]:.2f} s"
        )
    median = statistics.median(totals)
    km2 = (args.size * 28.0 / 1000.0) ** 2
    print(
        f"median {median:.2f} s for one {args.size} x {args.size} scene ({km2:,.0f} km2, {km2 / median:,.0f} "
        f"km2/s); target <= 20 s; median reference FFT {statistics.median(ffts):.2f} s "
        f"(ratio {median / statistics.median(ffts):.1f}x)"
    )


if __name__ == "__main__":
    main()
