"""Mosaic products: the Zarr v3 tree in three readers, GeoZarr metadata, versions and pointer, COG export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import tensorstore as ts
import xarray as xr
import zarr
from mosaic_fixtures import add_lattice_scene, make_store
from rio_cogeo.cogeo import cog_validate
from test_mosaic import small_grid

from scanner.cli import main
from scanner.errors import StoreError
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.run import run_mosaic
from scanner.mosaic.zarr_io import (
    LevelArrays,
    current_version,
    list_versions,
    read_manifest,
    set_current,
    version_path,
)


@pytest.fixture(scope="module")
def two_versions(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_store(tmp_path_factory.mktemp("mosaic") / "store")
    add_lattice_scene(root, "A", 10, 10, 80, 90, second_date="2026-02-01")
    run_mosaic(root, small_grid(), CombineConfig())
    add_lattice_scene(root, "B", 50, 60, 90, 80, second_date="2026-02-13", seed=1)
    run_mosaic(root, small_grid(), CombineConfig())
    return root


def test_zarr_opens_in_three_readers(two_versions: Path) -> None:
    path = version_path(two_versions)
    expected = LevelArrays(path, 0, mode="r").read_band("prob")
    assert np.isfinite(expected).sum() > 1000
    by_zarr = zarr.open_group(path, mode="r")["0/prob"][...]
    by_ts = (
        ts.open(
            {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "0" / "prob")}}, read=True
        )
        .result()
        .read()
        .result()
    )
    dataset = xr.open_zarr(path, group="0", consolidated=False, zarr_format=3)
    np.testing.assert_array_equal(by_zarr, expected)
    np.testing.assert_array_equal(by_ts, expected)
    np.testing.assert_array_equal(dataset["prob"].values, expected)
    assert dataset["prob"].dims == ("y", "x") and dataset["prob"].attrs["grid_mapping"] == "spatial_ref"
    grid = small_grid()
    np.testing.assert_allclose(
        dataset["x"].values[:2], grid.origin_x + grid.cell_size_x * np.array([0.5, 1.5])
    )
    assert set(dataset.data_vars) >= {"prob", "passes", "passes_above", "last_date"}


def test_geozarr_metadata_and_pyramid(two_versions: Path) -> None:
    path = version_path(two_versions)
    attrs = zarr.open_group(path, mode="r").attrs.asdict()
    assert attrs["proj:code"] == "EPSG:6668" and "GEOGCRS" in attrs["proj:wkt2"]
    assert attrs["spatial:transform"] == list(small_grid().transform)[:6]
    layout = attrs["multiscales"]["layout"]
    manifest = read_manifest(path)
    assert len(layout) == manifest["levels"] >= 2 and layout[1]["derived_from"] == "0"
    level0 = LevelArrays(path, 0, mode="r").read_band("prob")
    level1 = LevelArrays(path, 1, mode="r").read_band("prob")
    h, w = level1.shape
    padded = np.full((2 * h, 2 * w), np.nan, np.float32)
    padded[: level0.shape[0], : level0.shape[1]] = level0
    quads = padded.reshape(h, 2, w, 2)
    expected = np.where(
        np.isfinite(quads).any(axis=(1, 3)),
        np.nanmax(np.where(np.isfinite(quads), quads, -1), axis=(1, 3)),
        np.nan,
    )
    np.testing.assert_allclose(level1, expected)
    ref = zarr.open_group(path, mode="r")["0/spatial_ref"].attrs
    assert ref["GeoTransform"].split()[1] == str(small_grid().cell_size_x)


def test_versions_are_listed_and_old_ones_stay_readable(two_versions: Path) -> None:
    versions = list_versions(two_versions)
    assert versions == ["v000001", "v000002"] and current_version(two_versions) == "v000002"
    old = read_manifest(version_path(two_versions, "v000001"))
    assert set(old["passes"]) == {"A"} and read_manifest(version_path(two_versions))["parent"] == "v000001"
    passes_old = LevelArrays(version_path(two_versions, "v000001"), 0, mode="r").read_band("passes")
    assert passes_old.max() == 1
    with pytest.raises(StoreError, match="v000009"):
        version_path(two_versions, "v000009")


def test_pointer_switch_is_a_whole_file_replace(tmp_path: Path) -> None:
    root = make_store(tmp_path / "store")
    (root / "mosaic").mkdir()
    for version in ("v000001", "v000002", "v000003"):
        set_current(root, version)
        assert json.loads((root / "mosaic" / "CURRENT").read_text()) == {"version": version}
    assert [p.name for p in (root / "mosaic").iterdir()] == ["CURRENT"]


def test_cog_export_validates(two_versions: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "mosaic.tif"
    assert main(["export", "--store", str(two_versions), "--mosaic", "--out", str(out)]) == 0
    assert "v000002" in capsys.readouterr().out
    valid, errors, _ = cog_validate(str(out), quiet=True)
    assert valid, errors
    expected = LevelArrays(version_path(two_versions), 0, mode="r").read_band("prob")
    with rasterio.open(out) as src:
        np.testing.assert_array_equal(src.read(1), expected)
        assert src.crs.to_epsg() == 6668 and src.transform.almost_equals(small_grid().transform)
    older = tmp_path / "passes.tif"
    assert (
        main(
            [
                "export",
                "--store",
                str(two_versions),
                "--mosaic",
                "--version",
                "v000001",
                "--band",
                "passes",
                "--out",
                str(older),
            ]
        )
        == 0
    )
    with rasterio.open(older) as src:
        assert src.read(1).max() == 1 and src.dtypes[0] == "uint16"


def test_mosaic_cli_reports_and_refuses_bad_input(
    two_versions: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    grid = tmp_path / "grid.py"
    grid.write_text("from test_mosaic import small_grid\n\n\ndef get_config():\n    return small_grid()\n")
    assert main(["mosaic", "--store", str(two_versions), "--grid", str(grid)]) == 0
    out = capsys.readouterr().out
    assert "unchanged" in out and "viewer:" in out
    assert main(["mosaic", "--store", str(two_versions), "--list"]) == 0
    assert "* v000002" in capsys.readouterr().out
    assert main(["mosaic", "--store", str(tmp_path / "nope"), "--grid", str(grid)]) == 4
    assert main(["mosaic", "--store", str(two_versions), "--grid", str(grid), "--since", "yesterday"]) == 3
