"""``fringescan synth``: output layout, labels, atomic re-runs and clear errors for bad arguments."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio

from scanner.cli import main
from scanner.core.phase import block_px


def run_synth(out: Path, *extra: str) -> int:
    return main(
        [
            "synth",
            "--out",
            str(out),
            "--size",
            "300",
            "--scenes",
            "3",
            "--seed",
            "5",
            "--set",
            "bodies_per_100km2=12",
            *extra,
        ]
    )


@pytest.fixture(scope="module")
def region_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "region"
    assert run_synth(out) == 0
    return out


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
    assert run_synth(out) == 0
    assert main(["synth", "--out", str(out), "--size", "160", "--scenes", "2", "--seed", "6"]) == 0
    region = json.loads((out / "region.json").read_text())
    assert len(region["scenes"]) == 2
    assert len(list(out.glob("*.phase.tif"))) == 2
    assert len(list((out / "quicklooks").glob("*.png"))) == 2


@pytest.mark.parametrize("size", ["-5", "149"])
def test_bad_size_is_one_clear_line_and_nonzero(tmp_path, capsys, size):
    code = main(["synth", "--out", str(tmp_path / "o"), "--size", size])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "size_px" in err and "at least 150" in err
    assert not (tmp_path / "o").exists()


def test_unwritable_out_dir_is_a_clear_error(tmp_path, capsys):
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "region"):
        code = main(["synth", "--out", str(out), "--size", "150", "--scenes", "1"])
        err = capsys.readouterr().err.strip()
        assert code == 2 and err.startswith("fringescan: error: --out") and err.count("\n") == 0


def test_unknown_set_key_lists_valid_keys(tmp_path, capsys):
    code = main(["synth", "--out", str(tmp_path / "o"), "--set", "sizepx=300"])
    assert code == 2
    assert "size_px" in capsys.readouterr().err


def test_user_dem_is_used_on_its_own_grid(tmp_path):
    from affine import Affine
    from pyproj import CRS

    from scanner.geo import GeoGrid
    from scanner.io.writers import write_geotiff

    side = 200 + block_px(28.0)
    rows, cols = np.mgrid[0:side, 0:side]
    dem = (50.0 + 900.0 * np.exp(-((rows - side / 2) ** 2 + (cols - side / 2) ** 2) / (2 * 60.0**2))).astype(
        np.float32
    )
    grid = GeoGrid(
        height=side,
        width=side,
        transform=Affine(28.0, 0, 500_000.0, 0, -28.0, 3_900_000.0),
        crs_wkt=CRS.from_epsg(32653).to_wkt(),
    )
    write_geotiff(tmp_path / "dem.tif", dem, grid)
    out = tmp_path / "region"
    assert (
        main(
            ["synth", "--out", str(out), "--size", "200", "--scenes", "2", "--dem", str(tmp_path / "dem.tif")]
        )
        == 0
    )
    with rasterio.open(out / "area0.dem.tif") as src:
        assert src.crs.to_epsg() == 32653 and src.transform == grid.transform
        np.testing.assert_array_equal(src.read(1), dem)


def test_too_small_user_dem_is_a_clear_error(tmp_path, capsys):
    from affine import Affine
    from pyproj import CRS

    from scanner.geo import GeoGrid
    from scanner.io.writers import write_geotiff

    grid = GeoGrid(
        height=160,
        width=160,
        transform=Affine(28.0, 0, 5e5, 0, -28.0, 3.9e6),
        crs_wkt=CRS.from_epsg(32654).to_wkt(),
    )
    write_geotiff(tmp_path / "dem.tif", np.ones((160, 160), np.float32), grid)
    code = main(["synth", "--out", str(tmp_path / "o"), "--size", "200", "--dem", str(tmp_path / "dem.tif")])
    assert code == 2 and "DEM" in capsys.readouterr().err
