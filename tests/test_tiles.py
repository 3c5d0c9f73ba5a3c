"""Viewer tiles: slippy-map tile maths, crisp nearest tiles, the layers of a mosaic version, the offline basemap."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from mosaic_fixtures import add_lattice_scene, lattice_grid
from PIL import Image
from pyproj import CRS, Transformer
from scan_helpers import add_scene, scene_arrays

from configs.grids.japan import get_config as japan_grid
from scanner.geo import GeoGrid
from scanner.io.layout import StoreLayout
from scanner.io.store import Store
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.grid import MosaicGrid, grid_for_bounds
from scanner.mosaic.run import run_mosaic
from scanner.products import basemap, tiles
from scanner.products.tiles import ORIGIN_M, Tile, tile_of, tile_range, zoom_range

TO_LONLAT = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)
WGS84_WKT = CRS.from_epsg(4326).to_wkt()


# --- Tile maths ---------------------------------------------------------------------------------------------------


def test_tile_maths_known_values() -> None:
    assert Tile(0, 0, 0).bounds_m() == (-ORIGIN_M, -ORIGIN_M, ORIGIN_M, ORIGIN_M)
    assert pytest.approx(20037508.342789244) == ORIGIN_M
    assert tile_of(0.0, 0.0, 1) == Tile(1, 1, 1)
    assert tile_of(-0.001, 0.001, 1) == Tile(1, 0, 0)
    assert tile_of(139.7671, 35.6812, 10) == Tile(10, 909, 403)  # Tokyo station, as on openstreetmap.org
    assert tile_of(-180.0, 90.0, 3) == Tile(3, 0, 0) and tile_of(180.0, -90.0, 3) == Tile(3, 7, 7)
    assert Tile(1, 1, 0).bounds_m() == (0.0, 0.0, ORIGIN_M, ORIGIN_M)
    assert tiles.ground_pixel_m(0, 0.0) == pytest.approx(156543.03392804097)
    assert Tile(3, 2, 5).path() == Path("3/2/5.png")


@settings(max_examples=200, deadline=None)
@given(
    lon=st.floats(-179.999, 179.999),
    lat=st.floats(-85.0, 85.0),
    z=st.integers(0, 20),
)
def test_tile_of_contains_the_point(lon: float, lat: float, z: int) -> None:
    tile = tile_of(lon, lat, z)
    left, bottom, right, top = tile.bounds_m()
    west, south = TO_LONLAT.transform(left, bottom)
    east, north = TO_LONLAT.transform(right, top)
    tol = 1e-9
    assert west - tol <= lon <= east + tol and south - tol <= lat <= north + tol
    assert tile.transform() * (0, 0) == pytest.approx((left, top))
    assert tile.transform() * (256, 256) == pytest.approx((right, bottom))


def test_zoom_rule() -> None:
    bounds = (140.09, 37.30, 140.60, 37.77)
    low, high = zoom_range(280.0, bounds)
    lat = (bounds[1] + bounds[3]) / 2
    assert tiles.ground_pixel_m(high, lat) <= 140.0 < tiles.ground_pixel_m(high - 1, lat)
    cols, rows = tile_range(bounds, low)
    assert len(cols) <= 2 and len(rows) <= 2
    cols, rows = tile_range(bounds, low + 1)
    assert len(cols) > 2 or len(rows) > 2
    assert zoom_range(0.01, bounds)[1] == tiles.MAX_ZOOM_CAP


# --- Crisp tiles ---------------------------------------------------------------------------------------------------


def index_colouring(values: np.ndarray) -> np.ndarray:
    """Cell index into red/green: the test decodes it back."""
    index = np.nan_to_num(values, nan=0).astype(np.int64)
    rgba = np.zeros((*values.shape, 4), np.uint8)
    rgba[..., 0], rgba[..., 1], rgba[..., 3] = index % 256, index // 256, 255
    return rgba


def decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    rgba = np.asarray(Image.open(path).convert("RGBA")).astype(np.int64)
    return rgba[..., 0] + 256 * rgba[..., 1], rgba[..., 3] > 0


def test_tiles_are_crisp_nearest_and_only_where_data(tmp_path: Path) -> None:
    height, width, cell = 10, 200, 0.001
    grid = GeoGrid(height, width, Affine(cell, 0, 140.1, 0, -cell, 37.6), WGS84_WKT)
    values = np.arange(height * width, dtype=np.float32).reshape(height, width) + 1
    values[:, 20:180] = np.nan  # a gap: transparent, and no tile where only the gap is
    final = tmp_path / "tiles" / "grid"
    pyramid = tiles.publish_pyramid(
        final, values, grid, index_colouring, key="k", staging=tmp_path / "staging"
    )
    assert (pyramid.min_zoom, pyramid.max_zoom) == zoom_range(grid.pixel_size.mean_m, pyramid.bounds_lonlat)
    written = sorted(final.glob("*/*/*.png"))
    assert len(written) == pyramid.tiles > 0
    checked = 0
    for path in written:
        z, x, y = int(path.parent.parent.name), int(path.parent.name), int(path.stem)
        assert pyramid.min_zoom <= z <= pyramid.max_zoom
        found, opaque = decode(path)
        assert opaque.any()  # only tiles with data are written
        t = Tile(z, x, y).transform()
        cols, rows = np.meshgrid(np.arange(256) + 0.5, np.arange(256) + 0.5)
        lon, lat = TO_LONLAT.transform(t.c + t.a * cols, t.f + t.e * rows)
        fc, fr = (lon - 140.1) / cell, (37.6 - lat) / cell
        inside = (fc >= 0) & (fc < width) & (fr >= 0) & (fr < height)
        edge = np.minimum(np.abs(fc - np.round(fc)), np.abs(fr - np.round(fr)))
        safe = edge > 1e-6
        r, c = (
            np.clip(np.floor(fr).astype(int), 0, height - 1),
            np.clip(np.floor(fc).astype(int), 0, width - 1),
        )
        expected = np.where(inside, np.nan_to_num(values[r, c], nan=-1), -1)
        has = expected >= 0
        np.testing.assert_array_equal(opaque[safe], has[safe])
        np.testing.assert_array_equal(found[safe & has], expected[safe & has])
        checked += int((safe & has).sum())
    assert checked > 1000
    # at max zoom the gap spans whole tiles: they are not written
    cols, rows = tile_range(pyramid.bounds_lonlat, pyramid.max_zoom)
    assert len(list(final.glob(f"{pyramid.max_zoom}/*/*.png"))) < len(cols) * len(rows)
    assert json.loads((final / "layer.json").read_text())["key"] == "k"
    assert not list((tmp_path / "staging").iterdir())
    again = tiles.publish_pyramid(final, values, grid, index_colouring, key="k", staging=tmp_path / "staging")
    assert again.reused and again.tiles == pyramid.tiles
    (final / "layer.json").write_text("{damaged")
    rebuilt = tiles.publish_pyramid(
        final, values, grid, index_colouring, key="k", staging=tmp_path / "staging"
    )
    assert not rebuilt.reused and len(list(final.glob("*/*/*.png"))) == pyramid.tiles


# --- Layers of a mosaic version --------------------------------------------------------------------------------------


def mosaic_store(root: Path, scenes: dict[str, tuple[int, int, int, int, str]]) -> None:
    store = Store.create(root)
    for k, (scene_id, (row0, col0, h, w, date)) in enumerate(scenes.items()):
        cells = add_lattice_scene(root, scene_id, row0, col0, h, w, second_date=date)
        phase, valid = scene_arrays(60, 80, k)
        add_scene(store, scene_id, phase, valid, origin=(cells.transform.c, cells.transform.f))
    run_mosaic(root, mosaic_grid(), CombineConfig())


def mosaic_grid() -> MosaicGrid:
    return grid_for_bounds(
        name="test",
        crs="EPSG:6668",
        west=140.09,
        south=37.30,
        east=140.60,
        north=37.77,
        cell_size=0.0025,
        chunk=64,
    )


def tile_mtimes(root: Path, layer: str) -> dict[str, int]:
    folder = StoreLayout(root).viewer_tile_layer(layer)
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*.png")}


def test_write_viewer_tiles_layers_and_reuse(tmp_path: Path) -> None:
    root = tmp_path / "store"
    mosaic_store(root, {"A": (10, 10, 40, 50, "2026-02-01")})
    layout = StoreLayout(root)
    document = tiles.write_viewer_tiles(root)
    assert document == json.loads(layout.viewer_layers.read_text())
    assert document["version"] == "v000001"
    assert [layer["id"] for layer in document["layers"]] == ["prob", "pass-A", "phase-A"]
    assert [layer["kind"] for layer in document["layers"]] == ["probability", "pass-probability", "phase"]
    (south, west), (north, east) = document["bounds"]
    assert 37.2 < south < north < 37.9 and 140.0 < west < east < 140.7
    for layer in document["layers"]:
        assert layer["url"] == f"tiles/{layer['id']}/{{z}}/{{x}}/{{y}}.png"
        assert 0 <= layer["min_zoom"] <= layer["max_zoom"] <= tiles.MAX_ZOOM_CAP
        files = list(layout.viewer_tile_layer(layer["id"]).rglob("*.png"))
        assert files and len(files) == layer["tiles"]
        for path in files[:5]:
            z, x, y = path.parent.parent.name, path.parent.name, path.stem
            url = layer["url"].replace("{z}", z).replace("{x}", x).replace("{y}", y)
            assert (layout.viewer / url).is_file()
    phase = next(layer for layer in document["layers"] if layer["kind"] == "phase")
    assert phase["scene_id"] == "A" and phase["second_date"] == "2026-02-01" and phase["first_date"]
    assert (
        phase["max_zoom"] > document["layers"][0]["max_zoom"]
    )  # 28 m pixels need finer tiles than 280 m cells
    assert (
        document["basemap"]["offline"] == "basemap.geojson"
        and "Natural Earth" in document["basemap"]["attribution"]
    )
    assert layout.viewer_basemap.is_file()

    # a nightly run adds pass B: A's tiles are reused (same files, untouched), B's are new, prob is rebuilt
    before = {layer: tile_mtimes(root, layer) for layer in ("pass-A", "phase-A")}
    add_lattice_scene(root, "B", 30, 40, 30, 30, second_date="2026-02-13")
    corner = lattice_grid(30, 40, 1, 1).transform
    add_scene(Store.open(root), "B", *scene_arrays(40, 40, 5), origin=(corner.c, corner.f))
    run_mosaic(root, mosaic_grid(), CombineConfig())
    second = tiles.write_viewer_tiles(root)
    assert second["version"] == "v000002"
    assert [layer["id"] for layer in second["layers"]] == ["prob", "pass-A", "phase-A", "pass-B", "phase-B"]
    assert {layer: tile_mtimes(root, layer) for layer in ("pass-A", "phase-A")} == before
    # an older version lists only its own passes, and the tiles of unlisted layers are removed
    old = tiles.write_viewer_tiles(root, "v000001")
    assert [layer["id"] for layer in old["layers"]] == ["prob", "pass-A", "phase-A"]
    assert sorted(p.name for p in layout.viewer_tiles.iterdir()) == ["pass-A", "phase-A", "prob"]
    assert not [p for p in layout.staging.iterdir() if p.name.startswith(".tmp-")]


# --- Basemap -------------------------------------------------------------------------------------------------------


def test_basemap_over_japan_is_clipped_and_small(tmp_path: Path) -> None:
    west, south, east, north = japan_grid().geogrid().bounds
    path = basemap.write_basemap(tmp_path, (west, south, east, north))
    assert path == StoreLayout(tmp_path).viewer_basemap
    collection = json.loads(path.read_text())
    names = {f["properties"]["name"] for f in collection["features"]}
    assert "Japan" in names
    cw, cs, ce, cn = collection["bbox"]
    assert cw < west and ce > east and cs < south and cn > north
    for feature in collection["features"]:
        coords = np.array([p for ring in _rings(feature["geometry"]) for p in ring])
        assert (coords[:, 0] >= cw - 1e-6).all() and (coords[:, 0] <= ce + 1e-6).all()
        assert (coords[:, 1] >= cs - 1e-6).all() and (coords[:, 1] <= cn + 1e-6).all()
    assert path.stat().st_size < 3_000_000
    # a small window holds only what is near it
    tiny = basemap.basemap_features((140.09, 37.30, 140.60, 37.77))
    assert {f["properties"]["name"] for f in tiny["features"]} == {"Japan"}
    assert math.isclose(tiny["bbox"][0], 140.09 - basemap.MARGIN_DEG)


def _rings(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"]
    return [ring for polygon in geometry["coordinates"] for ring in polygon]
