"""Site-level counting on scanned scenes: detection at any threshold and minimum size, persistence over the
passes of an area, matching against the labels, threshold sweeps and the VAL choice of a setting."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from shapely.geometry.base import BaseGeometry

from scanner.core.detect import DetectConfig, detect
from scanner.eval.calibrate import (
    MAX_MEDIAN_CELLS,
    VAL_MIN_RECALL,
    apply_platt,
    choose_setting,
    persistent_sites,
)
from scanner.eval.matching import DetectionCounts, match_sites
from scanner.geo import WGS84, GeoGrid
from scanner.io.labels import read_labels, reproject
from scanner.io.probgrid import read_prob
from scanner.io.site_layers import component_polygons, to_wgs84
from scanner.io.store import Store
from scanner.pipeline.sites import scanned_footprint, slope_cells

THRESHOLDS = (
    (0.01, 0.02, 0.03) + tuple(round(t, 2) for t in np.arange(0.05, 0.951, 0.05)) + (0.97, 0.98, 0.99, 0.995)
)
"""The cell thresholds of every sweep."""
MIN_CELLS = (2, 3, 4, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150)
"""The minimum site sizes (cells) of the grid sweep."""
MIN_RECALL = 0.9
"""The target site recall."""
MIN_VAL_RECALL = VAL_MIN_RECALL
"""The VAL recall a chosen setting must reach: a margin over the target (see ``choose``)."""


@dataclass
class SceneProb:
    """One scanned scene, ready for detection at any threshold."""

    scene_id: str
    area_id: str
    prob: np.ndarray
    cell_transform: object
    crs_wkt: str
    cell_area_m2: float
    slope: np.ndarray | None
    expected: list[BaseGeometry]
    hidden: list[BaseGeometry]
    cache: dict = field(default_factory=dict)

    def sites(
        self, threshold: float, min_cells: int = 2, prob: np.ndarray | None = None
    ) -> list[BaseGeometry]:
        """WGS84 polygons of the components at ``threshold`` with at least ``min_cells`` cells (2 = the
        paper's size filter, 1 = none)."""
        key = (threshold, prob is not None)
        if key not in self.cache:
            grid = self.prob if prob is None else prob
            found, labels = detect(
                grid,
                DetectConfig(threshold=threshold),
                self.cell_area_m2,
                slope_cells=self.slope,
                size_filtered=False,
            )
            polygons = component_polygons(labels, self.cell_transform)
            self.cache[key] = [(to_wgs84(polygons[c.label], self.crs_wkt), c.n_cells) for c in found]
        return [g for g, n in self.cache[key] if n >= min_cells]


def load_scenes(
    store_root: Path, labels_path: Path, scene_ids: Sequence[str], area_of: dict[str, str]
) -> list[SceneProb]:
    store = Store.open(store_root)
    labels = reproject([lab for lab in read_labels(labels_path) if lab.positive], WGS84)
    out = []
    for scene_id in scene_ids:
        prob, attrs = read_prob(store_root, scene_id)
        cells = GeoGrid.from_attrs(attrs["grid"])
        footprint = scanned_footprint(prob, cells.transform, cells.crs_wkt)
        inside = [lab for lab in labels if lab.geometry.intersects(footprint)]
        scene = store.scene(scene_id)
        out.append(
            SceneProb(
                scene_id=scene_id,
                area_id=area_of[scene_id],
                prob=prob,
                cell_transform=cells.transform,
                crs_wkt=cells.crs_wkt,
                cell_area_m2=scene.grid.cell_area_m2,
                slope=slope_cells(scene, prob.shape),
                expected=[
                    lab.geometry for lab in inside if lab.visible_in is None or scene_id in lab.visible_in
                ],
                hidden=[
                    lab.geometry
                    for lab in inside
                    if lab.visible_in is not None and scene_id not in lab.visible_in
                ],
            )
        )
    return out


def count(
    scenes: Sequence[SceneProb],
    threshold: float,
    min_cells: int = 2,
    k: int = 1,
    calibrated: tuple[float, float] | None = None,
) -> DetectionCounts:
    """Site-level TP/FN/FP summed over scenes; with ``k > 1`` a site must show in k passes of its area."""
    total = DetectionCounts(0, 0, 0)
    by_area: dict[str, list[SceneProb]] = {}
    for s in scenes:
        by_area.setdefault(s.area_id, []).append(s)
    for group in by_area.values():
        passes = [s.sites(threshold, min_cells, _calibrated(s, calibrated)) for s in group]
        keep = persistent_sites(passes, min(k, len(passes))) if k > 1 else [range(len(p)) for p in passes]
        for s, sites, kept in zip(group, passes, keep, strict=True):
            total = total + match_sites(s.expected, [sites[i] for i in kept], s.hidden)
    return total


def _calibrated(scene: SceneProb, platt: tuple[float, float] | None) -> np.ndarray | None:
    return None if platt is None else apply_platt(scene.prob, *platt)


def sweep(scenes: Sequence[SceneProb], k: int = 1, min_cells: int = 2) -> list[dict]:
    return [
        {
            "threshold": t,
            "min_cells": min_cells,
            "median_cells": median_cells(scenes, t, min_cells),
            **count(scenes, t, min_cells, k).to_dict(),
        }
        for t in THRESHOLDS
    ]


def grid_sweep(scenes: Sequence[SceneProb], k: int) -> list[dict]:
    """Every (threshold, minimum site size in cells) pair of the grid."""
    return [row for m in MIN_CELLS for row in sweep(scenes, k, m)]


def choose(rows: list[dict]) -> dict | None:
    """The VAL row of best precision at recall >= MIN_VAL_RECALL: ``scanner.eval.calibrate.choose_setting``, the
    rule ``fringescan calibrate`` applies too. 0.92 is a margin over the 0.9 target, because a setting chosen
    at the edge of VAL's recall comes out a little lower on new areas. Settings whose median VAL site is larger
    than one window's footprint (``MAX_MEDIAN_CELLS``) are not sites a field team can visit, and overlap
    matching would flatter them."""
    return choose_setting(rows, MIN_VAL_RECALL, MAX_MEDIAN_CELLS)


def median_cells(scenes: Sequence[SceneProb], threshold: float, min_cells: int) -> float:
    """Median size in cells of the sites kept at ``threshold`` and ``min_cells`` (before any persistence)."""
    kept = []
    for s in scenes:
        s.sites(threshold, 1)  # fills the cache
        kept += [n for _, n in s.cache[(threshold, False)] if n >= min_cells]
    return float(np.median(kept)) if kept else math.nan


def size_stats(scenes: Sequence[SceneProb], threshold: float = 0.5) -> dict[str, list[int]]:
    """Sizes (cells) of the components at ``threshold`` that hit a visible label (TP) or no label (FP)."""
    sizes: dict[str, list[int]] = {"tp": [], "fp": []}
    for s in scenes:
        s.sites(threshold, 1)
        for geometry, n_cells in s.cache[(threshold, False)]:
            hit = any(geometry.intersection(lab).area > 0 for lab in s.expected)
            hidden = any(geometry.intersection(lab).area > 0 for lab in s.hidden)
            if hit or not hidden:
                sizes["tp" if hit else "fp"].append(n_cells)
    return sizes
