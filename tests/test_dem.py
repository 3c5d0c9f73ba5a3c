"""scanner.core.dem: the local layover/shadow test and slope from Horn's gradient."""

from __future__ import annotations

import math

import numpy as np

from scanner.core.dem import layover_shadow


def test_layover_and_shadow_masks():
    pixel = type("P", (), {"x_m": 28.0, "y_m": 28.0})()
    x = np.arange(12) * 28.0
    steep_up_east = np.tile(x * math.tan(math.radians(50)), (12, 1))
    look_east = {"incidence_deg": 38.7, "look_azimuth_deg": 80.0}
    assert layover_shadow(steep_up_east, pixel, **look_east).all()  # faces the sensor, steeper than incidence
    steeper = np.tile(x * math.tan(math.radians(60)), (12, 1))
    assert layover_shadow(steeper[:, ::-1], pixel, **look_east).all()  # faces away, 60 > 90 - 38.7: shadow
    assert not layover_shadow(steep_up_east[:, ::-1], pixel, **look_east).any()  # faces away, 50 < 51.3
    gentle = np.tile(x * math.tan(math.radians(20)), (12, 1))
    assert not layover_shadow(gentle, pixel, **look_east).any()
    assert not layover_shadow(gentle[:, ::-1], pixel, **look_east).any()
