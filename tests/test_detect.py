"""Detection on tiny grids with known components."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scanner.core.detect import DetectConfig, detect, geohash, label_candidates, rank, site_ids
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
