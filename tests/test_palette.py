"""``scanner.core.palette``: 16 cyclic colour steps, grey nodata, outlines, decimation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.core.palette import NODATA_RGB, OUTLINE_RGB, palette, render_quicklook
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
