"""Evidence across pairs: how many other, independent interferograms of the same ground also score a site.

Pure numpy and pyproj, no I/O (``scanner.pipeline.sites`` reads the grids). A slow landslide keeps moving, so
it shows in other pairs of the same ground; turbulent and stratified atmosphere is drawn anew for every
acquisition. A site's **support** is the number of other pairs that share no acquisition date with its own
(their atmospheres are independent of its pair's) and that score a cell within ``radius_cells`` cells of the
site's point at the detection threshold or above; its **support_pairs** the number of such pairs whose grid has
a scored cell there at all. ``OperatingPoint.min_support`` (``detect --min-support``) drops a site whose
support is below it, but only where other pairs could judge (``support_pairs`` > 0): a site that no other
independent pair covers is kept, since nothing contradicts it. Pairs that share a date are left out because the
shared acquisition's atmosphere appears in both (with opposite signs when it is the first of one and the second
of the other), so they would corroborate each other's atmospheric fringes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

SUPPORT_RADIUS_CELLS = 1
"""Cells around the site's point searched in another pair's grid (1: the 3 x 3 cells about it, +-280 m at 28 m,
the 300 m the point matching allows)."""


@dataclass(frozen=True, eq=False)
class PairGrid:
    """One scanned pair's probability grid: cell probabilities (NaN = no window), the cell grid's transform and
    CRS, and its acquisition dates (ISO strings; empty when unknown)."""

    scene_id: str
    prob: np.ndarray
    transform: Affine
    crs_wkt: str
    dates: frozenset[str]


@dataclass(frozen=True)
class Support:
    """Of the other independent pairs, how many cover a site's point (``pairs``) and how many score it
    (``scoring``)."""

    pairs: int
    scoring: int

    def keeps(self, min_support: int) -> bool:
        """Whether ``min_support`` keeps the site: enough scoring pairs, or none that could judge."""
        return self.pairs == 0 or self.scoring >= min_support


def independent(dates: frozenset[str], other: frozenset[str]) -> bool:
    """Two pairs share no acquisition date (pairs of unknown dates count as independent)."""
    return not (dates & other)


@lru_cache(maxsize=64)
def _transformer(source_wkt: str, target_wkt: str) -> Transformer | None:
    source, target = CRS.from_wkt(source_wkt), CRS.from_wkt(target_wkt)
    return None if source == target else Transformer.from_crs(source, target, always_xy=True)


def site_support(
    points_xy: Sequence[tuple[float, float]],
    crs_wkt: str,
    dates: frozenset[str],
    others: Sequence[PairGrid],
    threshold: float,
    radius_cells: int = SUPPORT_RADIUS_CELLS,
) -> list[Support]:
    """The support of each site point (``points_xy`` in ``crs_wkt``) from ``others``: pairs sharing a date
    with ``dates`` are skipped, the rest searched in the ``2 * radius_cells + 1`` square of cells about the
    point (in their own CRS)."""
    pairs = np.zeros(len(points_xy), np.int64)
    scoring = np.zeros(len(points_xy), np.int64)
    if not len(points_xy):
        return []
    xy = np.asarray(points_xy, np.float64)
    for other in others:
        if not independent(dates, other.dates):
            continue
        transformer = _transformer(crs_wkt, other.crs_wkt)
        x, y = (xy[:, 0], xy[:, 1]) if transformer is None else transformer.transform(xy[:, 0], xy[:, 1])
        cols, rows = ~other.transform * (np.asarray(x), np.asarray(y))
        height, width = other.prob.shape
        for k, (r, c) in enumerate(zip(np.floor(rows).astype(int), np.floor(cols).astype(int), strict=True)):
            r0, r1 = max(r - radius_cells, 0), min(r + radius_cells + 1, height)
            c0, c1 = max(c - radius_cells, 0), min(c + radius_cells + 1, width)
            if r0 >= r1 or c0 >= c1:
                continue
            window = other.prob[r0:r1, c0:c1]
            finite = np.isfinite(window)
            if finite.any():
                pairs[k] += 1
                scoring[k] += bool((window[finite] >= threshold).any())
    return [Support(int(p), int(s)) for p, s in zip(pairs, scoring, strict=True)]
