"""Candidate detection on a probability grid: threshold, connected components, size filter, attributes.

Pure numpy/scipy, no I/O (polygons and WGS84 output are made in ``scanner.pipeline.sites``).

Rules (docs/scanning.md explains them):

- **Threshold:** a cell is a candidate when its probability is ``>= threshold`` (default 0.5, the argmax of the
  two-class softmax); NaN cells never are.
- **Connectivity:** 8-connected. A landslide fringe is a ring or arc of phase cycles; on a 10 px grid its
  cells often touch only at corners, and 4-connectivity would split one fringe into several sites.
- **Size filter:** the paper removes candidates "smaller than 10x10 px" (about 0.078 km^2 at 28 m). On the
  10 px cell grid a component of one cell is exactly 10x10 px, the smallest thing the map can hold, so the
  filter removes every component whose area is at most ``min_area_m2``, by default one cell's area. No
  candidate of the training data (0.16 km^2 and up) is that small, so the filter cannot cost a true positive.
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
SLOPE_THRESHOLD_DEG = 15.0
_TERRAIN_RANK = {"slope": 0, None: 1, "flat": 2}


@dataclass(frozen=True, kw_only=True)
class DetectConfig:
    """``threshold``: probability a cell needs; ``min_area_m2``: components of at most this area are removed
    (None = one cell's area, the paper's 10x10 px; 0 = no size filter)."""

    threshold: float = 0.5
    min_area_m2: float | None = None

    def __post_init__(self) -> None:
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


@dataclass(frozen=True, kw_only=True)
class OperatingPoint:
    """The detection defaults a model travels with (chosen on validation scenes; docs/scanning.md).

    ``threshold``: cell probability a candidate needs; ``min_cells``: the smallest site kept, in cells (2 = the
    paper's size filter, which removes one-cell sites: the behaviour of models that record no operating point).
    """

    threshold: float = 0.5
    min_cells: int = 2

    def __post_init__(self) -> None:
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
) -> tuple[DetectConfig, str]:
    """The detection settings of one grid: explicit values win, else the grid's recorded operating point
    (``attrs["operating_point"]``), else ``OperatingPoint()``; also a one-line account of where each came from."""
    point = OperatingPoint(**recorded) if recorded else OperatingPoint()
    origin = "model's operating point" if recorded else "default, the model records none"
    config = DetectConfig(
        threshold=point.threshold if threshold is None else threshold,
        min_area_m2=point.min_area_m2(cell_area_m2) if min_area_m2 is None else min_area_m2,
    )
    parts = [
        f"threshold {config.threshold:g} ({'--threshold' if threshold is not None else origin})",
        f"min area {config.min_area_m2:g} m2 "
        + ("(--min-area-m2)" if min_area_m2 is not None else f"({point.min_cells} cells, {origin})"),
    ]
    return config, "; ".join(parts)


@dataclass(frozen=True)
class Component:
    """One connected group of candidate cells. ``label`` indexes the label grid; cell coordinates are
    (row, col) on the probability grid, ``centroid_cell`` is fractional (cell centres at ``i + 0.5``)."""

    label: int
    n_cells: int
    area_m2: float
    prob_max: float
    prob_mean: float
    centroid_cell: tuple[float, float]
    bbox_cells: tuple[int, int, int, int]
    slope_class: str | None
    slope_mean_deg: float | None


def label_candidates(prob: np.ndarray, threshold: float) -> tuple[np.ndarray, int]:
    """Label 8-connected components of cells with ``prob >= threshold`` (NaN is never a candidate)."""
    candidate = np.nan_to_num(prob, nan=-1.0) >= threshold
    labels, count = ndimage.label(candidate, structure=EIGHT_CONNECTED)
    return labels.astype(np.int32), int(count)


def size_limit_m2(config: DetectConfig, cell_area_m2: float) -> float:
    """Area at or below which a component is removed (one cell by default)."""
    return cell_area_m2 if config.min_area_m2 is None else float(config.min_area_m2)


def components(
    prob: np.ndarray,
    labels: np.ndarray,
    count: int,
    cell_area_m2: float,
    slope_cells: np.ndarray | None = None,
) -> list[Component]:
    """Attributes of every labelled component; ``slope_cells`` (mean slope per cell in degrees, NaN where
    unknown) is an optional grid of the probability grid's shape, given when a DEM was ingested."""
    found = []
    index = np.arange(1, count + 1)
    if count == 0:
        return found
    sizes = ndimage.sum_labels(np.ones_like(prob), labels, index)
    maxima = ndimage.maximum(prob, labels, index)
    means = ndimage.mean(prob, labels, index)
    centres = ndimage.center_of_mass(np.ones_like(prob), labels, index)
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
            )
        )
    return found


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
    """Keep the components larger than ``limit_m2`` (relative tolerance 1e-9 for float areas)."""
    return [c for c in found if c.area_m2 > limit_m2 * (1 + 1e-9)]


def rank(found: list[Component]) -> list[Component]:
    """Components in priority order: slope terrain first, then higher prob_max, then larger area."""
    return sorted(found, key=lambda c: (_TERRAIN_RANK[c.slope_class], -c.prob_max, -c.area_m2, c.label))


def detect(
    prob: np.ndarray,
    config: DetectConfig,
    cell_area_m2: float,
    *,
    slope_cells: np.ndarray | None = None,
    size_filtered: bool = True,
) -> tuple[list[Component], np.ndarray]:
    """Threshold -> 8-connected components -> (size filter) -> priority order; also returns the labels."""
    labels, count = label_candidates(prob, config.threshold)
    found = components(prob, labels, count, cell_area_m2, slope_cells)
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
