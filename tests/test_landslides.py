"""``scanner.sim.landslides``: placement on slope-class cells, sizes, motion and the stepped margin."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
import sim_fixtures
from sim_fixtures import SMALL

from scanner.core.phase import block_px, expand_blocks, slope_class_blocks, slope_deg
from scanner.sim.config import SynthConfig
from scanner.sim.region import plan_region
from scanner.sim.scene import VISIBLE_FRINGE_FRACTION


@pytest.fixture(scope="module")
def small_region():
    return sim_fixtures.small_region()


def test_landslides_lie_on_slope_class_cells_inside_every_scene(small_region):
    plan = small_region.plan
    assert len(plan.bodies) >= 2
    block = block_px(SMALL.pixel_size_m)
    for scene in small_region.scenes:
        grid = scene.spec.grid
        classes = expand_blocks(
            slope_class_blocks(slope_deg(scene.dem, 28.0, 28.0), block), block, grid.shape
        )
        left, bottom, right, top = grid.bounds
        rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
        xs, ys = grid.transform * (cols + 0.5, rows + 0.5)
        for body in plan.bodies:
            polygon = body.shape()
            assert shapely.box(left, bottom, right, top).contains(polygon)
            inside = shapely.contains_xy(polygon, xs, ys)
            assert inside.sum() > 0
            assert np.all(classes[inside] == 1), body.body_id


def test_bodies_area_motion_and_time_growth(small_region):
    config = small_region.plan.config
    for body in small_region.plan.bodies:
        assert config.body_area_km2[0] * 1e6 * 0.98 <= body.area_m2 <= config.body_area_km2[1] * 1e6 * 1.02
        assert body.motion_enu[2] < 0 and math.isclose(np.linalg.norm(body.motion_enu), 1.0, rel_tol=1e-6)
    spans = {s.spec.scene_id: s.spec.span_days for s in small_region.scenes}
    for scene in small_region.scenes:
        for truth in scene.truths:
            assert config.downslope_m[0] - 1e-9 <= truth.downslope_m <= config.downslope_m[1] + 1e-9
            assert abs(truth.los_peak_m) <= truth.downslope_m + 1e-12
            if truth.visible:
                assert abs(truth.los_peak_m) >= VISIBLE_FRINGE_FRACTION * config.fringe_m
    by_body: dict[str, list[tuple[int, float]]] = {}
    for scene in small_region.scenes:
        for truth in scene.truths:
            by_body.setdefault(truth.body_id, []).append((spans[scene.spec.scene_id], truth.downslope_m))
    for pairs in by_body.values():
        pairs.sort()
        assert all(a[1] <= b[1] + 1e-12 for a, b in zip(pairs, pairs[1:], strict=False))


def test_landslide_signal_shows_a_sharp_step_at_the_margin():
    config = SynthConfig(size_px=400, scenes=1, seed=11, bodies_per_100km2=4.0)
    plan = plan_region(config)
    body = max(plan.bodies, key=lambda b: b.area_m2)
    inside = body.profile > 0
    ring = inside & ~np.pad(inside, 1)[2:, 1:-1] | inside & ~np.pad(inside, 1)[:-2, 1:-1]
    assert body.profile.max() == pytest.approx(1.0)
    assert body.profile[ring].min() >= 0.25
    assert np.all(body.profile[~inside] == 0)
