"""Plain numpy references for the compiled preprocessing (scanner.core.kernels): the formulas written the obvious
way, with whole-array temporaries, so the kernels can be checked against them bit for bit."""

from __future__ import annotations

import numpy as np

from scanner.core.kernels import PHASOR_SCALE


def box_sum(values: np.ndarray, reach: int) -> np.ndarray:
    """int64 sum over the ``(2 reach + 1)^2`` box around each element; outside the array counts 0."""
    padded = np.pad(values.astype(np.int64), reach + 1)
    table = padded.cumsum(0).cumsum(1)
    w = 2 * reach + 1
    height, width = values.shape
    a = table[w : w + height, w : w + width]
    b = table[:height, w : w + width]
    c = table[w : w + height, :width]
    d = table[:height, :width]
    return a - b - c + d


def phasor_sums(phase: np.ndarray, valid: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Box sums (re, im) of the fixed-point unit phasors ``rint(cos * 2**16)`` of the usable pixels."""
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0).astype(np.float32)
    scale = np.where(usable, np.float32(PHASOR_SCALE), np.float32(0))
    re = np.rint(np.cos(safe) * scale).astype(np.int64)
    im = np.rint(np.sin(safe) * scale).astype(np.int64)
    return box_sum(re, reach), box_sum(im, reach)


def filtered_cos_sin(phase: np.ndarray, valid: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of the filtered phase from the sums (reach -1: no filter), 0 where unusable."""
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0).astype(np.float32)
    cos, sin = np.cos(safe), np.sin(safe)
    if reach < 0:
        return np.where(usable, cos, 0), np.where(usable, sin, 0)
    sums = phasor_sums(phase, valid, reach)
    re, im = (s.astype(np.float32) for s in sums)
    norm = np.hypot(re, im)
    empty = norm == 0
    re[empty], norm[empty] = 1, 1
    re /= norm
    im /= norm
    out_cos = cos * re + sin * im
    out_sin = sin * re - cos * im
    return np.where(usable, out_cos, np.float32(0)), np.where(usable, out_sin, np.float32(0))


def extra_channel(values: np.ndarray, usable: np.ndarray, divisor: float = 1.0) -> np.ndarray:
    """A coherence (divisor 1) or slope (divisor 90) channel: float32, finite, 0 where unusable."""
    finite = np.nan_to_num(values.astype(np.float32))
    return np.where(usable, finite / np.float32(divisor), np.float32(0))
