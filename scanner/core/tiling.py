"""Tile planning over the 10 px probability-cell grid, and per-window geometry on a tile.

Pure numpy, no I/O. A tile is a block of cells. Its model input covers the cells' pixels grown by
``WINDOW_HALO_PX`` (70, half of window minus stride) so that every window centred on one of its cells is
complete inside it; its read window adds the global filter's reach on top, so the filtered phase of the model
input is bit-identical to filtering the whole scene (``scanner.core.phase.global_filter`` is exact in integers).
Tiles partition the cell grid: every cell, hence every window, is evaluated exactly once.

With the default tile of 50 x 50 cells (500 px) tile boundaries fall on the scene store's 500 px chunks.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scanner.config import require
from scanner.core import kernels
from scanner.geo import CHUNK_PX, STRIDE_PX, WINDOW_HALO_PX, WINDOW_PX, PixelWindow

DEFAULT_TILE_CELLS = CHUNK_PX // STRIDE_PX
"""The default tile is one chunk of the scene store."""


@dataclass(frozen=True)
class CellBlock:
    """A rectangle of probability cells: rows ``[row_off, row_off + height)``, columns likewise."""

    row_off: int
    col_off: int
    height: int
    width: int

    def slices(self) -> tuple[slice, slice]:
        return slice(self.row_off, self.row_off + self.height), slice(self.col_off, self.col_off + self.width)

    @property
    def n_cells(self) -> int:
        return self.height * self.width


@dataclass(frozen=True)
class Tile:
    """One unit of scan work: a block of cells plus the pixel windows it needs."""

    cells: CellBlock
    reach_px: int

    @property
    def tile_id(self) -> str:
        """Stable name (used for done-markers): ``r<row>_c<col>`` of its first cell."""
        return f"r{self.cells.row_off:06d}_c{self.cells.col_off:06d}"

    @property
    def pixels(self) -> PixelWindow:
        """The pixels of the tile's cells (may extend past the scene's last partial cell)."""
        c = self.cells
        return PixelWindow(
            c.row_off * STRIDE_PX, c.col_off * STRIDE_PX, c.height * STRIDE_PX, c.width * STRIDE_PX
        )

    @property
    def model_window(self) -> PixelWindow:
        """Pixels the model sees: every window of the tile's cells, ``(10n + 140) x (10m + 140)``."""
        return self.pixels.grown(WINDOW_HALO_PX)

    @property
    def read_window(self) -> PixelWindow:
        """Pixels to read: the model window plus the filter's reach (parts outside the scene are filled)."""
        return self.model_window.grown(self.reach_px)


@dataclass(frozen=True)
class TilePlan:
    """All tiles of one scene; ``cell_shape`` is the probability grid's shape ``ceil(H/10) x ceil(W/10)``."""

    height_px: int
    width_px: int
    tiles: tuple[Tile, ...]

    @property
    def cell_shape(self) -> tuple[int, int]:
        return math.ceil(self.height_px / STRIDE_PX), math.ceil(self.width_px / STRIDE_PX)


def _bounds(n_cells: int, tile_cells: int, offset_cells: int) -> list[int]:
    """Tile boundaries along one axis: multiples of ``tile_cells`` shifted by ``offset_cells``, plus the ends."""
    first = offset_cells % tile_cells
    inner = range(first if first > 0 else tile_cells, n_cells, tile_cells)
    return [0, *inner, n_cells]


