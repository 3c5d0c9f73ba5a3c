"""Detection on tiny grids with known components."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.core.detect import (
    DetectConfig,
    detect,
    geohash,
    label_candidates,
    log_odds,
    min_area_for_cells,
    rank,
    site_ids,
)
from scanner.errors import UsageError

CELL_M2 = 280.0 * 280.0


def grid():
    prob = np.full((8, 10), 0.1, np.float32)
    prob[1:3, 1:4] = 0.9  # 6 cells
    prob[5, 5] = 0.95  # a single cell: removed by the size filter
    prob[6, 6] = 0.6  # diagonal neighbour of (5, 5): 8-connected to it
    prob[0, 9] = 0.99  # a single cell alone
    prob[7, 0] = np.nan
    return prob


def test_components_are_eight_connected():
    labels, count = label_candidates(grid(), 0.5)
    assert count == 3
    assert labels[5, 5] == labels[6, 6] != 0


def test_size_filter_removes_single_cells_by_default():
    found, _ = detect(grid(), DetectConfig(), CELL_M2, size_filtered=False)
    assert sorted(c.n_cells for c in found) == [1, 2, 6]
    kept, _ = detect(grid(), DetectConfig(), CELL_M2)
    assert sorted(c.n_cells for c in kept) == [2, 6]
    big, _ = detect(grid(), DetectConfig(min_area_m2=3 * CELL_M2), CELL_M2)
    assert [c.n_cells for c in big] == [6]
    none, _ = detect(grid(), DetectConfig(min_area_m2=0), CELL_M2)
    assert len(none) == 3


def test_attributes_of_a_known_component():
    found, _ = detect(grid(), DetectConfig(), CELL_M2)
    block = next(c for c in found if c.n_cells == 6)
    assert block.area_m2 == pytest.approx(6 * CELL_M2)
    assert block.prob_max == pytest.approx(0.9) and block.prob_mean == pytest.approx(0.9)
    assert block.centroid_cell == pytest.approx((2.0, 2.5))
    assert block.bbox_cells == (1, 1, 3, 4)
    assert block.slope_class is None and block.slope_mean_deg is None


def test_slope_attributes_and_priority():
    slope = np.zeros((8, 10), np.float32)
    slope[5:7, 5:7] = 30.0
    found, _ = detect(grid(), DetectConfig(), CELL_M2, slope_cells=slope)
    assert [c.slope_class for c in found] == ["slope", "flat"]
    assert found[0].n_cells == 2 and found[0].slope_mean_deg == pytest.approx(30.0)
    flat = [c for c in detect(grid(), DetectConfig(min_area_m2=0), CELL_M2)[0]]
    assert [c.prob_max for c in rank(flat)] == sorted((c.prob_max for c in flat), reverse=True)


def test_nan_is_never_a_candidate_and_bad_threshold_refused():
    prob = np.full((3, 3), np.nan, np.float32)
    assert detect(prob, DetectConfig(min_area_m2=0), CELL_M2)[0] == []
    with pytest.raises(UsageError, match="threshold"):
        DetectConfig(threshold=1.5)


def test_geohash_known_value_and_ids():
    assert geohash(57.64911, 10.40744, 11) == "u4pruydqqvj"
    ids = site_ids([(10.40744, 57.64911), (10.40744, 57.64911), (139.0, 35.0)])
    assert ids[0] == "fs-u4pruyd" and ids[1] == "fs-u4pruyd-2" and ids[2] != ids[0]


@given(st.floats(-80, 80), st.floats(-179, 179))
def test_site_id_depends_only_on_place(lat, lon):
    fine = geohash(lat, lon, 9)
    assert geohash(lat, lon, 7) == fine[:7]
    assert site_ids([(lon, lat)]) == [f"fs-{fine[:7]}"]


# ---------------------------------------------------------------------------------------- split at saddles


def bumps(centres, shape=(24, 36), sigma=3.0, height=0.95):
    """Sum of Gaussian bumps of the given (row, col) centres on the cell grid."""
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    out = np.zeros(shape)
    for r, c in centres:
        out += height * np.exp(-((rows - r) ** 2 + (cols - c) ** 2) / (2 * sigma**2))
    return out.astype(np.float32)


def cells_of(labels, site):
    return set(zip(*np.nonzero(labels == site.label), strict=True))


def test_two_bumps_joined_by_a_saddle_are_two_sites():
    prob = bumps([(12, 12), (12, 23)])  # saddle at columns 17 and 18: 0.37, peaks 0.95
    assert 0.3 < prob[12, 17] < 0.95 - 0.1 and (prob[12, 10:26] >= 0.3).all()  # one component at 0.3
    found, labels = detect(prob, DetectConfig(threshold=0.3), CELL_M2)
    assert len(found) == 2 and sorted(c.peak_cell for c in found) == [(12, 12), (12, 23)]
    for site in found:
        own = cells_of(labels, site)
        row, col = (int(np.floor(v)) for v in site.point_cell)
        assert (row, col) in own and site.peak_cell in own
        assert abs(row - site.peak_cell[0]) <= 1 and abs(col - site.peak_cell[1]) <= 1  # at its own peak
        assert site.prob_max == pytest.approx(float(prob[site.peak_cell])) and site.component_sites == 2
    left, right = sorted(found, key=lambda c: c.peak_cell[1])
    assert max(c for _, c in cells_of(labels, left)) < min(c for _, c in cells_of(labels, right))
    assert left.n_cells + right.n_cells == int((prob >= 0.3).sum())


def test_no_split_keeps_the_whole_component():
    prob = bumps([(12, 12), (12, 23)])
    found, labels = detect(prob, DetectConfig(threshold=0.3, split_prominence=None), CELL_M2)
    rows, cols = np.nonzero(prob >= 0.3)
    assert len(found) == 1 and found[0].n_cells == rows.size and found[0].component_sites == 1
    assert found[0].centroid_cell == pytest.approx((rows.mean() + 0.5, cols.mean() + 0.5))
    assert found[0].prob_max == pytest.approx(float(prob.max()))
    assert found[0].prob_mean == pytest.approx(float(prob[rows, cols].mean()))
    assert (labels > 0).sum() == rows.size
    # a saddle shallower than the prominence (in log-odds: 0.95 over 0.37, 3.5 nats) does not split either
    depth = float(log_odds(prob[12, 12]) - log_odds(prob[12, 17]))
    assert 3.3 < depth < 3.7
    assert len(detect(prob, DetectConfig(threshold=0.3, split_prominence=depth + 0.05), CELL_M2)[0]) == 1
    assert len(detect(prob, DetectConfig(threshold=0.3, split_prominence=depth - 0.05), CELL_M2)[0]) == 2


def test_a_bump_with_noise_below_the_prominence_is_one_site():
    prob = np.minimum(bumps([(12, 18)], sigma=4.0, height=1.5), 0.9)  # a flat top of 0.9
    inside = prob > 0.5  # noise only there, so the thresholded cells (0.3) are the bump's
    noise = np.random.default_rng(3).uniform(-0.04, 0.04, prob.shape).astype(np.float32)
    noisy = np.where(
        inside, prob + noise, prob
    )  # a noise peak rises at most 0.08 (0.93 nats) above its saddle
    assert len(detect(noisy, DetectConfig(threshold=0.3, split_prominence=0.05), CELL_M2)[0]) > 1  # it has
    found, labels = detect(noisy, DetectConfig(threshold=0.3), CELL_M2)  # noise peaks
    assert len(found) == 1 and found[0].n_cells == int((noisy >= 0.3).sum()) and found[0].component_sites == 1


@pytest.mark.parametrize(("saddle", "sites"), [(1.0, 1), (1 - 2**-24, 1), (0.9999, 2), (0.97, 2), (0.8, 2)])
def test_saturated_plateaus_split_only_at_a_deep_saddle(saddle, sites):
    """Two plateaus of 1.0 (16.6 nats, where float32 saturates): split wherever the saddle between them lies
    more than 1 nat below, even at 0.9999 (9.2 nats), where probability differs by 1e-4."""
    prob = np.full((5, 9), 0.1, np.float32)
    prob[1:4, 1:4] = 1.0
    prob[1:4, 5:8] = 1.0
    prob[2, 4] = saddle
    found, labels = detect(prob, DetectConfig(threshold=0.5), CELL_M2)
    assert len(found) == sites and sum(c.n_cells for c in found) == 19
    assert all(labels[c.peak_cell] == c.label and prob[c.peak_cell] == 1.0 for c in found)


def test_size_filter_applies_to_split_sites():
    prob = bumps([(12, 12)], sigma=3.0)
    prob[12, 18] = 0.6  # a peak on the bump's flank (0.13 there): rises 0.6 nats above the 0.45 that joins it
    prob[12, 17] = 0.45  # (0.24 there) to the bump's 0.39 at column 16; a site of 2 cells
    config = DetectConfig(threshold=0.3, min_area_m2=min_area_for_cells(3, CELL_M2), split_prominence=0.5)
    every, _ = detect(prob, config, CELL_M2, size_filtered=False)
    assert sorted(c.n_cells for c in every)[0] == 2 and len(every) == 2
    kept, _ = detect(prob, config, CELL_M2)
    assert [c.peak_cell for c in kept] == [(12, 12)] and kept[0].component_sites == 2
    whole, _ = detect(prob, DetectConfig(threshold=0.3, split_prominence=None), CELL_M2)
    assert [c.n_cells for c in whole] == [sum(c.n_cells for c in every)]


def test_split_prominence_is_validated():
    for bad in (0.0, -0.1, float("inf"), float("nan")):
        with pytest.raises(UsageError, match="split prominence"):
            DetectConfig(split_prominence=bad)


@pytest.mark.parametrize("prominence", [None, 0.1])
def test_known_components_do_not_depend_on_splitting(prominence):
    """grid()'s components are flat: splitting leaves them as they are."""
    found, labels = detect(grid(), DetectConfig(min_area_m2=0, split_prominence=prominence), CELL_M2)
    plain, count = label_candidates(grid(), 0.5)
    np.testing.assert_array_equal(labels, plain)
    assert count == 3 and sorted(c.n_cells for c in found) == [1, 2, 6]
    assert all(c.component_sites == 1 for c in found)


