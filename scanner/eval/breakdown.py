"""Recall broken down by how strong a landslide's signal is: its peak line-of-sight motion in the scene (in
fringes) and its area. Pure; the (label, scene, found) pairs come from ``scanner.pipeline.sites.found_labels``.

A pair is one label visible in one scene. Its motion is ``|los_peak_m|`` (the label's ``properties.scenes[]``
entry for that scene, written by ``fringescan synth``) over the scene's fringe, half its ``wavelength_m``;
its area is the label's ``area_m2``. Bins are half-open ``[lo, hi)``, the last one open-ended; values below
the first edge go to a ``< lo`` bin listed first when there are any, and pairs without a value (labels that
do not carry it) are left out and counted apart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from scanner.config import require

MOTION_EDGES_FRINGES = (0.25, 0.5, 0.75, 1.0, 1.5)
"""Bin edges of peak line-of-sight motion, in fringes (wavelength / 2)."""

AREA_EDGES_KM2 = (0.16, 0.3, 0.6, 1.2, 2.0)
"""Bin edges of landslide area, in km²."""


@dataclass(frozen=True)
class BinRecall:
    """One bin: its name (``"0.25-0.5"``, ``">1.5"``, ``"<0.25"``), the pairs in it and how many were found."""

    name: str
    count: int
    found: int

    @property
    def recall(self) -> float:
        return self.found / self.count if self.count else math.nan


def motion_fringes(properties: Mapping, scene_id: str, wavelength_m: float) -> float:
    """|peak LOS motion| of a label in ``scene_id`` in fringes; NaN when its properties do not give it."""
    scenes = properties.get("scenes")
    entry = (
        next(
            (s for s in scenes if isinstance(s, Mapping) and s.get("scene_id") == scene_id),
            None,
        )
        if isinstance(scenes, list)
        else None
    )
    peak = entry.get("los_peak_m") if entry else None
    if not isinstance(peak, int | float) or isinstance(peak, bool):
        return math.nan
    return abs(float(peak)) / (wavelength_m / 2.0)


def area_km2(properties: Mapping) -> float:
    """A label's ``area_m2`` in km²; NaN when absent."""
    area = properties.get("area_m2")
    return float(area) / 1e6 if isinstance(area, int | float) and not isinstance(area, bool) else math.nan


def bin_recall(values: Sequence[float], found: Sequence[bool], edges: Sequence[float]) -> list[BinRecall]:
    """Count and found per bin of ``values`` (module docstring); NaN values are left out."""
    require(
        len(values) == len(found) and len(edges) > 0 and list(edges) == sorted(edges),
        "recall bins",
        expected="one found flag per value and increasing edges",
        found=f"{len(values)} values, {len(found)} flags, edges {list(edges)}",
        fix="pass the pairs of found_labels and edges such as MOTION_EDGES_FRINGES",
    )
    names = [f"{_num(lo)}-{_num(hi)}" for lo, hi in zip(edges, edges[1:], strict=False)]
    names.append(f">{_num(edges[-1])}")
    tally = {name: [0, 0] for name in [f"<{_num(edges[0])}", *names]}
    for value, hit in zip(values, found, strict=True):
        if math.isnan(value):
            continue
        above = sum(value >= e for e in edges)
        name = f"<{_num(edges[0])}" if above == 0 else names[above - 1]
        tally[name][0] += 1
        tally[name][1] += bool(hit)
    rows = [BinRecall(name, n, k) for name, (n, k) in tally.items()]
    return rows[1:] if rows[0].count == 0 else rows


def _num(x: float) -> str:
    return f"{x:g}"


def recall_markdown(heading: str, columns: Mapping[str, Sequence[BinRecall]]) -> str:
    """A markdown table: one row per bin, the pair count, then found and recall for each column (the same
    pairs matched under different settings, e.g. split and no split)."""
    first = next(iter(columns.values()))
    require(
        all([b.name for b in bins] == [b.name for b in first] for bins in columns.values()),
        "recall table columns",
        expected="the same bins in every column",
        found={c: [b.name for b in bins] for c, bins in columns.items()},
        fix="bin the same pairs with the same edges for every column",
    )
    header = f"| {heading} | pairs | " + " | ".join(f"found ({c}) | recall ({c})" for c in columns) + " |"
    rule = "|---" * (2 + 2 * len(columns)) + "|"
    lines = [header, rule]
    for i, row in enumerate(first):
        cells = []
        for bins in columns.values():
            b = bins[i]
            cells += [str(b.found), "n/a" if math.isnan(b.recall) else f"{b.recall:.2f}"]
        lines.append(f"| {row.name} | {row.count} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
