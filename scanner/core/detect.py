"""Candidate detection on a probability grid: threshold, connected components, split at saddles, size filter,
attributes.

Pure numpy, scipy and scikit-image, no I/O (polygons and WGS84 output are made in ``scanner.pipeline.sites``).

Rules (docs/scanning.md explains them):

- **Threshold:** a cell is a candidate when its probability is ``>= threshold`` (default 0.5, the argmax of the
  two-class softmax); NaN cells never are.
- **Connectivity:** 8-connected. A landslide fringe is a ring or arc of phase cycles; on a 10 px grid its
  cells often touch only at corners, and 4-connectivity would split one fringe into several sites.
- **Split at saddles** (one site per landslide): neighbouring landslides whose candidate cells touch form one
  component. Within a component, a peak is its own site when its log-odds ``ln(p / (1 - p))`` rise more than
  ``split_prominence`` (default 1, a peak with e times the odds of its saddle) above the highest saddle that
  joins it to a higher peak; every cell then goes to the peak it is reached from without descending below it
  (a watershed, flooded from the peaks). Log-odds, not probability: a confident model scores two neighbouring
  landslides 0.9999 and 0.99999 over a 0.999 saddle, one plateau in probability (differences of 1e-3) but
  peaks 2.3 nats above their saddle. ``split_prominence=None`` keeps whole components (the rule before
  issue 18).
- **Site point:** the probability-weighted centre of the site's cells when that falls in one of them, else
  the centre of its peak cell; never a point outside its own cells.
- **Size filter:** the paper removes candidates "smaller than 10x10 px" (about 0.078 km^2 at 28 m). On the
  10 px cell grid a component of one cell is exactly 10x10 px, the smallest thing the map can hold, so the
  filter removes every component whose area is at most ``min_area_m2``, by default one cell's area. No
  candidate of the training data (0.16 km^2 and up) is that small, but a detection can be smaller than its
  landslide, so the filter can cost a true positive (docs/scanning.md gives the measured cases).
- **Slope:** when a DEM was ingested, ``slope_mean_deg`` is the mean slope over the site's cells and
  ``slope_class`` is ``slope`` at 15 degrees or more, else ``flat`` (the paper's section 2.3 threshold).
- **Priority:** sites are ranked for a field team: (1) terrain, slope before unknown before flat (the
  paper's targets are slope movements and flat-land fringes are mostly noise); (2) the highest cell
  probability; (3) the larger area. ``priority`` 1 is visited first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from scanner.config import require

EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
DEFAULT_SPLIT_PROMINENCE = 1.0
"""Log-odds (nats) a peak must rise above its saddle to be a site of its own: odds e times the saddle's."""
FLOAT32_EPS = 2.0**-24
"""The resolution of float32 probabilities next to 1: the grids cannot tell ``p`` above ``1 - FLOAT32_EPS``
from 1, so log-odds are clipped there (and at ``FLOAT32_EPS`` near 0): +-16.6 nats."""
SLOPE_THRESHOLD_DEG = 15.0
_TERRAIN_RANK = {"slope": 0, None: 1, "flat": 2}


@dataclass(frozen=True, kw_only=True)
class DetectConfig:
    """``threshold``: probability a cell needs; ``min_area_m2``: sites of at most this area are removed
    (None = one cell's area, the paper's 10x10 px; 0 = no size filter); ``split_prominence``: how far (in
    log-odds, nats) a peak must rise above the saddle to a higher peak to be a site of its own (None = no
    split: one site per 8-connected component); ``min_support``: the other independent pairs that must also score a
    site where any covers it (``scanner.core.support``; 0 = off)."""

    threshold: float = 0.5
    min_area_m2: float | None = None
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE
    min_support: int = 0

    def __post_init__(self) -> None:
        _check_min_support(self.min_support)
        require(
            0.0 < self.threshold <= 1.0,
            "detection threshold",
            expected="0 < P <= 1",
            found=self.threshold,
            fix="use e.g. --threshold 0.5",
        )
        require(
            self.min_area_m2 is None or self.min_area_m2 >= 0,
            "minimum site area",
            expected="None or >= 0 m^2",
            found=self.min_area_m2,
            fix="use e.g. --min-area-m2 78400",
        )
        require(
            self.split_prominence is None or 0.0 < self.split_prominence < float("inf"),
            "split prominence",
            expected="None (no split) or a finite P > 0 (log-odds, nats)",
            found=self.split_prominence,
            fix=f"use e.g. --split-prominence {DEFAULT_SPLIT_PROMINENCE}, or --no-split",
        )


