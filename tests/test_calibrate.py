"""scanner.eval.calibrate: persistence k of n, threshold choice on a validation sweep, Platt scaling."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from scanner.core.detect import min_area_for_cells
from scanner.errors import UsageError
from scanner.eval.calibrate import (
    apply_platt,
    calibrated_threshold,
    fit_platt,
    pass_support,
    persistent_sites,
    select_setting,
    select_threshold,
)

# ---------------------------------------------------------------------------------------------- persistence


def test_a_site_seen_in_two_passes_survives_two_of_three_and_a_one_off_does_not():
    landslide = [box(0, 0, 2, 2), box(1, 1, 3, 3), box(10, 10, 11, 11)]  # same place, shifted in pass 2
    passes = [[landslide[0], box(20, 20, 21, 21)], [landslide[1]], [box(30, 30, 31, 31)]]
    assert pass_support(passes) == [[2, 1], [2], [1]]
    assert persistent_sites(passes, 2) == [[0], [0], []]
    assert persistent_sites(passes, 1) == [[0, 1], [0], [0]]
    assert persistent_sites(passes, 3) == [[], [], []]


def test_touching_edges_are_not_overlap_and_repeats_in_one_pass_count_once():
    passes = [[box(0, 0, 1, 1)], [box(1, 0, 2, 1)], [box(0.5, 0.5, 2, 2), box(0.2, 0.2, 0.4, 0.4)]]
    # Pass 0's site touches pass 1's only along an edge; pass 2 has two sites on it: one extra pass.
    assert pass_support(passes)[0] == [2]
    assert pass_support(passes)[1] == [2]


def test_empty_passes_and_bad_k():
    assert persistent_sites([[], []], 2) == [[], []]
    with pytest.raises(UsageError, match="persistence k"):
        persistent_sites([[box(0, 0, 1, 1)]], 2)
    with pytest.raises(UsageError, match="persistence k"):
        persistent_sites([[box(0, 0, 1, 1)], []], 0)


boxes = st.builds(
    lambda x, y, w, h: box(x, y, x + w, y + h),
    st.integers(0, 20),
    st.integers(0, 20),
    st.integers(1, 5),
    st.integers(1, 5),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(boxes, max_size=5), min_size=1, max_size=5), st.data())
def test_persistence_is_monotone_in_k_and_support_is_symmetric(passes, data):
    n = len(passes)
    kept = [persistent_sites(passes, k) for k in range(1, n + 1)]
    for lo, hi in zip(kept, kept[1:], strict=False):
        assert all(set(b) <= set(a) for a, b in zip(lo, hi, strict=True))
    assert kept[0] == [list(range(len(p))) for p in passes]
    support = pass_support(passes)
    assert all(1 <= s <= n for row in support for s in row)
    # Support counts a pass at most once, and overlap is symmetric between two single-site passes.
    if n >= 2 and passes[0] and passes[1]:
        a, b = passes[0][0], passes[1][0]
        assert (a.intersection(b).area > 0) == (pass_support([[a], [b]]) == [[2], [2]])


# ---------------------------------------------------------------------------------------------- thresholds


def test_select_threshold_takes_the_best_precision_that_keeps_recall():
    t = [0.3, 0.5, 0.7, 0.9]
    r = [1.0, 0.95, 0.9, 0.6]
    p = [0.1, 0.3, 0.45, 0.9]
    assert select_threshold(t, r, p, 0.9) == 0.7
    assert select_threshold(t, r, p, 0.96) == 0.3
    assert select_threshold(t, r, p, 0.5) == 0.9
    assert select_threshold(t, r, p, 1.01) is None


def test_select_threshold_ties_and_nan_rows():
    t = [0.2, 0.4, 0.6, 0.8]
    r = [0.95, 0.92, 0.92, math.nan]
    p = [0.5, 0.5, 0.5, math.nan]
    assert select_threshold(t, r, p, 0.9) == 0.2  # equal precision: the higher recall
    assert select_threshold([0.4, 0.2], [0.9, 0.9], [0.5, 0.5], 0.9) == 0.2  # then the lower threshold
    with pytest.raises(UsageError, match="sweep"):
        select_threshold([0.1, 0.2], [0.9], [0.5], 0.9)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)), min_size=1, max_size=20), st.floats(0, 1))
def test_selected_threshold_meets_the_recall_and_no_row_beats_it(rows, min_recall):
    t = np.linspace(0.05, 0.95, len(rows))
    r = [a for a, _ in rows]
    p = [b for _, b in rows]
    chosen = select_threshold(t, r, p, min_recall)
    ok = [i for i in range(len(rows)) if r[i] >= min_recall]
    if not ok:
        assert chosen is None
        return
    i = int(np.flatnonzero(t == chosen)[0])
    assert r[i] >= min_recall
    assert all(p[j] <= p[i] for j in ok)


# ---------------------------------------------------------------------------------------------- calibration


def _overconfident(n: int, seed: int, a_true: float, b_true: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores whose true log-odds are ``a_true * logit + b_true``: Platt must recover (a_true, b_true)."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(0.0, 4.0, n)
    y = rng.random(n) < 1.0 / (1.0 + np.exp(-(a_true * logit + b_true)))
    return 1.0 / (1.0 + np.exp(-logit)), y.astype(np.uint8)


def test_platt_recovers_a_known_miscalibration():
    prob, y = _overconfident(40_000, 0, 0.5, -1.0)
    a, b = fit_platt(prob, y)
    assert a == pytest.approx(0.5, abs=0.03)
    assert b == pytest.approx(-1.0, abs=0.06)


def test_platt_on_calibrated_scores_is_near_identity():
    prob, y = _overconfident(40_000, 1, 1.0, 0.0)
    a, b = fit_platt(prob, y)
    assert a == pytest.approx(1.0, abs=0.05)
    assert b == pytest.approx(0.0, abs=0.05)


def test_apply_platt_keeps_nan_and_order_and_threshold_maps_back():
    p = np.array([[0.1, np.nan], [0.5, 0.99]], np.float32)
    out = apply_platt(p, 0.5, -1.0)
    assert np.isnan(out[0, 1]) and out.dtype == np.float32
    assert out[0, 0] < out[1, 0] < out[1, 1]
    raw = calibrated_threshold(0.3, 0.5, -1.0)
    assert float(apply_platt(np.array([raw]), 0.5, -1.0)[0]) == pytest.approx(0.3, abs=1e-6)


def test_bad_calibration_data_is_refused():
    with pytest.raises(UsageError, match="calibration data"):
        fit_platt(np.array([0.2, 0.4]), np.array([0, 2]))
    with pytest.raises(UsageError, match="calibration data"):
        fit_platt(np.array([]), np.array([]))
    with pytest.raises(UsageError, match="Platt slope"):
        calibrated_threshold(0.5, -1.0, 0.0)


def test_select_setting_over_a_grid_and_min_area_for_cells():
    settings = [(0.5, 2), (0.5, 10), (0.9, 2), (0.9, 10)]
    recall = [1.0, 0.95, 0.9, 0.8]
    precision = [0.2, 0.6, 0.5, 0.9]
    assert select_setting(settings, recall, precision, 0.9) == (0.5, 10)
    assert select_setting(settings, recall, precision, 0.99) == (0.5, 2)
    assert select_setting(settings, recall, precision, 0.5) == (0.9, 10)
    with pytest.raises(UsageError, match="sweep"):
        select_setting(settings, recall[:2], precision, 0.9)
    cell = 78_400.0
    assert min_area_for_cells(2, cell) == pytest.approx(
        1.5 * cell
    )  # removes 1-cell sites: the paper's filter
    with pytest.raises(UsageError, match="minimum site size"):
        min_area_for_cells(0, cell)
