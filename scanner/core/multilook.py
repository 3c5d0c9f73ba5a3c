"""Bringing a wrapped interferogram to the model's pixel size (pure): the reduction per axis, the output grid,
the input window of an output window, and the complex average of ``exp(i*phase)``, by integer looks (exact
block sums) or, for other ratios, over each output pixel's area; or, opted in, the complex bilinear
interpolation of ``exp(i*phase)`` onto a finer grid (upsampling coarser data)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from affine import Affine

from scanner.errors import InputError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, GeoGrid, PixelSize, PixelWindow

LOOKS_TOLERANCE = 0.05
"""Integer looks are used when ``n = round(model / pixel)`` is at least 2 and ``n`` looks land within 5% of the
model's spacing on every reduced axis; any other ratio is resampled by complex averaging to the model's spacing."""

MULTILOOK, COMPLEX_AVERAGE, UPSAMPLE = "multilook", "complex_average", "complex_bilinear_upsample"


@dataclass(frozen=True)
class Reduction:
    """How ingest brings the phase to the model's spacing: ``y`` and ``x`` input pixels per output pixel.

    ``multilook``: integer looks (1 x 1 is the grid as it is), each output pixel the sum over one block.
    ``complex_average``: real factors, each output pixel the area-weighted sum over the input pixels it covers.
    ``complex_bilinear_upsample``: real factors of at most 1, each output pixel the bilinear interpolation of
    the input pixel centres around its own centre (``bilinear_upsample``).
    """

    y: float
    x: float
    method: str = MULTILOOK

    def __post_init__(self) -> None:
        assert self.method in (MULTILOOK, COMPLEX_AVERAGE, UPSAMPLE)
        if self.method == UPSAMPLE:
            assert 0 < self.y <= 1 and 0 < self.x <= 1
        else:
            assert self.y >= 1 and self.x >= 1
        assert self.method != MULTILOOK or (float(self.y).is_integer() and float(self.x).is_integer())

    @property
    def looks(self) -> tuple[int, int] | None:
        """Integer (y, x) looks, or None when resampled."""
        return (int(self.y), int(self.x)) if self.method == MULTILOOK else None

    def __str__(self) -> str:
        if self.method == MULTILOOK:
            return f"looks {int(self.y)} x {int(self.x)}"
        if self.method == UPSAMPLE:
            return f"complex bilinear upsampling by {self.y:.3g} x {self.x:.3g}"
        return f"complex-average resampling by {self.y:.3g} x {self.x:.3g}"


def plan_reduction(pixel: PixelSize, model_pixel_size_m: float, *, upsample: bool = False) -> Reduction:
    """An axis finer than the model by more than 10% is reduced, the others kept; integer looks when they fit
    (``LOOKS_TOLERANCE``), else a factor of exactly ``model / pixel`` per reduced axis (``complex_average``).

    With ``upsample`` (opt-in), an axis coarser than the model by more than 10% gets the factor
    ``model / pixel`` (< 1) and the phase is interpolated (``UPSAMPLE``); an input with one axis finer and one
    coarser is refused (neither method alone brings both to the model's spacing)."""
    coarser = [s > model_pixel_size_m * (1 + PIXEL_SIZE_TOLERANCE) for s in (pixel.y_m, pixel.x_m)]
    if upsample and any(coarser):
        return _plan_upsample(pixel, model_pixel_size_m)

    def ratio(size_m: float) -> float:
        return (
            model_pixel_size_m / size_m if size_m < model_pixel_size_m * (1 - PIXEL_SIZE_TOLERANCE) else 1.0
        )

    def fits(r: float) -> bool:
        n = round(r)
        return r == 1.0 or (n >= 2 and abs(n / r - 1) <= LOOKS_TOLERANCE)

    ry, rx = ratio(pixel.y_m), ratio(pixel.x_m)
    if fits(ry) and fits(rx):
        return Reduction(round(ry), round(rx))
    return Reduction(ry, rx, COMPLEX_AVERAGE)


def _plan_upsample(pixel: PixelSize, model_pixel_size_m: float) -> Reduction:
    low, high = (
        model_pixel_size_m * (1 - PIXEL_SIZE_TOLERANCE),
        model_pixel_size_m * (1 + PIXEL_SIZE_TOLERANCE),
    )
    if min(pixel.y_m, pixel.x_m) < low:
        raise InputError(
            problem(
                "phase raster for --upsample",
                expected=f"both axes coarser than {model_pixel_size_m:g} m or within 10% of it",
                found=f"pixels of {pixel.y_m:.4g} x {pixel.x_m:.4g} m (y x): one axis finer, one coarser",
                fix="warp the phase to a square grid first (gdalwarp -tr), or drop --upsample",
            )
        )

    def ratio(size_m: float) -> float:
        return model_pixel_size_m / size_m if size_m > high else 1.0

    return Reduction(ratio(pixel.y_m), ratio(pixel.x_m), UPSAMPLE)


def reduced_grid(grid: GeoGrid, reduction: Reduction) -> GeoGrid:
    """The output grid: ``reduction.y x reduction.x`` input pixels per output pixel, from the same corner; a
    partial last row/column of output pixels is dropped (upsampled, the grid covers the input's extent less
    that partial pixel)."""
    if reduction.looks is not None:
        return multilooked_grid(grid, reduction.looks)
    height, width = _count(grid.height, reduction.y), _count(grid.width, reduction.x)
    if height < 1 or width < 1:
        raise InputError(
            problem(
                "phase raster",
                expected=f"at least {reduction.y:.3g} x {reduction.x:.3g} px to resample",
                found=f"{grid.height} x {grid.width} px",
                fix="ingest a larger area",
            )
        )
    return GeoGrid(height, width, grid.transform @ Affine.scale(reduction.x, reduction.y), grid.crs_wkt)


def _count(size: int, factor: float) -> int:
    """Whole output pixels in ``size`` input pixels (a last one short by rounding only is kept)."""
    return math.floor(size / factor + 1e-9)


def source_window(reduction: Reduction, window: PixelWindow, source_shape: tuple[int, int]) -> PixelWindow:
    """The input pixels an output ``window`` reads: its blocks of looks, every input pixel that overlaps
    one of its output pixels (neighbouring windows share a row or column there at non-integer factors), or,
    upsampled, every input pixel centre its output pixels interpolate from (the bilinear halo)."""
    if reduction.looks is not None:
        ly, lx = reduction.looks
        return PixelWindow(window.row_off * ly, window.col_off * lx, window.height * ly, window.width * lx)
    if reduction.method == UPSAMPLE:
        rows = _bilinear_taps(window.row_off, window.height, reduction.y, source_shape[0])
        cols = _bilinear_taps(window.col_off, window.width, reduction.x, source_shape[1])
        return PixelWindow(
            int(rows[0][0]),
            int(cols[0][0]),
            int(rows[1][-1] - rows[0][0]) + 1,
            int(cols[1][-1] - cols[0][0]) + 1,
        )
    rows = _span(window.row_off, window.row_end, reduction.y, source_shape[0])
    cols = _span(window.col_off, window.col_end, reduction.x, source_shape[1])
    return PixelWindow(rows[0], cols[0], rows[1] - rows[0], cols[1] - cols[0])


def _span(start: int, end: int, factor: float, size: int) -> tuple[int, int]:
    return math.floor(start * factor), min(size, math.ceil(end * factor))


def multilooked_grid(grid: GeoGrid, looks: tuple[int, int]) -> GeoGrid:
    """The output grid: ``looks`` input pixels per output pixel; a partial last row/column of looks is dropped."""
    ly, lx = looks
    if grid.height < ly or grid.width < lx:
        raise InputError(
            problem(
                "phase raster",
                expected=f"at least {ly} x {lx} px to multilook",
                found=f"{grid.height} x {grid.width} px",
                fix="ingest a larger area",
            )
        )
    return GeoGrid(
        height=grid.height // ly,
        width=grid.width // lx,
        transform=grid.transform @ Affine.scale(lx, ly),
        crs_wkt=grid.crs_wkt,
    )


def multilook(phase: np.ndarray, usable: np.ndarray, looks: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Complex multilook: the phase of the mean of ``exp(i*phase)`` over each block of looks, and validity
    (at least half the looks usable)."""
    ly, lx = looks
    h, w = phase.shape[0] // ly, phase.shape[1] // lx
    z = np.where(usable, np.exp(1j * np.nan_to_num(phase).astype(np.float64)), 0)[: h * ly, : w * lx]
    total = z.reshape(h, ly, w, lx).sum(axis=(1, 3))
    count = usable[: h * ly, : w * lx].reshape(h, ly, w, lx).sum(axis=(1, 3))
    valid = 2 * count >= ly * lx
    return np.where(valid, np.angle(total), np.nan).astype(np.float32), valid


def complex_average(
    phase: np.ndarray,
    usable: np.ndarray,
    reduction: Reduction,
    window: PixelWindow,
    source_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Complex average onto ``window`` of the output grid: the phase of the area-weighted sum of
    ``exp(i*phase)`` over the usable part of each output pixel, valid when at least half its area is usable.

    ``phase`` and ``usable`` cover ``source_window(reduction, window, source_shape)`` of an input of
    ``source_shape``. Output pixel ``i`` covers input coordinates ``[i*f, (i+1)*f)`` on each axis and input
    pixel ``k`` covers ``[k, k+1)``; the weights are the separable overlap lengths. Every output pixel is summed
    from its own taps in a fixed order, so any tiling gives the untiled result bit for bit.
    """
    source = source_window(reduction, window, source_shape)
    assert phase.shape == usable.shape == (source.height, source.width)
    angle = np.where(usable, phase, 0).astype(np.float64)
    planes = np.stack([np.cos(angle) * usable, np.sin(angle) * usable, usable.astype(np.float64)])
    rows = _axis_taps(
        window.row_off, window.height, reduction.y, source.row_off, source.height, source_shape[0]
    )
    cols = _axis_taps(
        window.col_off, window.width, reduction.x, source.col_off, source.width, source_shape[1]
    )
    sums = _tap_sums(_tap_sums(planes, *rows).transpose(0, 2, 1), *cols).transpose(0, 2, 1)
    valid = 2 * sums[2] >= reduction.y * reduction.x * (1 - 1e-9)
    return np.where(valid, np.arctan2(sums[1], sums[0]), np.nan).astype(np.float32), valid


def _axis_taps(
    start: int, count: int, factor: float, offset: int, length: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """(index into the buffer, weight), each (count, taps), for output pixels ``start..start+count-1`` on one
    axis; the buffer holds input pixels ``offset..offset+length-1`` of ``size``. Taps beyond an output pixel
    weigh exactly 0 (their index is clipped into the buffer)."""
    i = np.arange(start, start + count, dtype=np.float64)[:, None]
    low, high = i * factor, np.minimum((i + 1) * factor, size)
    k = np.floor(low) + np.arange(math.ceil(factor) + 1)
    weight = np.maximum(np.minimum(high, k + 1) - np.maximum(low, k), 0.0)
    index = k.astype(np.int64) - offset
    inside = (index >= 0) & (index < length)
    assert not weight[~inside].any(), "an output pixel reaches beyond its source window"
    return np.clip(index, 0, length - 1), weight


def _tap_sums(planes: np.ndarray, index: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """(P, rows, cols) -> (P, outputs, cols): the weighted sum over each output's taps along axis 1."""
    total = weight[None, :, 0, None] * planes[:, index[:, 0]]
    for tap in range(1, index.shape[1]):
        total += weight[None, :, tap, None] * planes[:, index[:, tap]]
    return total


def bilinear_upsample(
    phase: np.ndarray,
    usable: np.ndarray,
    reduction: Reduction,
    window: PixelWindow,
    source_shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray]:
    """Complex bilinear interpolation onto ``window`` of the finer output grid: the phase of the bilinear
    interpolation of ``exp(i*phase)`` at each output pixel centre, over the usable neighbours only.

    ``phase`` and ``usable`` cover ``source_window(reduction, window, source_shape)``. Output pixel ``i`` has its
    centre at input coordinate ``(i + 0.5) * f``, between the input centres ``k + 0.5`` and ``k + 1.5``; a centre
    outside the outermost input centres takes the edge pixel (clamped). The four neighbours weigh the usual
    bilinear weights (summing to 1); the phase is the angle of the weighted sum over the usable ones (the
    renormalisation does not change an angle). The pixel is valid when its nearest input pixel is usable and at
    least half the weight lies on usable pixels. Every output pixel uses its own taps in a fixed order, so any
    tiling gives the untiled result bit for bit.
    """
    source = source_window(reduction, window, source_shape)
    assert phase.shape == usable.shape == (source.height, source.width)
    angle = np.where(usable, phase, 0).astype(np.float64)
    planes = np.stack([np.cos(angle) * usable, np.sin(angle) * usable, usable.astype(np.float64)])
    low_y, high_y, t_y = _bilinear_taps(window.row_off, window.height, reduction.y, source_shape[0])
    low_x, high_x, t_x = _bilinear_taps(window.col_off, window.width, reduction.x, source_shape[1])
    rows = (np.stack([low_y, high_y], 1) - source.row_off, np.stack([1 - t_y, t_y], 1))
    cols = (np.stack([low_x, high_x], 1) - source.col_off, np.stack([1 - t_x, t_x], 1))
    assert rows[0].min() >= 0 and rows[0].max() < source.height, "a tap beyond the source window"
    assert cols[0].min() >= 0 and cols[0].max() < source.width, "a tap beyond the source window"
    sums = _tap_sums(_tap_sums(planes, *rows).transpose(0, 2, 1), *cols).transpose(0, 2, 1)
    near_y = np.where(t_y >= 0.5, high_y, low_y) - source.row_off
    near_x = np.where(t_x >= 0.5, high_x, low_x) - source.col_off
    valid = usable[np.ix_(near_y, near_x)] & (2 * sums[2] >= 1 - 1e-9)
    return np.where(valid, np.arctan2(sums[1], sums[0]), np.nan).astype(np.float32), valid


def _bilinear_taps(
    start: int, count: int, factor: float, size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower input pixel, upper input pixel, weight of the upper) for output pixels ``start..start+count-1``
    on one axis of ``size`` input pixels: the centre ``(i + 0.5) * factor - 0.5`` in units of input centres,
    clamped to ``[0, size - 1]``."""
    centre = np.clip((np.arange(start, start + count, dtype=np.float64) + 0.5) * factor - 0.5, 0, size - 1)
    low = np.floor(centre).astype(np.int64)
    return low, np.minimum(low + 1, size - 1), centre - low
