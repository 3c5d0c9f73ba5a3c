"""What the simulator draws from: ``SynthConfig``, its validation, loading it and the seeded generators.

The defaults give the small demo region; the parameter choices are argued in ``docs/simulator.md``. Every
random draw of a region comes from ``seeded_rng(config, *path)``, one independent generator per (area,
scene, purpose), so no result depends on the order things are generated in.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

from scanner.config import apply_overrides, load_config, require
from scanner.geo import WINDOW_PX
from scanner.sim.radar import PASS_HEADING_DEG

TERRAIN_FAMILIES = ("fractal", "ridged", "mixed")
"""Terrain families: ``fractal`` (V-shaped valleys between rounded ridges, the home generator), ``ridged``
(sharp multi-octave ridges between rounded valleys) and ``mixed`` (each area draws one of the two)."""


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """Everything the simulator draws from; defaults give the small demo region (see docs/simulator.md)."""

    # Grid and region layout
    pixel_size_m: float = 28.0
    wavelength_m: float = 0.236
    size_px: int = 1000
    scenes: int = 4
    areas: int = 1
    seed: int = 0
    crs_epsg: int = 32654
    origin_x_m: float = 400_000.0
    origin_y_m: float = 4_000_000.0
    scene_shift_blocks: int = 1
    # Terrain
    mountain_fraction: float = 0.55
    sea_fraction: float = 0.04
    steep_slope_deg: float = 42.0
    # Landslides
    bodies_per_100km2: float = 1.3
    body_area_km2: tuple[float, float] = (0.16, 2.0)
    downslope_m: tuple[float, float] = (0.02, 0.15)
    elliptical_fraction: float = 0.4
    # Acquisition geometry and dates
    passes: tuple[str, ...] = ("ascending", "descending")
    incidence_deg: tuple[float, float] = (34.0, 39.0)
    first_acquisition: str = "2007-01-06"
    repeat_days: int = 46
    span_cycles: tuple[int, int] = (2, 6)
    perp_baseline_m: tuple[float, float] = (-1200.0, 1200.0)
    # Nuisance terms
    turbulence_rms_m: tuple[float, float] = (0.005, 0.03)
    turbulence_exponent: float = -8.0 / 3.0
    stratified_m_per_km: tuple[float, float] = (0.01, 0.06)
    ramp_m_per_km: tuple[float, float] = (0.0, 0.003)
    dem_error_rms_m: float = 4.0
    looks: int = 16
    coherence_max: float = 0.95
    vegetation_days: float = 400.0
    # Generator families and domain randomisation (docs/simulator.md, "Generator variants and domain
    # randomisation"). The defaults are the home generator, bit for bit: a range whose ends are equal draws
    # nothing, and every draw below comes from its own generator, so the streams above are never shifted.
    terrain: str = "fractal"
    relief_corner_km: tuple[float, float] = (8.0, 8.0)
    steep_slope_spread_deg: float = 0.0
    turbulence_exponent_spread: float = 0.0
    turbulence_anisotropy: tuple[float, float] = (1.0, 1.0)
    looks_range: tuple[int, int] = (0, 0)
    coherence_max_spread: float = 0.0
    coherence_patches: tuple[float, float] = (0.0, 0.0)
    filter_fraction: float = 0.0
    filter_alpha: tuple[float, float] = (0.5, 0.5)

    def __post_init__(self) -> None:
        require(
            isinstance(self.size_px, int) and self.size_px >= WINDOW_PX,
            "synth size_px",
            expected=f"an integer of at least {WINDOW_PX} px (one model window)",
            found=self.size_px,
            fix=f"use --size {WINDOW_PX} or more (the demo uses 1000)",
        )
        require(
            isinstance(self.scenes, int) and self.scenes >= 1,
            "synth scenes",
            expected="an integer >= 1",
            found=self.scenes,
            fix="use --scenes 4 or more",
        )
        require(
            isinstance(self.areas, int) and 1 <= self.areas <= self.scenes,
            "synth areas",
            expected=f"an integer between 1 and the number of scenes ({self.scenes})",
            found=self.areas,
            fix="give each area at least one scene",
        )
        require(
            self.pixel_size_m > 0 and self.wavelength_m > 0,
            "synth pixel_size_m and wavelength_m",
            expected="positive metres",
            found=(self.pixel_size_m, self.wavelength_m),
            fix="use 28.0 and 0.236 (ALOS/PALSAR L band)",
        )
        require(
            self.scene_shift_blocks >= 0,
            "synth scene_shift_blocks",
            expected=">= 0",
            found=self.scene_shift_blocks,
            fix="use 1",
        )
        require(
            0 <= self.mountain_fraction <= 1 and 0 <= self.sea_fraction <= 0.5,
            "synth terrain fractions",
            expected="mountain_fraction in [0, 1] and sea_fraction in [0, 0.5]",
            found=(self.mountain_fraction, self.sea_fraction),
            fix="use 0.55 and 0.04",
        )
        require(
            5 <= self.steep_slope_deg <= 80,
            "synth steep_slope_deg",
            expected="5..80 degrees",
            found=self.steep_slope_deg,
            fix="use 42",
        )
        require(
            self.bodies_per_100km2 >= 0,
            "synth bodies_per_100km2",
            expected=">= 0",
            found=self.bodies_per_100km2,
            fix="use 1.3",
        )
        for name in (
            "body_area_km2",
            "downslope_m",
            "incidence_deg",
            "span_cycles",
            "perp_baseline_m",
            "turbulence_rms_m",
            "stratified_m_per_km",
            "ramp_m_per_km",
            "relief_corner_km",
            "turbulence_anisotropy",
            "looks_range",
            "filter_alpha",
            "coherence_patches",
        ):
            low, high = getattr(self, name)
            require(
                low <= high,
                f"synth {name}",
                expected="a (low, high) pair with low <= high",
                found=(low, high),
                fix="swap the two values",
            )
        require(
            self.body_area_km2[0] > 0 and self.downslope_m[0] > 0 and self.span_cycles[0] >= 1,
            "synth body sizes, motion and spans",
            expected="positive lower bounds",
            found=(self.body_area_km2, self.downslope_m, self.span_cycles),
            fix="use the defaults",
        )
        require(
            self.downslope_m[1] / self.downslope_m[0] >= self.span_cycles[1] / self.span_cycles[0],
            "synth downslope_m vs span_cycles",
            expected="a motion range at least as wide (ratio) as the span range, so a constant rate fits both",
            found=(self.downslope_m, self.span_cycles),
            fix="narrow span_cycles or widen downslope_m",
        )
        require(
            len(self.passes) > 0 and all(p in PASS_HEADING_DEG for p in self.passes),
            "synth passes",
            expected=f"a non-empty subset of {tuple(PASS_HEADING_DEG)}",
            found=self.passes,
            fix="use ['ascending', 'descending']",
        )
        require(
            self.incidence_deg[0] >= 10 and self.incidence_deg[1] <= 60,
            "synth incidence_deg",
            expected="angles within 10..60 degrees",
            found=self.incidence_deg,
            fix="use [34, 39]",
        )
        require(
            self.looks >= 1 and 0 < self.coherence_max <= 1,
            "synth looks and coherence_max",
            expected="looks >= 1 and coherence_max in (0, 1]",
            found=(self.looks, self.coherence_max),
            fix="use 8 and 0.92",
        )
        require(
            -4.5 < self.turbulence_exponent < -1.0,
            "synth turbulence_exponent",
            expected="a power-law exponent between -4.5 and -1 (2-D spectrum)",
            found=self.turbulence_exponent,
            fix="use -8/3 (Hanssen's thin-layer regime)",
        )
        self._check_variation()
        require(
            _parse_date(self.first_acquisition) is not None,
            "synth first_acquisition",
            expected="an ISO date YYYY-MM-DD",
            found=self.first_acquisition,
            fix="use 2007-01-06",
        )

    def _check_variation(self) -> None:
        require(
            self.terrain in TERRAIN_FAMILIES,
            "synth terrain",
            expected=f"one of {TERRAIN_FAMILIES}",
            found=self.terrain,
            fix="use fractal (the home generator), ridged or mixed",
        )
        require(
            self.relief_corner_km[0] > 0 and self.turbulence_anisotropy[0] >= 1.0,
            "synth relief_corner_km and turbulence_anisotropy",
            expected="a positive corner (km) and an axis ratio >= 1",
            found=(self.relief_corner_km, self.turbulence_anisotropy),
            fix="use [8, 8] and [1, 1] (the home generator)",
        )
        require(
            self.looks_range == (0, 0) or self.looks_range[0] >= 1,
            "synth looks_range",
            expected="[0, 0] (use looks) or a range of looks >= 1",
            found=self.looks_range,
            fix="use [0, 0], or e.g. [4, 32]",
        )
        require(
            self.steep_slope_spread_deg >= 0
            and self.steep_slope_deg - self.steep_slope_spread_deg >= 5
            and self.steep_slope_deg + self.steep_slope_spread_deg <= 80,
            "synth steep_slope_spread_deg",
            expected="a spread >= 0 keeping steep_slope_deg +- spread within 5..80 degrees",
            found=(self.steep_slope_deg, self.steep_slope_spread_deg),
            fix="use 0, or e.g. 8",
        )
        exponents = (
            self.turbulence_exponent - self.turbulence_exponent_spread,
            self.turbulence_exponent + self.turbulence_exponent_spread,
        )
        require(
            self.turbulence_exponent_spread >= 0 and exponents[0] > -4.5 and exponents[1] < -1.0,
            "synth turbulence_exponent_spread",
            expected="a spread >= 0 keeping turbulence_exponent +- spread within (-4.5, -1)",
            found=(self.turbulence_exponent, self.turbulence_exponent_spread),
            fix="use 0, or e.g. 0.4",
        )
        require(
            0 <= self.coherence_max_spread < self.coherence_max
            and self.coherence_patches[0] >= 0
            and self.coherence_patches[1] <= 1
            and 0 <= self.filter_fraction <= 1
            and self.filter_alpha[0] >= 0
            and self.filter_alpha[1] <= 1,
            "synth coherence_max_spread, coherence_patches, filter_fraction and filter_alpha",
            expected="coherence_max_spread in [0, coherence_max), coherence_patches within [0, 1], "
            "filter_fraction in [0, 1], filter_alpha within [0, 1]",
            found=(
                self.coherence_max_spread,
                self.coherence_patches,
                self.filter_fraction,
                self.filter_alpha,
            ),
            fix="use 0, [0, 0], 0 and [0.5, 0.5] (the home generator)",
        )

    @property
    def fringe_m(self) -> float:
        """Line-of-sight motion of one fringe (half a wavelength)."""
        return self.wavelength_m / 2

    @property
    def first_acquisition_date(self) -> date:
        """``first_acquisition`` as a date (validated in ``__post_init__``)."""
        return date.fromisoformat(self.first_acquisition)


def _parse_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except (TypeError, ValueError):
        return None


def draw(rng: np.random.Generator, low: float, high: float) -> float:
    """Uniform in [low, high]; ``low`` itself, with nothing drawn, when the range is a single value."""
    return float(low) if high <= low else float(rng.uniform(low, high))


def seeded_rng(config: SynthConfig, *path: int) -> np.random.Generator:
    """An independent generator per (area, scene, purpose): results do not depend on generation order."""
    return np.random.default_rng([config.seed, *path])


def load_synth_config(
    path: Path | None = None,
    overrides: Sequence[str] = (),
    *,
    scenes: int | None = None,
    size_px: int | None = None,
    seed: int | None = None,
) -> SynthConfig:
    """``SynthConfig`` from a ``configs/<name>.py`` (or the defaults) with ``a=value`` overrides, then
    ``scenes``, ``size_px`` and ``seed`` where given (validated)."""
    base = load_config(path, (), expect=SynthConfig) if path else SynthConfig()
    flags = {k: v for k, v in {"scenes": scenes, "size_px": size_px, "seed": seed}.items() if v is not None}
    # The flags first, so that an override is checked against them (``--scenes 24 --set areas=6``), and again
    # last, so that they win over an override of the same field.
    return dataclasses.replace(apply_overrides(dataclasses.replace(base, **flags), overrides), **flags)
