"""The national mosaic grid: CRS, origin, cell size, chunks and pyramid levels, and where a scene's
footprint falls on it (pure: no file access).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from scanner.config import SizeLimits, require
from scanner.errors import InputError, UsageError, problem
from scanner.geo import WGS84, GeoGrid, PixelWindow

ChunkIndex = tuple[int, int]
"""(chunk row, chunk column) of a mosaic chunk."""


@dataclass(frozen=True, kw_only=True)
class MosaicGrid:
    """A national mosaic grid: CRS, top-left origin, cell size, shape and chunk shape (named, never tuples)."""

    name: str
    crs: str
    """``EPSG:NNNN`` or WKT."""
    origin_x: float
    """x (easting or longitude) of the grid's left edge, CRS units."""
    origin_y: float
    """y (northing or latitude) of the grid's top edge, CRS units."""
    cell_size_x: float
    cell_size_y: float
    """Positive; rows go south."""
    height: int
    width: int
    chunk_height: int = 512
    chunk_width: int = 512

    def __post_init__(self) -> None:
        require(
            self.cell_size_x > 0 and self.cell_size_y > 0,
            "mosaic cell size",
            expected="positive sizes",
            found=(self.cell_size_x, self.cell_size_y),
            fix="set cell_size_x and cell_size_y > 0",
        )
        require(
            self.height > 0 and self.width > 0,
            "mosaic shape",
            expected="positive height and width",
            found=(self.height, self.width),
            fix="cover the region with at least one cell",
        )
        require(
            self.chunk_height >= 16 and self.chunk_width >= 16,
            "mosaic chunk shape",
            expected="at least 16 x 16 cells",
            found=(self.chunk_height, self.chunk_width),
            fix="use chunks of a few hundred cells",
        )
        try:
            CRS.from_user_input(self.crs)
        except Exception as error:  # pyproj raises its own CRSError
            raise InputError(
                problem(
                    "mosaic CRS",
                    expected="an EPSG code such as EPSG:6668 or WKT",
                    found=repr(self.crs)[:80],
                    fix=f"fix the grid config ({error})",
                )
            ) from error

    @property
    def transform(self) -> Affine:
        return Affine(self.cell_size_x, 0.0, self.origin_x, 0.0, -self.cell_size_y, self.origin_y)

    def geogrid(self) -> GeoGrid:
        return GeoGrid(
            height=self.height,
            width=self.width,
            transform=self.transform,
            crs_wkt=CRS.from_user_input(self.crs).to_wkt(),
        )

    @property
    def chunk_rows(self) -> int:
        return math.ceil(self.height / self.chunk_height)

    @property
    def chunk_cols(self) -> int:
        return math.ceil(self.width / self.chunk_width)

    def chunk_window(self, index: ChunkIndex) -> PixelWindow:
        """The cells of chunk ``index`` (edge chunks are clipped to the grid)."""
        row, col = index[0] * self.chunk_height, index[1] * self.chunk_width
        return PixelWindow(
            row, col, min(self.chunk_height, self.height - row), min(self.chunk_width, self.width - col)
        )

    def all_chunks(self) -> set[ChunkIndex]:
        return {(i, j) for i in range(self.chunk_rows) for j in range(self.chunk_cols)}

    def level(self, level: int) -> MosaicGrid:
        """Pyramid level ``level``: cells ``2**level`` times larger, same origin and chunk shape."""
        factor = 2**level
        return MosaicGrid(
            name=f"{self.name}/{level}",
            crs=self.crs,
            origin_x=self.origin_x,
            origin_y=self.origin_y,
            cell_size_x=self.cell_size_x * factor,
            cell_size_y=self.cell_size_y * factor,
            height=math.ceil(self.height / factor),
            width=math.ceil(self.width / factor),
            chunk_height=self.chunk_height,
            chunk_width=self.chunk_width,
        )

    def n_levels(self) -> int:
        """Levels until the whole grid fits in one chunk (at least one level)."""
        levels = 1
        while self.level(levels - 1).chunk_rows * self.level(levels - 1).chunk_cols > 1:
            levels += 1
        return levels