@dataclass(frozen=True, kw_only=True)
class OperatingPoint:
    """The detection defaults a model travels with (chosen on validation scenes; docs/scanning.md).

    ``threshold``: cell probability a candidate needs; ``min_cells``: the smallest site kept, in cells (2 = the
    paper's size filter, which removes one-cell sites: the behaviour of models that record no operating point);
    ``min_support``: the other independent pairs that must also score a site (``scanner.core.support``; 0 =
    off, and then left out of ``to_dict`` so models recorded before it keep their metadata bytes).
    """

    threshold: float = 0.5
    min_cells: int = 2
    min_support: int = 0

    def __post_init__(self) -> None:
        _check_min_support(self.min_support)
        require(
            0.0 < self.threshold <= 1.0,
            "operating point threshold",
            expected="0 < P <= 1",
            found=self.threshold,
            fix="e.g. detect.threshold=0.5",
        )
        require(
            isinstance(self.min_cells, int) and self.min_cells >= 1,
            "operating point min_cells",
            expected="an integer >= 1 (the smallest site kept, in cells)",
            found=self.min_cells,
            fix="e.g. detect.min_cells=2 (the paper's size filter)",
        )

    def min_area_m2(self, cell_area_m2: float) -> float:
        """The ``--min-area-m2`` that keeps sites of at least ``min_cells`` cells (removes the smaller)."""
        return min_area_for_cells(self.min_cells, cell_area_m2)

    def to_dict(self) -> dict:
        """The point as recorded in a model's metadata and a grid's attributes (``min_support`` only when set)."""
        out = {"threshold": self.threshold, "min_cells": self.min_cells}
        return out | ({"min_support": self.min_support} if self.min_support else {})


def _check_min_support(value: int) -> None:
    require(
        isinstance(value, int) and not isinstance(value, bool) and value >= 0,
        "minimum support",
        expected="an integer >= 0 (other independent pairs that must also score a site; 0 = off)",
        found=value,
        fix="use e.g. --min-support 1, or 0 for none",
    )


def min_area_for_cells(min_cells: int, cell_area_m2: float) -> float:
    """The ``--min-area-m2`` value that keeps components of at least ``min_cells`` cells (removes the smaller).

    Halfway between ``min_cells - 1`` and ``min_cells`` cells, so rounding of geodesic areas never flips it.
    """
    require(
        isinstance(min_cells, int) and min_cells >= 1,
        "minimum site size",
        expected="an integer >= 1 cell",
        found=min_cells,
        fix="e.g. 2 (the paper's size filter)",
    )
    return (min_cells - 0.5) * cell_area_m2


def resolve_config(
    recorded: dict | None,
    cell_area_m2: float,
    threshold: float | None = None,
    min_area_m2: float | None = None,
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE,
    min_support: int | None = None,
) -> tuple[DetectConfig, str]:
    """The detection settings of one grid: explicit values win, else the grid's recorded operating point
    (``attrs["operating_point"]``), else ``OperatingPoint()``; also a one-line account of where each came from.
    ``split_prominence`` is not part of a model's operating point: the value given (None = no split) is used."""
    point = OperatingPoint(**recorded) if recorded else OperatingPoint()
    origin = "model's operating point" if recorded else "default, the model records none"
    config = DetectConfig(
        threshold=point.threshold if threshold is None else threshold,
        min_area_m2=point.min_area_m2(cell_area_m2) if min_area_m2 is None else min_area_m2,
        split_prominence=split_prominence,
        min_support=point.min_support if min_support is None else min_support,
    )
    parts = [
        f"threshold {config.threshold:g} ({'--threshold' if threshold is not None else origin})",
        f"min area {config.min_area_m2:g} m2 "
        + ("(--min-area-m2)" if min_area_m2 is not None else f"({point.min_cells} cells, {origin})"),
        "no split at saddles"
        if split_prominence is None
        else f"split at saddles of prominence {split_prominence:g}"
        + (" (default)" if split_prominence == DEFAULT_SPLIT_PROMINENCE else ""),
    ]
    if config.min_support:
        parts.append(
            f"support of {config.min_support} other pair(s) "
            f"({'--min-support' if min_support is not None else origin})"
        )
    return config, "; ".join(parts)


