"""Detection-level evaluation (the paper's Table 7): match detected sites to labelled landslide candidates.

Pure geometry (shapely, scipy), no I/O. Two rules (``MatchRule``):

- **overlap** (the default): a labelled site is a true positive when at least one detected site's polygon
  overlaps it with a positive area, else a false negative; a detected site that overlaps no label is a false
  positive. Several detections on one label count one TP (the paper counts sites, Table 5), and a detection
  touching two labels makes both TPs. Overlap rather than centre distance because a detection's cells cover
  the fringe it fires on, while its centroid may fall outside a crescent-shaped label.
- **point** (an independent benchmark's rule, issue 18): a site matches a label when the site's point
  (``centroid_lon/lat`` of the site layer) lies inside the label or within ``within_m`` metres of it (default
  300 m), **one to one**: the pairs are the largest set of (label, site) pairs within reach in which each label
  and each site appears at most once, and among such sets the one of smallest total distance
  (``scipy.optimize.linear_sum_assignment``). Paired labels are TPs, unpaired labels FNs, unpaired sites FPs:
  a second site on a found label is a false positive, and a site between two labels finds one of them. Under
  this rule a merged blob whose point falls between landslides finds at most one, where overlap counts both.

Under both rules ``ignore`` holds real candidates not expected in the scene (not visible in it): a site on one
(overlapping it, or for the point rule unpaired and within reach of it) is neither a TP nor an FP.

Recall = TP / (TP + FN), precision = TP / (TP + FP) (paper, Eqs. 1 and 2); an empty denominator gives NaN.

**Why a label was missed** (``miss_causes``, the ``misses`` of ``evaluate-scan``'s report), the first that holds:

- ``shared_site``: a kept site reaches the label (its polygon meets the label, or under the point rule the
  label grown by ``within_m``) but is matched to another label: one site for two landslides (point rule only);
- ``point_too_far``: a kept site reaches the label but its point lies beyond ``within_m`` (point rule only);
- ``removed_by_filters``: a site reached it before the size filter (and the support rule) removed it;
- ``below_threshold``: no cell reaching it scored the threshold;
- ``not_scanned``: no cell reaching it was scored at all (its windows hold too few valid pixels, or it lies
  near a scene edge, where no 150 px window fits); ``scanner.pipeline.sites`` tells it from
  ``below_threshold``, which this module cannot.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from scanner.config import require

MATCH_METHODS = ("overlap", "point")
"""The matching rules (``--match``): polygon overlap, or the site's point within reach of the label."""

WITHIN_M = 300.0
"""The point rule's default reach in metres (the independent benchmark's 300 m)."""

MISS_CAUSES = ("shared_site", "point_too_far", "removed_by_filters", "below_threshold", "not_scanned")
"""Why a label was missed (module docstring), in the order they are tested."""


@dataclass(frozen=True, kw_only=True)
class MatchRule:
    """How sites are matched to labels (module docstring): ``method`` one of ``MATCH_METHODS``; ``within_m``
    the point rule's reach in metres (unused by overlap)."""

    method: str = "overlap"
    within_m: float = WITHIN_M

    def __post_init__(self) -> None:
        require(
            self.method in MATCH_METHODS,
            "matching rule",
            expected=" or ".join(MATCH_METHODS),
            found=self.method,
            fix="use --match overlap (polygon overlap) or --match point (site point within --within-m)",
        )
        require(
            math.isfinite(self.within_m) and self.within_m >= 0,
            "point matching reach",
            expected="a finite distance >= 0 m",
            found=self.within_m,
            fix=f"e.g. --within-m {WITHIN_M:g}",
        )

    def to_dict(self) -> dict:
        """``matching`` and ``within_m`` for reports (``within_m`` None under overlap, which has no reach)."""
        return {"matching": self.method, "within_m": self.within_m if self.method == "point" else None}

    def describe(self) -> str:
        if self.method == "overlap":
            return "polygon overlap"
        return f"site point within {self.within_m:g} m of the label, one to one"


OVERLAP = MatchRule()
"""The default rule: polygon overlap (every report before issue 18 used it)."""


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


@dataclass(frozen=True)
class Match:
    """The counts of one comparison, which labels (indices into ``labels``) were found and which sites (indices
    into the sites) found them."""

    counts: DetectionCounts
    found: frozenset[int]
    taken: frozenset[int]


def match(
    rule: MatchRule,
    labels: Sequence[BaseGeometry],
    sites: Sequence[BaseGeometry],
    ignore: Sequence[BaseGeometry] = (),
) -> Match:
    """Match under ``rule``. ``sites`` are what the rule reads, in the labels' CRS: each site's polygon
    (overlap; any common CRS), or each site's point (point; a CRS in metres)."""
    if rule.method == "point":
        return _point_match(labels, sites, ignore, rule.within_m)
    return _overlap_match(labels, sites, ignore)


def match_sites(
    labels: Sequence[BaseGeometry], sites: Sequence[BaseGeometry], ignore: Sequence[BaseGeometry] = ()
) -> DetectionCounts:
    """Count TP, FN and FP by polygon overlap (positive intersection area) in one common CRS.

    ``ignore`` holds real candidates that are not expected in this scene (not visible in it): a site on one
    of them is neither a TP nor an FP.
    """
    return _overlap_match(labels, sites, ignore).counts


