"""Mosaic I/O: probability grids in, versioned Zarr v3 mosaics, the CURRENT pointer, COG and overlay out.

Layout inside the store::

    mosaic/CURRENT                 {"version": "v000003"}, replaced atomically (temp file + os.replace)
    mosaic/versions/v000003/       immutable once published (built in .staging/, then os.rename)
        zarr.json                  group: attrs "fringescan" (the manifest), "multiscales", CRS and transform
        manifest.json              the same manifest as a plain file
        0/ 1/ ...                  pyramid levels, each an xarray-readable group:
            prob passes passes_above last_date   (y, x) bands, chunked like the mosaic grid
            x y                    cell-centre coordinates; spatial_ref: CF grid mapping (crs_wkt, GeoTransform)
        sites.geojson              the candidate sites of the version's passes, merged across scenes

Chunks that a run leaves clean are hard links to the previous version's chunk files, so they are byte for
byte the same file; a chunk equal to its fill value has no file (zarr's default).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import rasterio
import zarr

from scanner.errors import InputError, StoreError, problem
from scanner.geo import WGS84, GeoGrid, PixelWindow
from scanner.io.artifact import is_inside
from scanner.io.layout import StoreLayout
from scanner.io.readers import parse_json_file, read_json, warp_array
from scanner.io.writers import write_json
from scanner.mosaic.combine import BAND_NAMES
from scanner.mosaic.grid import ChunkIndex, MosaicGrid

_VERSION_RE = re.compile(r"^v(\d{6})$")

BAND_SPECS: dict[str, dict] = {
    "prob": {
        "dtype": "float32",
        "fill": float("nan"),
        "units": "1",
        "long_name": "combined landslide-candidate probability",
    },
    "passes": {"dtype": "uint16", "fill": 0, "units": "count", "long_name": "passes observed"},
    "passes_above": {"dtype": "uint16", "fill": 0, "units": "count", "long_name": "passes above threshold"},
    "last_date": {
        "dtype": "int32",
        "fill": 0,
        "units": "YYYYMMDD",
        "long_name": "date of the last pass observing the cell (0 = never)",
    },
}
assert tuple(BAND_SPECS) == BAND_NAMES


# --- Staging and the pointer ------------------------------------------------------------------------------------


def current_version(root: Path) -> str | None:
    pointer = read_json(StoreLayout(root).mosaic_pointer, None)
    return None if pointer is None else pointer["version"]


def set_current(root: Path, version: str) -> None:
    write_json(
        StoreLayout(root).mosaic_pointer, {"version": version}, indent=1, sort_keys=True, allow_nan=True
    )


def list_versions(root: Path) -> list[str]:
    """Published versions, oldest first."""
    folder = StoreLayout(root).mosaic_versions
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if _VERSION_RE.match(p.name))


def next_version(root: Path) -> str:
    versions = list_versions(root)
    return f"v{(int(versions[-1][1:]) + 1 if versions else 1):06d}"


def version_path(root: Path, version: str | None = None) -> Path:
    """Path of a published version (the current one when ``version`` is None)."""
    version = version or current_version(root)
    if version is None:
        raise StoreError(
            problem(
                "mosaic",
                expected="a published mosaic version",
                found=f"none in {root}",
                fix="run `fringescan mosaic --store STORE --grid configs/grids/NAME.py`",
            )
        )
    versions = StoreLayout(root).mosaic_versions
    path = versions / version
    if not _VERSION_RE.match(version) or not is_inside(path, versions):  # never another store's folder
        raise StoreError(
            problem(
                f"mosaic version {version!r}",
                expected=f"a version name vNNNNNN of this store's mosaic, one of {list_versions(root)}",
                found="a name that is not a version of this store",
                fix="pick a listed version (fringescan mosaic --store STORE --list)",
            )
        )
    if not path.is_dir():
        raise StoreError(
            problem(
                f"mosaic version {version}",
                expected=f"one of {list_versions(root)}",
                found="no such version",
                fix="pick a listed version",
            )
        )
    return path


def read_manifest(path: Path) -> dict:
    return parse_json_file(
        path / "manifest.json",
        what=f"mosaic manifest of {path.name}",
        expected="a readable manifest.json",
        fix="the version is damaged: publish a new one with `fringescan mosaic`",
        error=StoreError,
    )


# --- Warping ----------------------------------------------------------------------------------------------------


def reproject_to(prob: np.ndarray, src: GeoGrid, dst: GeoGrid, resampling: str) -> np.ndarray:
    """``prob`` warped onto ``dst`` with rasterio.warp (NaN is nodata in and out).

    ``tolerance=0`` turns off GDAL's approximate (linearly interpolated) transformer: every destination cell is
    transformed exactly, so a cell's value does not depend on which chunk it is computed in.
    """
    return warp_array(prob, src.transform, src.crs_wkt, dst, resampling, exact=True)


# --- Versions ---------------------------------------------------------------------------------------------------


def _geo_attrs(grid: MosaicGrid) -> dict:
    g = grid.geogrid()
    t = g.transform
    return {
        "proj:code": f"EPSG:{g.epsg}" if g.epsg else None,
        "proj:wkt2": g.crs_wkt,
        "spatial:dimensions": ["y", "x"],
        "spatial:transform": list(t)[:6],
        "spatial:shape": [g.height, g.width],
        "spatial:bbox": list(g.bounds),
        "spatial:registration": "pixel",
    }


def multiscales_attrs(grid: MosaicGrid, levels: int) -> dict:
    """GeoZarr-style multiscales: level k has cells 2**k larger, derived from k-1 by 2 x 2 max."""
    layout = []
    for level in range(levels):
        entry: dict = {
            "asset": str(level),
            "transform": {"scale": [2.0**level, 2.0**level], "translation": [0.0, 0.0]},
            "spatial:shape": [grid.level(level).height, grid.level(level).width],
            "spatial:transform": list(grid.level(level).transform)[:6],
        }
        if level:
            entry.update(derived_from=str(level - 1), resampling_method="max")
        layout.append(entry)
    return {"version": "0.1", "layout": layout, "resampling_method": "max"}


def create_version(path: Path, grid: MosaicGrid, levels: int, manifest: dict, *, write_coords: bool) -> None:
    """Create the Zarr v3 tree of a version (metadata, coordinates when ``write_coords``), bands empty."""
    root = zarr.open_group(path, mode="w-", zarr_format=3)
    root.attrs.update(
        {"fringescan": manifest, "multiscales": multiscales_attrs(grid, levels), **_geo_attrs(grid)}
    )
    for level in range(levels):
        _create_level(root, grid.level(level), str(level), write_coords)
    (path / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))


def _create_level(root: zarr.Group, grid: MosaicGrid, name: str, write_coords: bool) -> None:
    g = grid.geogrid()
    level = root.create_group(name, attributes=_geo_attrs(grid))
    t = g.transform
    ref = level.create_array("spatial_ref", shape=(), dtype="int32", fill_value=0)
    ref.attrs.update(
        {
            "crs_wkt": g.crs_wkt,
            "spatial_ref": g.crs_wkt,
            "GeoTransform": " ".join(str(v) for v in (t.c, t.a, t.b, t.f, t.d, t.e)),
        }
    )
    key = {"name": "default", "configuration": {"separator": "/"}}
    xs = level.create_array(
        "x",
        shape=(g.width,),
        chunks=(g.width,),
        dtype="float64",
        fill_value=np.nan,
        dimension_names=["x"],
        chunk_key_encoding=key,
    )
    ys = level.create_array(
        "y",
        shape=(g.height,),
        chunks=(g.height,),
        dtype="float64",
        fill_value=np.nan,
        dimension_names=["y"],
        chunk_key_encoding=key,
    )
    units = "degrees" if g.crs.is_geographic else "metre"
    xs.attrs.update(
        {"units": units, "standard_name": "longitude" if units == "degrees" else "projection_x_coordinate"}
    )
    ys.attrs.update(
        {"units": units, "standard_name": "latitude" if units == "degrees" else "projection_y_coordinate"}
    )
    if write_coords:
        xs[...] = t.c + t.a * (np.arange(g.width) + 0.5)
        ys[...] = t.f + t.e * (np.arange(g.height) + 0.5)
    for band, spec in BAND_SPECS.items():
        array = level.create_array(
            band,
            shape=g.shape,
            chunks=(grid.chunk_height, grid.chunk_width),
            dtype=spec["dtype"],
            fill_value=spec["fill"],
            dimension_names=["y", "x"],
            chunk_key_encoding=key,
        )
        array.attrs.update(
            {"units": spec["units"], "long_name": spec["long_name"], "grid_mapping": "spatial_ref"}
        )


def link_unchanged(previous: Path, new: Path, level: int, dirty: set[ChunkIndex]) -> int:
    """Hard-link every chunk file of ``previous``'s level that is not dirty into ``new``; returns the count.

    Coordinate arrays (1-D) are always linked; band chunks ``c/i/j`` only when ``(i, j)`` is clean.
    """
    linked = 0
    src_level = previous / str(level)
    for chunk in src_level.glob("*/c/**/*"):
        if not chunk.is_file():
            continue
        parts = chunk.relative_to(src_level).parts
        index = tuple(int(p) for p in parts[2:])
        if len(index) == 2 and index in dirty:
            continue
        target = new / str(level) / chunk.relative_to(src_level)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(chunk, target)
        linked += 1
    return linked


def has_observed_children(path: Path, level: int, index: ChunkIndex) -> bool:
    """Whether any of the four level ``level - 1`` chunks under chunk ``index`` of ``level`` holds data.

    A ``passes`` chunk file exists exactly when some cell of it was observed (all-fill chunks are not stored).
    """
    i, j = index
    folder = path / str(level - 1) / "passes" / "c"
    return any((folder / str(2 * i + di) / str(2 * j + dj)).is_file() for di in (0, 1) for dj in (0, 1))


class LevelArrays:
    """The band arrays of one level of a version being written (opened once, reused per chunk)."""

    def __init__(self, path: Path, level: int, mode: str = "r+") -> None:
        group = zarr.open_group(path / str(level), mode=mode)
        self.arrays = {band: group[band] for band in BAND_NAMES}

    def write(self, window: PixelWindow, bands: dict[str, np.ndarray]) -> None:
        for band, values in bands.items():
            self.arrays[band][window.slices()] = values

    def read(self, window: PixelWindow) -> dict[str, np.ndarray]:
        return {band: np.asarray(array[window.slices()]) for band, array in self.arrays.items()}

    def read_band(self, band: str) -> np.ndarray:
        return np.asarray(self.arrays[band][...])


# --- Products ---------------------------------------------------------------------------------------------------


def grid_of_version(path: Path) -> MosaicGrid:
    return MosaicGrid(**read_manifest(path)["grid"])


def export_cog(path: Path, band: str, out: Path) -> Path:
    """Write one band of a version's level 0 as a Cloud-Optimized GeoTIFF (``scanner.io.cog.write_cog``: tiled,
    DEFLATE, internal overviews, written to a temporary file and renamed)."""
    from scanner.io.cog import write_cog

    if band not in BAND_SPECS:
        raise InputError(
            problem("--band", expected=f"one of {list(BAND_SPECS)}", found=band, fix="pick a mosaic band")
        )
    manifest = read_manifest(path)
    g = grid_of_version(path).geogrid()
    spec = BAND_SPECS[band]
    values = LevelArrays(path, 0, mode="r").read_band(band)
    tags = {
        "mosaic_version": path.name,
        "band": band,
        "units": spec["units"],
        "long_name": spec["long_name"],
        "latest_pass_date": str(manifest.get("latest_pass_date")),
        "passes": str(len(manifest["passes"])),
        "combine": json.dumps(manifest["combine"]),
    }
    resampling = "average" if band == "prob" else "nearest"
    return write_cog(
        out, values, g.transform, g.crs_wkt, nodata=spec["fill"], tags=tags, overview_resampling=resampling
    )


def overview_level(grid: MosaicGrid, levels: int, max_px: int) -> int:
    """The finest pyramid level whose larger side is at most ``max_px`` cells."""
    for level in range(levels):
        g = grid.level(level)
        if max(g.height, g.width) <= max_px:
            return level
    return levels - 1


def web_overlay(
    path: Path, band: str, max_px: int = 1600
) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A band warped to Web Mercator (nearest) for a map overlay, and its (west, south, east, north) in degrees.

    Leaflet stretches image overlays linearly in Web Mercator, so the image must be in EPSG:3857.
    """
    from rasterio.warp import calculate_default_transform, transform_bounds

    grid = grid_of_version(path)
    levels = read_manifest(path)["levels"]
    level = overview_level(grid, levels, max_px)
    g = grid.level(level).geogrid()
    values = LevelArrays(path, level, mode="r").read_band(band)
    source = values.astype(np.float32)
    if band != "prob":
        source[values == 0] = np.nan
    transform, width, height = calculate_default_transform(
        g.crs_wkt, "EPSG:3857", g.width, g.height, *g.bounds
    )
    dst = GeoGrid(
        height=height, width=width, transform=transform, crs_wkt=rasterio.crs.CRS.from_epsg(3857).to_wkt()
    )
    warped = reproject_to(source, g, dst, "nearest")
    west, south, east, north = transform_bounds("EPSG:3857", WGS84, *dst.bounds)
    return warped, (west, south, east, north)
