"""Detection-level matching (Table 7) on known geometries."""

import math

from shapely.geometry import box

from scanner.eval.matching import DetectionCounts, format_table7, match_sites, table7


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
