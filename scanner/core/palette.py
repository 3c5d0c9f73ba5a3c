"""The cyclic colour palette of wrapped phase and the quicklook rendering that uses it.

Wrapped phase is shown as experts view it: ``levels`` colour steps (16 by default) of a cyclic colour map
over [-pi, pi), nodata grey, landslide outlines black. ``palette`` is the one home of that colour table.
Pure: arrays in, an RGB uint8 array (y, x, 3) out; ``scanner.io.writers.write_png`` writes it. The same table,
as float32 in [0, 1], is the ``phase_rgb`` model input (``phase_rgb_table``; ``scanner.core.phase`` builds the
channel, so this module imports nothing of it and holds ``quantize``, the steps the colours are given to).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from scanner.config import require

NODATA_RGB = (128, 128, 128)
OUTLINE_RGB = (0, 0, 0)

Outline = Sequence[tuple[float, float]]
"""A closed ring of (row, col) pixel coordinates (fractional; pixel centres at +0.5)."""


PHASE_RGB_INVALID = tuple(np.float32(v / 255) for v in NODATA_RGB)
"""The ``phase_rgb`` value of an invalid pixel: the quicklook's nodata grey, 0.502 in all three planes. Every
colour of the hsv table is fully saturated (one plane 0, one 1), so grey is none of them."""


def palette(levels: int = 16, cmap: str = "hsv") -> np.ndarray:
    """``levels`` RGB colours (uint8) of a cyclic matplotlib colour map, at ``k / levels`` of the way round.

    Level ``k`` covers the phase ``[-pi + 2 pi k / levels, -pi + 2 pi (k + 1) / levels)``. Sampling at ``k /
    levels`` (not ``k / (levels - 1)``) keeps the map's end point, which repeats its start, out of the table,
    so the last level is as far from level 0 in colour as any two neighbours are. The default, matplotlib's
    ``hsv`` in 16 steps: red (level 0, phase -pi), orange, yellow, ..., green, ..., cyan, blue, ..., magenta,
    back to red (the hue turns once, 22.5 degrees a step).
    """
    from matplotlib import colormaps  # only here: preprocessing imports this module for its table

    colours = colormaps[cmap](np.arange(levels) / levels)[:, :3]
    return np.round(colours * 255).astype(np.uint8)


def quantize(phase: np.ndarray, levels: int = 16) -> np.ndarray:
    """Quantize wrapped phase into ``levels`` equal steps over [-pi, pi): uint8 in 0..levels-1 (NaN -> 0).

    The steps the colours of ``palette`` are given to; ``scanner.core.phase`` (which re-exports it) uses it for
    the ``phase_q`` and ``phase_rgb`` channels."""
    unit = (np.nan_to_num(phase.astype(np.float64), nan=-np.pi) + np.pi) / (2 * np.pi)
    return np.clip(np.floor(unit * levels), 0, levels - 1).astype(np.uint8)


def phase_rgb_table(levels: int = 16) -> np.ndarray:
    """The ``phase_rgb`` model input's colours: ``palette(levels)`` as float32 ``(levels, 3)`` in [0, 1]."""
    return (palette(levels).astype(np.float32) / np.float32(255)).astype(np.float32)


def render_quicklook(
    phase: np.ndarray,
    outlines: Sequence[Outline] = (),
    *,
    levels: int = 16,
    cmap: str = "hsv",
    max_px: int | None = None,
    line_px: int = 1,
) -> np.ndarray:
    """RGB uint8 image (y, x, 3): phase in ``levels`` colour steps over [-pi, pi), NaN grey, outlines black.

    ``max_px`` decimates the image (every n-th pixel) so its longer side is at most ``max_px``; outlines are
    scaled with it.
    """
    require(
        phase.ndim == 2, "quicklook phase", expected="a 2-D array", found=phase.shape, fix="pass one band"
    )
    step = 1 if not max_px else max(1, math.ceil(max(phase.shape) / max_px))
    sampled = phase[::step, ::step]
    rgb = palette(levels, cmap)[quantize(sampled, levels)]
    rgb[~np.isfinite(sampled)] = NODATA_RGB
    for ring in outlines:
        _draw_ring(rgb, np.asarray(ring, dtype=np.float64) / step, line_px)
    return rgb


def _draw_ring(rgb: np.ndarray, ring: np.ndarray, line_px: int) -> None:
    """Draw a closed polyline (row, col) into ``rgb`` by dense sampling of its segments."""
    if len(ring) < 2:
        return
    closed = np.vstack([ring, ring[:1]])
    points = []
    for start, end in zip(closed[:-1], closed[1:], strict=True):
        count = max(2, int(np.ceil(np.abs(end - start).max() * 2)) + 1)
        points.append(np.linspace(start, end, count))
    rows, cols = np.floor(np.vstack(points)).astype(np.int64).T
    half = line_px // 2
    for dr in range(-half, line_px - half):
        for dc in range(-half, line_px - half):
            r, c = rows + dr, cols + dc
            keep = (r >= 0) & (r < rgb.shape[0]) & (c >= 0) & (c < rgb.shape[1])
            rgb[r[keep], c[keep]] = OUTLINE_RGB
