"""Grid value types: pixel sizes in metres, the 10 px cell grid and attribute round trips."""

import math

import pytest
from affine import Affine
from hypothesis import given
from hypothesis import strategies as st
from pyproj import CRS, Geod

from scanner.errors import InputError
from scanner.geo import STRIDE_PX, WINDOW_HALO_PX, WINDOW_PX, GeoGrid, PixelWindow

UTM54 = CRS.from_epsg(32654).to_wkt()
WGS84 = CRS.from_epsg(4326).to_wkt()


def test_window_constants_follow_the_paper():
    assert WINDOW_PX == 150 and STRIDE_PX == 10
    assert 2 * WINDOW_HALO_PX + STRIDE_PX == WINDOW_PX


def test_projected_pixel_size_is_the_transform_step():
    grid = GeoGrid(
        height=100, width=200, transform=Affine(28.0, 0, 500_000, 0, -30.0, 4_000_000), crs_wkt=UTM54
    )
    assert grid.pixel_size.x_m == 28.0 and grid.pixel_size.y_m == 30.0
    assert grid.epsg == 32654


def test_geographic_pixel_size_is_geodesic_at_the_centre():
    step = 0.0013889
    grid = GeoGrid(height=60, width=100, transform=Affine(step, 0, -99.2, 0, -step, 19.5), crs_wkt=WGS84)
    lon, lat = grid.transform @ (50, 30)
    _, _, expected_x = Geod(ellps="WGS84").inv(lon, lat, lon + step, lat)
    assert grid.pixel_size.x_m == pytest.approx(expected_x, rel=1e-9)
    # about 150 m at 19.5 deg N, as the sample data's README says; never the raw degree value
    assert 140 < grid.pixel_size.x_m < 160 and 145 < grid.pixel_size.y_m < 160


def test_rotated_transform_is_refused_with_a_fix():
    with pytest.raises(InputError, match="north-up.*fix: warp"):
        GeoGrid(height=10, width=10, transform=Affine(28, 0.5, 0, 0, -28, 0), crs_wkt=UTM54)


@given(h=st.integers(1, 5000), w=st.integers(1, 5000))
def test_cell_grid_covers_the_scene_with_10px_cells(h, w):
    grid = GeoGrid(height=h, width=w, transform=Affine(28, 0, 1000, 0, -28, 2000), crs_wkt=UTM54)
    cells = grid.cell_grid()
    assert cells.shape == (math.ceil(h / 10), math.ceil(w / 10))
    assert cells.transform @ (1, 1) == grid.transform @ (10, 10)


def test_attrs_round_trip():
    grid = GeoGrid(height=7, width=9, transform=Affine(28, 0, 1000, 0, -28, 2000), crs_wkt=UTM54)
    assert GeoGrid.from_attrs(grid.to_attrs()) == grid


def test_pixel_window_grow_and_slices():
    window = PixelWindow(10, 20, 30, 40).grown(5)
    assert window == PixelWindow(5, 15, 40, 50)
    assert window.slices() == (slice(5, 45), slice(15, 65))


def test_metric_crs_is_the_grids_own_when_projected_else_the_utm_zone_of_its_centre():
    projected = GeoGrid(10, 10, Affine(28.0, 0, 500_000, 0, -28.0, 4_000_000), UTM54)
    assert projected.metric_crs_wkt == UTM54
    tokyo = GeoGrid(10, 10, Affine(0.001, 0, 139.7, 0, -0.001, 35.7), WGS84)  # zone 54 north
    assert CRS.from_wkt(tokyo.metric_crs_wkt).to_epsg() == 32654
    santiago = GeoGrid(10, 10, Affine(0.001, 0, -70.7, 0, -0.001, -33.4), WGS84)  # zone 19 south
    assert CRS.from_wkt(santiago.metric_crs_wkt).to_epsg() == 32719
