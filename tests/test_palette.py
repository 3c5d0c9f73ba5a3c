"""``scanner.core.palette``: 16 cyclic colour steps, grey nodata, outlines, decimation, the ``phase_rgb`` input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core.palette import (
    NODATA_RGB,
    OUTLINE_RGB,
    PHASE_RGB_INVALID,
    palette,
    phase_rgb_table,
    render_quicklook,
)
from scanner.core.phase import PreprocessConfig, preprocess
from scanner.errors import UsageError


def test_palette_has_16_distinct_colours_and_is_cyclic():
    colours = palette(16, "hsv")
    assert colours.shape == (16, 3) and colours.dtype == np.uint8
    assert len({tuple(c) for c in colours}) == 16
    # neighbours across the wrap (-pi / +pi) are as close as any other neighbours
    steps = np.abs(np.diff(np.vstack([colours, colours[:1]]).astype(int), axis=0)).sum(axis=1)
    assert steps[-1] <= steps.max()


@settings(max_examples=30, deadline=None)
@given(level=st.integers(0, 15), offset=st.floats(0.05, 0.95))
def test_each_phase_step_gets_its_colour(level, offset):
    phase = np.full((3, 4), -np.pi + (level + offset) * 2 * np.pi / 16, dtype=np.float32)
    rgb = render_quicklook(phase)
    assert rgb.shape == (3, 4, 3) and rgb.dtype == np.uint8
    assert np.all(rgb == palette()[level])


def test_nan_is_grey_and_outlines_are_drawn():
    phase = np.zeros((40, 40), dtype=np.float32)
    phase[:5] = np.nan
    ring = [(10.5, 10.5), (10.5, 30.5), (30.5, 30.5), (30.5, 10.5)]
    rgb = render_quicklook(phase, [ring])
    assert np.all(rgb[:5, :5] == NODATA_RGB)
    assert np.all(rgb[10, 12:29] == OUTLINE_RGB) and np.all(rgb[12:29, 30] == OUTLINE_RGB)
    assert np.all(rgb[20, 20] == palette()[8])


def test_max_px_decimates_image_and_outlines():
    phase = np.zeros((1000, 600), dtype=np.float32)
    rgb = render_quicklook(phase, [[(100.0, 100.0), (100.0, 500.0), (900.0, 500.0)]], max_px=250)
    assert rgb.shape == (250, 150, 3)
    assert np.all(rgb[25, 26:124] == OUTLINE_RGB)


def test_bad_phase_raises_a_usage_error():
    with pytest.raises(UsageError, match="2-D"):
        render_quicklook(np.zeros((2, 3, 4), np.float32))


def test_phase_rgb_table_is_cyclic_and_invalid_is_no_level():
    """The ``phase_rgb`` channel's colours: each level's two nearest colours are its phase neighbours, level
    15 and level 0 included (one grey channel puts them at opposite ends), and invalid is none of them."""
    table = phase_rgb_table(16).astype(np.float64)
    assert table.shape == (16, 3) and table.min() >= 0 and table.max() <= 1
    distance = np.linalg.norm(table[:, None] - table[None], axis=-1)
    np.fill_diagonal(distance, np.inf)
    for level in range(16):
        nearest = set(np.argsort(distance[level])[:2].tolist())
        assert nearest == {(level - 1) % 16, (level + 1) % 16}, level
    wrap_step, steps = distance[15, 0], [distance[k, k + 1] for k in range(15)]
    assert wrap_step <= 1.25 * max(steps)  # across +-pi no bigger a jump than between any neighbours
    grey = np.arange(16) / 15  # the old one-channel input: level 15 is as far from level 0 as can be
    assert abs(grey[15] - grey[0]) == 1.0
    invalid = np.asarray(PHASE_RGB_INVALID, np.float64)
    assert np.linalg.norm(table - invalid, axis=-1).min() > 0.5  # distinct from every level, by far
    assert tuple(np.float32(v / 255) for v in NODATA_RGB) == PHASE_RGB_INVALID  # the quicklook's grey


def test_phase_rgb_channel_colours_each_level_and_greys_invalid_pixels():
    levels = np.arange(16)
    phase = np.tile(-np.pi + (levels + 0.5) * 2 * np.pi / 16, (3, 1)).astype(np.float32)
    valid = np.ones(phase.shape, np.uint8)
    valid[1, 4] = 0
    phase[2, 7] = np.nan
    config = PreprocessConfig(filter_size_m=None, channels=("cos", "phase_rgb", "sin"))
    assert config.n_planes == 5
    out = preprocess(phase, valid, 30.0, config)
    assert out.shape == (3, 16, 5) and out.dtype == np.float32
    table = phase_rgb_table(16)
    for row, col in [(0, 0), (0, 15), (1, 3), (2, 8)]:
        np.testing.assert_array_equal(out[row, col, 1:4], table[col])
    for row, col in [(1, 4), (2, 7)]:
        np.testing.assert_array_equal(out[row, col, 1:4], PHASE_RGB_INVALID)
        assert out[row, col, 0] == 0 and out[row, col, 4] == 0
    np.testing.assert_allclose(out[0, :, 0], np.cos(phase[0]), atol=1e-6)  # cos and sin around the 3 planes
    np.testing.assert_allclose(out[0, :, 4], np.sin(phase[0]), atol=1e-6)
    with pytest.raises(UsageError, match="quantize_levels"):
        PreprocessConfig(quantize_levels=None, channels=("phase_rgb",))
