"""A small simulated region shared by the simulator's test modules (built once per test process)."""

from __future__ import annotations

import functools

from scanner.sim.config import SynthConfig
from scanner.sim.scene import Region, simulate_region

SMALL = SynthConfig(size_px=400, scenes=3, seed=7, bodies_per_100km2=4.0)


@functools.cache
def small_region() -> Region:
    """``SMALL`` planned and simulated (read-only: tests must not modify its arrays)."""
    return simulate_region(SMALL)
