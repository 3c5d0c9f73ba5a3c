"""scanner.core.multilook: integer looks or complex-average resampling to the model's spacing. The multilook
equals a plain loop over the looks; the resampling equals an exact area-weighted sum (fractions), agrees with
GDAL's ``average`` warp, keeps a ramp's fringe rate, and any tiling gives the untiled result bit for bit. The
opt-in upsampling equals a per-pixel bilinear loop (fractions), keeps a ramp's rate and values, keeps invalid
regions invalid, and tiles bit for bit too."""

from __future__ import annotations

import itertools
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
    UPSAMPLE,
    Reduction,
    bilinear_upsample,
    complex_average,
    multilook,
    plan_reduction,
    reduced_grid,
    source_window,
)
from scanner.errors import InputError
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
        ((26.0, 30.0), Reduction(1, 1)),  # within 10%: untouched (coarser data is upsampled only on request)
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
    """``complex_average`` (or ``bilinear_upsample``) of a whole input (cropped to what its output grid reads)."""
    grid = GeoGrid(*phase.shape, Affine.identity(), UTM54)
    out = reduced_grid(grid, reduction)
    window = PixelWindow(0, 0, out.height, out.width)
    source = source_window(reduction, window, phase.shape)
    method = bilinear_upsample if reduction.method == UPSAMPLE else complex_average
    return method(phase[source.slices()], usable[source.slices()], reduction, window, phase.shape)


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


def _tiled(phase, usable, reduction, shape, chunk):
    """The output of ``shape`` computed chunk by chunk, each from its own ``source_window``."""
    method = bilinear_upsample if reduction.method == UPSAMPLE else complex_average
    tiled, tiled_valid = np.full(shape, -9.0, np.float32), np.zeros(shape, bool)
    for row in range(0, shape[0], chunk[0]):
        for col in range(0, shape[1], chunk[1]):
            window = PixelWindow(row, col, min(chunk[0], shape[0] - row), min(chunk[1], shape[1] - col))
            source = source_window(reduction, window, phase.shape)
            part = method(phase[source.slices()], usable[source.slices()], reduction, window, phase.shape)
            tiled[window.slices()], tiled_valid[window.slices()] = part
    return tiled, tiled_valid


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
    tiled, tiled_valid = _tiled(phase, usable, reduction, whole.shape, chunk)
    np.testing.assert_array_equal(tiled, whole)
    np.testing.assert_array_equal(tiled_valid, whole_valid)


# Upsampling (opt-in): complex bilinear interpolation onto a finer grid


@pytest.mark.parametrize(
    ("pixel_m", "expected"),
    [
        ((90.0, 90.0), Reduction(0.5, 0.5, UPSAMPLE)),
        ((111.0, 90.0), Reduction(45 / 111, 0.5, UPSAMPLE)),
        ((48.0, 90.0), Reduction(1.0, 0.5, UPSAMPLE)),  # within 10% of 45 m: kept
        ((45.0, 45.0), Reduction(1, 1)),  # nothing coarser: the plain rule
        ((20.0, 20.0), Reduction(2.25, 2.25, COMPLEX_AVERAGE)),  # finer data: reduced as without the flag
    ],
)
def test_the_upsampling_rule(pixel_m, expected):
    y_m, x_m = pixel_m
    got = plan_reduction(PixelSize(x_m=x_m, y_m=y_m), 45.0, upsample=True)
    assert got.method == expected.method and (got.y, got.x) == pytest.approx(
        (expected.y, expected.x), rel=1e-12
    )
    without = plan_reduction(PixelSize(x_m=x_m, y_m=y_m), 45.0)
    assert without.method != UPSAMPLE and (without.y >= 1 and without.x >= 1)


def test_one_axis_finer_and_one_coarser_is_refused_with_upsample():
    with pytest.raises(InputError, match="one axis finer, one coarser"):
        plan_reduction(PixelSize(x_m=90.0, y_m=20.0), 45.0, upsample=True)


