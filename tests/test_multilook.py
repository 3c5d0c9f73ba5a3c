"""scanner.core.multilook: integer looks or complex-average resampling to the model's spacing. The multilook
equals a plain loop over the looks; the resampling equals an exact area-weighted sum (fractions), agrees with
GDAL's ``average`` warp, keeps a ramp's fringe rate, and any tiling gives the untiled result bit for bit."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import rasterio.warp
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS
from rasterio.enums import Resampling

from scanner.core.multilook import (
    COMPLEX_AVERAGE,
    Reduction,
    complex_average,
    multilook,
    plan_reduction,
    reduced_grid,
    source_window,
)
from scanner.geo import GeoGrid, PixelSize, PixelWindow

UTM54 = CRS.from_epsg(32654).to_wkt()
WGS84 = CRS.from_epsg(4326).to_wkt()


def test_multilook_function_matches_a_loop():
    rng = np.random.default_rng(3)
    phase = rng.uniform(-3, 3, (6, 8)).astype(np.float32)
    usable = rng.random((6, 8)) > 0.3
    out, valid = multilook(np.where(usable, phase, np.nan), usable, (2, 4))
    for i in range(3):
        for j in range(2):
            block = np.s_[2 * i : 2 * i + 2, 4 * j : 4 * j + 4]
            total = np.sum(np.exp(1j * phase[block].astype(np.float64))[usable[block]])
            assert valid[i, j] == (usable[block].sum() >= 4)
            if valid[i, j]:
                assert out[i, j] == pytest.approx(np.angle(total), abs=1e-6)


@pytest.mark.parametrize(
    ("pixel_m", "expected"),
    [
        ((28.0, 28.0), Reduction(1, 1)),  # the model's spacing: untouched
        ((26.0, 30.0), Reduction(1, 1)),  # within 10%: untouched (coarser data is never upsampled)
        ((14.0, 14.0), Reduction(2, 2)),  # exact looks
        ((9.5, 14.5), Reduction(3, 2)),  # 28.5 m and 29 m: within 5% of 28 m
        ((20.0, 20.0), Reduction(1.4, 1.4, COMPLEX_AVERAGE)),  # round(1.4) = 1 look would stay at 20 m
        ((10.0, 10.0), Reduction(2.8, 2.8, COMPLEX_AVERAGE)),  # 3 looks would be 30 m, 7% off
        ((28.0, 20.0), Reduction(1.0, 1.4, COMPLEX_AVERAGE)),  # one axis kept
        ((14.0, 20.0), Reduction(2.0, 1.4, COMPLEX_AVERAGE)),  # one axis off: both averaged over area
    ],
)
def test_the_reduction_rule(pixel_m, expected):
    y_m, x_m = pixel_m
    got = plan_reduction(PixelSize(x_m=x_m, y_m=y_m), 28.0)
    assert got.method == expected.method and got.looks == expected.looks
    assert (got.y, got.x) == pytest.approx((expected.y, expected.x), rel=1e-12)


def test_resampled_grid_has_the_models_spacing_from_the_same_corner():
    grid = GeoGrid(301, 222, Affine(20.0, 0, 500_000, 0, -20.0, 4_000_000), UTM54)
    out = reduced_grid(grid, plan_reduction(grid.pixel_size, 28.0))
    assert out.shape == (215, 158)  # 301 / 1.4 = 215, 222 / 1.4 = 158.6: the partial last column dropped
    assert out.pixel_size.x_m == pytest.approx(28.0, abs=1e-9) and out.transform.c == grid.transform.c
    assert out.transform.f == grid.transform.f


def test_geographic_axes_each_get_the_models_ground_spacing():
    """0.0002 x 0.00018 deg at 36 N is about 18 m east and 20 m north: each axis gets its own factor."""
    grid = GeoGrid(400, 500, Affine(0.0002, 0, 140.0, 0, -0.00018, 36.1), WGS84)
    reduction = plan_reduction(grid.pixel_size, 28.0)
    assert reduction.method == COMPLEX_AVERAGE and reduction.x != pytest.approx(reduction.y, rel=0.01)
    out = reduced_grid(grid, reduction)
    assert out.pixel_size.x_m == pytest.approx(28.0, rel=1e-3)
    assert out.pixel_size.y_m == pytest.approx(28.0, rel=1e-3)


def _whole(phase, usable, reduction):
    """``complex_average`` of a whole input (cropped to what its output grid reads)."""
    grid = GeoGrid(*phase.shape, Affine.identity(), UTM54)
    out = reduced_grid(grid, reduction)
    window = PixelWindow(0, 0, out.height, out.width)
    source = source_window(reduction, window, phase.shape)
    return complex_average(phase[source.slices()], usable[source.slices()], reduction, window, phase.shape)


def _overlap(i: int, factor: Fraction, k: int) -> Fraction:
    return max(Fraction(0), min((i + 1) * factor, Fraction(k + 1)) - max(i * factor, Fraction(k)))


@pytest.mark.parametrize(
    "factors",
    [(Fraction(7, 5), Fraction(7, 5)), (Fraction(14, 5), Fraction(1)), (Fraction(3, 2), Fraction(5, 2))],
)
def test_complex_average_equals_exact_area_weights(factors):
    fy, fx = factors
    rng = np.random.default_rng(5)
    phase = rng.uniform(-np.pi, np.pi, (17, 19))
    usable = rng.random(phase.shape) > 0.35
    out, valid = _whole(
        np.where(usable, phase, np.nan), usable, Reduction(float(fy), float(fx), COMPLEX_AVERAGE)
    )
    assert out.shape == (math.floor(17 / fy), math.floor(19 / fx))
    for i, j in np.ndindex(out.shape):
        total, area = 0j, Fraction(0)
        for k, m in np.ndindex(phase.shape):
            weight = _overlap(i, fy, k) * _overlap(j, fx, m)
            if weight and usable[k, m]:
                total += float(weight) * np.exp(1j * phase[k, m])
                area += weight
        assert valid[i, j] == (2 * area >= fy * fx)
        if valid[i, j]:
            assert out[i, j] == pytest.approx(np.angle(total), abs=1e-6)
        else:
            assert np.isnan(out[i, j])


def test_integer_factors_give_the_multilook():
    rng = np.random.default_rng(6)
    phase = rng.uniform(-np.pi, np.pi, (24, 30)).astype(np.float32)
    usable = rng.random(phase.shape) > 0.4
    phase[~usable] = np.nan
    looked, looked_valid = multilook(phase, usable, (3, 2))
    averaged, averaged_valid = _whole(phase, usable, Reduction(3.0, 2.0, COMPLEX_AVERAGE))
    np.testing.assert_array_equal(averaged_valid, looked_valid)
    np.testing.assert_allclose(averaged, looked, atol=1e-6)


def test_agrees_with_gdals_average_warp():
    """GDAL's ``average`` (area-weighted since GDAL 3.1) on cos and sin gives the same phase where all is valid."""
    rng = np.random.default_rng(1)
    phase = rng.uniform(-np.pi, np.pi, (70, 84))
    out, valid = _whole(phase, np.ones(phase.shape, bool), Reduction(1.4, 1.4, COMPLEX_AVERAGE))
    warped = []
    for plane in (np.cos(phase), np.sin(phase)):
        target = np.zeros(out.shape)
        rasterio.warp.reproject(
            plane,
            target,
            src_transform=Affine(20, 0, 500_000, 0, -20, 4_000_000),
            dst_transform=Affine(28, 0, 500_000, 0, -28, 4_000_000),
            src_crs="EPSG:32654",
            dst_crs="EPSG:32654",
            resampling=Resampling.average,
        )
        warped.append(target)
    assert valid.all()
    assert np.abs(np.angle(np.exp(1j * (np.arctan2(warped[1], warped[0]) - out)))).max() < 1e-5


