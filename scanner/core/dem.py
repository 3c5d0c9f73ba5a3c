"""Terrain from a DEM for ingest: slope in degrees and the local layover/shadow mask, both from Horn's gradient
(``scanner.core.kernels.horn_gradient``; pure).

The simulator's own layover and shadow (``scanner.sim.radar.layover_shadow``) trace each range line instead:
it is the ground truth the simulated interferograms are made with, this is the test a user's DEM gets.
"""

from __future__ import annotations

import math

import numpy as np

from scanner.core.kernels import horn_gradient
from scanner.geo import PixelSize


def layover_shadow(
    dem_halo: np.ndarray, pixel: PixelSize, *, incidence_deg: float, look_azimuth_deg: float
) -> np.ndarray:
    """Local layover/shadow mask (bool) from a DEM carrying a 1 px halo.

    With ``s`` the terrain slope angle along the ground look direction (positive where the ground rises away
    from the sensor, i.e. faces it): layover where ``s > incidence``, shadow where ``-s > 90 - incidence``.
    A local test: it ignores shadows cast by distant ridges.
    """
    gradient = horn_gradient(dem_halo, pixel.x_m, pixel.y_m)
    return layover_shadow_from_gradient(
        gradient, incidence_deg=incidence_deg, look_azimuth_deg=look_azimuth_deg
    )


def layover_shadow_from_gradient(
    gradient: tuple[np.ndarray, np.ndarray], *, incidence_deg: float, look_azimuth_deg: float
) -> np.ndarray:
    """``layover_shadow`` from a Horn gradient ``(dz/de, dz/dn)`` already computed (ingest shares it with slope)."""
    dz_de, dz_dn = gradient
    azimuth = math.radians(look_azimuth_deg)
    along = np.degrees(np.arctan(dz_de * math.sin(azimuth) + dz_dn * math.cos(azimuth)))
    with np.errstate(invalid="ignore"):
        return (along > incidence_deg) | (-along > 90.0 - incidence_deg)


def slope_from_gradient(dz_de: np.ndarray, dz_dn: np.ndarray) -> np.ndarray:
    """Slope in degrees (float32) from Horn's gradient: ``scanner.core.phase.slope_deg(halo)[1:-1, 1:-1]`` bit for
    bit (the same numpy expression; the sign of a component does not change ``hypot``)."""
    return np.degrees(np.arctan(np.hypot(dz_de, dz_dn))).astype(np.float32)