def plan_tiles(
    height_px: int,
    width_px: int,
    *,
    tile_cells: int = DEFAULT_TILE_CELLS,
    reach_px: int = 0,
    offset_cells: tuple[int, int] = (0, 0),
    complete_only: bool = True,
) -> TilePlan:
    """Partition the cell grid of a ``height_px x width_px`` scene into tiles of ``tile_cells`` square.

    ``offset_cells`` shifts the tile grid (tests use it to put seams anywhere). With ``complete_only`` tiles
    holding no cell with a complete window are left out: their cells are NaN whatever the model says.
    """
    require(tile_cells >= 1, "tile size", expected="at least 1 cell", found=tile_cells, fix="use e.g. 50")
    require(
        reach_px >= 0, "filter reach", expected=">= 0 px", found=reach_px, fix="check the preprocess config"
    )
    n_rows, n_cols = math.ceil(height_px / STRIDE_PX), math.ceil(width_px / STRIDE_PX)
    rows, cols = _bounds(n_rows, tile_cells, offset_cells[0]), _bounds(n_cols, tile_cells, offset_cells[1])
    complete_rows = complete_range(height_px)
    complete_cols = complete_range(width_px)
    tiles = []
    for r0, r1 in zip(rows[:-1], rows[1:], strict=True):
        for c0, c1 in zip(cols[:-1], cols[1:], strict=True):
            block = CellBlock(r0, c0, r1 - r0, c1 - c0)
            if complete_only and not (_overlaps(r0, r1, complete_rows) and _overlaps(c0, c1, complete_cols)):
                continue
            tiles.append(Tile(cells=block, reach_px=reach_px))
    return TilePlan(height_px=height_px, width_px=width_px, tiles=tuple(tiles))


def complete_range(size_px: int) -> range:
    """Cell indices along one axis whose 150 px window lies wholly inside ``size_px`` pixels."""
    first = math.ceil(WINDOW_HALO_PX / STRIDE_PX)
    last_exclusive = (size_px - (WINDOW_PX - WINDOW_HALO_PX)) // STRIDE_PX + 1
    return range(first, max(first, last_exclusive))


def _overlaps(start: int, stop: int, span: range) -> bool:
    return start < span.stop and span.start < stop and len(span) > 0


def complete_mask(block: CellBlock, height_px: int, width_px: int) -> np.ndarray:
    """bool ``(height, width)``: which cells of ``block`` have a window wholly inside the scene."""
    rows = np.arange(block.row_off, block.row_off + block.height)
    cols = np.arange(block.col_off, block.col_off + block.width)
    r, c = complete_range(height_px), complete_range(width_px)
    in_rows = (rows >= r.start) & (rows < r.stop)
    in_cols = (cols >= c.start) & (cols < c.stop)
    return in_rows[:, None] & in_cols[None, :]


def in_strips(tiles: Sequence[Tile], strip_px: int) -> list[Tile]:
    """``tiles`` in the order that reads the store best: vertical strips ``strip_px`` wide, left to right, each
    strip row by row. Neighbouring tiles share store chunks through their halos; a strip narrow enough that
    the chunks of three tile rows fit the read cache decodes each chunk about once per strip."""
    require(strip_px >= 1, "strip width", expected=">= 1 px", found=strip_px, fix="pass a positive width")
    return sorted(tiles, key=lambda t: (t.pixels.col_off // strip_px, t.cells.row_off, t.cells.col_off))


def window_valid_fraction(usable: np.ndarray, n_rows: int, n_cols: int) -> np.ndarray:
    """Fraction of usable pixels in each window of a model-window array ``(10n + 140, 10m + 140)``.

    Window ``(i, j)`` covers ``usable[10i : 10i + 150, 10j : 10j + 150]``, i.e. 15 x 15 cells of 10 px: the
    usable pixels are counted per cell (compiled, one pass), then per window over the cell counts; the
    counts are exact integers.
    """
    expected = (n_rows * STRIDE_PX + WINDOW_PX - STRIDE_PX, n_cols * STRIDE_PX + WINDOW_PX - STRIDE_PX)
    assert usable.shape == expected, (usable.shape, expected)
    cells = WINDOW_PX // STRIDE_PX
    table = np.zeros((n_rows + cells, n_cols + cells), np.int64)
    table[1:, 1:] = kernels.block_counts(usable, STRIDE_PX).cumsum(0).cumsum(1)
    counts = table[cells:, cells:] - table[:-cells, cells:] - table[cells:, :-cells] + table[:-cells, :-cells]
    return counts / float(WINDOW_PX * WINDOW_PX)


def window_origins(n_rows: int, n_cols: int) -> np.ndarray:
    """int32 ``(n*m, 2)``: pixel origin ``(10i, 10j)`` of each window in a model-window array, row-major."""
    ii, jj = np.meshgrid(np.arange(n_rows), np.arange(n_cols), indexing="ij")
    return (np.stack([ii.ravel(), jj.ravel()], axis=-1) * STRIDE_PX).astype(np.int32)