def check_grid_size(grid: MosaicGrid, limits: SizeLimits | None = None) -> None:
    """Refuse (UsageError) a grid of more than ``limits.max_grid_cells`` cells or ``max_grid_chunks`` chunks at
    level 0, before a run plans a single chunk (a full rebuild lists every one)."""
    limits = limits or SizeLimits.from_env()
    cells, chunks = grid.height * grid.width, grid.chunk_rows * grid.chunk_cols
    for found, limit, name, unit in (
        (cells, limits.max_grid_cells, "max_grid_cells", "cells"),
        (chunks, limits.max_grid_chunks, "max_grid_chunks", "chunks"),
    ):
        if found > limit:
            variable = SizeLimits.variable(name)
            raise UsageError(
                problem(
                    f"mosaic grid {grid.name}",
                    expected=f"at most {limit:,} {unit} at level 0 ({variable})",
                    found=f"{grid.height:,} x {grid.width:,} cells in {grid.chunk_rows:,} x "
                    f"{grid.chunk_cols:,} chunks of {grid.chunk_height} x {grid.chunk_width}",
                    fix=f"check the grid config's extent, cell size and chunks; if it is meant, raise {variable}",
                )
            )


def grid_for_bounds(
    *, name: str, crs: str, west: float, south: float, east: float, north: float, cell_size: float, chunk: int
) -> MosaicGrid:
    """A grid covering ``(west, south, east, north)`` (CRS units), its origin snapped to whole cells."""
    origin_x = math.floor(west / cell_size) * cell_size
    origin_y = math.ceil(north / cell_size) * cell_size
    width = math.ceil(round((east - origin_x) / cell_size, 9))
    height = math.ceil(round((origin_y - south) / cell_size, 9))
    return MosaicGrid(
        name=name,
        crs=crs,
        origin_x=round(origin_x, 9),
        origin_y=round(origin_y, 9),
        cell_size_x=cell_size,
        cell_size_y=cell_size,
        height=height,
        width=width,
        chunk_height=chunk,
        chunk_width=chunk,
    )


def footprint_in(grid: MosaicGrid, src: GeoGrid) -> PixelWindow | None:
    """The mosaic cells a source grid's bounds cover (clipped to the mosaic), or None when outside it."""
    dst_crs = CRS.from_user_input(grid.crs)
    left, bottom, right, top = Transformer.from_crs(src.crs, dst_crs, always_xy=True).transform_bounds(
        *src.bounds, densify_pts=21
    )
    inverse = ~grid.transform
    col0, row0 = inverse @ (left, top)
    col1, row1 = inverse @ (right, bottom)
    r0, r1 = max(0, math.floor(min(row0, row1)) - 1), min(grid.height, math.ceil(max(row0, row1)) + 1)
    c0, c1 = max(0, math.floor(min(col0, col1)) - 1), min(grid.width, math.ceil(max(col0, col1)) + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    return PixelWindow(r0, c0, r1 - r0, c1 - c0)


def chunks_touched(grid: MosaicGrid, window: PixelWindow | None) -> set[ChunkIndex]:
    if window is None:
        return set()
    rows = range(window.row_off // grid.chunk_height, (window.row_end - 1) // grid.chunk_height + 1)
    cols = range(window.col_off // grid.chunk_width, (window.col_end - 1) // grid.chunk_width + 1)
    return {(i, j) for i in rows for j in cols}


def footprint_lonlat(src: GeoGrid) -> tuple[tuple[float, float], ...]:
    """The source grid's outline (densified, closed) in WGS84 lon/lat."""
    left, bottom, right, top = src.bounds
    steps = np.linspace(0.0, 1.0, 11)
    xs = np.concatenate(
        [left + (right - left) * steps, np.full(11, right), right - (right - left) * steps, np.full(11, left)]
    )
    ys = np.concatenate(
        [np.full(11, top), top - (top - bottom) * steps, np.full(11, bottom), bottom + (top - bottom) * steps]
    )
    lon, lat = Transformer.from_crs(src.crs, WGS84, always_xy=True).transform(xs, ys)
    points = tuple((round(float(x), 7), round(float(y), 7)) for x, y in zip(lon, lat, strict=True))
    return points + (points[0],)


def parent_chunks(dirty: Iterable[ChunkIndex]) -> set[ChunkIndex]:
    """Chunks of the next pyramid level covering the given chunks (same chunk shape, cells twice as big)."""
    return {(i // 2, j // 2) for i, j in dirty}
