"""The support of other pairs (scanner/core/support.py, ``detect --min-support``): which pairs count, where
they look, and that the rule drops only what other independent pairs could judge."""

from __future__ import annotations

import json

import numpy as np
import pytest
import zarr
from affine import Affine
from pyproj import CRS, Transformer

from scanner.cli import main
from scanner.core.detect import DetectConfig, OperatingPoint
from scanner.core.support import PairGrid, Support, independent, site_support
from scanner.io.probgrid import prepare_staging, publish_grid
from scanner.io.store import Store
from scanner.pipeline.sites import calibrate_store
from tests.scan_helpers import add_scene, scene_arrays

UTM = CRS.from_epsg(32654).to_wkt()
CELL = Affine(280.0, 0, 500_000.0, 0, -280.0, 4_000_000.0)


def grid_with(cells: list[tuple[int, int]], value: float = 0.95, shape=(20, 20)) -> np.ndarray:
    prob = np.full(shape, 0.05, np.float32)
    for r, c in cells:
        prob[r, c] = value
    return prob


def centre(row: int, col: int) -> tuple[float, float]:
    return CELL * (col + 0.5, row + 0.5)


def pair(name: str, prob: np.ndarray, dates: tuple[str, ...], transform=CELL, crs=UTM) -> PairGrid:
    return PairGrid(name, prob, transform, crs, frozenset(dates))


def test_only_independent_pairs_near_the_point_count():
    own = frozenset({"2020-01-01", "2020-02-01"})
    others = [
        pair("near", grid_with([(6, 6)]), ("2020-03-01", "2020-04-01")),  # one cell away: inside the 3 x 3
        pair("shares-a-date", grid_with([(5, 5)]), ("2020-02-01", "2020-03-01")),
        pair("far", grid_with([(9, 9)]), ("2020-05-01", "2020-06-01")),  # covers, scores elsewhere
        pair("blank", np.full((20, 20), np.nan, np.float32), ("2020-07-01", "2020-08-01")),
    ]
    (support,) = site_support([centre(5, 5)], UTM, own, others, threshold=0.9)
    assert support == Support(pairs=2, scoring=1)
    assert site_support([centre(5, 5)], UTM, own, others, threshold=0.99) == [Support(2, 0)]
    outside = CELL * (-10.0, -10.0)
    assert site_support([outside], UTM, own, others, threshold=0.9) == [Support(0, 0)]
    assert independent(own, frozenset()) and not independent(own, frozenset({"2020-01-01"}))


def test_a_pair_in_another_crs_is_looked_up_at_the_same_ground():
    point = centre(5, 5)
    lon_lat = Transformer.from_crs(CRS.from_wkt(UTM), "EPSG:4326", always_xy=True).transform(*point)
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True).transform(*lon_lat)
    mercator = Affine(300.0, 0, x - 5.5 * 300.0, 0, -300.0, y + 5.5 * 300.0)  # cell (5, 5) holds the point
    other = pair("mercator", grid_with([(5, 5)]), ("2021-01-01",), mercator, CRS.from_epsg(3857).to_wkt())
    assert site_support([point], UTM, frozenset({"2020-01-01"}), [other], 0.9) == [Support(1, 1)]


@pytest.mark.parametrize(
    ("support", "min_support", "kept"),
    [((0, 0), 1, True), ((2, 0), 1, False), ((2, 1), 1, True), ((2, 1), 2, False), ((2, 0), 0, True)],
)
def test_a_site_no_other_pair_covers_is_kept(support, min_support, kept):
    assert Support(*support).keeps(min_support) is kept


def test_min_support_is_validated_and_left_out_of_old_points():
    assert OperatingPoint(threshold=0.9, min_cells=4).to_dict() == {"threshold": 0.9, "min_cells": 4}
    assert OperatingPoint(threshold=0.9, min_cells=4, min_support=1).to_dict()["min_support"] == 1
    for bad in (-1, 0.5, True):
        with pytest.raises(Exception, match="minimum support"):
            DetectConfig(min_support=bad)


SITE_P, SITE_Q = (8, 8), (20, 20)


def blob(prob: np.ndarray, row: int, col: int) -> None:
    prob[row - 1 : row + 2, col - 1 : col + 2] = 0.97


