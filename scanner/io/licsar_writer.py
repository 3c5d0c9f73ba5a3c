"""LiCSAR products written from arrays: a frame's metadata and its interferograms on LiCSAR's 0.001-degree grid.

The writing twin of the LiCSAR reader in ``scanner.io.products``, whose file names it uses (the names keep one
home). ``fringescan synth --product licsar`` (``scanner.sim.files``) delivers its scenes through it as the files a
LiCSAR user downloads from COMET, so ``fringescan ingest FOLDER`` and the nightly inbox take them as they take
real ones::

    ROOT/<frame>/interferograms/<pair>/<pair>.geo.diff_pha.tif   wrapped phase, float32 radians
    ROOT/<frame>/interferograms/<pair>/<pair>.geo.cc.tif         coherence, uint8 (coherence x 255, 1-255)
    ROOT/<frame>/metadata/<frame>.geo.hgt.tif                    heights, float32 metres
    ROOT/<frame>/metadata/<frame>.geo.{E,N,U}.tif                line-of-sight unit vector, ground to satellite

- **Grid** (``licsar_grid``): EPSG:4326 with 0.001-degree pixels (LiCSAR geocodes to 0.001 deg, about 90 x 111 m
  at 35 N), edges on multiples of 0.001 deg. As in LiCSAR, a frame's interferograms and metadata share one grid.
- **Nodata** is 0 in every file, as LiCSAR's ``data2geotiff ... 0.0`` writes it (so a height of exactly 0 m,
  the sea, is nodata too, as there). Coherence is stored as 1-255, so its 0 only ever means no data.
- **Resampling** (``rasterio.warp.reproject``): see ``warp``. Pixels whose centre lies outside the source are
  nodata.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from pathlib import Path

import numpy as np
import rasterio.warp
from affine import Affine
from pyproj import CRS

from scanner.config import require
from scanner.geo import WGS84, GeoGrid
from scanner.io.products import (
    LICSAR_COHERENCE,
    LICSAR_FRAME,
    LICSAR_HEIGHTS,
    LICSAR_LOS_AXES,
    LICSAR_METADATA,
    LICSAR_PHASE,
    licsar_los_suffix,
)
from scanner.io.readers import warp_array
from scanner.io.writers import write_geotiff

PIXELS_PER_DEGREE = 1000
LICSAR_PIXEL_DEG = 1 / PIXELS_PER_DEGREE
"""LiCSAR's geocoded pixel: 0.001 degree in longitude and latitude."""
LICSAR_NODATA = 0.0
INTERFEROGRAMS = "interferograms"
"""The frame's folder of interferogram folders (``YYYYMMDD_YYYYMMDD/``)."""
FRAME_SUFFIX = "131313"
"""The last part of every LiCSAR frame id (``073D_05369_131313``)."""


def frame_id(track: int, pass_direction: str, number: int) -> str:
    """The LiCSAR frame id ``<track:03d><A|D>_<number:05d>_131313`` (``scanner.io.products.LICSAR_FRAME``)."""
    require(
        0 <= track <= 999 and 0 <= number <= 99_999 and pass_direction in ("ascending", "descending"),
        "LiCSAR frame",
        expected="a track of 0-999, a frame number of 0-99999 and an ascending or descending pass",
        found=(track, number, pass_direction),
        fix="pass a track of at most 3 digits and a frame number of at most 5",
    )
    frame = f"{track:03d}{pass_direction[0].upper()}_{number:05d}_{FRAME_SUFFIX}"
    assert LICSAR_FRAME.match(frame), frame
    return frame


def pair_name(first: date, second: date) -> str:
    """``YYYYMMDD_YYYYMMDD``: the interferogram's folder and file stem."""
    return f"{first:%Y%m%d}_{second:%Y%m%d}"