def match_points(
    labels: Sequence[BaseGeometry],
    points: Sequence[BaseGeometry],
    ignore: Sequence[BaseGeometry] = (),
    *,
    within_m: float = WITHIN_M,
) -> DetectionCounts:
    """Count TP, FN and FP by the point rule (module docstring), labels and points in one CRS in metres."""
    return _point_match(labels, points, ignore, within_m).counts


def _overlap_match(
    labels: Sequence[BaseGeometry], sites: Sequence[BaseGeometry], ignore: Sequence[BaseGeometry]
) -> Match:
    matched_labels = _overlaps(labels, sites)
    on_labels = set().union(*matched_labels.values()) if matched_labels else set()
    on_ignored = set().union(*_overlaps(ignore, sites).values()) if ignore else set()
    tp = len(matched_labels)
    fp = len(sites) - len(on_labels | on_ignored)
    return Match(
        DetectionCounts(tp=tp, fn=len(labels) - tp, fp=fp), frozenset(matched_labels), frozenset(on_labels)
    )


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


def _point_match(
    labels: Sequence[BaseGeometry],
    points: Sequence[BaseGeometry],
    ignore: Sequence[BaseGeometry],
    within_m: float,
) -> Match:
    pairs = point_pairs(labels, points, within_m)
    paired = {site for _, site in pairs}
    loose = [j for j in range(len(points)) if j not in paired]
    excused = set()
    if ignore and loose:
        near = STRtree(list(ignore)).query([points[j] for j in loose], predicate="dwithin", distance=within_m)
        excused = {loose[int(k)] for k in near[0]}
    tp = len(pairs)
    counts = DetectionCounts(tp=tp, fn=len(labels) - tp, fp=len(loose) - len(excused))
    return Match(counts, frozenset(label for label, _ in pairs), frozenset(paired))


def point_pairs(
    labels: Sequence[BaseGeometry], points: Sequence[BaseGeometry], within_m: float
) -> list[tuple[int, int]]:
    """The point rule's one-to-one ``(label, site)`` index pairs: as many pairs with the point inside the label
    or within ``within_m`` of it as possible, then the smallest total distance; sorted by label."""
    if not labels or not points:
        return []
    site, label = STRtree(list(labels)).query(list(points), predicate="dwithin", distance=within_m)
    if site.size == 0:
        return []
    distance = np.asarray([labels[j].distance(points[i]) for i, j in zip(site, label, strict=True)])
    # An out-of-reach pair costs more than any set of in-reach pairs, so the assignment first maximises the
    # number of in-reach pairs, then minimises their total distance.
    out_of_reach = within_m * (min(len(labels), len(points)) + 1) + 1.0
    cost = np.full((len(labels), len(points)), out_of_reach)
    cost[label, site] = distance
    rows, cols = linear_sum_assignment(cost)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if cost[r, c] < out_of_reach]


def reach(rule: MatchRule, label: BaseGeometry) -> BaseGeometry:
    """Where a site must be to find ``label``: the label itself (overlap), grown by ``within_m`` (point)."""
    return label.buffer(rule.within_m) if rule.method == "point" else label


def miss_causes(
    rule: MatchRule,
    labels: Sequence[BaseGeometry],
    kept: Match,
    site_areas: Sequence[BaseGeometry],
    unfiltered_areas: Sequence[BaseGeometry],
) -> dict[int, str]:
    """The cause (``MISS_CAUSES`` but ``not_scanned``) of each label ``kept`` (the kept sites' :func:`match`)
    leaves unfound, by index. ``site_areas``: the kept sites' polygons; ``unfiltered_areas``: the polygons of the
    sites before the size filter and the support rule. All in the labels' CRS (metres for the point rule)."""
    causes = {}
    for i, label in enumerate(labels):
        if i in kept.found:
            continue
        zone = reach(rule, label)
        near = _overlaps([zone], site_areas).get(0, set())
        if near & kept.taken:
            causes[i] = "shared_site"
        elif near:
            causes[i] = "point_too_far"
        elif _overlaps([zone], unfiltered_areas):
            causes[i] = "removed_by_filters"
        else:
            causes[i] = "below_threshold"
    return causes


def table7(
    labels: Sequence[BaseGeometry],
    sites_all: Sequence[BaseGeometry],
    sites_filtered: Sequence[BaseGeometry],
    ignore: Sequence[BaseGeometry] = (),
    rule: MatchRule = OVERLAP,
) -> dict[str, DetectionCounts]:
    """Table 7 layout: (a) without the size filter, (b) with it (sites as :func:`match` reads them)."""
    return {
        "without_size_filter": match(rule, labels, sites_all, ignore).counts,
        "with_size_filter": match(rule, labels, sites_filtered, ignore).counts,
    }


def format_table7(rows: dict[str, DetectionCounts]) -> str:
    """Plain-text table: one row per case with TP, FN, FP, recall and precision."""
    lines = [f"{'case':<22}{'TP':>6}{'FN':>6}{'FP':>6}{'recall':>9}{'precision':>11}"]
    for name, c in rows.items():
        lines.append(f"{name:<22}{c.tp:>6}{c.fn:>6}{c.fp:>6}{c.recall:>9.3f}{c.precision:>11.3f}")
    return "\n".join(lines)
