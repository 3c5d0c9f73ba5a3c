"""The operating point travels with the model: config -> checkpoint -> probability grid -> detect/evaluate-scan."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scan_helpers import make_checkpoint, make_store
from shapely.geometry import Point, mapping

from scanner.cli import main
from scanner.config import load_config
from scanner.core.detect import DEFAULT_SPLIT_PROMINENCE, DetectConfig, OperatingPoint, resolve_config
from scanner.errors import UsageError
from scanner.io.checkpoint import ModelMeta, checkpoint_hash, load_checkpoint, read_meta, save_checkpoint
from scanner.io.probgrid import read_prob
from scanner.io.site_layers import to_wgs84

ROOT = Path(__file__).resolve().parents[1]


def test_default_config_is_the_recommended_variant() -> None:
    demo = load_config(ROOT / "configs" / "demo.py")
    phase = load_config(ROOT / "configs" / "phase_only.py")
    channels = load_config(ROOT / "configs" / "accuracy_channels.py")
    assert demo.detect == OperatingPoint(threshold=0.97, min_cells=4)
    assert demo.preprocess.channels == ("cos", "sin", "coherence", "slope") and demo.model.in_channels == 4
    assert phase.detect == OperatingPoint() and phase.preprocess.channels == ("phase_q",)
    assert dataclasses.replace(demo, detect=channels.detect) == channels  # docs/accuracy.md's "channels"
    assert load_config(ROOT / "configs" / "demo.py", ["detect.threshold=0.9"]).detect.threshold == 0.9


@pytest.mark.parametrize(
    "values", [{"threshold": 0.0}, {"threshold": 1.5}, {"min_cells": 0}, {"min_cells": 2.5}]
)
def test_invalid_operating_points_are_refused(values) -> None:
    with pytest.raises(UsageError):
        OperatingPoint(**values)


@given(
    st.floats(0.01, 1.0),
    st.integers(1, 200),
    st.floats(1.0, 1e6),
    st.none() | st.floats(0.01, 1.0),
    st.none() | st.floats(0.0, 1e7),
)
def test_explicit_values_win_over_the_recorded_point(
    threshold, min_cells, cell_area, flag_t, flag_area
) -> None:
    recorded = {"threshold": threshold, "min_cells": min_cells}
    config, origin = resolve_config(recorded, cell_area, flag_t, flag_area)
    assert config.threshold == (threshold if flag_t is None else flag_t)
    expected_area = (min_cells - 0.5) * cell_area if flag_area is None else flag_area
    assert config.min_area_m2 == pytest.approx(expected_area)
    assert ("--threshold" in origin) == (flag_t is not None)
    assert ("--min-area-m2" in origin) == (flag_area is not None)
    default, origin = resolve_config(None, cell_area)
    assert default == DetectConfig(threshold=0.5, min_area_m2=1.5 * cell_area) and "default" in origin


def test_the_split_setting_is_the_given_one_and_is_named() -> None:
    recorded = {"threshold": 0.9, "min_cells": 3}
    default, origin = resolve_config(recorded, 100.0)
    assert default.split_prominence == DEFAULT_SPLIT_PROMINENCE
    assert f"prominence {DEFAULT_SPLIT_PROMINENCE:g} (default)" in origin
    off, origin = resolve_config(recorded, 100.0, split_prominence=None)
    assert off == DetectConfig(threshold=0.9, min_area_m2=250.0, split_prominence=None)
    assert "no split" in origin
    given, origin = resolve_config(recorded, 100.0, split_prominence=0.25)
    assert given.split_prominence == 0.25 and "prominence 0.25" in origin and "default)" not in origin


def test_checkpoint_records_the_point_and_old_ones_still_load(tmp_path: Path) -> None:
    old = make_checkpoint(tmp_path / "old")
    meta = read_meta(old)
    assert meta.operating_point is None and "operating_point" not in meta.to_dict()
    model, _ = load_checkpoint(old)
    point = OperatingPoint(threshold=0.8, min_cells=3)
    save_checkpoint(tmp_path / "new", model, dataclasses.replace(meta, operating_point=point))
    assert read_meta(tmp_path / "new").operating_point == point
    assert checkpoint_hash(old) != checkpoint_hash(tmp_path / "new")
    assert ModelMeta.from_dict(meta.to_dict()) == meta


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("op")
    store = make_store(root / "store", {"s1": (300, 320)})
    old = make_checkpoint(root / "old")
    model, meta = load_checkpoint(old)
    point = OperatingPoint(threshold=0.51, min_cells=3)
    save_checkpoint(root / "ckpt", model, dataclasses.replace(meta, operating_point=point))
    assert (
        main(["scan", "--store", str(store.root), "--model", str(root / "ckpt"), "--tile-cells", "20"]) == 0
    )
    return root, store


def test_scan_copies_the_point_and_detect_uses_it(scanned, capsys) -> None:
    root, store = scanned
    _, attrs = read_prob(store.root, "s1")
    assert attrs["operating_point"] == {"threshold": 0.51, "min_cells": 3}
    capsys.readouterr()
    assert main(["detect", "--store", str(store.root), "--out", str(root / "a.geojson")]) == 0
    text = capsys.readouterr().out
    assert "threshold 0.51 (model's operating point)" in text and "3 cells" in text
    collection = json.loads((root / "a.geojson").read_text())
    cell_area = 28.0 * 28.0 * 100  # make_store's 28 m pixels, 10 x 10 px cells
    assert collection["fringescan"]["threshold"] == 0.51
    assert collection["fringescan"]["min_area_m2"] == pytest.approx(2.5 * cell_area)
    assert all(f["properties"]["area_m2"] >= 3 * cell_area - 1e-6 for f in collection["features"])
    explicit = ["--threshold", "0.6", "--min-area-m2", "0"]
    assert main(["detect", "--store", str(store.root), *explicit, "--out", str(root / "b.geojson")]) == 0
    text = capsys.readouterr().out
    assert "threshold 0.6 (--threshold)" in text and "(--min-area-m2)" in text
    assert json.loads((root / "b.geojson").read_text())["fringescan"]["threshold"] == 0.6


def test_evaluate_scan_uses_the_point(scanned, capsys) -> None:
    root, store = scanned
    labels = root / "labels.geojson"
    centre = to_wgs84(Point(store.scene("s1").grid.transform * (160, 150)), store.scene("s1").grid.crs_wkt)
    point = {"type": "Feature", "geometry": mapping(centre), "properties": {}}
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [point]}))  # evaluation needs one
    capsys.readouterr()
    report = root / "report.json"
    assert (
        main(["evaluate-scan", "--store", str(store.root), "--labels", str(labels), "--out", str(report)])
        == 0
    )
    assert "threshold 0.51 (model's operating point)" in capsys.readouterr().out
    assert json.loads(report.read_text())["threshold"] == 0.51
