"""``fringescan synth``: the verb writes a region and prints its summary; bad arguments are clear errors.

The region's files themselves are tested in ``test_sim_files.py``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import rasterio

from scanner.cli import main
from scanner.core.phase import block_px


def test_writes_the_region_and_prints_one_summary_line(tmp_path, capsys):
    out = tmp_path / "region"
    code = main(
        ["synth", "--out", str(out), "--size", "160", "--scenes", "2", "--seed", "6", "--set", "areas=2"]
    )
    printed = capsys.readouterr().out.strip()
    region = json.loads((out / "region.json").read_text())
    assert code == 0 and region["seed"] == 6 and len(region["scenes"]) == 2 and len(region["areas"]) == 2
    assert printed.count("\n") == 0 and printed.startswith("synthetic region: 2 scenes, 2 area(s), ")
    assert printed.endswith(f"-> {out}")


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
    for out, exit_code in ((blocker, 4), (blocker / "region", 2)):  # 4: a file is never replaced by a region
        code = main(["synth", "--out", str(out), "--size", "150", "--scenes", "1"])
        err = capsys.readouterr().err.strip()
        assert code == exit_code and err.startswith("fringescan: error: --out") and err.count("\n") == 0
    assert blocker.read_text() == "not a directory"


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
