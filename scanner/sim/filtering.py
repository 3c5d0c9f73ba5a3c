"""Goldstein-Werner adaptive filtering of wrapped phase: the filter most InSAR processors apply before
unwrapping (GAMMA's ``adf``, ISCE's ``filter_strength``), which the simulator applies to some pairs so that a
model sees its artefacts (smoothed noise, blurred fringe edges, a patchy texture at the patch scale).

Pure numpy and scipy. No maintained Python package ships this filter on its own (it lives inside the
processors), so it is written here, after Goldstein and Werner (1998), Geophys. Res. Lett. 25(21).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sfft
from scipy import ndimage

PATCH_PX = 32
"""Side of the filter's patches (GAMMA's and ISCE's default)."""

STEP_PX = 8
"""Patch step: patches overlap by three quarters, blended with a triangular weight."""


def goldstein_filter(
    phase: np.ndarray, alpha: float, patch: int = PATCH_PX, step: int = STEP_PX
) -> np.ndarray:
    """Wrapped phase filtered by Goldstein and Werner's rule: in each patch, the spectrum is multiplied by its
    own 3x3-smoothed amplitude to the power ``alpha`` (0 = unchanged, 1 = strongest); patches are blended by
    a triangular weight. NaN pixels (no phase) contribute nothing and stay NaN."""
    valid = np.isfinite(phase)
    if alpha <= 0 or not valid.any():
        return phase.copy()
    height, width = phase.shape
    rows = -(-max(height - patch, 0) // step) * step + patch
    cols = -(-max(width - patch, 0) // step) * step + patch
    signal = np.zeros((rows, cols), np.complex64)
    signal[:height, :width] = np.where(valid, np.exp(1j * np.nan_to_num(phase)), 0)
    patches = sliding_window_view(signal, (patch, patch))[::step, ::step]
    spectrum = sfft.fft2(patches, axes=(-2, -1))
    amplitude = ndimage.uniform_filter(np.abs(spectrum), size=(1, 1, 3, 3), mode="wrap")
    amplitude /= np.maximum(amplitude.max(axis=(-2, -1), keepdims=True), np.float32(1e-12))
    filtered = sfft.ifft2(spectrum * amplitude**alpha, axes=(-2, -1))
    ramp = 1.0 - np.abs(np.linspace(-1.0, 1.0, patch + 2)[1:-1])
    weight = np.outer(ramp, ramp).astype(np.float32)
    total = np.zeros((rows, cols), np.complex64)
    for i in range(filtered.shape[0]):
        for j in range(filtered.shape[1]):
            total[i * step : i * step + patch, j * step : j * step + patch] += filtered[i, j] * weight
    out = np.angle(total[:height, :width]).astype(np.float32)
    out[~valid] = np.nan
    return out
