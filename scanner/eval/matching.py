"""Detection-level evaluation (the paper's Table 7): match detected sites to labelled landslide candidates.

Pure geometry (shapely), no I/O. **Matching rule (overlap):** a labelled site is a true positive when at least
one detected site's polygon overlaps it with a positive area, else a false negative; a detected site that
overlaps no label is a false positive. Several detections on one label count one TP (the paper counts sites,
Table 5), and a detection touching two labels makes both TPs. Overlap rather than centre distance because a
detection's cells cover the fringe it fires on, while its centroid may fall outside a crescent-shaped label.

Recall = TP / (TP + FN), precision = TP / (TP + FP) (paper, Eqs. 1 and 2); an empty denominator gives NaN.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from shapely import STRtree
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class DetectionCounts:
    """TP/FN/FP of one comparison (labels and sites of the same scenes), with recall and precision."""

    tp: int
    fn: int
    fp: int

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    def __add__(self, other: DetectionCounts) -> DetectionCounts:
        return DetectionCounts(self.tp + other.tp, self.fn + other.fn, self.fp + other.fp)

    def to_dict(self) -> dict:
        return {**asdict(self), "recall": self.recall, "precision": self.precision}


def match_sites(
    labels: Sequence[BaseGeometry], sites: Sequence[BaseGeometry], ignore: Sequence[BaseGeometry] = ()
) -> DetectionCounts:
    """Count TP, FN and FP by polygon overlap (positive intersection area) in one common CRS.

    ``ignore`` holds real candidates that are not expected in this scene (not visible in it): a site on one
    of them is neither a TP nor an FP.
    """
    matched_labels = _overlaps(labels, sites)
    on_labels = set().union(*matched_labels.values()) if matched_labels else set()
    on_ignored = set().union(*_overlaps(ignore, sites).values()) if ignore else set()
    tp = len(matched_labels)
    fp = len(sites) - len(on_labels | on_ignored)
    return DetectionCounts(tp=tp, fn=len(labels) - tp, fp=fp)


def _overlaps(labels: Sequence[BaseGeometry], sites: Sequence[BaseGeometry]) -> dict[int, set[int]]:
    """For each label that overlaps a site with positive area, the indices of those sites."""
    found: dict[int, set[int]] = {}
    if not labels or not sites:
        return found
    tree = STRtree(list(sites))
    for i, label in enumerate(labels):
        for j in tree.query(label, predicate="intersects"):
            if label.intersection(sites[int(j)]).area > 0:
                found.setdefault(i, set()).add(int(j))
    return found


def table7(
    labels: Sequence[BaseGeometry],
    sites_all: Sequence[BaseGeometry],
    sites_filtered: Sequence[BaseGeometry],
    ignore: Sequence[BaseGeometry] = (),
) -> dict[str, DetectionCounts]:
    """Table 7 layout: (a) without the size filter, (b) with it."""
    return {
        "without_size_filter": match_sites(labels, sites_all, ignore),
        "with_size_filter": match_sites(labels, sites_filtered, ignore),
    }


def format_table7(rows: dict[str, DetectionCounts]) -> str:
    """Plain-text table: one row per case with TP, FN, FP, recall and precision."""
    lines = [f"{'case':<22}{'TP':>6}{'FN':>6}{'FP':>6}{'recall':>9}{'precision':>11}"]
    for name, c in rows.items():
        lines.append(f"{name:<22}{c.tp:>6}{c.fn:>6}{c.fp:>6}{c.recall:>9.3f}{c.precision:>11.3f}")
    return "\n".join(lines)