# Grids whose values come from a small set, so that ties and plateaus are common, with NaN holes.
prob_grids = st.lists(
    st.lists(
        st.sampled_from([np.nan, 0.0, 0.2, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0]), min_size=7, max_size=7
    ),
    min_size=6,
    max_size=6,
).map(lambda rows: np.array(rows, np.float32))
smooth_grids = st.integers(0, 2**32 - 1).map(
    lambda seed: np.clip(
        bumps(np.random.default_rng(seed).uniform(0, 16, (4, 2)), shape=(16, 16), sigma=2.0, height=0.7)
        + np.random.default_rng(seed + 1).uniform(0, 0.05, (16, 16)).astype(np.float32),
        0,
        1,
    )
)


@given(
    st.one_of(prob_grids, smooth_grids),
    st.sampled_from([0.3, 0.5, 0.9]),
    st.sampled_from([0.01, 0.1, 0.5, 1.0, 3.0]),
)
def test_split_sites_partition_each_component(prob, threshold, prominence):
    found, labels = detect(
        prob, DetectConfig(threshold=threshold, split_prominence=prominence), 1.0, size_filtered=False
    )
    components, _ = label_candidates(prob, threshold)
    np.testing.assert_array_equal(labels > 0, components > 0)  # no candidate cell lost, none added
    assert sorted(c.label for c in found) == list(range(1, len(found) + 1))  # each cell in one site
    assert sum(c.n_cells for c in found) == int((components > 0).sum())
    for site in found:
        parent = np.unique(components[labels == site.label])
        assert parent.size == 1  # a site lies in one component
        assert site.component_sites == len(np.unique(labels[components == parent[0]]))
        row, col = (int(np.floor(v)) for v in site.point_cell)
        assert labels[row, col] == site.label  # the point lies in its own cells
        assert labels[site.peak_cell] == site.label and prob[site.peak_cell] == site.prob_max


