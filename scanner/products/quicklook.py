"""Quicklooks: wrapped phase as experts view it, in a cyclic colour map of 16 steps, with outlines.

``render_quicklook`` is pure (arrays in, an RGB uint8 array out); ``write_quicklook`` writes the PNG
atomically (matplotlib.image.imsave, which uses PIL; no pyplot, no backend).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.image
import numpy as np
from matplotlib import colormaps

from scanner.config import require
from scanner.core.phase import quantize
from scanner.io.writers import atomic_path

NODATA_RGB = (128, 128, 128)
OUTLINE_RGB = (0, 0, 0)

Outline = Sequence[tuple[float, float]]
"""A closed ring of (row, col) pixel coordinates (fractional; pixel centres at +0.5)."""


def palette(levels: int = 16, cmap: str = "hsv") -> np.ndarray:
    """``levels`` RGB colours (uint8) sampled from a cyclic matplotlib colour map."""
    colours = colormaps[cmap].resampled(levels)(np.arange(levels))[:, :3]
    return np.round(colours * 255).astype(np.uint8)


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


def write_quicklook(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image as PNG, atomically."""
    require(
        rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8,
        "quicklook image",
        expected="an RGB uint8 array (y, x, 3)",
        found=(rgb.shape, str(rgb.dtype)),
        fix="pass the output of render_quicklook",
    )
    with atomic_path(path) as temporary:
        matplotlib.image.imsave(temporary, rgb, format="png")
    return Path(path)
