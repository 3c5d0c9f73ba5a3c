"""GeoTIFF / GeoJSON writers and the atomic publishing helper."""

from __future__ import annotations

import json
from datetime import date

import matplotlib.image
import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pyproj import CRS, Transformer

from scanner.core.palette import render_quicklook
from scanner.errors import InputError, StoreError, UsageError
from scanner.geo import GeoGrid
from scanner.io.writers import (
    atomic_path,
    publish_directory,
    staged_path,
    to_wgs84,
    write_bytes,
    write_geojson,
    write_geojson_wgs84,
    write_geotiff,
    write_geotiff_rows,
    write_json,
    write_png,
)

UTM54 = CRS.from_epsg(32654).to_wkt()


def utm_grid(height: int, width: int, x0: float = 400_000.0, y0: float = 4_000_000.0) -> GeoGrid:
    return GeoGrid(height=height, width=width, transform=Affine(28.0, 0, x0, 0, -28.0, y0), crs_wkt=UTM54)


@settings(max_examples=15, deadline=None)
@given(
    data=arrays(
        np.float32,
        st.tuples(st.integers(1, 40), st.integers(1, 40)),
        elements=st.floats(-3.0, 3.0, width=32) | st.just(np.float32(np.nan)),
    ),
    x0=st.floats(200_000, 800_000),
    y0=st.floats(3_000_000, 5_000_000),
)
def test_float_geotiff_round_trips_with_crs_transform_and_nan(tmp_path_factory, data, x0, y0):
    path = tmp_path_factory.mktemp("tif") / "phase.tif"
    grid = utm_grid(*data.shape, x0=x0, y0=y0)
    write_geotiff(path, data, grid, nodata=float("nan"), tags={"FIRST_DATE": date(2007, 1, 6)})
    with rasterio.open(path) as src:
        back = src.read(1)
        assert src.crs.to_epsg() == 32654
        assert src.transform == grid.transform
        assert src.dtypes == ("float32",)
        assert np.isnan(src.nodata)
        assert src.tags()["FIRST_DATE"] == "2007-01-06"
    np.testing.assert_array_equal(back, data)


def test_large_geotiff_is_tiled_and_tags_match_gamma_names(tmp_path, pyrate_dir):
    grid = utm_grid(300, 280)
    values = np.random.default_rng(0).random((300, 280), dtype=np.float32)
    tags = {
        "FIRST_DATE": "2007-01-06",
        "SECOND_DATE": "2007-04-08",
        "WAVELENGTH_METRES": 0.236,
        "INCIDENCE_DEGREES": 36.5,
    }
    write_geotiff(tmp_path / "coh.tif", values, grid, tags=tags)
    with rasterio.open(tmp_path / "coh.tif") as ours:
        assert ours.profile["tiled"] and ours.block_shapes == [(256, 256)]
        np.testing.assert_array_equal(ours.read(1), values)
        written = ours.tags()
    with rasterio.open(next(pyrate_dir.glob("*_unw.tif"))) as gamma:
        assert set(tags) <= set(gamma.tags())
    assert float(written["WAVELENGTH_METRES"]) == 0.236


@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 300), block=st.integers(1, 300))
def test_geotiff_written_by_row_blocks_equals_the_whole_write(tmp_path_factory, rows, block):
    """Streaming (``write_geotiff_rows``, as the NISAR layers are written) gives the same file content."""
    folder = tmp_path_factory.mktemp("rows")
    grid = utm_grid(rows, 260)  # 260 columns: tiled when 256 rows or more
    values = np.random.default_rng(rows).random(grid.shape, dtype=np.float32)
    blocks = ((row, values[row : row + block]) for row in range(0, rows, block))
    write_geotiff_rows(
        folder / "rows.tif", blocks, grid, nodata=float("nan"), tags={"WAVELENGTH_METRES": 0.24}
    )
    write_geotiff(folder / "whole.tif", values, grid, nodata=float("nan"), tags={"WAVELENGTH_METRES": 0.24})
    with rasterio.open(folder / "rows.tif") as streamed, rasterio.open(folder / "whole.tif") as whole:
        np.testing.assert_array_equal(streamed.read(1), whole.read(1))
        assert np.isnan(streamed.nodata) and streamed.tags() == whole.tags()
        assert {**streamed.profile, "nodata": None} == {**whole.profile, "nodata": None}  # NaN != NaN


def test_geotiff_shape_mismatch_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="shape"):
        write_geotiff(tmp_path / "x.tif", np.zeros((5, 6), np.float32), utm_grid(6, 5))
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_publishes_only_on_success(tmp_path):
    final = tmp_path / "out.txt"
    final.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(final) as temporary:
        temporary.write_text("half")
        raise RuntimeError("writer died")
    assert final.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    with atomic_path(final) as temporary:
        assert temporary.parent == final.parent and temporary != final
        temporary.write_text("new")
    assert final.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    assert final.stat().st_mode & 0o777 == 0o644


def test_write_json_formats_numpy_and_keeps_old_file_on_failure(tmp_path):
    target = tmp_path / "sub" / "state.json"
    write_json(target, {"b": np.float32(0.5), "a": np.int64(3)}, indent=1, sort_keys=True)
    assert target.read_text() == '{\n "a": 3,\n "b": 0.5\n}\n'
    assert target.stat().st_mode & 0o777 == 0o644
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    with pytest.raises(ValueError):
        write_json(target, {"nan": float("nan")})
    assert json.loads(target.read_text()) == {"a": 3, "b": 0.5}
    assert [p.name for p in target.parent.iterdir()] == ["state.json"]
    write_json(target, {"nan": float("nan")}, indent=None, allow_nan=True)
    assert target.read_text() == '{"nan": NaN}\n'


