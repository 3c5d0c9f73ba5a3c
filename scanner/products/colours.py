"""Colour maps of the viewer's overlays: the one home of the probability colouring.

``scanner.products.viewer`` (the page) and ``scanner.products.tiles`` (the tile pyramids) both colour
probability with ``colourize(values, PROB_CMAP, 0, 1)``; keeping it here lets the viewer import the tiles
module without an import cycle. The wrapped-phase colours are ``scanner.core.palette``.
"""

from __future__ import annotations

import numpy as np

PROB_CMAP = "YlOrRd"
PASSES_CMAP = "viridis"
OVERLAY_ALPHA = 210
"""Opacity of a coloured probability pixel (the basemap shows through a little)."""


def colourize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """RGBA uint8 image of ``values`` (NaN transparent) through a matplotlib colour map."""
    from matplotlib import colormaps

    scaled = np.clip((values - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)
    rgba = colormaps[cmap](np.nan_to_num(scaled), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(values), OVERLAY_ALPHA, 0)
    return rgba
