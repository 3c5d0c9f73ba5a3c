"""Site histories across passes, min_detections, feedback suppression and label export."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box, mapping

from scanner.errors import UsageError
from scanner.io.layout import StoreLayout
from scanner.pipeline.history import (
    build_history,
    changed_markedly,
    export_labels,
    load_feedback,
    load_history,
    new_site_ids,
    record_feedback,
    report_sites,
    save_history,
    write_state,
)


def _feature(site_id, scene_id, x0, *, area=1e5, prob=0.8, second="2020-02-01"):
    return {
        "type": "Feature",
        "geometry": mapping(box(x0, 35.0, x0 + 0.01, 35.01)),
        "properties": {
            "site_id": site_id,
            "scene_id": scene_id,
            "first_date": "2020-01-01",
            "second_date": second,
            "area_m2": area,
            "prob_max": prob,
        },
    }


def _layers(**scenes):
    return {sid: {"type": "FeatureCollection", "features": feats} for sid, feats in scenes.items()}


def _three_passes():
    return _layers(
        s1=[_feature("A1", "s1", 140.000, second="2020-02-01"), _feature("B", "s1", 140.5)],
        s2=[_feature("A2", "s2", 140.005, second="2020-03-01", area=2e5)],
        s3=[_feature("A1", "s3", 140.002, second="2020-04-01", prob=0.95)],
    )


def test_overlapping_detections_are_one_site_counted_per_pass():
    history = build_history(_three_passes())
    sites = {s["site_id"]: s for s in history["sites"]}
    assert sorted(sites) == ["A1", "B"]
    a = sites["A1"]
    assert a["member_ids"] == ["A1", "A2"] and a["n_passes"] == 3
    assert (a["first_seen"], a["last_seen"]) == ("2020-02-01", "2020-04-01")
    assert a["area_m2"] == 2e5 and a["prob_max"] == 0.95
    assert [d["scene_id"] for d in a["detections"]] == ["s1", "s2", "s3"]
    assert sites["B"]["n_passes"] == 1


@settings(max_examples=20, deadline=None)
@given(order=st.permutations(["s1", "s2", "s3"]))
def test_history_does_not_depend_on_the_order_passes_arrive(order):
    layers = _three_passes()
    shuffled = {sid: layers[sid] for sid in order}
    assert build_history(shuffled) == build_history(layers)


def test_min_detections_filters_sites():
    history = build_history(_three_passes())
    assert [s["site_id"] for s in report_sites(history, {}, min_detections=1)] == ["A1", "B"]
    assert [s["site_id"] for s in report_sites(history, {}, min_detections=2)] == ["A1"]
    assert report_sites(history, {}, min_detections=4) == []
    with pytest.raises(UsageError, match="min_detections"):
        report_sites(history, {}, min_detections=0)


def test_new_site_ids_compares_member_ids():
    before = build_history(_layers(s1=[_feature("A1", "s1", 140.0)]))
    after = build_history(_three_passes())
    assert new_site_ids(before, after) == ["B"]
    assert new_site_ids(after, after) == []


def test_rejected_sites_are_suppressed_until_they_change_markedly(tmp_path):
    save_history(tmp_path, build_history(_three_passes()))
    record = record_feedback(tmp_path, "A2", "rejected", note="road cut")
    assert record["site_id"] == "A1" and record["area_m2"] == 2e5
    feedback = load_feedback(tmp_path)
    assert [s["site_id"] for s in report_sites(load_history(tmp_path), feedback)] == ["B"]
    grown = _three_passes()
    grown["s4"] = {"features": [_feature("A1", "s4", 140.001, area=3.1e5, second="2020-05-01")]}
    history = build_history(grown)
    reported = {s["site_id"]: s["verdict"] for s in report_sites(history, feedback)}
    assert reported == {"A1": "rejected", "B": None}


def test_marked_change_threshold_is_fifty_percent():
    record = {"area_m2": 100.0, "prob_max": 0.6}
    assert not changed_markedly({"area_m2": 150.0, "prob_max": 0.89}, record)
    assert changed_markedly({"area_m2": 150.1, "prob_max": 0.6}, record)
    assert changed_markedly({"area_m2": 100.0, "prob_max": 0.91}, record)


def test_feedback_needs_a_known_site_and_a_verdict(tmp_path):
    save_history(tmp_path, build_history(_three_passes()))
    with pytest.raises(UsageError, match="no such site"):
        record_feedback(tmp_path, "nope", "confirmed")
    with pytest.raises(UsageError, match="verdict"):
        record_feedback(tmp_path, "B", "maybe")


def test_export_labels_writes_confirmed_and_rejected(tmp_path):
    save_history(tmp_path, build_history(_three_passes()))
    record_feedback(tmp_path, "A1", "confirmed", note="seen in the field")
    record_feedback(tmp_path, "B", "rejected")
    labels = export_labels(load_feedback(tmp_path))
    props = [f["properties"] for f in labels["features"]]
    assert [(p["site_id"], p["class"], p["verdict"], p["label"]) for p in props] == [
        ("A1", "confirmed", "confirmed", 1),
        ("B", "rejected", "rejected", 0),
    ]
    assert labels["features"][0]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    json.dumps(labels)


def test_unsure_is_reported_and_not_exported(tmp_path):
    save_history(tmp_path, build_history(_three_passes()))
    record_feedback(tmp_path, "B", "unsure", note="look again")
    feedback = load_feedback(tmp_path)
    assert feedback["B"]["verdict"] == "unsure"
    reported = {s["site_id"]: s["verdict"] for s in report_sites(load_history(tmp_path), feedback)}
    assert reported["B"] == "unsure"
    assert export_labels(feedback)["features"] == []


def test_atomic_json_write_leaves_no_temporary_files(tmp_path):
    target = tmp_path / "sub" / "state.json"
    write_state(target, {"a": 1})
    write_state(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
    with pytest.raises(TypeError):
        write_state(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]


def test_a_store_without_a_saved_history_is_reviewed_from_its_site_layers(tmp_path):
    """``detect`` writes site layers but no history; a verdict on one of their sites is recorded all the same,
    and the saved history is left alone (nightly owns it)."""
    layout = StoreLayout(tmp_path)
    layout.sites.mkdir(parents=True)
    for scene_id, layer in _three_passes().items():
        layout.site_layer(scene_id).write_text(json.dumps(layer))
    site = build_history(_three_passes())["sites"][0]["site_id"]
    assert record_feedback(tmp_path, site, "confirmed")["site_id"] == site
    assert not layout.history_sites.exists()
    with pytest.raises(UsageError, match="no such site"):
        record_feedback(tmp_path, "nope", "confirmed")
