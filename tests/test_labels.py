"""Label files (scanner.io.labels): the class rule, geometries, CRS, one-line refusals; and what the callers do
with negatives: negative windows and others kept away from them in the dataset, and the review export read
back through `fringescan dataset`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from shapely.geometry import Point, box, mapping
from test_dataset import CENTRES, EPSG, PREPROCESS, _grid, _write_scene
from test_train_cli import CONFIG

from scanner.cli import main
from scanner.errors import InputError
from scanner.io.labels import (
    NEGATIVE_VALUES,
    POSITIVE_VALUES,
    WGS84,
    Label,
    is_positive,
    read_labels,
    reproject,
)
from scanner.io.store import Store
from scanner.pipeline.history import (
    build_history,
    export_labels,
    load_feedback,
    record_feedback,
    save_history,
)
from train.config import DatasetConfig
from train.dataset_store import build_dataset, load_dataset

UTM = f"urn:ogc:def:crs:EPSG::{EPSG}"


def point_feature(properties: dict | None = None, xy=(140.1, 36.1), **extra) -> dict:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": list(xy)},
        "properties": properties,
        **extra,
    }


def write(path: Path, features: list[dict], crs: str | None = None) -> Path:
    collection: dict = {"type": "FeatureCollection", "features": features}
    if crs:
        collection["crs"] = {"type": "name", "properties": {"name": crs}}
    path.write_text(json.dumps(collection))
    return path


def one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message and "expected" in message and "found" in message and "fix:" in message
    return message


# ---------------------------------------------------------------------------------------------- the class rule


@pytest.mark.parametrize("value", [*POSITIVE_VALUES, 1, True, 1.0, "Landslide", " CONFIRMED ", None])
def test_positive_values(value) -> None:
    assert is_positive(value) is True


@pytest.mark.parametrize("value", [*NEGATIVE_VALUES, 0, False, 0.0, "Rejected", "OTHER "])
def test_negative_values(value) -> None:
    assert is_positive(value) is False


@pytest.mark.parametrize("value", ["maybe", "", "2", 2, -1, 0.5, [1], {"a": 1}, "landslides"])
def test_other_values_are_not_a_class(value) -> None:
    assert is_positive(value) is None


def test_class_wins_over_label_and_absent_or_null_is_positive(tmp_path) -> None:
    path = write(
        tmp_path / "l.geojson",
        [
            point_feature({}),
            point_feature(None),
            point_feature({"class": None, "label": 0}),
            point_feature({"class": "candidate", "label": 0}),
            point_feature({"class": "rejected", "label": 1}),
            point_feature({"label": "false"}),
            point_feature({"label": True}),
        ],
    )
    assert [lab.positive for lab in read_labels(path)] == [True, True, False, True, False, False, True]


@settings(max_examples=60, deadline=None)
@given(
    value=st.sampled_from(POSITIVE_VALUES + NEGATIVE_VALUES),
    upper=st.lists(st.booleans(), min_size=20, max_size=20),
    pad=st.sampled_from(["", " ", "\t", "  "]),
    key=st.sampled_from(["class", "label"]),
)
def test_any_case_and_blanks_of_an_accepted_value(tmp_path_factory, value, upper, pad, key) -> None:
    text = pad + "".join(c.upper() if u else c for c, u in zip(value, upper, strict=False)) + pad
    path = write(tmp_path_factory.mktemp("case") / "l.geojson", [point_feature({key: text})])
    assert read_labels(path)[0].positive is (value in POSITIVE_VALUES)


@settings(max_examples=40, deadline=None)
@given(
    value=st.text(max_size=12).filter(lambda t: t.strip().lower() not in POSITIVE_VALUES + NEGATIVE_VALUES)
)
def test_an_unknown_value_is_a_one_line_error_naming_the_feature(tmp_path_factory, value) -> None:
    features = [point_feature({}), point_feature({"class": value}, id="slide-7")]
    path = write(tmp_path_factory.mktemp("bad") / "l.geojson", features)
    with pytest.raises(InputError) as error:
        read_labels(path)
    message = one_line(error)
    assert "label feature 1 (id 'slide-7')" in message and f"class {value!r}" in message
    assert all(v in message for v in POSITIVE_VALUES + NEGATIVE_VALUES)


def test_a_bad_label_value_through_the_dataset_verb_is_one_line(tmp_path, capsys) -> None:
    _write_scene(Store.create(tmp_path / "store"), "s0", 0)
    path = write(tmp_path / "l.geojson", [point_feature({"label": "debris"}, id="x")])
    store = tmp_path / "store"
    assert main(["dataset", "--store", str(store), "--labels", str(path), "--out", str(tmp_path / "ds")]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("fringescan: error: label feature 0 (id 'x')") and "label 'debris'" in err
    assert "\n" not in err and not (tmp_path / "ds").exists()


# ---------------------------------------------------------------------------------------------- files


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("[1, 2, 3]", "FeatureCollection"),
        ("{not json", "JSONDecodeError"),
        ('{"type": "Feature"}', "FeatureCollection"),
        ('{"type": "FeatureCollection"}', "a list of features"),
        (
            '{"type": "FeatureCollection", "features": [], "crs": {"properties": {"name": "EPSG:nope"}}}',
            "crs",
        ),
        ('{"type": "FeatureCollection", "features": [], "crs": "EPSG:4326"}', "crs"),
    ],
)
def test_a_file_that_is_not_a_label_collection_is_one_line(tmp_path, text, words) -> None:
    path = tmp_path / "l.geojson"
    path.write_text(text)
    with pytest.raises(InputError) as error:
        read_labels(path)
    assert words in one_line(error)


def test_a_missing_file_is_one_line(tmp_path) -> None:
    with pytest.raises(InputError) as error:
        read_labels(tmp_path / "none.geojson")
    assert "none.geojson" in one_line(error)


@pytest.mark.parametrize(
    ("geometry", "words"),
    [
        (None, "no geometry"),
        ({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}, "'LineString'"),
        ({"type": "Point", "coordinates": []}, "an empty Point"),
        ({"type": "Polygon", "coordinates": [[[0, 0], [1, 0]]]}, "unreadable Polygon"),
        ({"type": "Point"}, "unreadable Point"),
    ],
)
def test_a_feature_without_a_usable_geometry_is_one_line(tmp_path, geometry, words) -> None:
    feature = {"type": "Feature", "id": "g", "geometry": geometry, "properties": {}}
    path = write(tmp_path / "l.geojson", [point_feature({}), feature])
    with pytest.raises(InputError) as error:
        read_labels(path)
    message = one_line(error)
    assert "label feature 1 (id 'g')" in message and words in message


def test_every_geometry_type_and_the_kept_properties(tmp_path) -> None:
    square = mapping(box(0, 0, 1, 1))
    features = [
        point_feature({"visible_scene_ids": ["a", "b"]}, id="p"),
        {
            "type": "Feature",
            "geometry": {"type": "MultiPoint", "coordinates": [[0, 0], [2, 2]]},
            "properties": {},
        },
        {"type": "Feature", "geometry": square, "properties": {"site_id": "fs-abc"}},
        {
            "type": "Feature",
            "geometry": {"type": "MultiPolygon", "coordinates": [square["coordinates"]]},
            "properties": {"body_id": "b-1"},
        },
    ]
    labels = read_labels(write(tmp_path / "l.geojson", features))
    assert [lab.geometry.geom_type for lab in labels] == ["Point", "MultiPoint", "Polygon", "MultiPolygon"]
    assert [lab.label_id for lab in labels] == ["p", "1", "fs-abc", "b-1"]
    assert labels[0].visible_in == frozenset({"a", "b"}) and labels[1].visible_in is None
    assert labels[0].shows_in("a") and not labels[0].shows_in("c") and labels[1].shows_in("c")
    bad = write(tmp_path / "v.geojson", [point_feature({"visible_scene_ids": "a"})])
    with pytest.raises(InputError, match="visible_scene_ids"):
        read_labels(bad)


# ---------------------------------------------------------------------------------------------- CRS


def test_crs_member_else_wgs84_and_reprojection(tmp_path) -> None:
    to_utm = Transformer.from_crs(4326, EPSG, always_xy=True)
    x, y = to_utm.transform(140.1, 36.1)
    (utm,) = read_labels(write(tmp_path / "u.geojson", [point_feature({}, xy=(x, y))], crs=UTM))
    (lonlat,) = read_labels(write(tmp_path / "w.geojson", [point_feature({}, xy=(140.1, 36.1))]))
    assert (utm.crs, lonlat.crs) == (UTM, WGS84)
    assert (utm.geometry.x, utm.geometry.y) == (x, y)  # kept in the file's CRS
    assert utm.to_crs(WGS84).geometry.equals_exact(lonlat.geometry, 1e-9)
    assert lonlat.to_crs(CRS.from_epsg(EPSG).to_wkt()).geometry.equals_exact(utm.geometry, 1e-6)
    assert utm.to_crs(f"EPSG:{EPSG}") == Label(utm.label_id, utm.geometry, f"EPSG:{EPSG}", True)  # same CRS
    assert utm.to_crs(CRS.from_epsg(4326)).crs == "EPSG:4326"


@settings(max_examples=40, deadline=None)
@given(
    x=st.floats(200_000, 800_000),
    y=st.floats(3_000_000, 5_000_000),
    positive=st.booleans(),
    visible=st.none() | st.frozensets(st.sampled_from(["a", "b", "c"])),
)
def test_reprojection_round_trip_keeps_everything_but_the_crs(x, y, positive, visible) -> None:
    label = Label("k", Point(x, y), UTM, positive, visible)
    back = reproject(reproject([label], WGS84), UTM)[0]
    assert back.geometry.equals_exact(label.geometry, 1e-5)
    assert (back.label_id, back.positive, back.visible_in, back.crs) == ("k", positive, visible, UTM)


# ---------------------------------------------------------------------------------------------- the dataset


def labelled_store(root: Path, classes: dict[str, object]) -> Path:
    """The scenes of test_dataset with a 400 m square label (WGS84) on the centre of each scene in
    ``classes`` (class property ``classes[scene]``, None = no property, visible in that scene only)."""
    store = Store.create(root / "store")
    for k, scene_id in enumerate(CENTRES):
        _write_scene(store, scene_id, k)
    features = []
    for scene_id, value in classes.items():
        properties = {"visible_scene_ids": [scene_id]} | ({} if value is None else {"class": value})
        features.append(
            {"type": "Feature", "id": scene_id, "geometry": square(scene_id), "properties": properties}
        )
    return write(root / "labels.geojson", features)


def square(scene_id: str) -> dict:
    """A 400 m square in WGS84 around the centre pixel of ``scene_id`` (CENTRES)."""
    k = list(CENTRES).index(scene_id)
    row, col = CENTRES[scene_id]
    x, y = _grid(k).transform * (col + 0.5, row + 0.5)
    to_wgs84 = Transformer.from_crs(EPSG, 4326, always_xy=True)
    ring = [
        to_wgs84.transform(x + dx, y + dy) for dx, dy in ((-200, -200), (200, -200), (200, 200), (-200, 200))
    ]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


CONFIG_ONE = DatasetConfig(
    margin_px=4, others_per_scene=20, n_folds=2, subset_a_fraction=0.5, exclusion_px=100
)


def windows(path: Path) -> dict[tuple[str, int, int], int]:
    ds = load_dataset(path)
    scenes = [s["scene_id"] for s in ds.attrs["scenes"]]
    a = ds.arrays
    return {
        (scenes[s], int(r), int(c)): int(label)
        for s, r, c, label in zip(a["scene_index"], a["row"], a["col"], a["label"], strict=True)
    }


def test_negative_labels_become_negative_windows_and_others_keep_away(tmp_path) -> None:
    labels = labelled_store(tmp_path, {"s0": None, "s1": "rejected", "s2": "Other", "s3": "candidate"})
    report = build_dataset(tmp_path / "store", labels, tmp_path / "ds", CONFIG_ONE, PREPROCESS)
    assert (report["n_candidates"], report["n_negative_windows"], report["n_negative_labels"]) == (2, 2, 2)
    assert report["n_others"] == 4 * 20
    assert report["n_samples"] == report["n_candidates"] + report["n_negative_windows"] + report["n_others"]
    found = windows(tmp_path / "ds")
    for scene_id, label in (("s0", 1), ("s1", 0), ("s2", 0), ("s3", 1)):
        assert found[(scene_id, *CENTRES[scene_id])] == label
    for (scene_id, row, col), label in found.items():
        centres = label_pixels(scene_id)
        if (row, col) not in centres:  # a random other: away from every label, positive or negative
            assert label == 0 and all(np.hypot(row - r, col - c) > 100 for r, c in centres)


def label_pixels(scene_id: str) -> list[tuple[int, int]]:
    """The pixel of ``scene_id`` holding each label centre of ``labelled_store`` (inside the scene or not)."""
    inverse = ~_grid(list(CENTRES).index(scene_id)).transform
    out = []
    for k, (row, col) in enumerate(CENTRES.values()):
        c, r = inverse * (_grid(k).transform * (col + 0.5, row + 0.5))
        out.append((int(np.floor(r)), int(np.floor(c))))
    return out


def test_a_file_of_negatives_only_is_refused(tmp_path) -> None:
    """Negatives are class-0 windows, but a set without one candidate teaches nothing: refused, nothing written."""
    labels = labelled_store(tmp_path, {"s0": "rejected", "s1": 0})
    with pytest.raises(InputError, match="found 0 positive label"):
        build_dataset(tmp_path / "store", labels, tmp_path / "ds", CONFIG_ONE, PREPROCESS)
    assert not (tmp_path / "ds").exists()


def test_negative_labels_change_nothing_but_their_own_windows_and_the_exclusion(tmp_path) -> None:
    """A negative label far from every valid window (outside all scenes) changes nothing at all."""
    base = labelled_store(tmp_path / "a", {"s0": None, "s3": None})
    features = json.loads(base.read_text())["features"]
    far = point_feature({"class": "rejected"}, xy=(150.0, 36.0))
    (tmp_path / "b").mkdir()
    extra = write(tmp_path / "b" / "labels.geojson", [*features, far])
    build_dataset(tmp_path / "a" / "store", base, tmp_path / "a" / "ds", CONFIG_ONE, PREPROCESS)
    report = build_dataset(tmp_path / "a" / "store", extra, tmp_path / "b" / "ds", CONFIG_ONE, PREPROCESS)
    one, two = load_dataset(tmp_path / "a" / "ds"), load_dataset(tmp_path / "b" / "ds")
    for name, values in one.arrays.items():
        np.testing.assert_array_equal(two.arrays[name], values)
    assert (report["n_negative_labels"], report["n_negative_windows"]) == (1, 0)


# ---------------------------------------------------------------------------------------------- review export


def test_review_export_round_trips_through_the_reader() -> None:
    feedback = {
        sid: {
            "site_id": sid,
            "verdict": verdict,
            "note": "",
            "time": "2026-01-01T00:00:00+00:00",
            "area_m2": 1.0,
            "n_passes": 1,
            "geometry": mapping(box(140, 36, 140.01, 36.01)),
        }
        for sid, verdict in (("a", "confirmed"), ("b", "rejected"))
    }
    collection = export_labels(feedback)
    assert [f["properties"]["class"] for f in collection["features"]] == ["confirmed", "rejected"]
    for feature in collection["features"]:
        props = feature["properties"]
        assert is_positive(props["class"]) is is_positive(props["label"]) is (props["verdict"] == "confirmed")


def test_review_then_dataset_rejected_sites_are_negative_windows(tmp_path) -> None:
    """Sites confirmed and rejected with `fringescan review`, exported with --export-labels, then
    `fringescan dataset --labels` on that file: rejected sites are negative windows, not candidates."""
    store = Store.create(tmp_path / "store")
    for k, scene_id in enumerate(CENTRES):
        _write_scene(store, scene_id, k)
    layers = {
        scene_id: {"features": [site_feature(site_id, scene_id)]}
        for site_id, scene_id in (("AAA", "s0"), ("BBB", "s3"))
    }
    save_history(store.root, build_history(layers))
    root = str(store.root)
    assert main(["review", "--store", root, "--site", "AAA", "--confirmed", "--note", "scarp"]) == 0
    assert main(["review", "--store", root, "--site", "BBB", "--rejected", "--note", "road cut"]) == 0
    exported = tmp_path / "feedback.geojson"
    assert main(["review", "--store", root, "--export-labels", str(exported)]) == 0
    assert {lab.label_id: lab.positive for lab in read_labels(exported)} == {"AAA": True, "BBB": False}
    config = tmp_path / "tiny.py"
    config.write_text(CONFIG)
    args = ["dataset", "--store", root, "--labels", str(exported), "--out", str(tmp_path / "ds")]
    assert main([*args, "--config", str(config)]) == 0
    report = load_dataset(tmp_path / "ds").attrs["report"]
    assert (report["n_candidates"], report["n_negative_windows"], report["n_negative_labels"]) == (1, 1, 1)
    found = windows(tmp_path / "ds")
    assert found[("s0", *CENTRES["s0"])] == 1 and found[("s3", *CENTRES["s3"])] == 0
    assert sum(found.values()) == 1


def site_feature(site_id: str, scene_id: str) -> dict:
    return {
        "type": "Feature",
        "geometry": square(scene_id),
        "properties": {
            "site_id": site_id,
            "scene_id": scene_id,
            "first_date": "2020-01-01",
            "second_date": "2020-02-01",
            "area_m2": 160_000.0,
            "prob_max": 0.9,
        },
    }


def test_feedback_of_the_store_is_what_was_exported(tmp_path) -> None:
    save_history(tmp_path, build_history({"s0": {"features": [site_feature("AAA", "s0")]}}))
    record_feedback(tmp_path, "AAA", "rejected")
    (label,) = export_labels(load_feedback(tmp_path))["features"]
    assert (label["properties"]["class"], label["properties"]["label"]) == ("rejected", 0)
