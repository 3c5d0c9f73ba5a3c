"""``scanner.sim.region``: areas at different map locations, a user DEM, scene specs that overlap but differ."""

from __future__ import annotations

import numpy as np
import shapely

from scanner.core.phase import block_px
from scanner.sim.config import SynthConfig
from scanner.sim.region import plan_region
from scanner.sim.scene import simulate_region


def test_areas_sit_at_different_map_locations():
    plan = plan_region(SynthConfig(size_px=200, scenes=3, areas=2, seed=0))
    assert [a.area_id for a in plan.areas] == ["area0", "area1"]
    box0, box1 = (shapely.box(*a.grid.bounds) for a in plan.areas)
    assert not box0.intersects(box1)
    assert sorted(s.area_id for s in plan.specs) == ["area0", "area0", "area1"]
    for spec in plan.specs:
        area = plan.area(spec.area_id)
        assert shapely.box(*area.grid.bounds).contains(shapely.box(*spec.grid.bounds))


def test_user_dem_replaces_the_fractal_terrain():
    block = block_px(28.0)
    ramp = np.add.outer(np.arange(200 + block), np.zeros(200 + block)) * 28.0 * 0.5
    region = simulate_region(SynthConfig(size_px=200, scenes=1, seed=0), dem=ramp.astype(np.float32) + 10)
    np.testing.assert_allclose(region.plan.areas[0].dem, ramp + 10)
