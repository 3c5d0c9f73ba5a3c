"""Site layers: polygons from cells, WGS84 features with the contract's properties, store round trip."""

import json

import numpy as np
import pytest
import zarr
from affine import Affine
from pyproj import CRS
from scan_helpers import UTM54, add_scene, scene_arrays
from shapely.geometry import Point, shape

from scanner.core.detect import DEFAULT_SPLIT_PROMINENCE, DetectConfig, detect
from scanner.io.probgrid import prepare_staging, publish_grid
from scanner.io.readers import read_geojson
from scanner.io.site_layers import component_polygons, from_wgs84, site_features
from scanner.io.store import Store
from scanner.pipeline.sites import scene_sites, write_scene_sites

CELL = Affine(280.0, 0, 500_000.0, 0, -280.0, 4_000_000.0)
PROPERTIES = {
    "site_id",
    "scene_id",
    "first_date",
    "second_date",
    "area_m2",
    "centroid_lon",
    "centroid_lat",
    "prob_max",
    "prob_mean",
    "n_cells",
    "component_sites",
    "slope_class",
    "slope_mean_deg",
    "priority",
    "checkpoint_sha256",
}


def known_prob(shape_cells):
    prob = np.full(shape_cells, 0.1, np.float32)
    prob[5:8, 5:9] = 0.8  # 12 cells, on the slope
    prob[20:22, 3:5] = 0.95  # 4 cells, flat
    prob[15, 15] = 0.99  # one cell: size-filtered
    return prob


@pytest.fixture()
def store(tmp_path):
    store = Store.create(tmp_path / "store")
    phase, valid = scene_arrays(300, 300, seed=1)
    slope = np.full((300, 300), 5.0, np.float32)
    slope[40:90, 40:100] = 25.0
    add_scene(store, "s", phase, valid, slope=slope)
    staging = store.root / ".staging" / "scan-s-test"
    prepare_staging(
        staging,
        (30, 30),
        {
            "scene_id": "s",
            "grid": store.scene("s").grid.cell_grid().to_attrs(),
            "model": {"name": "alexnet_scan", "checkpoint_sha256": "abc"},
        },
    )
    zarr.open_group(staging / "grid", mode="r+")["prob"][...] = known_prob((30, 30))
    publish_grid(store.root, "s", staging)
    return store


def test_polygons_cover_their_cells():
    labels = np.zeros((6, 6), np.int32)
    labels[1:3, 1:4] = 1
    labels[4, 4] = 2
    labels[5, 5] = 2
    polygons = component_polygons(labels, CELL)
    assert polygons[1].area == pytest.approx(6 * 280.0**2)
    assert polygons[2].area == pytest.approx(2 * 280.0**2)


def test_scene_sites_have_the_contract_properties(store, tmp_path):
    features, _ = scene_sites(store, "s", DetectConfig())
    assert [f["properties"]["n_cells"] for f in features] == [12, 4]
    first, second = (f["properties"] for f in features)
    assert set(first) == PROPERTIES
    assert first["slope_class"] == "slope" and second["slope_class"] == "flat"
    assert (
        first["slope_mean_deg"] == pytest.approx(25.0) and first["priority"] == 1 and second["priority"] == 2
    )
    assert first["checkpoint_sha256"] == "abc" and first["first_date"] == "2020-01-01"
    assert first["area_m2"] == pytest.approx(12 * 280.0**2)
    geometry = from_wgs84(shape(features[0]["geometry"]), UTM54)
    assert geometry.area == pytest.approx(12 * 280.0**2, rel=1e-6)
    lon, lat = first["centroid_lon"], first["centroid_lat"]
    assert 120 < lon < 150 and 30 < lat < 40
    again, _ = scene_sites(store, "s", DetectConfig())
    assert [f["properties"]["site_id"] for f in again] == [f["properties"]["site_id"] for f in features]
    unfiltered, _ = scene_sites(store, "s", DetectConfig(), size_filtered=False)
    assert len(unfiltered) == 3


def test_site_layer_round_trip(store):
    features, _ = scene_sites(store, "s", DetectConfig())
    path = write_scene_sites(store, "s", features, DetectConfig())
    assert path == store.root / "sites" / "s.geojson"
    data = read_geojson(path)
    assert data["features"] == json.loads(json.dumps(features)) and data["fringescan"]["threshold"] == 0.5
    assert data["fringescan"]["split_prominence"] == DEFAULT_SPLIT_PROMINENCE
    assert CRS.from_epsg(4326).is_geographic


def test_detect_threshold_changes_sites():
    prob = known_prob((30, 30))
    assert len(detect(prob, DetectConfig(threshold=0.9), 1.0)[0]) == 1


def layer_of(prob, config):
    found, labels = detect(prob, config, 280.0**2)
    return site_features(
        found, labels, CELL, UTM54, scene_id="s", first_date=None, second_date=None, checkpoint_sha256=None
    )


def test_a_site_point_lies_in_its_own_cells():
    """A crescent's plain centroid lies in its hollow; the site's point (centroid_lon/lat) does not."""
    prob = np.full((12, 12), 0.1, np.float32)
    rows, cols = np.mgrid[0:12, 0:12]
    radius = np.hypot(rows - 6, cols - 6)
    prob[(radius >= 3.5) & (radius < 5.5) & (cols <= 7)] = 0.9  # a C open to the east
    (feature,) = layer_of(prob, DetectConfig(split_prominence=None))
    polygon = from_wgs84(shape(feature["geometry"]), UTM54)
    props = feature["properties"]
    point = from_wgs84(Point(props["centroid_lon"], props["centroid_lat"]), UTM54)
    in_rows, in_cols = np.nonzero(prob >= 0.5)
    plain = CELL * (in_cols.mean() + 0.5, in_rows.mean() + 0.5)
    assert not polygon.covers(Point(plain)) and polygon.covers(point)
    assert props["component_sites"] == 1


def test_split_sites_each_keep_their_outline_and_point():
    rows, cols = np.mgrid[0:16, 0:24]
    prob = sum(0.95 * np.exp(-((rows - 8) ** 2 + (cols - c) ** 2) / 18.0) for c in (7, 16)).astype(np.float32)
    whole = layer_of(prob, DetectConfig(threshold=0.3, split_prominence=None))
    split = layer_of(prob, DetectConfig(threshold=0.3))
    assert len(whole) == 1 and len(split) == 2
    outlines = [from_wgs84(shape(f["geometry"]), UTM54) for f in split]
    assert outlines[0].intersection(outlines[1]).area == pytest.approx(0.0, abs=1e-3)
    union = outlines[0].union(outlines[1])
    assert union.symmetric_difference(from_wgs84(shape(whole[0]["geometry"]), UTM54)).area < 1.0
    for feature, outline in zip(split, outlines, strict=True):
        props = feature["properties"]
        point = from_wgs84(Point(props["centroid_lon"], props["centroid_lat"]), UTM54)
        assert outline.covers(point) and props["component_sites"] == 2
        assert props["area_m2"] == pytest.approx(outline.area, rel=1e-6)
    assert len({f["properties"]["site_id"] for f in split}) == 2