def test_a_component_filling_the_whole_grid_is_one_site_at_any_prominence():
    """Found by the property below (a 6 x 7 grid of 0.5): one plateau over the whole grid has no lower
    neighbour, and the split used to find no peak in it and return no site at all."""
    prob = np.full((6, 7), 0.5, np.float32)
    for prominence in (None, 1.0, 40.0):
        found, labels = detect(prob, DetectConfig(threshold=0.3, split_prominence=prominence), 1.0)
        assert len(found) == 1 and (labels == 1).all(), prominence
    prob[2, 3] = 0.99  # a peak on the plateau: still one site, now with its peak there
    found, labels = detect(prob, DetectConfig(threshold=0.3), 1.0)
    assert len(found) == 1 and (labels == 1).all() and found[0].peak_cell == (2, 3)


@given(st.one_of(prob_grids, smooth_grids), st.sampled_from([0.3, 0.5, 0.9, 0.97]))
def test_a_huge_prominence_equals_no_splitting(prob, threshold):
    never, never_labels = detect(prob, DetectConfig(threshold=threshold, split_prominence=40.0), 1.0)
    whole, whole_labels = detect(prob, DetectConfig(threshold=threshold, split_prominence=None), 1.0)
    np.testing.assert_array_equal(never_labels, whole_labels)
    assert never == whole


def test_splitting_acts_above_threshold_0_9():
    """Two landslides of 0.999 joined by a 0.98 saddle (6.9 and 3.9 nats): at threshold 0.97 the default
    prominence splits them, as it splits 0.7 over 0.45 at 0.3; only a prominence above the 3 nats keeps one."""
    prob = np.full((9, 15), 0.1, np.float32)
    prob[3:6, 2:5] = 0.999
    prob[3:6, 10:13] = 0.999
    prob[4, 5:10] = 0.98
    split, _ = detect(prob, DetectConfig(threshold=0.97), CELL_M2, size_filtered=False)
    assert len(split) == 2 and all(c.component_sites == 2 for c in split)
    assert sorted(c.peak_cell[1] < 7 for c in split) == [False, True]  # one peak in each blob
    whole, _ = detect(prob, DetectConfig(threshold=0.97, split_prominence=3.1), CELL_M2, size_filtered=False)
    assert len(whole) == 1
    low = np.where(prob == 0.999, np.float32(0.7), np.where(prob == 0.98, np.float32(0.45), prob))
    assert len(detect(low, DetectConfig(threshold=0.3), CELL_M2, size_filtered=False)[0]) == 2


def test_log_odds_are_clipped_where_float32_saturates():
    odds = log_odds(np.array([0.0, 0.5, 0.999, 1.0, np.nan], np.float32))
    assert odds[1] == 0.0 and odds[2] == pytest.approx(np.log(999.0), rel=1e-4)
    assert odds[3] == -odds[0] == pytest.approx(np.log(2.0**24 - 1.0))
    assert np.isnan(odds[4])