@pytest.fixture()
def three_pairs(tmp_path):
    """s1 (Jan-Feb) has blobs at P and Q; s2 (Mar-Apr, independent) has P only; s3 (Feb-May) shares
    s1's February acquisition and has Q only."""
    store = Store.create(tmp_path / "store")
    dates = {
        "s1": ("2020-01-01", "2020-02-01"),
        "s2": ("2020-03-01", "2020-04-01"),
        "s3": ("2020-02-01", "2020-05-01"),
    }
    blobs = {"s1": [SITE_P, SITE_Q], "s2": [SITE_P], "s3": [SITE_Q]}
    for name in ("s1", "s2", "s3"):
        add_scene(store, name, *scene_arrays(300, 300, seed=2), dates=dates[name])
        cells = store.scene(name).grid.cell_grid()
        staging = store.root / ".staging" / f"scan-{name}"
        attrs = {
            "scene_id": name,
            "grid": cells.to_attrs(),
            "model": {"name": "alexnet_scan", "checkpoint_sha256": "x"},
        }
        prepare_staging(staging, cells.shape, attrs)
        prob = np.full(cells.shape, 0.05, np.float32)
        for row, col in blobs[name]:
            blob(prob, row, col)
        zarr.open_group(staging / "grid", mode="r+")["prob"][...] = prob
        publish_grid(store.root, name, staging)
    return store


def detect_layer(store: Store, *flags: str) -> list[dict]:
    assert main(["detect", "--store", str(store.root), "--scene", "s1", *flags]) == 0
    return json.loads((store.root / "sites" / "s1.geojson").read_text())["features"]


def test_detect_keeps_the_site_an_independent_pair_supports(three_pairs):
    every = detect_layer(three_pairs)
    assert sorted((f["properties"]["support"], f["properties"]["support_pairs"]) for f in every) == [
        (0, 1),
        (1, 1),
    ]
    (kept,) = detect_layer(three_pairs, "--min-support", "1")
    assert kept["properties"]["support"] == 1
    cells = three_pairs.scene("s1").grid.cell_grid()
    x, y = Transformer.from_crs("EPSG:4326", CRS.from_wkt(cells.crs_wkt), always_xy=True).transform(
        kept["properties"]["centroid_lon"], kept["properties"]["centroid_lat"]
    )
    col, row = ~cells.transform * (x, y)
    assert (int(row), int(col)) == SITE_P


def label_file(store: Store, site: tuple[int, int], path) -> object:
    """A label file with one 300 m disc on ``site`` (cell row, col) of s1, visible in s1 only."""
    from shapely.geometry import Point, mapping

    from scanner.io.site_layers import to_wgs84

    cells = store.scene("s1").grid.cell_grid()
    disc = Point(cells.transform * (site[1] + 0.5, site[0] + 0.5)).buffer(300.0)
    label = {
        "type": "Feature",
        "id": "L",
        "geometry": mapping(to_wgs84(disc, cells.crs_wkt)),
        "properties": {"visible_scene_ids": ["s1"], "scenes": [{"scene_id": "s1", "visible": True}]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [label]}))
    return path


def test_a_site_the_support_rule_removes_is_missed_as_removed_by_filters(three_pairs, tmp_path):
    """Q shows in s1 only, and s2 (independent) covers it without scoring it: with --min-support 1 its
    label is missed, and the cause is the filter, not the score (0.97 there)."""
    from scanner.pipeline.sites import evaluate_store

    labels = label_file(three_pairs, SITE_Q, tmp_path / "q.geojson")
    config = DetectConfig(threshold=0.9, min_area_m2=0)
    assert evaluate_store(three_pairs, labels, config, ["s1"]).misses == []
    missed = evaluate_store(
        three_pairs, labels, DetectConfig(threshold=0.9, min_area_m2=0, min_support=1), ["s1"]
    )
    assert [(m["label"], m["cause"]) for m in missed.misses] == [("L", "removed_by_filters")]
    assert missed.misses[0]["prob_max"] == pytest.approx(0.97)


def test_calibrate_sweeps_support(three_pairs, tmp_path):
    labels = label_file(three_pairs, SITE_P, tmp_path / "labels.geojson")
    result = calibrate_store(three_pairs, labels, [0.9], [1], 0.5, ["s1"], min_support=[0, 1])
    rows = {r["min_support"]: (r["tp"], r["fn"], r["fp"]) for r in result.rows}
    assert rows == {0: (1, 0, 1), 1: (1, 0, 0)}
    assert result.chosen["min_support"] == 1
