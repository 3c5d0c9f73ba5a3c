"""XYZ Web Mercator tile pyramids of georeferenced rasters (the viewer's crisp overlays).

The tiling is the standard slippy-map scheme Leaflet and OpenStreetMap use: EPSG:3857, 256 px tiles,
``{z}/{x}/{y}.png`` with ``x`` growing east and ``y`` growing south from the tile at (-180 deg, 85.05 deg).
Tiles are warped with nearest-neighbour resampling (``scanner.mosaic.zarr_io.reproject_to``, exact
transformer), so every tile pixel shows the value of exactly one source cell: no smoothing. Only tiles with
at least one finite value are written; NaN is transparent.

Zoom rule (``zoom_range``):
- ``max_zoom`` is the first zoom whose ground pixel (at the raster's centre latitude) is at most half the
  raster's cell (``GeoGrid.pixel_size.mean_m``), so a cell covers at least 2 x 2 tile pixels; deeper zooms
  enlarge these tiles in the page with ``image-rendering: pixelated`` (Leaflet's ``maxNativeZoom``), so edges
  stay sharp at any zoom. Half rather than a quarter of a cell writes a quarter of the tiles: a 1000 px phase
  layer at 28 m is about 300 tiles instead of 1,200. Capped at ``MAX_ZOOM_CAP`` (18).
- ``min_zoom`` is the largest zoom, not above ``max_zoom``, at which the raster's bounds fall within
  ``FIT_TILES`` x ``FIT_TILES`` (2 x 2) tiles, so the whole raster shows in a few tiles when zoomed out.

A pyramid is built in a staging folder and published by rename (``scanner.io.writers.staged_path``); its
``layer.json`` holds the content key it was built from, so an unchanged raster is not tiled twice.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from scanner.errors import StoreError
from scanner.geo import WGS84, GeoGrid, PixelWindow
from scanner.io.readers import read_json
from scanner.io.writers import staged_path, write_json

log = logging.getLogger(__name__)

TILE_PX = 256
EARTH_RADIUS_M = 6378137.0
ORIGIN_M = math.pi * EARTH_RADIUS_M
"""Half the side of the Web Mercator square (20 037 508.34 m): tile (0, 0, 0) spans [-ORIGIN_M, ORIGIN_M]."""
MAX_LATITUDE = math.degrees(math.atan(math.sinh(math.pi)))
"""85.0511...: the latitude where the Web Mercator square ends."""
MAX_ZOOM_CAP = 18
FIT_TILES = 2
TILE_SCHEME = "xyz-3857-256-nearest-v1"
"""Part of every layer's key: change it when the tile format changes, so old pyramids are rebuilt."""
WEB_MERCATOR_WKT = CRS.from_epsg(3857).to_wkt()

Colouring = Callable[[np.ndarray], np.ndarray]
"""float32 (y, x) values (NaN = no data) -> RGBA uint8 (y, x, 4)."""


