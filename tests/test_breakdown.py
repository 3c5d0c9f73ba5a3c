"""Recall by peak line-of-sight motion and by area (``scanner.eval.breakdown``) on hand-made label properties."""

from __future__ import annotations

import math

import pytest

from scanner.errors import UsageError
from scanner.eval.breakdown import (
    AREA_EDGES_KM2,
    MOTION_EDGES_FRINGES,
    BinRecall,
    area_km2,
    bin_recall,
    motion_fringes,
    recall_markdown,
)

L_BAND_M = 0.236  # fringe 0.118 m


def synth_properties(area_m2: float, peaks: dict[str, float]) -> dict:
    """Label properties as `fringescan synth` writes them (only the fields the breakdown reads, plus one)."""
    return {
        "area_m2": area_m2,
        "scenes": [{"scene_id": s, "los_peak_m": p, "visible": True} for s, p in peaks.items()],
    }


def test_motion_is_the_scenes_peak_over_half_the_wavelength():
    props = synth_properties(250_000.0, {"a": -0.059, "b": 0.177})
    assert motion_fringes(props, "a", L_BAND_M) == pytest.approx(0.5)
    assert motion_fringes(props, "b", L_BAND_M) == pytest.approx(1.5)
    assert motion_fringes(props, "b", 0.0555) == pytest.approx(0.177 / 0.02775)  # C band: more fringes
    assert math.isnan(motion_fringes(props, "c", L_BAND_M))  # no entry for that scene
    assert math.isnan(motion_fringes({}, "a", L_BAND_M))
    assert math.isnan(motion_fringes({"scenes": [{"scene_id": "a", "los_peak_m": None}]}, "a", L_BAND_M))
    assert area_km2(props) == 0.25 and math.isnan(area_km2({"area_m2": "big"}))


def test_pairs_fall_in_half_open_bins_and_recall_is_found_over_count():
    fringe = L_BAND_M / 2
    labels = [
        (synth_properties(170_000.0, {"s": 0.3 * fringe}), True),  # 0.25-0.5, 0.16-0.3 km2
        (synth_properties(300_000.0, {"s": 0.5 * fringe}), False),  # 0.5-0.75 (edge goes up), 0.3-0.6
        (synth_properties(590_000.0, {"s": -0.6 * fringe}), True),  # 0.5-0.75, 0.3-0.6
        (synth_properties(2_500_000.0, {"s": 2.0 * fringe}), True),  # >1.5, >2
        (synth_properties(100_000.0, {"s": 0.1 * fringe}), False),  # below both first edges
        ({}, True),  # no values: left out
    ]
    motion = [motion_fringes(p, "s", L_BAND_M) for p, _ in labels]
    found = [hit for _, hit in labels]
    rows = bin_recall(motion, found, MOTION_EDGES_FRINGES)
    assert [(r.name, r.count, r.found) for r in rows] == [
        ("<0.25", 1, 0),
        ("0.25-0.5", 1, 1),
        ("0.5-0.75", 2, 1),
        ("0.75-1", 0, 0),
        ("1-1.5", 0, 0),
        (">1.5", 1, 1),
    ]
    assert rows[2].recall == 0.5 and math.isnan(rows[3].recall)
    areas = bin_recall([area_km2(p) for p, _ in labels], found, AREA_EDGES_KM2)
    assert [(r.name, r.count, r.found) for r in areas] == [
        ("<0.16", 1, 0),
        ("0.16-0.3", 1, 1),
        ("0.3-0.6", 2, 1),
        ("0.6-1.2", 0, 0),
        ("1.2-2", 0, 0),
        (">2", 1, 1),
    ]
    # Without values below the first edge there is no "<" bin; every pair with a value is in one bin.
    kept = bin_recall(motion[:4], found[:4], MOTION_EDGES_FRINGES)
    assert kept[0].name == "0.25-0.5" and sum(r.count for r in kept) == 4


def test_markdown_puts_columns_side_by_side_and_refuses_mismatched_bins():
    split = [BinRecall("0.25-0.5", 4, 3), BinRecall(">0.5", 0, 0)]
    whole = [BinRecall("0.25-0.5", 4, 1), BinRecall(">0.5", 0, 0)]
    text = recall_markdown("motion", {"split": split, "no split": whole})
    lines = text.splitlines()
    assert (
        lines[0]
        == "| motion | pairs | found (split) | recall (split) | found (no split) | recall (no split) |"
    )
    assert lines[2] == "| 0.25-0.5 | 4 | 3 | 0.75 | 1 | 0.25 |" and lines[3].endswith("n/a | 0 | n/a |")
    with pytest.raises(UsageError, match="columns"):
        recall_markdown("motion", {"split": split, "no split": whole[:1]})
    with pytest.raises(UsageError, match="recall bins"):
        bin_recall([0.3], [], MOTION_EDGES_FRINGES)
