"""Bringing a wrapped interferogram to the model's pixel size (pure): the reduction per axis, the output grid,
the input window of an output window, and the complex average of ``exp(i*phase)``, by integer looks (exact
block sums) or, for other ratios, over each output pixel's area."""

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

MULTILOOK, COMPLEX_AVERAGE = "multilook", "complex_average"


@dataclass(frozen=True)
class Reduction:
    """How ingest brings the phase to the model's spacing: ``y`` and ``x`` input pixels per output pixel.

    ``multilook``: integer looks (1 x 1 is the grid as it is), each output pixel the sum over one block.
    ``complex_average``: real factors, each output pixel the area-weighted sum over the input pixels it covers.
    """

    y: float
    x: float
    method: str = MULTILOOK

    def __post_init__(self) -> None:
        assert self.method in (MULTILOOK, COMPLEX_AVERAGE) and self.y >= 1 and self.x >= 1
        assert self.method == COMPLEX_AVERAGE or (float(self.y).is_integer() and float(self.x).is_integer())

    @property
    def looks(self) -> tuple[int, int] | None:
        """Integer (y, x) looks, or None when resampled."""
        return (int(self.y), int(self.x)) if self.method == MULTILOOK else None

    def __str__(self) -> str:
        if self.method == MULTILOOK:
            return f"looks {int(self.y)} x {int(self.x)}"
        return f"complex-average resampling by {self.y:.3g} x {self.x:.3g}"


def plan_reduction(pixel: PixelSize, model_pixel_size_m: float) -> Reduction:
    """An axis finer than the model by more than 10% is reduced, the others kept; integer looks when they fit
    (``LOOKS_TOLERANCE``), else a factor of exactly ``model / pixel`` per reduced axis (``complex_average``)."""

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


def reduced_grid(grid: GeoGrid, reduction: Reduction) -> GeoGrid:
    """The output grid: ``reduction.y x reduction.x`` input pixels per output pixel, from the same corner; a
    partial last row/column of output pixels is dropped."""
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
    """The input pixels an output ``window`` reads: its blocks of looks, or every input pixel that overlaps
    one of its output pixels (neighbouring windows share a row or column there at non-integer factors)."""
    if reduction.looks is not None:
        ly, lx = reduction.looks
        return PixelWindow(window.row_off * ly, window.col_off * lx, window.height * ly, window.width * lx)
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
