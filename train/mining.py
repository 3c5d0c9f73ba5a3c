"""Hard-negative mining (docs/training.md, docs/accuracy.md (e)): where a trained model fires on no label.

One round: scan the training scenes with a first model, take every site of cells at ``>= threshold`` (0.5;
components split at saddles, as ``fringescan detect`` does) of at least 2 cells that overlaps no labelled
candidate and whose peak cell lies more than ``exclusion_px`` from every label centre, and add the window at
its peak cell as an "other" (strongest first, at most ``max_windows`` per scene); then train again. Stratified
valley fringes and turbulent patches are what fools the model, so this adds exactly those. Pure: no file I/O
(``train.dataset_store`` reads the scenes and writes the dataset).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from affine import Affine
from shapely.geometry.base import BaseGeometry

from scanner.core.detect import DetectConfig, detect
from scanner.geo import STRIDE_PX
from scanner.io.site_layers import component_polygons

MINING_THRESHOLD = 0.5
MAX_WINDOWS_PER_SCENE = 40


def hard_negative_windows(
    prob: np.ndarray,
    cell_transform: Affine,
    labels: Sequence[BaseGeometry],
    centres_px: np.ndarray,
    *,
    cell_area_m2: float,
    exclusion_px: float,
    threshold: float = MINING_THRESHOLD,
    max_windows: int = MAX_WINDOWS_PER_SCENE,
) -> tuple[np.ndarray, np.ndarray]:
    """Scene pixel ``(rows, cols)`` of the false-positive windows of one probability grid.

    ``labels``: candidate geometries in the grid's CRS; ``centres_px``: ``(n, 2)`` label centres as scene
    pixel (row, col). Components of one cell are ignored (the paper's size filter); the windows are the peak
    cells of the remaining false components, highest peak probability first.
    """
    found, grid = detect(prob, DetectConfig(threshold=threshold), cell_area_m2, size_filtered=True)
    polygons = component_polygons(grid, cell_transform) if found else {}
    peaks = []
    for comp in found:
        if any(polygons[comp.label].intersection(g).area > 0 for g in labels):
            continue
        r, c = comp.peak_cell
        row, col = STRIDE_PX * r + STRIDE_PX // 2, STRIDE_PX * c + STRIDE_PX // 2
        if (
            centres_px.size
            and np.min(np.hypot(centres_px[:, 0] - row, centres_px[:, 1] - col)) <= exclusion_px
        ):
            continue
        peaks.append((comp.prob_max, comp.n_cells, row, col))
    peaks = sorted(peaks, reverse=True)[:max_windows]
    return np.array([p[2] for p in peaks], np.int32), np.array([p[3] for p in peaks], np.int32)