def licsar_grid(grid: GeoGrid) -> GeoGrid:
    """The smallest 0.001-degree EPSG:4326 grid with edges on multiples of 0.001 deg that covers ``grid``."""
    left, bottom, right, top = rasterio.warp.transform_bounds(
        grid.crs_wkt, WGS84, *grid.bounds, densify_pts=21
    )

    def index(degrees: float, rounding) -> int:  # round first: 139.88 * 1000 is 139879.99999999997
        return int(rounding(round(degrees * PIXELS_PER_DEGREE, 6)))

    col0, col1 = index(left, math.floor), index(right, math.ceil)
    row0, row1 = index(bottom, math.floor), index(top, math.ceil)
    return GeoGrid(
        height=row1 - row0,
        width=col1 - col0,
        transform=Affine(
            LICSAR_PIXEL_DEG, 0.0, col0 / PIXELS_PER_DEGREE, 0.0, -LICSAR_PIXEL_DEG, row1 / PIXELS_PER_DEGREE
        ),
        crs_wkt=CRS.from_epsg(4326).to_wkt(),
    )


def warp(array: np.ndarray, source: GeoGrid, target: GeoGrid, resampling: str) -> np.ndarray:
    """``array`` (NaN = no data) on ``source`` warped onto ``target``: float32, NaN where the source has none.

    Wrapped phase takes ``nearest``: its values jump by 2 pi at every fringe edge, so any interpolation invents
    phase there (bilinear makes 0 of -3.1 and 3.1), while nearest keeps each value a phase the source holds
    (LiCSAR geocodes its ``diff_pha`` by nearest neighbour too). Coherence and heights are smooth: ``bilinear``.
    """
    return warp_array(array, source.transform, source.crs_wkt, target, resampling)


def write_frame(
    root: Path,
    frame: str,
    grid: GeoGrid,
    heights: np.ndarray,
    heights_grid: GeoGrid,
    los_enu: Sequence[float],
) -> Path:
    """Write ``root/<frame>/metadata/``: the heights (bilinear onto ``grid``, the frame's ``licsar_grid``) and
    the constant line-of-sight components ``los_enu`` (east, north, up; ground to satellite) wherever the
    heights' source covers the grid. Returns the frame folder."""
    metadata = root / frame / LICSAR_METADATA
    z = warp(heights, heights_grid, grid, "bilinear")
    covered = np.isfinite(z)
    _write(metadata / f"{frame}{LICSAR_HEIGHTS}", z, grid)
    for axis, value in zip(LICSAR_LOS_AXES, los_enu, strict=True):
        _write(
            metadata / f"{frame}{licsar_los_suffix(axis)}", np.where(covered, np.float32(value), np.nan), grid
        )
    return root / frame


def write_interferogram(
    root: Path,
    frame: str,
    grid: GeoGrid,
    dates: tuple[date, date],
    phase: np.ndarray,
    coherence: np.ndarray,
    source_grid: GeoGrid,
) -> Path:
    """Write ``root/<frame>/interferograms/<pair>/``: wrapped ``phase`` (NaN = no data; nearest) and
    ``coherence`` (0-1; bilinear, scaled to 1-255) from ``source_grid`` onto the frame's ``grid``. Returns the
    folder. A phase of exactly 0 reads back as no data, as in LiCSAR's own files."""
    pair = pair_name(*dates)
    folder = root / frame / INTERFEROGRAMS / pair
    _write(folder / f"{pair}{LICSAR_PHASE}", warp(phase, source_grid, grid, "nearest"), grid)
    cc = warp(coherence, source_grid, grid, "bilinear")
    cc_bytes = np.where(np.isfinite(cc), np.clip(np.rint(np.nan_to_num(cc) * 255), 1, 255), 0)
    write_geotiff(
        folder / f"{pair}{LICSAR_COHERENCE}", cc_bytes.astype(np.uint8), grid, nodata=0, dtype="uint8"
    )
    return folder


def _write(path: Path, values: np.ndarray, grid: GeoGrid) -> None:
    """A float32 LiCSAR raster: NaN becomes the nodata value 0."""
    write_geotiff(path, np.nan_to_num(values, nan=LICSAR_NODATA), grid, nodata=LICSAR_NODATA)
