"""``scanner.sim.files``: a region's output layout, labels, tags, summary and atomic re-runs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from scanner.core.phase import block_px
from scanner.errors import StoreError
from scanner.sim.config import SynthConfig
from scanner.sim.files import RegionSummary, write_region_files

SMALL = SynthConfig(size_px=300, scenes=3, seed=5, bodies_per_100km2=12)


def write_small_region(out: Path) -> RegionSummary:
    return write_region_files(SMALL, out)


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[Path, RegionSummary]:
    out = tmp_path_factory.mktemp("synth") / "region"
    return out, write_small_region(out)


@pytest.fixture(scope="module")
def region_dir(written) -> Path:
    return written[0]


def test_summary_counts_what_was_written(written):
    out, summary = written
    region = json.loads((out / "region.json").read_text())
    labels = json.loads((out / "labels.geojson").read_text())["features"]
    assert summary.out == out
    assert (summary.scenes, summary.areas, summary.bodies) == (3, 1, len(labels))
    assert summary.visible_bodies == sum(bool(f["properties"]["visible_scene_ids"]) for f in labels)
    assert len(region["scenes"]) == summary.scenes and len(region["areas"]) == summary.areas


def test_layout_and_region_json(region_dir):
    region = json.loads((region_dir / "region.json").read_text())
    assert region["format"] == "fringescan-synth-region" and region["seed"] == 5
    assert region["config"]["values"]["size_px"] == 300
    assert len(region["scenes"]) == 3
    for scene in region["scenes"]:
        for name in scene["files"].values():
            assert (region_dir / name).is_file(), name
        assert scene["first_date"] < scene["second_date"]
    assert (region_dir / "labels.geojson").is_file() and (region_dir / "labels_wgs84.geojson").is_file()
    assert not list(region_dir.glob(".tmp-*"))
    assert sorted(region["files"]) == sorted(
        str(p.relative_to(region_dir))
        for p in region_dir.rglob("*")
        if p.is_file() and p.name != "region.json"
    )


def test_geotiffs_are_georeferenced_and_tagged(region_dir):
    region = json.loads((region_dir / "region.json").read_text())
    scene = region["scenes"][0]
    with rasterio.open(region_dir / scene["files"]["phase"]) as src:
        phase = src.read(1)
        assert src.crs.to_epsg() == 32654 and src.shape == (300, 300)
        assert list(src.transform)[:6] == scene["grid"]["transform"]
        tags = src.tags()
        assert tags["FIRST_DATE"] == scene["first_date"] and tags["SECOND_DATE"] == scene["second_date"]
        assert float(tags["WAVELENGTH_METRES"]) == 0.236
        assert tags["PASS_DIRECTION"] in ("ascending", "descending") and tags["ORBIT"] and tags["FRAME"]
        assert float(tags["INCIDENCE_DEGREES"]) == scene["incidence_deg"]
    finite = phase[np.isfinite(phase)]
    assert finite.min() >= -np.float32(np.pi) and finite.max() < np.float32(np.pi)
    with rasterio.open(region_dir / scene["files"]["coherence"]) as src:
        coherence = src.read(1)
        assert coherence.min() >= 0 and coherence.max() <= 1
    with rasterio.open(region_dir / scene["files"]["dem"]) as dem:
        assert dem.crs.to_epsg() == 32654
        # the scene grid is a crop of the area DEM grid, shifted by whole 1 km mesh blocks
        col, row = ~dem.transform * (scene["grid"]["transform"][2], scene["grid"]["transform"][5])
        assert round(row) % block_px(28.0) == 0 and round(col) % block_px(28.0) == 0


def test_scenes_overlap_without_being_identical(region_dir):
    region = json.loads((region_dir / "region.json").read_text())
    origins = {(s["grid"]["transform"][2], s["grid"]["transform"][5]) for s in region["scenes"]}
    assert len(origins) == 3
    xs = [o[0] for o in origins]
    assert max(xs) - min(xs) < 300 * 28.0


def test_labels_have_the_documented_properties(region_dir):
    labels = json.loads((region_dir / "labels.geojson").read_text())
    assert labels["crs"]["properties"]["name"].endswith("32654")
    assert labels["features"], "expected at least one body"
    scene_ids = {s["scene_id"] for s in json.loads((region_dir / "region.json").read_text())["scenes"]}
    for feature in labels["features"]:
        props = feature["properties"]
        assert {
            "body_id",
            "area_id",
            "area_m2",
            "centre_x",
            "centre_y",
            "downslope_m",
            "scenes",
            "visible_scene_ids",
        } <= set(props)
        assert 0.16e6 * 0.98 <= props["area_m2"] <= 2e6 * 1.02
        assert {s["scene_id"] for s in props["scenes"]} == scene_ids
        assert props["visible_scene_ids"] == [s["scene_id"] for s in props["scenes"] if s["visible"]]
        assert feature["geometry"]["type"] == "Polygon"
    wgs84 = json.loads((region_dir / "labels_wgs84.geojson").read_text())
    lon, lat = wgs84["features"][0]["geometry"]["coordinates"][0][0]
    assert 138 < lon < 142 and 34 < lat < 38


def test_rerun_replaces_region_and_drops_stale_files(tmp_path):
    out = tmp_path / "region"
    write_small_region(out)
    with pytest.raises(StoreError, match="--overwrite"):
        write_region_files(SynthConfig(size_px=160, scenes=2, seed=6), out)
    write_region_files(SynthConfig(size_px=160, scenes=2, seed=6), out, overwrite=True)
    region = json.loads((out / "region.json").read_text())
    assert len(region["scenes"]) == 2
    assert len(list(out.glob("*.phase.tif"))) == 2
    assert len(list((out / "quicklooks").glob("*.png"))) == 2


def test_read_region_and_ingest_argv_take_a_region_into_a_store(region_dir, tmp_path):
    from scanner.cli import main
    from scanner.errors import InputError
    from scanner.io.store import Store
    from scanner.sim.files import ingest_argv, read_region

    region = read_region(region_dir)
    for scene in region["scenes"]:
        assert main(ingest_argv(region_dir, scene, tmp_path / "store")) == 0
    store = Store.open(tmp_path / "store")
    assert store.scene_ids() == sorted(s["scene_id"] for s in region["scenes"])
    assert all(store.scene(s).has("coherence") and store.scene(s).has("slope") for s in store.scene_ids())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "region.json").write_text('{"format": "something else"}')
    with pytest.raises(InputError, match="fringescan synth"):
        read_region(tmp_path / "other")
    with pytest.raises(InputError, match="region.json"):
        read_region(tmp_path / "missing")
