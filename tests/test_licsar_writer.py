"""``scanner.io.licsar_writer``: LiCSAR's 0.001-degree grid, frame ids, the warps, and products the reader takes.

The simulator's use of it (``fringescan synth --product licsar``) is tested in ``test_sim_products.py``.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest
import rasterio
import rasterio.warp
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS

from scanner.errors import UsageError
from scanner.geo import WGS84, GeoGrid
from scanner.io.licsar_writer import frame_id, licsar_grid, warp, write_frame, write_interferogram
from scanner.io.products import LICSAR_FRAME, recognise

UTM54 = CRS.from_epsg(32654).to_wkt()


def _utm_grid(x0: float, y0: float, pixel_m: float, height: int, width: int) -> GeoGrid:
    return GeoGrid(
        height=height, width=width, transform=Affine(pixel_m, 0, x0, 0, -pixel_m, y0), crs_wkt=UTM54
    )


@settings(max_examples=40, deadline=None)
@given(
    x0=st.floats(250_000, 700_000),
    y0=st.floats(3_000_000, 5_000_000),
    pixel_m=st.sampled_from([10.0, 28.0, 100.0]),
    height=st.integers(1, 400),
    width=st.integers(1, 400),
)
def test_licsar_grid_is_the_smallest_snapped_grid_covering_the_source(x0, y0, pixel_m, height, width):
    source = _utm_grid(x0, y0, pixel_m, height, width)
    grid = licsar_grid(source)
    t = grid.transform
    assert grid.epsg == 4326 and (t.a, t.e) == (0.001, -0.001)
    for edge in (t.c, t.f):
        assert edge * 1000 == pytest.approx(round(edge * 1000), abs=1e-6)  # on a multiple of 0.001 deg
    left, bottom, right, top = rasterio.warp.transform_bounds(UTM54, WGS84, *source.bounds, densify_pts=21)
    g_left, g_bottom, g_right, g_top = grid.bounds
    slack = 1e-9
    assert g_left <= left + slack and g_bottom <= bottom + slack
    assert g_right >= right - slack and g_top >= top - slack
    # smallest: one pixel less on any side would leave part of the source out
    assert left < g_left + 0.001 and bottom < g_bottom + 0.001
    assert right > g_right - 0.001 and top > g_top - 0.001


def test_frame_ids_follow_licsars_pattern():
    assert frame_id(73, "descending", 5369) == "073D_05369_131313"
    assert LICSAR_FRAME.match(frame_id(418, "ascending", 12_709)).groups() == ("418", "A")
    for bad in ((1000, "ascending", 1), (5, "ascending", 100_000), (5, "left", 1)):
        with pytest.raises(UsageError, match="LiCSAR frame"):
            frame_id(*bad)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), pixel_m=st.sampled_from([28.0, 100.0]))
def test_nearest_warp_only_gives_values_the_source_holds(seed, pixel_m):
    """Wrapped phase stays wrapped: every warped value is one of the source's values, none interpolated."""
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-np.pi, np.pi, (60, 70)).astype(np.float32)
    phase[rng.random(phase.shape) < 0.2] = np.nan
    source = _utm_grid(400_000.0, 4_000_000.0, pixel_m, *phase.shape)
    out = warp(phase, source, licsar_grid(source), "nearest")
    finite = out[np.isfinite(out)]
    assert finite.size > 0 and np.isin(finite, phase[np.isfinite(phase)]).all()


def _bowl(shape: tuple[int, int]) -> np.ndarray:
    rows, cols = np.mgrid[0 : shape[0], 0 : shape[1]]
    return (100.0 + rows * 3.0 + cols * 2.0).astype(np.float32)


def test_written_frame_and_interferogram_are_a_licsar_product(tmp_path):
    source = _utm_grid(400_000.0, 4_000_000.0, 100.0, 120, 150)
    grid = licsar_grid(source)
    incidence, azimuth = 38.0, 280.0  # look azimuth: satellite to ground, clockwise from north
    east = math.sin(math.radians(incidence)) * math.sin(math.radians(azimuth - 180.0))
    north = math.sin(math.radians(incidence)) * math.cos(math.radians(azimuth - 180.0))
    frame = frame_id(143, "descending", 7000)
    write_frame(
        tmp_path, frame, grid, _bowl(source.shape), source, (east, north, math.cos(math.radians(incidence)))
    )
    phase = np.full(source.shape, 1.5, np.float32)
    phase[:10] = np.nan
    coherence = np.full(source.shape, 0.6, np.float32)
    folder = write_interferogram(
        tmp_path, frame, grid, (date(2018, 1, 6), date(2018, 1, 30)), phase, coherence, source
    )
    assert folder == tmp_path / frame / "interferograms" / "20180106_20180130"
    product = recognise(folder)
    assert product.family == "licsar" and product.scene_id == f"{frame}_20180106_20180130"
    assert product.pass_direction == "descending" and product.frame == frame
    assert product.incidence_deg == pytest.approx(incidence, abs=1e-3)
    assert product.look_azimuth_deg == pytest.approx(azimuth, abs=1e-3)
    with rasterio.open(product.phase) as ds:
        values = ds.read(1)
        assert (ds.dtypes[0], ds.nodata, ds.crs.to_epsg()) == ("float32", 0.0, 4326)
    assert set(np.unique(values)) == {
        np.float32(0),
        np.float32(1.5),
    }  # 0: outside the source, or its NaN rows
    with rasterio.open(product.coherence) as ds:
        cc = ds.read(1)
        assert (ds.dtypes[0], ds.nodata) == ("uint8", 0.0)
    assert set(np.unique(cc[cc > 0])) == {round(0.6 * 255)}
    assert (cc[values != 0] > 0).all() and (cc == 0).any()  # 0 only outside the source
    with rasterio.open(product.dem) as ds:
        heights = ds.read(1)
    inside = heights != 0
    assert (
        inside.any()
        and heights[inside].min() >= 100.0 - 1e-3
        and heights[inside].max() <= _bowl(source.shape).max()
    )
