"""``scanner.sim.radar``: layover and shadow from the pass geometry, and the line of sight."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scanner.sim.radar import layover_shadow, los_vector


def test_layover_and_shadow_from_pass_geometry():
    ground = np.arange(60, dtype=np.float64) * 28.0
    # a 50 degree slope facing west (towards an ascending, east-looking radar) from 600 m to 900 m, then a plateau
    facing_west = np.tile(np.clip(ground - 600, 0, 300) * math.tan(math.radians(50)), (3, 1))
    layover_asc, _ = layover_shadow(facing_west, 28.0, 35.0, looks_east=True)
    layover_desc, shadow_desc = layover_shadow(facing_west, 28.0, 35.0, looks_east=False)
    assert layover_asc[:, 22:32].all()
    assert not layover_asc[:, :13].any() and not layover_asc[:, 45:].any()
    assert not layover_desc.any() and not shadow_desc.any()
    cliff = np.tile(np.where(ground < 840, 800.0, 0.0), (3, 1))
    _, shadow_asc = layover_shadow(cliff, 28.0, 35.0, looks_east=True)
    beyond = int(800 * math.tan(math.radians(35)) / 28.0)
    assert shadow_asc[:, 30 : 30 + beyond - 1].all() and not shadow_asc[:, :29].any()


def test_los_vector_points_up_to_the_radar():
    ascending = los_vector(36.0, 350.0)
    descending = los_vector(36.0, 190.0)
    for los in (ascending, descending):
        assert np.linalg.norm(los) == pytest.approx(1.0)
        assert los[2] == pytest.approx(math.cos(math.radians(36.0)))
    assert ascending[0] < 0 < descending[0]
