"""The radar sensors fringescan knows: wavelength and typical geometry (a pure table, no I/O).

The wavelength is what matters to a model: phase per metre of line-of-sight motion is ``4 pi / wavelength``,
so one and the same landslide draws 4.25x more fringes at C band (Sentinel-1, 0.0555 m) than at L band
(0.236 m). Whether a scene fits a model is decided by physics (``fringe_density_ratio`` and
``scanner.geo.WAVELENGTH_TOLERANCE``), never by the sensor's name; the name only supplies the wavelength and
the typical geometry when a product does not record them.

``ingest --sensor NAME`` takes a name or alias of ``SENSORS`` (any case, ``-``/``_``/spaces ignored);
``ingest --wavelength-m M`` covers any other radar.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from scanner.errors import UsageError, problem

SPEED_OF_LIGHT_M_S = 299_792_458.0


@dataclass(frozen=True, kw_only=True)
class Band:
    """A radar band: the wavelengths products of that band record (``low_m``..``high_m``)."""

    name: str
    low_m: float
    high_m: float

    def holds(self, wavelength_m: float) -> bool:
        return self.low_m <= wavelength_m <= self.high_m


L_BAND = Band(name="L", low_m=0.225, high_m=0.250)
"""L band: the 1215-1300 MHz allocation is 0.2306-0.2467 m; products record 0.229 (ALOS-2 as quoted by some
processors) to 0.2424 m (PALSAR-2's 1236.5 MHz mode)."""

C_BAND = Band(name="C", low_m=0.053, high_m=0.058)
"""C band: Sentinel-1, ERS, Envisat, RADARSAT (5.3-5.405 GHz: 0.0555-0.0566 m)."""


@dataclass(frozen=True, kw_only=True)
class Sensor:
    """One radar: its nominal wavelength (used when a product records none), band and typical geometry."""

    name: str
    title: str
    aliases: tuple[str, ...]
    wavelength_m: float
    band: Band
    incidence_deg: tuple[float, float]
    """Incidence angles of its interferometric modes (near, far)."""
    revisit_days: int
    typical_spacing_m: str
    """Pixel spacing of its usual geocoded interferograms."""


SENSORS: tuple[Sensor, ...] = (
    Sensor(
        name="alos-palsar",
        title="ALOS PALSAR (2006-2011)",
        aliases=("alos", "alos1", "palsar", "alos-1"),
        wavelength_m=SPEED_OF_LIGHT_M_S / 1270e6,  # 0.2361 m
        band=L_BAND,
        incidence_deg=(36.0, 41.0),
        revisit_days=46,
        typical_spacing_m="10-30 m (FBS/FBD stripmap, geocoded by GAMMA or ISCE)",
    ),
    Sensor(
        name="alos2-palsar2",
        title="ALOS-2 PALSAR-2 (2014-)",
        aliases=("alos2", "alos-2", "palsar2", "palsar-2"),
        wavelength_m=SPEED_OF_LIGHT_M_S / 1257.5e6,  # 0.2384 m; modes at 1236.5 and 1278.5 MHz too
        band=L_BAND,
        incidence_deg=(30.0, 45.0),
        revisit_days=14,
        typical_spacing_m="3-10 m stripmap, 25-100 m ScanSAR (multilooked or resampled to the model's spacing on ingest)",
    ),
    Sensor(
        name="alos4-palsar3",
        title="ALOS-4 PALSAR-3 (2024-)",
        aliases=("alos4", "alos-4", "palsar3", "palsar-3"),
        wavelength_m=SPEED_OF_LIGHT_M_S / 1257.5e6,
        band=L_BAND,
        incidence_deg=(30.0, 45.0),
        revisit_days=14,
        typical_spacing_m="3-10 m stripmap (200 km swath)",
    ),
    Sensor(
        name="nisar-l",
        title="NISAR L-SAR (2025-)",
        aliases=("nisar", "nisar-lsar", "nisarl"),
        wavelength_m=SPEED_OF_LIGHT_M_S / 1257.5e6,
        band=L_BAND,
        incidence_deg=(33.0, 47.0),
        revisit_days=12,
        typical_spacing_m="GUNW: 20 m wrapped interferogram (resampled to 28 m on ingest), 80 m unwrapped phase",
    ),
    Sensor(
        name="sentinel-1",
        title="Sentinel-1 C-SAR (2014-)",
        aliases=("s1", "sentinel1", "s1a", "s1b", "s1c", "sentinel-1a", "sentinel-1b", "sentinel-1c"),
        wavelength_m=0.05546576,  # 5.405 GHz
        band=C_BAND,
        incidence_deg=(29.0, 46.0),
        revisit_days=12,
        typical_spacing_m="about 100 m LiCSAR (0.001 deg), 40 or 80 m HyP3 (INT40, INT80)",
    ),
)

BANDS = (L_BAND, C_BAND)


def _key(text: str) -> str:
    return re.sub(r"[\s_\-.]", "", text.lower())


_BY_KEY = {_key(alias): sensor for sensor in SENSORS for alias in (sensor.name, *sensor.aliases)}


def sensor_names() -> tuple[str, ...]:
    return tuple(sensor.name for sensor in SENSORS)


def get_sensor(name: str) -> Sensor:
    """The sensor called ``name`` (a name or alias, any case); UsageError listing the known ones otherwise."""
    sensor = _BY_KEY.get(_key(name))
    if sensor is None:
        raise UsageError(
            problem(
                f"sensor {name!r}",
                expected=f"one of {', '.join(sensor_names())}",
                found="an unknown sensor",
                fix="pass one of those with --sensor, or give the radar's wavelength with --wavelength-m M",
            )
        )
    return sensor


def band_of(wavelength_m: float) -> Band | None:
    """The band a wavelength lies in, or None."""
    return next((band for band in BANDS if band.holds(wavelength_m)), None)


def phase_per_metre(wavelength_m: float) -> float:
    """Radians of interferometric phase per metre of line-of-sight motion (two-way path)."""
    return 4.0 * math.pi / wavelength_m


def fringe_density_ratio(
    *, scene_wavelength_m: float, scene_pixel_m: float, model_wavelength_m: float, model_pixel_m: float
) -> float:
    """How many times the model's fringe density a scene shows: phase per metre of line-of-sight motion, per
    pixel, of the scene over that of the model's training data. 1.0 is an exact fit; a C-band scene at the
    model's spacing against an L-band model is 4.25."""
    scene = phase_per_metre(scene_wavelength_m) * scene_pixel_m
    model = phase_per_metre(model_wavelength_m) * model_pixel_m
    return scene / model