# --- Tile maths (pure) -------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Tile:
    """One slippy-map tile: zoom ``z``, column ``x`` (east), row ``y`` (south)."""

    z: int
    x: int
    y: int

    def bounds_m(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in EPSG:3857 metres."""
        size = 2 * ORIGIN_M / 2**self.z
        left, top = -ORIGIN_M + self.x * size, ORIGIN_M - self.y * size
        return left, top - size, left + size, top

    def transform(self) -> Affine:
        """Affine of the tile's 256 x 256 pixels in EPSG:3857."""
        left, _, _, top = self.bounds_m()
        res = 2 * ORIGIN_M / (TILE_PX * 2**self.z)
        return Affine(res, 0.0, left, 0.0, -res, top)

    def path(self) -> Path:
        return Path(str(self.z), str(self.x), f"{self.y}.png")


def tile_of(lon: float, lat: float, z: int) -> Tile:
    """The tile containing (lon, lat) at zoom ``z`` (latitudes clamped to the Web Mercator square)."""
    n = 2**z
    lat = min(max(lat, -MAX_LATITUDE), MAX_LATITUDE)
    fx = (lon + 180.0) / 360.0
    fy = (1.0 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2.0
    return Tile(z, min(max(int(math.floor(fx * n)), 0), n - 1), min(max(int(math.floor(fy * n)), 0), n - 1))


def tile_range(bounds_lonlat: tuple[float, float, float, float], z: int) -> tuple[range, range]:
    """Columns and rows of the tiles at zoom ``z`` touching (west, south, east, north)."""
    west, south, east, north = bounds_lonlat
    top_left, bottom_right = tile_of(west, north, z), tile_of(east, south, z)
    return range(top_left.x, bottom_right.x + 1), range(top_left.y, bottom_right.y + 1)


def ground_pixel_m(z: int, lat: float) -> float:
    """Ground size of one tile pixel at zoom ``z`` and latitude ``lat`` (156 543 m at z 0 on the equator)."""
    return 2 * ORIGIN_M * math.cos(math.radians(lat)) / (TILE_PX * 2**z)


def zoom_range(
    cell_m: float, bounds_lonlat: tuple[float, float, float, float], *, cap: int = MAX_ZOOM_CAP
) -> tuple[int, int]:
    """``(min_zoom, max_zoom)`` for a raster of ``cell_m`` cells over ``bounds_lonlat`` (module docstring)."""
    lat = (bounds_lonlat[1] + bounds_lonlat[3]) / 2
    max_zoom = next((z for z in range(cap + 1) if ground_pixel_m(z, lat) <= cell_m / 2), cap)
    min_zoom = 0
    for z in range(max_zoom + 1):
        cols, rows = tile_range(bounds_lonlat, z)
        if len(cols) <= FIT_TILES and len(rows) <= FIT_TILES:
            min_zoom = z
    return min_zoom, max_zoom


def lonlat_bounds(grid: GeoGrid) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees of a grid's footprint (edges densified)."""
    transformer = Transformer.from_crs(grid.crs, WGS84, always_xy=True)
    return transformer.transform_bounds(*grid.bounds, densify_pts=21)


# --- Colourings ---------------------------------------------------------------------------------------------------


def probability_colouring(values: np.ndarray) -> np.ndarray:
    """Probability in [0, 1] through the viewer's colour map (``colours.PROB_CMAP``), NaN transparent."""
    from scanner.products.colours import PROB_CMAP, colourize

    return colourize(values, PROB_CMAP, 0.0, 1.0)


def phase_colouring(values: np.ndarray, levels: int = 16) -> np.ndarray:
    """Wrapped phase in the paper's ``levels`` colours (``scanner.core.palette``), NaN transparent."""
    from scanner.core.palette import palette
    from scanner.core.phase import quantize

    rgba = np.zeros((*values.shape, 4), np.uint8)
    rgba[..., :3] = palette(levels)[quantize(values, levels)]
    rgba[..., 3] = np.where(np.isfinite(values), 255, 0)
    return rgba


# --- Writing a pyramid ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pyramid:
    """A published tile pyramid: its folder, zoom range, WGS84 bounds and content key."""

    path: Path
    min_zoom: int
    max_zoom: int
    bounds_lonlat: tuple[float, float, float, float]
    key: str
    tiles: int
    reused: bool

    @property
    def leaflet_bounds(self) -> list[list[float]]:
        west, south, east, north = self.bounds_lonlat
        return [[south, west], [north, east]]


def content_key(*parts: object) -> str:
    """A short hash of ``parts`` (arrays by their bytes, anything else by its JSON) and the tile scheme."""
    digest = hashlib.sha256(TILE_SCHEME.encode())
    for part in parts:
        if isinstance(part, np.ndarray):
            digest.update(f"{part.dtype}{part.shape}".encode())
            digest.update(np.ascontiguousarray(part).tobytes())
        else:
            digest.update(json.dumps(part, sort_keys=True, default=str).encode())
    return digest.hexdigest()[:32]


DATA_BLOCK = 256
"""Side in cells of the source blocks that tiles are cut for: only tiles over blocks holding data are made, each
warped from the source window under it alone, so a national grid with a few scenes costs what the scenes cost."""


def data_windows(values: np.ndarray, block: int = DATA_BLOCK) -> list[PixelWindow]:
    """The ``block`` x ``block`` windows of ``values`` that hold at least one finite value."""
    finite = np.isfinite(values)
    height, width = values.shape
    return [
        PixelWindow(row_off=r, col_off=c, height=min(block, height - r), width=min(block, width - c))
        for r in range(0, height, block)
        for c in range(0, width, block)
        if finite[r : r + block, c : c + block].any()
    ]


def source_window(tile: Tile, grid: GeoGrid, to_source: Transformer, margin: int = 2) -> PixelWindow | None:
    """The window of ``grid`` under ``tile`` (grown by ``margin`` cells, clipped; None when outside);
    ``to_source`` transforms Web Mercator into the grid's CRS (built once per pyramid, not per tile)."""
    left, bottom, right, top = to_source.transform_bounds(*tile.bounds_m(), densify_pts=21)
    inverse = ~grid.transform
    cols, rows = zip(
        *(inverse * corner for corner in ((left, bottom), (left, top), (right, bottom), (right, top))),
        strict=True,
    )
    r0, r1 = max(0, math.floor(min(rows)) - margin), min(grid.height, math.ceil(max(rows)) + margin)
    c0, c1 = max(0, math.floor(min(cols)) - margin), min(grid.width, math.ceil(max(cols)) + margin)
    if r0 >= r1 or c0 >= c1:
        return None
    return PixelWindow(row_off=r0, col_off=c0, height=r1 - r0, width=c1 - c0)


def iter_tiles(
    values: np.ndarray, grid: GeoGrid, colour: Colouring, zooms: range
) -> Iterator[tuple[Tile, np.ndarray]]:
    """Every tile with data: (tile, RGBA uint8 256 x 256 x 4), nearest-resampled from the source under it.

    Tiles are listed from the source's data blocks (``data_windows``), and each is warped from its own source
    window (``tolerance=0`` in ``reproject_to``: every tile pixel is transformed exactly, so the result does not
    depend on the window it is cut from)."""
    from scanner.mosaic.zarr_io import reproject_to

    source = np.ascontiguousarray(values, dtype=np.float32)
    block_bounds = [lonlat_bounds(sub_grid(grid, w)) for w in data_windows(source)]
    to_source = Transformer.from_crs(WEB_MERCATOR_WKT, grid.crs, always_xy=True)
    for z in zooms:
        tiles = sorted(
            {(x, y) for b in block_bounds for cols, rows in [tile_range(b, z)] for x in cols for y in rows}
        )
        for x, y in tiles:
            tile = Tile(z, x, y)
            window = source_window(tile, grid, to_source)
            if window is None:
                continue
            part = source[window.slices()]
            if not np.isfinite(part).any():
                continue
            target = GeoGrid(TILE_PX, TILE_PX, tile.transform(), WEB_MERCATOR_WKT)
            block = reproject_to(part, sub_grid(grid, window), target, "nearest")
            if np.isfinite(block).any():
                rgba = np.array(colour(block), dtype=np.uint8)
                rgba[..., 3] = np.where(np.isfinite(block), rgba[..., 3], 0)
                yield tile, rgba


def sub_grid(grid: GeoGrid, window: PixelWindow) -> GeoGrid:
    """The grid of ``window`` of ``grid``."""
    return GeoGrid(window.height, window.width, grid.window_transform(window), grid.crs_wkt)


def write_tile_png(path: Path, rgba: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path, format="PNG", optimize=False)


def read_pyramid(path: Path) -> Pyramid | None:
    """The pyramid published at ``path`` (None when there is none or its ``layer.json`` is unreadable)."""
    try:
        meta = read_json(path / "layer.json", None)
    except StoreError:  # a damaged layer.json: the pyramid is rebuilt
        return None
    if not isinstance(meta, dict) or not {"key", "min_zoom", "max_zoom", "bounds", "tiles"} <= meta.keys():
        return None
    return Pyramid(
        path, meta["min_zoom"], meta["max_zoom"], tuple(meta["bounds"]), meta["key"], meta["tiles"], True
    )


def publish_pyramid(
    final: Path,
    values: np.ndarray,
    grid: GeoGrid,
    colour: Colouring,
    *,
    key: str,
    staging: Path,
    cap: int = MAX_ZOOM_CAP,
) -> Pyramid:
    """Tile ``values`` on ``grid`` into ``final`` (reused as it is when its key is ``key``).

    Built in ``staging`` (same file system) and renamed onto ``final``; a previous pyramid is replaced whole.
    """
    existing = read_pyramid(final)
    if existing is not None and existing.key == key:
        return existing
    bounds = lonlat_bounds(grid)
    min_zoom, max_zoom = zoom_range(grid.pixel_size.mean_m, bounds, cap=cap)
    count = 0
    with staged_path(final, replace=True, staging=staging, what=f"tile layer {final.name}") as tmp:
        for tile, rgba in iter_tiles(values, grid, colour, range(min_zoom, max_zoom + 1)):
            write_tile_png(tmp / tile.path(), rgba)
            count += 1
        meta = {
            "key": key,
            "min_zoom": min_zoom,
            "max_zoom": max_zoom,
            "bounds": list(bounds),
            "tiles": count,
        }
        write_json(tmp / "layer.json", meta)
    log.info("tiles: %s z%d-%d, %d tiles", final.name, min_zoom, max_zoom, count)
    return Pyramid(final, min_zoom, max_zoom, bounds, key, count, False)


# --- The viewer's layers -----------------------------------------------------------------------------------------


def write_viewer_tiles(root: Path, version: str | None = None) -> dict:
    """Tile layers of a mosaic version (the current one by default) for the viewer; returns ``layers.json``.

    Writes under ``STORE/viewer/``: ``tiles/prob`` (the version's combined probability, level 0), for every
    pass of the version ``tiles/pass-<scene_id>`` (its probability grid) and ``tiles/phase-<scene_id>`` (its
    wrapped phase in 16 colours, when the scene is in the store), ``basemap.geojson`` and ``layers.json``
    (docs/mosaic.md). A pass's pyramids are reused when their content key is unchanged; pyramids of layers no
    longer listed are removed after ``layers.json`` is published.
    """
    from scanner.io import probgrid
    from scanner.io.layout import StoreLayout
    from scanner.io.store import Store
    from scanner.mosaic import zarr_io
    from scanner.products.basemap import ATTRIBUTION, write_basemap

    root = Path(root)
    layout = StoreLayout(root)
    path = zarr_io.version_path(root, version)
    manifest = zarr_io.read_manifest(path)
    grid = zarr_io.grid_of_version(path).geogrid()
    staging = layout.staging
    prob = zarr_io.LevelArrays(path, 0, mode="r").read_band("prob")

    def publish(layer_id: str, values: np.ndarray, g: GeoGrid, colour: Colouring, key: str) -> Pyramid:
        return publish_pyramid(
            layout.viewer_tile_layer(layer_id), values, g, colour, key=key, staging=staging
        )

    mosaic = publish("prob", prob, grid, probability_colouring, content_key(prob, grid.to_attrs(), "prob"))
    layers = [_entry("prob", "probability", f"combined probability ({path.name})", mosaic)]
    store = Store.open(root)
    for scene_id, info in sorted(manifest["passes"].items()):
        dates = {"scene_id": scene_id, "first_date": info.get("first_date"), "second_date": info.get("date")}
        if probgrid.has_prob(root, scene_id):
            values, attrs = probgrid.read_prob(root, scene_id)
            g = probgrid.prob_grid(attrs)
            key = content_key(values, g.to_attrs(), "pass")
            pyramid = publish(f"pass-{scene_id}", values, g, probability_colouring, key)
            layers.append(
                _entry(f"pass-{scene_id}", "pass-probability", f"probability {scene_id}", pyramid, dates)
            )
        if store.has_scene(scene_id):
            scene = store.scene(scene_id)
            identity = scene.attrs.get("content_sha256")
            key = content_key(identity, scene.grid.to_attrs(), "phase") if identity else None
            existing = read_pyramid(layout.viewer_tile_layer(f"phase-{scene_id}"))
            if key is None or existing is None or existing.key != key:
                phase = scene.read("phase")
                key = key or content_key(phase, scene.grid.to_attrs(), "phase")
                existing = publish(f"phase-{scene_id}", phase, scene.grid, phase_colouring, key)
            layers.append(_entry(f"phase-{scene_id}", "phase", f"wrapped phase {scene_id}", existing, dates))
        else:
            log.warning("tiles: scene %s of %s is not in the store; no phase layer", scene_id, path.name)
    write_basemap(root, mosaic.bounds_lonlat)
    document = {
        "version": path.name,
        "bounds": mosaic.leaflet_bounds,
        "layers": layers,
        "basemap": {"offline": layout.href(layout.viewer_basemap, layout.viewer), "attribution": ATTRIBUTION},
    }
    write_json(layout.viewer_layers, document)
    _remove_unlisted(layout.viewer_tiles, {layer["id"] for layer in layers})
    return document


def _entry(layer_id: str, kind: str, title: str, pyramid: Pyramid, extra: dict | None = None) -> dict:
    entry = {
        "id": layer_id,
        "kind": kind,
        "title": title,
        "url": f"tiles/{layer_id}/{{z}}/{{x}}/{{y}}.png",
        "min_zoom": pyramid.min_zoom,
        "max_zoom": pyramid.max_zoom,
        "bounds": pyramid.leaflet_bounds,
        "tiles": pyramid.tiles,
    }
    return entry | (extra or {})


def _remove_unlisted(folder: Path, keep: set[str]) -> None:
    from scanner.io.writers import remove_path

    for path in folder.iterdir() if folder.is_dir() else ():
        if path.name not in keep and not path.name.startswith("."):
            remove_path(path)
