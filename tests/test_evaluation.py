"""Detection-level matching (Table 7) on known geometries: polygon overlap and the point rule."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from scanner.errors import UsageError
from scanner.eval.matching import (
    WITHIN_M,
    DetectionCounts,
    MatchRule,
    format_table7,
    match,
    match_points,
    match_sites,
    point_pairs,
    table7,
)


def test_overlap_matching_counts():
    labels = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(50, 50, 60, 60)]
    sites = [
        box(5, 5, 12, 12),
        box(8, 8, 9, 9),
        box(25, 5, 40, 6),
        box(100, 100, 101, 101),
        box(10, 10, 11, 11),
    ]
    counts = match_sites(labels, sites)
    # label 0 <- sites 0, 1; label 1 <- site 2; label 2 missed; site 3 false; site 4 touches label 0 at a corner only
    assert (counts.tp, counts.fn, counts.fp) == (2, 1, 2)
    assert counts.recall == 2 / 3 and counts.precision == 2 / 4


def test_table7_with_and_without_filter():
    labels = [box(0, 0, 10, 10)]
    everything = [box(1, 1, 2, 2), box(50, 50, 51, 51), box(70, 70, 71, 71)]
    rows = table7(labels, everything, everything[:1])
    assert rows["without_size_filter"] == DetectionCounts(1, 0, 2)
    assert rows["with_size_filter"] == DetectionCounts(1, 0, 0)
    text = format_table7(rows)
    assert "with_size_filter" in text and "1.000" in text


def test_empty_cases():
    assert math.isnan(match_sites([], []).recall)
    assert match_sites([box(0, 0, 1, 1)], []) == DetectionCounts(0, 1, 0)
    assert (DetectionCounts(1, 2, 3) + DetectionCounts(1, 1, 1)).to_dict()["tp"] == 2


def test_sites_on_hidden_labels_are_not_false_positives():
    visible = [box(0, 0, 10, 10)]
    hidden = [box(20, 20, 30, 30)]
    sites = [box(1, 1, 2, 2), box(21, 21, 22, 22), box(90, 90, 91, 91)]
    assert match_sites(visible, sites, hidden) == DetectionCounts(1, 0, 1)
    assert match_sites(visible, sites) == DetectionCounts(1, 0, 2)


# ---------------------------------------------------------------------------------------------- point rule


def test_a_point_250_m_outside_matches_at_300_m_and_not_at_200_m():
    label = box(0, 0, 100, 100)  # metres
    outside = Point(350, 50)  # 250 m east of the label's edge
    inside = Point(50, 50)
    assert match_points([label], [outside], within_m=300) == DetectionCounts(1, 0, 0)
    assert match_points([label], [outside], within_m=200) == DetectionCounts(0, 1, 1)
    assert match_points([label], [inside], within_m=0) == DetectionCounts(1, 0, 0)
    assert match_points([label], [outside]) == DetectionCounts(1, 0, 0)  # default: the benchmark's 300 m
    assert WITHIN_M == 300.0


def test_one_site_between_two_labels_finds_one_of_them():
    labels = [box(0, 0, 100, 100), box(400, 0, 500, 100)]
    between = Point(250, 50)  # 150 m from each
    assert match_points(labels, [between]) == DetectionCounts(1, 1, 0)
    assert len(point_pairs(labels, [between], 300)) == 1


def test_a_merged_blob_over_two_labels_is_two_finds_by_overlap_and_one_by_point():
    labels = [box(0, 0, 100, 100), box(400, 0, 500, 100)]
    blob = box(50, 20, 450, 80)  # overlaps both labels
    point = Point(80, 50)  # the blob's point, inside the first label
    assert match_sites(labels, [blob]) == DetectionCounts(2, 0, 0)
    assert match_points(labels, [point]) == DetectionCounts(1, 1, 0)
    overlap = match(MatchRule(), labels, [blob])
    by_point = match(MatchRule(method="point"), labels, [point])
    assert overlap.found == {0, 1} and by_point.found == {0}


def test_one_to_one_takes_the_most_pairs_then_the_shortest_distances():
    labels = [box(0, 0, 100, 100), box(400, 0, 500, 100)]
    # Site 0 is nearer label 0 (50 m) than label 1 (250 m); site 1 reaches only label 0 (200 m). Greedy by
    # distance would give label 0 to site 0 and find one label; the assignment finds both.
    sites = [Point(150, 50), Point(-200, 50)]
    assert sorted(point_pairs(labels, sites, 300)) == [(0, 1), (1, 0)]
    assert match_points(labels, sites) == DetectionCounts(2, 0, 0)
    # A second site on a found label is a false positive; the nearer one is paired.
    assert point_pairs(labels[:1], [Point(250, 50), Point(120, 50)], 300) == [(0, 1)]
    assert match_points(labels[:1], [Point(250, 50), Point(120, 50)]) == DetectionCounts(1, 0, 1)


def test_points_near_hidden_labels_are_neither_tp_nor_fp():
    visible = [box(0, 0, 100, 100)]
    hidden = [box(1000, 0, 1100, 100)]
    points = [Point(50, 50), Point(1250, 50), Point(5000, 5000), Point(60, 60)]
    # The site near the hidden label is excused; the far one and the duplicate on the visible label are FPs.
    assert match_points(visible, points, hidden) == DetectionCounts(1, 0, 2)
    assert match_points(visible, points) == DetectionCounts(1, 0, 3)
    # A site within reach of both a visible and a hidden label is paired with the visible one.
    assert match_points(visible, [Point(550, 50)], [box(700, 0, 800, 100)], within_m=500) == DetectionCounts(
        1, 0, 0
    )
    assert match_points([], []) == DetectionCounts(0, 0, 0) and math.isnan(match_points([], []).recall)


def test_table7_and_match_follow_the_rule():
    labels = [box(0, 0, 100, 100)]
    rows = table7(
        labels, [Point(200, 50), Point(900, 900)], [Point(900, 900)], rule=MatchRule(method="point")
    )
    assert rows["without_size_filter"] == DetectionCounts(1, 0, 1)
    assert rows["with_size_filter"] == DetectionCounts(0, 1, 1)


def test_match_rule_is_validated_and_reported():
    assert MatchRule().to_dict() == {"matching": "overlap", "within_m": None}
    assert MatchRule(method="point", within_m=150).to_dict() == {"matching": "point", "within_m": 150}
    assert "300 m" in MatchRule(method="point").describe()
    for bad in ({"method": "centroid"}, {"method": "point", "within_m": -1.0}, {"within_m": math.inf}):
        with pytest.raises(UsageError):
            MatchRule(**bad)


coordinate = st.integers(0, 40).map(lambda v: v * 25.0)
squares = st.builds(
    lambda x, y, s: box(x, y, x + s, y + s), coordinate, coordinate, st.sampled_from([25, 100])
)
points = st.builds(Point, coordinate, coordinate)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(squares, max_size=6),
    st.lists(squares, max_size=3),
    st.lists(points, max_size=8),
    st.sampled_from([0.0, 50.0, 300.0]),
)
def test_point_counts_add_up(labels, hidden, sites, within_m):
    counts = match_points(labels, sites, hidden, within_m=within_m)
    assert counts.tp + counts.fn == len(labels)
    off_hidden = [p for p in sites if all(h.distance(p) > within_m for h in hidden)]
    # Every site off the hidden labels is a TP or an FP; a site near a hidden label may still be a TP.
    assert len(off_hidden) <= counts.tp + counts.fp <= len(sites)
    if not hidden:
        assert counts.tp + counts.fp == len(sites)
    pairs = point_pairs(labels, sites, within_m)
    assert len({i for i, _ in pairs}) == len({j for _, j in pairs}) == len(pairs) == counts.tp
    assert all(labels[i].distance(sites[j]) <= within_m for i, j in pairs)
    # No label and site left unpaired are within reach of each other (the pairing is maximal) ...
    paired_labels, paired_sites = {i for i, _ in pairs}, {j for _, j in pairs}
    assert not any(
        labels[i].distance(sites[j]) <= within_m
        for i in range(len(labels))
        if i not in paired_labels
        for j in range(len(sites))
        if j not in paired_sites
    )
    # ... and widening the reach never loses a find.
    assert match_points(labels, sites, hidden, within_m=within_m + 100).tp >= counts.tp
