"""``scanner.sim.terrain``: the fractal DEM has steep mountains, plains and sea."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.core.phase import block_px, slope_class_blocks, slope_deg
from scanner.sim.terrain import simulate_dem


def test_dem_has_steep_mountains_plains_and_sea():
    dem, water = simulate_dem((700, 700), 28.0, np.random.default_rng(2), sea_fraction=0.1)
    slope = slope_deg(dem, 28.0, 28.0)
    land = ~water
    assert (slope[land] > 40).mean() > 0.01
    assert (slope[land] < 5).mean() > 0.1
    assert water.mean() == pytest.approx(0.1, abs=0.01)
    assert np.all(dem[water] == 0)
    assert dem.max() - np.median(dem[land]) > 500
    classes = slope_class_blocks(slope, block_px(28.0))
    assert 0.2 < (classes == 1).mean() < 0.9
