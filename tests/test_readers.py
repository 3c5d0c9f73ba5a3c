"""scanner.io.readers: kind detection, windowed phase reads, metadata tags, reprojection, polygons, bad files."""

import json
import re

import numpy as np
import pytest
from affine import Affine

from scanner.errors import InputError
from scanner.geo import GeoGrid, PixelWindow
from scanner.io import readers
from tests.rasters import GAMMA_TAGS, UTM54, UTM54_WKT, utm_transform, write_raster

GRID = GeoGrid(height=40, width=30, transform=utm_transform(), crs_wkt=UTM54_WKT)


def _phase(height=40, width=30, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-np.pi, np.pi, (height, width)).astype(np.float32)


def test_float_phase_read_with_nodata(tmp_path):
    values = _phase()
    values[0, :5] = 0.0
    values[1, 0] = np.nan
    path = write_raster(tmp_path / "a.tif", values, nodata=0.0)
    with readers.open_raster(path) as ds:
        assert readers.phase_storage(ds) == "float"
        phase, usable = readers.read_phase(ds, "float", PixelWindow(0, 0, 40, 30))
    assert not usable[0, :5].any() and not usable[1, 0] and usable.sum() == 40 * 30 - 6
    np.testing.assert_array_equal(phase[usable], values[usable])
    assert np.isnan(phase[~usable]).all()


@pytest.mark.parametrize("dtype", ["complex64", "complex_int16"])
def test_complex_phase_is_the_angle(tmp_path, dtype):
    values = _phase()
    amplitude = 1000.0
    z = (amplitude * np.exp(1j * values)).astype(np.complex64)
    z[3, 3] = 0
    path = write_raster(tmp_path / "c.tif", z, dtype=dtype)
    with readers.open_raster(path) as ds:
        assert readers.phase_storage(ds) == "complex"
        phase, usable = readers.read_phase(ds, "complex", PixelWindow(0, 0, 40, 30))
    assert not usable[3, 3] and usable.sum() == 40 * 30 - 1
    tolerance = 2e-3 if dtype == "complex_int16" else 1e-6  # CInt16 rounds each part to an integer
    diff = np.angle(np.exp(1j * (phase[usable] - values[usable])))
    assert np.abs(diff).max() < tolerance


def test_magnitude_phase_pair(tmp_path):
    values = _phase()
    magnitude = np.ones_like(values)
    magnitude[5, 5] = 0
    path = write_raster(tmp_path / "m.tif", [magnitude, values], descriptions=("amplitude", "phase"))
    with readers.open_raster(path) as ds:
        assert readers.phase_storage(ds) == "magphase"
        phase, usable = readers.read_phase(ds, "magphase", PixelWindow(2, 3, 10, 12))
    np.testing.assert_array_equal(phase[usable], values[2:12, 3:15][usable])
    assert not usable[3, 2]


@pytest.mark.parametrize(
    ("bands", "dtype", "found"),
    [
        ([np.zeros((20, 20), np.int16)], "int16", "int16"),
        ([np.zeros((20, 20), np.float32)] * 3, "float32", "3 band(s)"),
        ([np.zeros((20, 20), np.float32)] * 2, "float32", "2 band(s)"),
    ],
)
def test_unsupported_layouts_are_refused(tmp_path, bands, dtype, found):
    path = write_raster(tmp_path / "u.tif", bands, dtype=dtype)
    with readers.open_raster(path) as ds, pytest.raises(InputError, match=re.escape(found)) as info:
        readers.phase_storage(ds)
    assert "expected one float band" in str(info.value) and "fix:" in str(info.value)


def test_missing_crs_and_rotation_are_refused(tmp_path):
    no_crs = write_raster(tmp_path / "n.tif", _phase(), crs=None)
    with readers.open_raster(no_crs) as ds, pytest.raises(InputError, match="found no CRS"):
        readers.raster_grid(ds)
    rotated = write_raster(tmp_path / "r.tif", _phase(), transform=Affine(28, 5, 5e5, 5, -28, 4e6))
    with readers.open_raster(rotated) as ds, pytest.raises(InputError, match="north-up"):
        readers.raster_grid(ds)


def test_corrupt_truncated_and_missing_files(tmp_path):
    garbage = tmp_path / "g.tif"
    garbage.write_bytes(b"this is not a tiff" * 10)
    with pytest.raises(InputError, match="corrupt or truncated"):
        readers.open_raster(garbage)
    whole = write_raster(tmp_path / "w.tif", _phase(200, 200))
    truncated = tmp_path / "t.tif"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(InputError, match="corrupt or truncated"), readers.open_raster(truncated) as ds:
        readers.read_phase(ds, "float", PixelWindow(0, 0, 200, 200))
    with pytest.raises(InputError, match="nothing at"):
        readers.open_raster(tmp_path / "missing.tif")