def test_a_geographic_licsar_grid_gets_its_own_factor_per_axis():
    """LiCSAR's 0.001 deg at 36 N: 0.001 deg of longitude is a * cos(lat) / sqrt(1 - e2 sin2(lat)) * pi/180e3
    (90.2 m), of latitude the meridian arc (about 111 m): factors 45/90.2 = 0.499 in x and 45/111 = 0.406 in y,
    and the output pixels are 45 m on both axes at the centre."""
    a, e2, lat = 6_378_137.0, 0.00669437999014, math.radians(36.0)
    east_m = a * math.cos(lat) / math.sqrt(1 - e2 * math.sin(lat) ** 2) * math.radians(0.001)
    north_m = a * (1 - e2) / (1 - e2 * math.sin(lat) ** 2) ** 1.5 * math.radians(0.001)
    grid = GeoGrid(100, 120, Affine(0.001, 0, 140.0, 0, -0.001, 36.05), WGS84)
    reduction = plan_reduction(grid.pixel_size, 45.0, upsample=True)
    assert reduction.method == UPSAMPLE
    assert reduction.x == pytest.approx(45 / east_m, rel=1e-3) and 0.49 < reduction.x < 0.51
    assert reduction.y == pytest.approx(45 / north_m, rel=1e-3) and 0.40 < reduction.y < 0.42
    out = reduced_grid(grid, reduction)
    assert out.shape == (math.floor(100 / reduction.y), math.floor(120 / reduction.x))
    assert out.pixel_size.x_m == pytest.approx(45.0, rel=0.01) and out.pixel_size.y_m == pytest.approx(
        45.0, rel=0.01
    )
    assert (out.transform.c, out.transform.f) == (grid.transform.c, grid.transform.f)


def _bilinear_reference(phase, usable, fy: Fraction, fx: Fraction, shape):
    """A per-pixel loop in exact fractions: output centre ``(i + 1/2) f`` in input coordinates, input centres at
    ``k + 1/2``, clamped to the outermost centres; nearest = the closer centre (the upper on a tie)."""

    def taps(i, f, size):
        u = min(max((i + Fraction(1, 2)) * f - Fraction(1, 2), Fraction(0)), Fraction(size - 1))
        k = math.floor(u)
        t = u - k
        return [(k, 1 - t), (min(k + 1, size - 1), t)], (k + 1 if t >= Fraction(1, 2) else k)

    out, valid = np.full(shape, np.nan), np.zeros(shape, bool)
    for i, j in np.ndindex(shape):
        (rows, near_r), (cols, near_c) = taps(i, fy, phase.shape[0]), taps(j, fx, phase.shape[1])
        total, weight = 0j, Fraction(0)
        for (k, wk), (m, wm) in itertools.product(rows, cols):
            if usable[k, m] and wk * wm:
                total += float(wk * wm) * np.exp(1j * float(phase[k, m]))
                weight += wk * wm
        valid[i, j] = bool(usable[near_r, near_c]) and 2 * weight >= 1
        out[i, j] = np.angle(total) if valid[i, j] else np.nan
    return out, valid


@pytest.mark.parametrize(
    "factors",
    [(Fraction(1, 2), Fraction(1, 2)), (Fraction(2, 5), Fraction(1)), (Fraction(3, 4), Fraction(5, 8))],
)
def test_bilinear_upsample_equals_a_per_pixel_loop(factors):
    fy, fx = factors
    rng = np.random.default_rng(7)
    phase = rng.uniform(-np.pi, np.pi, (11, 13))
    usable = rng.random(phase.shape) > 0.3
    out, valid = _whole(np.where(usable, phase, np.nan), usable, Reduction(float(fy), float(fx), UPSAMPLE))
    assert out.shape == (math.floor(11 / fy), math.floor(13 / fx))
    expected, expected_valid = _bilinear_reference(phase, usable, fy, fx, out.shape)
    np.testing.assert_array_equal(valid, expected_valid)
    assert np.abs(np.angle(np.exp(1j * (out[valid] - expected[valid])))).max() < 1e-6
    assert np.isnan(out[~valid]).all()


def _axis_error(step_rad: float) -> float:
    """Angle error of linear interpolation of ``exp(i*phase)`` a quarter of the way between two centres
    ``step_rad`` apart: ``angle(3/4 + 1/4 exp(i*step)) - step/4`` (at 3/4 it is the same, negated)."""
    return abs(np.angle(0.75 + 0.25 * np.exp(1j * step_rad)) - step_rad / 4)


