"""Tile planning: tiles partition the cell grid, windows and halos have the right geometry."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core.tiling import (
    CellBlock,
    complete_mask,
    complete_range,
    in_strips,
    plan_tiles,
    window_origins,
    window_valid_fraction,
)
from scanner.geo import STRIDE_PX, WINDOW_HALO_PX, WINDOW_PX


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 900),
    width=st.integers(1, 900),
    tile=st.integers(1, 40),
    oy=st.integers(0, 39),
    ox=st.integers(0, 39),
    reach=st.integers(0, 60),
)
def test_tiles_partition_the_cell_grid(height, width, tile, oy, ox, reach):
    plan = plan_tiles(
        height, width, tile_cells=tile, reach_px=reach, offset_cells=(oy, ox), complete_only=False
    )
    count = np.zeros(plan.cell_shape, np.int32)
    for t in plan.tiles:
        count[t.cells.slices()] += 1
        assert t.cells.height <= tile and t.cells.width <= tile
        assert t.read_window.height == t.cells.height * STRIDE_PX + 2 * (WINDOW_HALO_PX + reach)
        assert t.read_window.row_off == t.cells.row_off * STRIDE_PX - WINDOW_HALO_PX - reach
    assert (count == 1).all()
    assert len({t.tile_id for t in plan.tiles}) == len(plan.tiles)


@settings(max_examples=40, deadline=None)
@given(height=st.integers(1, 700), width=st.integers(1, 700), tile=st.integers(1, 30))
def test_complete_only_keeps_every_complete_cell(height, width, tile):
    plan = plan_tiles(height, width, tile_cells=tile)
    covered = np.zeros(plan.cell_shape, bool)
    for t in plan.tiles:
        covered[t.cells.slices()] = True
        assert complete_mask(t.cells, height, width).any()
    full = complete_mask(CellBlock(0, 0, *plan.cell_shape), height, width)
    assert not (full & ~covered).any()


@given(size=st.integers(1, 600))
def test_complete_range_matches_brute_force(size):
    n = -(-size // STRIDE_PX)
    brute = [i for i in range(n) if STRIDE_PX * i - WINDOW_HALO_PX >= 0 and STRIDE_PX * i + 80 <= size]
    assert list(complete_range(size)) == brute


def test_window_valid_fraction_matches_direct_count():
    rng = np.random.default_rng(3)
    n, m = 4, 6
    usable = rng.random((STRIDE_PX * n + 140, STRIDE_PX * m + 140)) > 0.3
    frac = window_valid_fraction(usable, n, m)
    assert frac.shape == (n, m)
    for i in range(n):
        for j in range(m):
            window = usable[10 * i : 10 * i + WINDOW_PX, 10 * j : 10 * j + WINDOW_PX]
            assert frac[i, j] == window.mean()
    origins = window_origins(n, m)
    assert origins.shape == (n * m, 2) and tuple(origins[m + 2]) == (10, 20)


@settings(max_examples=30, deadline=None)
@given(
    height=st.integers(150, 900),
    width=st.integers(150, 900),
    tile=st.integers(3, 30),
    strip_px=st.integers(1, 1000),
    seed=st.integers(0, 99),
)
def test_in_strips_is_a_reordering_by_strip_then_row(height, width, tile, strip_px, seed):
    tiles = list(plan_tiles(height, width, tile_cells=tile).tiles)
    np.random.default_rng(seed).shuffle(tiles)
    ordered = in_strips(tiles, strip_px)
    assert sorted(t.tile_id for t in ordered) == sorted(t.tile_id for t in tiles)
    keys = [(t.pixels.col_off // strip_px, t.cells.row_off, t.cells.col_off) for t in ordered]
    assert keys == sorted(keys)
