"""``scanner.sim.fields``: the turbulence spectrum over 2-20 km and the requested rms."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.sim.fields import simulate_turbulence


def measured_exponent(field: np.ndarray, pixel_size_m: float, band_m: tuple[float, float]) -> float:
    """Slope of log power against log wavenumber over every FFT coefficient in the band (the log of an
    exponentially distributed power has a constant bias, so the fitted slope is unbiased)."""
    power = np.abs(np.fft.rfft2(field - field.mean())) ** 2
    ky = np.fft.fftfreq(field.shape[0], d=pixel_size_m)
    kx = np.fft.rfftfreq(field.shape[1], d=pixel_size_m)
    k = np.hypot(ky[:, None], kx[None, :])
    band = (k >= 1.0 / band_m[1]) & (k <= 1.0 / band_m[0])
    return float(np.polyfit(np.log(k[band]), np.log(power[band]), 1)[0])


@pytest.mark.parametrize("exponent", [-8.0 / 3.0, -2.2, -3.3])
def test_turbulence_spectrum_exponent_over_2_to_20_km(exponent):
    slopes = [
        measured_exponent(
            simulate_turbulence(
                (1024, 1024), 28.0, np.random.default_rng(seed), rms_m=0.02, exponent=exponent
            ),
            28.0,
            (2_000.0, 20_000.0),
        )
        for seed in range(4)
    ]
    assert abs(float(np.mean(slopes)) - exponent) < 0.3, slopes


def test_turbulence_rms_is_the_requested_one():
    field = simulate_turbulence((300, 300), 28.0, np.random.default_rng(0), rms_m=0.017)
    assert float(field.std()) == pytest.approx(0.017, rel=1e-3)
    assert abs(float(field.mean())) < 1e-6