def test_write_bytes_replaces_whole_file(tmp_path):
    target = tmp_path / "a" / "page.html"
    write_bytes(target, b"one")
    write_bytes(target, b"two")
    assert target.read_bytes() == b"two" and [p.name for p in target.parent.iterdir()] == ["page.html"]


def _folder(path, text):
    path.mkdir(parents=True)
    (path / "content.txt").write_text(text)
    return path


def test_publish_directory_refuses_or_replaces(tmp_path):
    final = tmp_path / "out" / "grid"
    publish_directory(_folder(tmp_path / "t1", "one"), final)
    assert (final / "content.txt").read_text() == "one" and not (tmp_path / "t1").exists()
    with pytest.raises(StoreError, match="pass replace") as info:
        publish_directory(_folder(tmp_path / "t2", "two"), final, what="grid", fix="pass replace")
    assert "an existing output" in str(info.value)
    assert (final / "content.txt").read_text() == "one" and (tmp_path / "t2").exists()
    aside = tmp_path / "aside"
    aside.mkdir()
    publish_directory(tmp_path / "t2", final, replace=True, aside=aside)
    assert (final / "content.txt").read_text() == "two"
    assert list(aside.iterdir()) == [] and sorted(p.name for p in final.parent.iterdir()) == ["grid"]


def test_publish_directory_publishes_a_file_beside_by_default(tmp_path):
    final = tmp_path / "runs" / "a.json"
    for text in ("one", "two"):
        tmp = tmp_path / f"{text}.json"
        tmp.write_text(text)
        publish_directory(tmp, final, replace=True)
    assert final.read_text() == "two" and [p.name for p in final.parent.iterdir()] == ["a.json"]


def test_staged_path_rolls_back_on_error_and_refusal(tmp_path):
    final = tmp_path / "stac"
    staging = tmp_path / ".staging"
    with pytest.raises(RuntimeError), staged_path(final, staging=staging) as tmp:
        _folder(tmp, "half")
        raise RuntimeError("writer died")
    assert not final.exists() and list(staging.iterdir()) == []
    with staged_path(final, staging=staging) as tmp:
        assert tmp.suffix == final.suffix and tmp.parent == staging
        _folder(tmp, "one")
    with pytest.raises(StoreError), staged_path(final, staging=staging) as tmp:
        _folder(tmp, "two")
    assert (final / "content.txt").read_text() == "one" and list(staging.iterdir()) == []
    with staged_path(final, replace=True) as tmp:
        assert tmp.parent == final.parent and tmp.name.startswith(".")
        _folder(tmp, "three")
    assert (final / "content.txt").read_text() == "three"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".staging", "stac"]


def square(x0: float, y0: float, side: float) -> dict:
    ring = [[x0, y0], [x0, y0 + side], [x0 + side, y0 + side], [x0 + side, y0], [x0, y0]]
    return {
        "type": "Feature",
        "properties": {"body_id": "b1"},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def test_geojson_in_scene_crs_names_it(tmp_path):
    feature = square(400_000, 3_990_000, 500)
    write_geojson(tmp_path / "labels.geojson", [feature], 32654)
    payload = json.loads((tmp_path / "labels.geojson").read_text())
    assert payload["crs"]["properties"]["name"] == "urn:ogc:def:crs:EPSG::32654"
    assert payload["features"][0] == feature


def test_wgs84_copy_is_rfc7946_and_reprojects_back(tmp_path):
    feature = square(400_000, 3_990_000, 500)
    write_geojson_wgs84(tmp_path / "labels_wgs84.geojson", [feature], 32654)
    payload = json.loads((tmp_path / "labels_wgs84.geojson").read_text())
    assert "crs" not in payload
    ring = np.array(payload["features"][0]["geometry"]["coordinates"][0])
    assert np.all((ring[:, 0] > 138) & (ring[:, 0] < 142) & (ring[:, 1] > 35) & (ring[:, 1] < 37))
    x, y = ring[:, 0], ring[:, 1]
    assert np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) > 0  # exterior ring counter-clockwise
    back = Transformer.from_crs(4326, 32654, always_xy=True).transform(x, y)
    expected = np.array(feature["geometry"]["coordinates"][0])[::-1]
    np.testing.assert_allclose(np.column_stack(back), expected, atol=0.05)
    assert payload["features"][0]["properties"] == feature["properties"]


def test_unsupported_geometry_is_an_input_error():
    line = {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
    }
    with pytest.raises(InputError, match="LineString"):
        to_wgs84([line], 32654)


def test_png_round_trip(tmp_path):
    phase = np.random.default_rng(0).uniform(-np.pi, np.pi, (30, 50)).astype(np.float32)
    rgb = render_quicklook(phase)
    path = write_png(tmp_path / "q.png", rgb)
    back = matplotlib.image.imread(path)
    np.testing.assert_array_equal(np.round(back[..., :3] * 255).astype(np.uint8), rgb)


def test_png_of_a_non_rgb_array_is_a_usage_error_and_writes_nothing(tmp_path):
    with pytest.raises(UsageError, match="RGB uint8"):
        write_png(tmp_path / "bad.png", np.zeros((4, 4), np.float32))
    assert not (tmp_path / "bad.png").exists()
