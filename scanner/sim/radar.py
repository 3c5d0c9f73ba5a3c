"""Radar acquisition geometry: tracks, the line of sight, layover and shadow, and local incidence.

Pure numpy. Vectors are (east, north, up); the radar looks right of its heading.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

PASS_HEADING_DEG = {"ascending": 350.0, "descending": 190.0}
"""Satellite heading (clockwise from north) of ALOS-like sun-synchronous passes; the radar looks right."""

SLANT_RANGE_M = 870_000.0
"""Slant range from an ALOS-like orbit (692 km altitude) to the ground at about 36 degrees incidence."""


@dataclass(frozen=True)
class Track:
    """One satellite track (path) and frame: pass direction, incidence and heading."""

    pass_direction: str
    orbit: int
    frame: int
    incidence_deg: float
    heading_deg: float


def los_vector(incidence_deg: float, heading_deg: float) -> np.ndarray:
    """Unit vector (east, north, up) from the ground to a right-looking radar."""
    incidence = math.radians(incidence_deg)
    azimuth = math.radians(heading_deg - 90.0)
    return np.array(
        [
            math.sin(incidence) * math.sin(azimuth),
            math.sin(incidence) * math.cos(azimuth),
            math.cos(incidence),
        ]
    )


def layover_shadow(
    dem: np.ndarray, pixel_size_m: float, incidence_deg: float, looks_east: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Layover and shadow masks along image rows (range lines taken east-west; the ~10 degree heading tilt
    is neglected here). Shadow: the terrain hides a pixel from the radar beam. Layover: slant range is not
    monotonic along the range line, so pixels fold onto others."""
    z = dem.astype(np.float64)
    if not looks_east:
        z = z[:, ::-1]
    incidence = math.radians(incidence_deg)
    ground_m = np.arange(z.shape[1], dtype=np.float64) * pixel_size_m
    beam = z + ground_m / math.tan(incidence)
    shadow = beam < np.maximum.accumulate(beam, axis=1) - 1e-6
    slant = ground_m * math.sin(incidence) - z * math.cos(incidence)
    later_min = np.minimum.accumulate(slant[:, ::-1], axis=1)[:, ::-1]
    layover = (slant < np.maximum.accumulate(slant, axis=1) - 1e-6) | (slant > later_min + 1e-6)
    if not looks_east:
        shadow, layover = shadow[:, ::-1], layover[:, ::-1]
    return layover, shadow & ~layover


def local_incidence_deg(dem: np.ndarray, pixel_size_m: float, los_enu: np.ndarray) -> np.ndarray:
    """Angle between the terrain normal and the line of sight (degrees)."""
    gy, gx = np.gradient(dem.astype(np.float32), np.float32(pixel_size_m))
    normal = np.stack([-gx, gy, np.ones_like(gx)])
    cosine = np.tensordot(los_enu.astype(np.float32), normal, axes=1) / np.linalg.norm(normal, axis=0)
    return np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0)))