def test_metadata_from_gamma_tags_and_file_name(tmp_path):
    path = write_raster(tmp_path / "x.tif", _phase(), tags=GAMMA_TAGS)
    with readers.open_raster(path) as ds:
        meta = readers.scene_metadata(ds.tags(), path)
    assert meta["first_date"] == "2010-01-15" and meta["second_date"] == "2010-03-02"
    assert meta["wavelength_m"] == pytest.approx(0.2360571) and meta["incidence_deg"] == pytest.approx(38.7)
    assert (meta["orbit"], meta["frame"], meta["pass_direction"]) == ("21345", "2890", "ascending")
    named = readers.scene_metadata({}, tmp_path / "ifg_20200101-20200113_unw.tif")
    assert (named["first_date"], named["second_date"], named["wavelength_m"]) == (
        "2020-01-01",
        "2020-01-13",
        None,
    )


def test_real_gamma_file(pyrate_dir):
    path = next(iter(sorted(pyrate_dir.glob("*_unw.tif"))))
    with readers.open_raster(path) as ds:
        grid = readers.raster_grid(ds)
        meta = readers.scene_metadata(ds.tags(), path)
        assert readers.phase_storage(ds) == "float" and ds.nodata == 0
        phase, usable = readers.read_phase(ds, "float", PixelWindow(0, 0, grid.height, grid.width))
    assert grid.shape == (60, 100) and grid.epsg == 4326
    assert 140 < grid.pixel_size.x_m < 150 and 150 < grid.pixel_size.y_m < 160
    assert meta["wavelength_m"] == pytest.approx(0.0555, abs=1e-4) and meta["first_date"] == "2018-01-06"
    assert 0 < (~usable).sum() < 500 and np.nanmax(phase) > np.pi


def test_reproject_identity_and_other_crs(tmp_path):
    values = np.arange(40 * 30, dtype=np.float32).reshape(40, 30)
    same = write_raster(tmp_path / "s.tif", values)
    with readers.open_raster(same) as ds:
        window = PixelWindow(5, 4, 10, 12)
        got = readers.reproject_window(ds, GRID, window, resampling="nearest")
        np.testing.assert_array_equal(got, values[5:15, 4:16])
        outside = readers.reproject_window(ds, GRID, PixelWindow(-2, -2, 4, 4), resampling="nearest")
        assert np.isnan(outside[:2]).all() and outside[2, 2] == values[0, 0]
    constant = write_raster(
        tmp_path / "ll.tif",
        np.full((50, 50), 7.0, np.float32),
        crs="EPSG:4326",
        transform=Affine(0.001, 0, 140.98, 0, -0.001, 36.16),
    )
    with readers.open_raster(constant, "dem") as ds:
        assert readers.overlaps(ds, GRID)
        warped = readers.reproject_window(ds, GRID, PixelWindow(0, 0, 40, 30), resampling="bilinear")
    assert np.nanmin(warped) == 7.0 and np.isfinite(warped).any()


def test_disjoint_raster_does_not_overlap(tmp_path):
    far = write_raster(
        tmp_path / "far.tif", _phase(), transform=utm_transform(origin=(700_000.0, 4_000_000.0))
    )
    with readers.open_raster(far) as ds:
        assert not readers.overlaps(ds, GRID)


def test_polygons_rasterize_in_scene_crs(tmp_path):
    left, top = 500_000.0 + 28 * 10, 4_000_000.0 - 28 * 10
    square = [[left, top], [left + 280, top], [left + 280, top - 280], [left, top - 280], [left, top]]
    path = tmp_path / "p.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": UTM54}},
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {"type": "Polygon", "coordinates": [square]},
                    }
                ],
            }
        )
    )
    mask = readers.rasterize_window(readers.load_polygons(path), GRID, PixelWindow(0, 0, 40, 30))
    assert mask.sum() == 100 and mask[10:20, 10:20].all()
    bad = tmp_path / "line.geojson"
    bad.write_text(json.dumps({"type": "LineString", "coordinates": [[0, 0], [1, 1]]}))
    with pytest.raises(InputError, match="Polygon"):
        readers.load_polygons(bad)


def test_read_json_defaults_when_missing_and_refuses_invalid(tmp_path):
    from scanner.errors import StoreError

    path = tmp_path / "state.json"
    assert readers.read_json(path, {"n": 0}) == {"n": 0}
    path.write_text('{"n": 1}')
    assert readers.read_json(path, {}) == {"n": 1}
    path.write_text("{not json")
    with pytest.raises(StoreError, match="valid JSON") as info:
        readers.read_json(path, {})
    assert "fix" in str(info.value)


def test_read_geojson_accepts_only_feature_collections(tmp_path):
    path = tmp_path / "sites.geojson"
    collection = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]}
    path.write_text(json.dumps(collection))
    assert readers.read_geojson(path) == collection
    path.write_text(json.dumps({"type": "Feature", "geometry": None}))
    with pytest.raises(InputError, match="a FeatureCollection"):
        readers.read_geojson(path)
    with pytest.raises(InputError, match="site layer .*re-run") as info:
        readers.read_geojson(tmp_path / "missing.geojson", role="site layer", fix="re-run detect")
    assert "FileNotFoundError" in str(info.value)
