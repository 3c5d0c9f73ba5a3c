"""Stationary Gaussian random fields by FFT: the turbulent atmosphere and the spectra terrain is drawn from.

Pure numpy and scipy.fft, seeded with ``np.random.Generator``. Wavenumbers are in cycles per metre.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import fft as sfft

TURBULENCE_BAND_M = (2_000.0, 20_000.0)
"""Scale band (metres) over which ``SynthConfig.turbulence_exponent`` holds (Hanssen 2001's middle regime)."""

Spectrum = Callable[[np.ndarray], np.ndarray]
"""A power spectral density as a function of radial wavenumber (cycles per metre)."""


def _wavenumbers(
    shape: tuple[int, int], pixel_size_m: float, stretch: tuple[float, float] = (1.0, 0.0)
) -> np.ndarray:
    """Radial wavenumber (cycles per metre) of every FFT bin of ``shape``.

    ``stretch = (ratio, angle)`` with ``ratio`` > 1 makes the field anisotropic: structures are ``ratio`` times
    longer along the direction ``angle`` (radians from the x axis) than across it, at the same mean scale."""
    ky = sfft.fftfreq(shape[0], d=pixel_size_m).astype(np.float32)[:, None]
    kx = sfft.fftfreq(shape[1], d=pixel_size_m).astype(np.float32)[None, :]
    ratio, angle = stretch
    if ratio == 1.0:
        return np.sqrt(ky**2 + kx**2)
    along = np.float32(math.cos(angle)) * kx + np.float32(math.sin(angle)) * ky
    across = np.float32(-math.sin(angle)) * kx + np.float32(math.cos(angle)) * ky
    root = np.float32(math.sqrt(ratio))
    return np.sqrt((along * root) ** 2 + (across / root) ** 2)


def gaussian_field_pair(
    shape: tuple[int, int],
    pixel_size_m: float,
    psd: Spectrum,
    rng: np.random.Generator,
    pad: float = 1.0,
    stretch: tuple[float, float] = (1.0, 0.0),
) -> tuple[np.ndarray, np.ndarray]:
    """Two independent stationary Gaussian fields with power spectral density ``psd(k)`` (k in cycles/m).

    One complex inverse FFT of complex white noise times ``sqrt(psd)`` gives both (real and imaginary parts).
    ``pad`` > 1 synthesises on a larger periodic grid and crops, so the field does not wrap around the scene.
    ``stretch`` makes it anisotropic (``_wavenumbers``). Each field has zero mean and unit standard deviation
    over ``shape``.
    """
    big = (
        sfft.next_fast_len(int(math.ceil(shape[0] * pad))),
        sfft.next_fast_len(int(math.ceil(shape[1] * pad))),
    )
    k = _wavenumbers(big, pixel_size_m, stretch)
    k[0, 0] = 1.0
    amplitude = np.sqrt(psd(k)).astype(np.float32)
    amplitude[0, 0] = 0.0
    noise = rng.standard_normal(big, dtype=np.float32) + 1j * rng.standard_normal(big, dtype=np.float32)
    noise *= amplitude
    complex_field = sfft.ifft2(noise, workers=-1, overwrite_x=True)[: shape[0], : shape[1]]
    return _standardize(complex_field.real), _standardize(complex_field.imag)


def _standardize(values: np.ndarray) -> np.ndarray:
    values = values.astype(np.float32)
    values -= values.mean(dtype=np.float64)
    std = float(values.std(dtype=np.float64))
    return values / np.float32(std if std > 0 else 1.0)


def turbulence_psd(k: np.ndarray, exponent: float) -> np.ndarray:
    """2-D radially symmetric PSD of turbulent delay, continuous power law with Hanssen's three regimes.

    ``exponent`` holds for scales of 2-20 km (thin-layer 2-D turbulence; -8/3 for the 2-D spectrum, i.e.
    Hanssen's -5/3 for 1-D profiles); it steepens by -1 below 2 km (3-D Kolmogorov, -11/3) and flattens by
    +1 above 20 km (-5/3).
    """
    k_low, k_high = 1.0 / TURBULENCE_BAND_M[1], 1.0 / TURBULENCE_BAND_M[0]
    middle = (k / k_low) ** exponent
    low = (k / k_low) ** (exponent + 1.0)
    high = (k_high / k_low) ** exponent * (k / k_high) ** (exponent - 1.0)
    return np.where(k < k_low, low, np.where(k < k_high, middle, high))


def simulate_turbulence(
    shape: tuple[int, int],
    pixel_size_m: float,
    rng: np.random.Generator,
    *,
    rms_m: float,
    exponent: float = -8.0 / 3.0,
    stretch: tuple[float, float] = (1.0, 0.0),
) -> np.ndarray:
    """Turbulent tropospheric delay difference (m), zero mean, ``rms_m`` standard deviation over the scene;
    ``stretch`` (axis ratio, angle) elongates it, as wind-aligned convection does."""
    field_m, _ = gaussian_field_pair(
        shape, pixel_size_m, lambda k: turbulence_psd(k, exponent), rng, stretch=stretch
    )
    return field_m * np.float32(rms_m)


def red_psd(corner_m: float, exponent: float) -> Spectrum:
    """A power law ``k**-exponent`` that flattens below the corner wavenumber ``1 / corner_m``."""
    k0 = 1.0 / corner_m
    return lambda k: (k * k + k0 * k0) ** (-exponent / 2.0)