def test_a_ramp_keeps_its_rate_and_values_when_upsampled_from_90_to_45m():
    """One fringe per 1500 m north and 1100 m east (0.38 and 0.51 rad per 90 m pixel). ``exp(i*ramp)`` is a
    product of one factor per axis and so is its bilinear interpolant: the angle error at an output centre is
    the sum of the two axes' errors, at most ``_axis_error`` each (interior centres lie a quarter of the way
    between input centres at factor 1/2), 0.0031 rad here. The fringe rate per metre is kept within 0.5%; the
    edge centres lie outside the outermost input centres and take the edge pixel (clamped)."""
    rate = np.array([2 * np.pi / 1500, 2 * np.pi / 1100])
    y_m, x_m = (np.mgrid[0:60, 0:70] + 0.5) * 90.0
    phase = np.angle(np.exp(1j * (rate[0] * y_m + rate[1] * x_m)))
    out, valid = _whole(phase, np.ones(phase.shape, bool), Reduction(0.5, 0.5, UPSAMPLE))
    assert valid.all() and out.shape == (120, 140)
    oy_m, ox_m = (np.mgrid[0:120, 0:140] + 0.5) * 45.0
    error = np.angle(np.exp(1j * (out - (rate[0] * oy_m + rate[1] * ox_m))))[1:-1, 1:-1]
    tolerance = _axis_error(rate[0] * 90) + _axis_error(rate[1] * 90) + 1e-5
    assert tolerance < 0.004 and np.abs(error).max() <= tolerance
    unwrapped = np.unwrap(np.unwrap(out.astype(np.float64), axis=0), axis=1)[1:-1, 1:-1]
    for axis in (0, 1):
        slope = np.polyfit(np.arange(unwrapped.shape[axis]) * 45.0, unwrapped.mean(axis=1 - axis), 1)[0]
        assert slope == pytest.approx(rate[axis], rel=0.005)
    assert out[0, 0] == pytest.approx(phase[0, 0], abs=1e-6) and out[-1, -1] == pytest.approx(
        phase[-1, -1], abs=1e-6
    )


def test_a_constant_stays_constant_and_invalid_regions_stay_invalid():
    """Input pixels [10, 20) x [15, 30) at 90 m are invalid: exactly the 45 m output pixels whose centres lie in
    them (rows [20, 40), columns [30, 60)) are invalid. At factor 1/2 the nearest input centre carries at least
    9/16 of the weight, so the half-weight rule adds none here (the per-pixel loop test covers it)."""
    usable = np.ones((40, 50), bool)
    usable[10:20, 15:30] = False
    phase = np.where(usable, 2.5, np.nan)
    out, valid = _whole(phase, usable, Reduction(0.5, 0.5, UPSAMPLE))
    expected = np.zeros(out.shape, bool)
    expected[20:40, 30:60] = True
    np.testing.assert_array_equal(~valid, expected)
    assert np.isnan(out[~valid]).all() and np.abs(out[valid] - 2.5).max() < 1e-6


@settings(max_examples=60, deadline=None)
@given(
    fy=st.floats(0.2, 1.0),
    fx=st.floats(0.2, 1.0),
    height=st.integers(1, 20),
    width=st.integers(1, 20),
    chunk=st.tuples(st.integers(1, 12), st.integers(1, 12)),
    seed=st.integers(0, 2**16),
)
def test_upsampled_tiled_equals_untiled_bit_for_bit(fy, fx, height, width, chunk, seed):
    rng = np.random.default_rng(seed)
    phase = rng.uniform(-np.pi, np.pi, (height, width)).astype(np.float32)
    usable = rng.random(phase.shape) > 0.3
    phase[~usable] = np.nan
    reduction = Reduction(fy, fx, UPSAMPLE)
    whole, whole_valid = _whole(phase, usable, reduction)
    tiled, tiled_valid = _tiled(phase, usable, reduction, whole.shape, chunk)
    np.testing.assert_array_equal(tiled, whole)
    np.testing.assert_array_equal(tiled_valid, whole_valid)
