"""Multilooking a wrapped interferogram to the model's pixel size: the looks per axis, the output grid and the
complex average of ``exp(i*phase)`` (pure)."""

from __future__ import annotations

import numpy as np
from affine import Affine

from scanner.errors import InputError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, GeoGrid, PixelSize


def multilook_factors(pixel: PixelSize, model_pixel_size_m: float) -> tuple[int, int]:
    """(y, x) looks: ``round(model / pixel)`` on an axis finer than the model by more than 10%, else 1."""

    def looks(size_m: float) -> int:
        finer = size_m < model_pixel_size_m * (1 - PIXEL_SIZE_TOLERANCE)
        return max(1, round(model_pixel_size_m / size_m)) if finer else 1

    return looks(pixel.y_m), looks(pixel.x_m)


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