def test_a_ramp_keeps_its_fringe_rate_and_a_constant_stays_constant():
    """20 m -> 28 m: a planar ramp (one fringe per 900 m east, per 1300 m north) keeps its phase gradient per
    metre within 0.5%; a constant phase comes back as itself everywhere."""
    rate = np.array([2 * np.pi / 1300, 2 * np.pi / 900])  # rad/m along y (north-down rows) and x
    y_m, x_m = (np.mgrid[0:210, 0:280] + 0.5) * 20.0
    phase = np.angle(np.exp(1j * (rate[0] * y_m + rate[1] * x_m)))
    out, valid = _whole(phase, np.ones(phase.shape, bool), Reduction(1.4, 1.4, COMPLEX_AVERAGE))
    assert valid.all() and out.shape == (150, 200)
    unwrapped = np.unwrap(np.unwrap(out.astype(np.float64), axis=0), axis=1)
    for axis in (0, 1):
        slope = np.polyfit(np.arange(out.shape[axis]) * 28.0, unwrapped.mean(axis=1 - axis), 1)[0]
        assert slope == pytest.approx(rate[axis], rel=0.005)
    constant, valid = _whole(
        np.full((50, 60), 2.5), np.ones((50, 60), bool), Reduction(1.4, 2.8, COMPLEX_AVERAGE)
    )
    assert valid.all() and np.abs(constant - 2.5).max() < 1e-6


def test_an_output_pixel_more_than_half_invalid_is_invalid():
    """Columns left of 620 m (31 px at 20 m) are invalid; 28 m pixel j covers [28j, 28j+28) m and is valid
    when at least 14 m of it lies right of 620 m."""
    usable = np.ones((70, 84), bool)
    usable[:, :31] = False
    phase = np.where(usable, 1.0, np.nan)
    out, valid = _whole(phase, usable, Reduction(1.4, 1.4, COMPLEX_AVERAGE))
    left_m = np.arange(out.shape[1]) * 28.0
    expected = np.clip(left_m + 28.0 - 620.0, 0, 28.0) >= 14.0
    np.testing.assert_array_equal(valid, np.broadcast_to(expected, out.shape))
    assert np.isnan(out[~valid]).all() and np.abs(out[valid] - 1.0).max() < 1e-6


@settings(max_examples=60, deadline=None)
@given(
    fy=st.floats(1.0, 4.0),
    fx=st.floats(1.0, 4.0),
    height=st.integers(4, 45),
    width=st.integers(4, 45),
    chunk=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    seed=st.integers(0, 2**16),
)
def test_tiled_equals_untiled_bit_for_bit(fy, fx, height, width, chunk, seed):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-np.pi, np.pi, (height, width)).astype(np.float32)
    usable = rng.random(phase.shape) > 0.3
    phase[~usable] = np.nan
    reduction = Reduction(fy, fx, COMPLEX_AVERAGE)
    whole, whole_valid = _whole(phase, usable, reduction)
    tiled, tiled_valid = np.full_like(whole, -9.0), np.zeros_like(whole_valid)
    for row in range(0, whole.shape[0], chunk[0]):
        for col in range(0, whole.shape[1], chunk[1]):
            window = PixelWindow(
                row, col, min(chunk[0], whole.shape[0] - row), min(chunk[1], whole.shape[1] - col)
            )
            source = source_window(reduction, window, phase.shape)
            part = complex_average(
                phase[source.slices()], usable[source.slices()], reduction, window, phase.shape
            )
            tiled[window.slices()], tiled_valid[window.slices()] = part
    np.testing.assert_array_equal(tiled, whole)
    np.testing.assert_array_equal(tiled_valid, whole_valid)