@dataclass(frozen=True)
class Component:
    """One site: a group of candidate cells (an 8-connected component, or a part of one split at a saddle).
    ``label`` indexes the label grid; cell coordinates are (row, col) on the probability grid, fractional ones
    with cell centres at ``i + 0.5``. ``centroid_cell`` is the plain centre of the cells (it can fall outside
    them), ``point_cell`` the site's point (always inside its cells; module docstring), ``peak_cell`` the cell
    of ``prob_max`` (the first in row order on a tie), ``component_sites`` the number of sites the site's
    8-connected component was split into (1: not split)."""

    label: int
    n_cells: int
    area_m2: float
    prob_max: float
    prob_mean: float
    centroid_cell: tuple[float, float]
    bbox_cells: tuple[int, int, int, int]
    slope_class: str | None
    slope_mean_deg: float | None
    peak_cell: tuple[int, int]
    point_cell: tuple[float, float]
    component_sites: int


def label_candidates(prob: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Label 8-connected components of cells with ``prob >= threshold`` (NaN is never a candidate)."""
    candidate = np.nan_to_num(prob, nan=-1.0) >= threshold
    labels, count = ndimage.label(candidate, structure=EIGHT_CONNECTED)
    return labels.astype(np.int32), int(count)


def log_odds(prob: np.ndarray) -> np.ndarray:
    """``ln(p / (1 - p))`` in float64, with ``p`` clipped to ``[FLOAT32_EPS, 1 - FLOAT32_EPS]`` (NaN stays)."""
    p = np.clip(np.asarray(prob, np.float64), FLOAT32_EPS, 1.0 - FLOAT32_EPS)
    return np.log(p) - np.log1p(-p)


def split_at_saddles(prob: np.ndarray, components: np.ndarray, prominence: float) -> tuple[np.ndarray, int]:
    """Split labelled components at saddles of the log-odds: one label per peak whose log-odds rise more than
    ``prominence`` (nats) above the highest saddle joining it to a higher peak; labels in row order of their
    first cell (as ``label_candidates``), so a component that does not split keeps its label.

    The peaks are the regional maxima of the h-maxima transform (the grey reconstruction by dilation of
    ``height - prominence`` under ``height``, the log-odds), whose plateau joins equal peaks that no deep
    enough saddle separates (``skimage.morphology.h_maxima`` marks each of two equal peaks whatever the saddle
    between them, so it would split plateaus of probability 1); the cells go to the peaks by a watershed on
    ``-height`` masked to the components. Every component holds one such maximum at least (its highest
    cells), so the sites partition its cells. scikit-image is imported here, not at module level: loading a
    checkpoint imports this module and needs none of it.
    """
    from skimage.morphology import local_maxima, reconstruction
    from skimage.segmentation import watershed

    inside = components > 0
    if not inside.any():
        return components, 0
    odds = log_odds(prob)
    floor = float(odds[inside].min()) - prominence - 1.0  # below every seed: components never interact
    height = np.where(inside, odds, floor)
    # A ring of floor around the grid, so a component filling the whole grid (one plateau, no lower neighbour)
    # is still a maximum: ``local_maxima`` marks no maximum on an image that is one plateau.
    ringed = np.pad(height, 1, constant_values=floor)
    raised = reconstruction(ringed - prominence, ringed, method="dilation", footprint=EIGHT_CONNECTED)
    peaks = local_maxima(raised, connectivity=2, allow_borders=True)[1:-1, 1:-1] & inside
    markers, _ = ndimage.label(peaks, structure=EIGHT_CONNECTED)
    sites = watershed(-height, markers, connectivity=2, mask=inside)
    return _in_row_order(sites)


def _in_row_order(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Relabel 1..n in row-major order of each label's first cell (0 stays 0)."""
    values, first = np.unique(labels.ravel(), return_index=True)
    order = values[values > 0][np.argsort(first[values > 0], kind="stable")]
    lookup = np.zeros(int(labels.max()) + 1, np.int32)
    lookup[order] = np.arange(1, order.size + 1, dtype=np.int32)
    return lookup[labels], int(order.size)


def label_sites(prob: np.ndarray, config: DetectConfig) -> tuple[np.ndarray, int, np.ndarray]:
    """Site labels, their count and the 8-connected component labels they come from (the same grid when
    ``config.split_prominence`` is None)."""
    components, count = label_candidates(prob, config.threshold)
    if config.split_prominence is None:
        return components, count, components
    sites, count = split_at_saddles(prob, components, config.split_prominence)
    return sites, count, components


def size_limit_m2(config: DetectConfig, cell_area_m2: float) -> float:
    """Area at or below which a site is removed (one cell by default)."""
    return cell_area_m2 if config.min_area_m2 is None else float(config.min_area_m2)


def components(
    prob: np.ndarray,
    labels: np.ndarray,
    count: int,
    cell_area_m2: float,
    slope_cells: np.ndarray | None = None,
    parents: np.ndarray | None = None,
) -> list[Component]:
    """Attributes of every labelled site; ``slope_cells`` (mean slope per cell in degrees, NaN where
    unknown) is an optional grid of the probability grid's shape, given when a DEM was ingested;
    ``parents``: the 8-connected component labels the sites were split from (None: ``labels`` are those)."""
    found = []
    index = np.arange(1, count + 1)
    if count == 0:
        return found
    weights = np.where(labels > 0, prob, 0.0)
    sizes = ndimage.sum_labels(np.ones_like(prob), labels, index)
    maxima = ndimage.maximum(prob, labels, index)
    means = ndimage.mean(prob, labels, index)
    centres = ndimage.center_of_mass(np.ones_like(prob), labels, index)
    peaks = _peak_cells(prob, labels)
    weighted = ndimage.center_of_mass(weights, labels, index)
    split_into = _split_counts(labels, parents, index)
    boxes = ndimage.find_objects(labels)
    for k, lab in enumerate(index):
        rows, cols = boxes[k]
        slope_mean, slope_class = _slope_attributes(labels[rows, cols] == lab, _crop(slope_cells, rows, cols))
        found.append(
            Component(
                label=int(lab),
                n_cells=int(sizes[k]),
                area_m2=float(sizes[k] * cell_area_m2),
                prob_max=float(maxima[k]),
                prob_mean=float(means[k]),
                centroid_cell=(float(centres[k][0]) + 0.5, float(centres[k][1]) + 0.5),
                bbox_cells=(rows.start, cols.start, rows.stop, cols.stop),
                slope_class=slope_class,
                slope_mean_deg=slope_mean,
                peak_cell=(int(peaks[k][0]), int(peaks[k][1])),
                point_cell=_site_point(labels, int(lab), weighted[k], peaks[k]),
                component_sites=int(split_into[k]),
            )
        )
    return found


def _peak_cells(prob: np.ndarray, labels: np.ndarray) -> list[tuple[int, int]]:
    """(row, col) of each label's highest cell, the first in row order on a tie (``ndimage.maximum_position``
    does not say which tie it returns)."""
    rows, cols = np.nonzero(labels)
    labs = labels[rows, cols]
    order = np.lexsort((np.arange(rows.size), -prob[rows, cols], labs))
    _, first = np.unique(labs[order], return_index=True)
    return [(int(rows[order[i]]), int(cols[order[i]])) for i in first]


def _site_point(
    labels: np.ndarray, lab: int, weighted: tuple[float, float], peak: tuple[int, int]
) -> tuple[float, float]:
    """The probability-weighted centre (cell units, centres at ``i + 0.5``) when it lies in one of the
    site's cells, else the centre of its peak cell."""
    point = (float(weighted[0]) + 0.5, float(weighted[1]) + 0.5)
    row, col = int(np.floor(point[0])), int(np.floor(point[1]))
    if 0 <= row < labels.shape[0] and 0 <= col < labels.shape[1] and labels[row, col] == lab:
        return point
    return (int(peak[0]) + 0.5, int(peak[1]) + 0.5)


def _split_counts(labels: np.ndarray, parents: np.ndarray | None, index: np.ndarray) -> np.ndarray:
    """How many sites each site's 8-connected component was split into (all ones without ``parents``)."""
    if parents is None:
        return np.ones(index.size, np.int64)
    parent_of = ndimage.maximum(parents, labels, index).astype(np.int64)
    return np.bincount(parent_of)[parent_of]


def _slope_attributes(
    member: np.ndarray, slope_cells: np.ndarray | None, threshold_deg: float = SLOPE_THRESHOLD_DEG
) -> tuple[float | None, str | None]:
    """Mean slope of the component's cells and its class: ``slope`` when >= 15 degrees, else ``flat``."""
    if slope_cells is None:
        return None, None
    values = slope_cells[member]
    values = values[np.isfinite(values)]
    if not values.size:
        return None, None
    mean = float(values.mean())
    return mean, ("slope" if mean >= threshold_deg else "flat")


def _crop(grid: np.ndarray | None, rows: slice, cols: slice) -> np.ndarray | None:
    return None if grid is None else grid[rows, cols]


def size_filter(found: list[Component], limit_m2: float) -> list[Component]:
    """Keep the sites larger than ``limit_m2`` (relative tolerance 1e-9 for float areas)."""
    return [c for c in found if c.area_m2 > limit_m2 * (1 + 1e-9)]


def rank(found: list[Component]) -> list[Component]:
    """Sites in priority order: slope terrain first, then higher prob_max, then larger area."""
    return sorted(found, key=lambda c: (_TERRAIN_RANK[c.slope_class], -c.prob_max, -c.area_m2, c.label))


def detect(
    prob: np.ndarray,
    config: DetectConfig,
    cell_area_m2: float,
    *,
    slope_cells: np.ndarray | None = None,
    size_filtered: bool = True,
) -> tuple[list[Component], np.ndarray]:
    """Threshold -> 8-connected components -> split at saddles -> (size filter) -> priority order; also
    returns the site labels."""
    labels, count, parents = label_sites(prob, config)
    split = None if config.split_prominence is None else parents
    found = components(prob, labels, count, cell_area_m2, slope_cells, split)
    if size_filtered:
        found = size_filter(found, size_limit_m2(config, cell_area_m2))
    return rank(found), labels


_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"


def geohash(lat: float, lon: float, precision: int = 7) -> str:
    """Standard geohash of a WGS84 point (precision 7 is a cell of about 153 m x 153 m)."""
    lat_range, lon_range = [-90.0, 90.0], [-180.0, 180.0]
    bits, even, out, value = 0, True, [], 0
    while len(out) < precision:
        rng, coord = (lon_range, lon) if even else (lat_range, lat)
        mid = (rng[0] + rng[1]) / 2
        value = value * 2 + (coord >= mid)
        rng[0 if coord >= mid else 1] = mid
        even, bits = not even, bits + 1
        if bits == 5:
            out.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(out)


def site_ids(centroids_lonlat: list[tuple[float, float]], precision: int = 7) -> list[str]:
    """Stable site IDs from WGS84 centroids: ``fs-<geohash>``; ``-2``, ``-3`` ... for repeats in one list."""
    seen: dict[str, int] = {}
    ids = []
    for lon, lat in centroids_lonlat:
        base = f"fs-{geohash(lat, lon, precision)}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return ids
