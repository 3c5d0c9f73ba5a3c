"""Coherence and decorrelation: the coherence model of a pair and the phase noise it implies.

Pure numpy; the factors are argued in ``docs/simulator.md``.
"""

from __future__ import annotations

import math

import numpy as np

from scanner.sim.radar import SLANT_RANGE_M


def coherence_model(
    slope: np.ndarray,
    local_incidence: np.ndarray,
    vegetation: np.ndarray,
    *,
    span_days: int,
    perp_baseline_m: float,
    incidence_deg: float,
    wavelength_m: float,
    coherence_max: float,
    vegetation_days: float,
) -> np.ndarray:
    """Coherence 0..1: temporal decorrelation over vegetation, steep-slope and foreshortening loss, and
    geometric (baseline) decorrelation. See docs/simulator.md for the factors."""
    temporal = 0.2 + 0.8 * np.exp(-vegetation * (span_days / vegetation_days))
    steep = 1.0 - 0.4 * np.clip((slope - 15.0) / 35.0, 0.0, 1.0)
    facing = 1.0 - 0.35 * np.clip((incidence_deg - local_incidence) / incidence_deg, 0.0, 1.0)
    critical_m = wavelength_m * SLANT_RANGE_M * math.tan(math.radians(incidence_deg)) / (2 * 5.36)
    geometric = max(0.0, 1.0 - abs(perp_baseline_m) / critical_m)
    gamma = coherence_max * geometric * temporal * steep * facing
    return np.clip(gamma, 0.02, 0.98).astype(np.float32)


def decorrelation_phase(coherence: np.ndarray, looks: int, rng: np.random.Generator) -> np.ndarray:
    """Phase noise of an ``looks``-look interferogram of coherence ``coherence`` (exact distribution).

    With z1 = a, z2 = g*a + sqrt(1-g^2)*b (a, b unit complex Gaussians), the multilooked product sums to
    g*G + sqrt(1-g^2)*sqrt(G)*c, G ~ Gamma(looks, 1), c ~ CN(0, 1): its phase is the noise drawn here.
    """
    gamma = coherence.astype(np.float32)
    power = rng.gamma(float(looks), 1.0, size=gamma.shape).astype(np.float32)
    scale = np.float32(math.sqrt(0.5))
    real = rng.standard_normal(gamma.shape, dtype=np.float32) * scale
    imag = rng.standard_normal(gamma.shape, dtype=np.float32) * scale
    spread = np.sqrt(1.0 - gamma * gamma)
    return np.arctan2(spread * imag, gamma * np.sqrt(power) + spread * real).astype(np.float32)
