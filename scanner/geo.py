"""Grid value types: shape, affine transform and CRS, pixel windows and the 10 px probability-cell grid.

Pure values, no I/O (the odc-geo GeoBox idea). Axis order is always (y, x); named fields avoid bare tuples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

from affine import Affine
from pyproj import CRS, Geod, Transformer
from pyproj.exceptions import CRSError

from scanner.errors import InputError, problem

WINDOW_PX = 150
"""Side of one model window in pixels (the paper's 150 x 150 px patches)."""

STRIDE_PX = 10
"""Scan stride in pixels; each window's probability belongs to the 10 x 10 cell at its centre."""

WINDOW_HALO_PX = (WINDOW_PX - STRIDE_PX) // 2
"""Pixels a window reaches beyond its centre cell on each side (70)."""

WGS84 = "EPSG:4326"
"""Longitude/latitude on WGS84: the CRS of every site layer, label default and footprint (RFC 7946)."""


CHUNK_PX = 500
"""Chunk side of stored scene arrays: a multiple of the 10 px scan grid, and the scanner's default tile
(``scanner.core.tiling.DEFAULT_TILE_CELLS`` = 50 cells), so no two tiles write one chunk."""

PIXEL_SIZE_TOLERANCE = 0.10
"""Relative pixel-size difference within which a model fits a scene; beyond it the scanner refuses the scene
and ingest multilooks or resamples finer data to the model's spacing."""

WAVELENGTH_TOLERANCE = 0.10
"""Relative difference in fringe density (phase per metre of line-of-sight motion, per pixel:
``scanner.sensors.fringe_density_ratio``) within which a model fits a scene.

Why 10%: a change in fringe density of x% looks exactly like x% more or less ground motion, and training
covers far more than that: the simulator draws each landslide's motion from 0.02 to 0.15 m per pair (7.5x) and
its area log-uniformly, on varied terrain. The L-band radars record 0.229 to 0.2424 m (ALOS PALSAR 0.236,
ALOS-2/ALOS-4/NISAR 0.2384 nominal, PALSAR-2's modes 0.2345-0.2424): within -3%..+3% of 0.236 (6% between the
extremes), so one L-band model serves them all, with room left for the pixel-spacing spread. C band (Sentinel-1,
0.0555 m) is 4.25x the density of L band and never fits an L-band model, at any spacing within
``PIXEL_SIZE_TOLERANCE``."""


@dataclass(frozen=True)
class PixelWindow:
    """A rectangle of pixels: rows ``[row_off, row_off + height)`` and columns ``[col_off, col_off + width)``."""

    row_off: int
    col_off: int
    height: int
    width: int

    @property
    def row_end(self) -> int:
        return self.row_off + self.height

    @property
    def col_end(self) -> int:
        return self.col_off + self.width

    def grown(self, by: int) -> PixelWindow:
        """The window grown by ``by`` pixels on every side (may reach outside the grid)."""
        return PixelWindow(self.row_off - by, self.col_off - by, self.height + 2 * by, self.width + 2 * by)

    def slices(self) -> tuple[slice, slice]:
        return slice(self.row_off, self.row_end), slice(self.col_off, self.col_end)


@dataclass(frozen=True)
class PixelSize:
    """Ground size of one pixel in metres (at the grid centre for geographic CRSs)."""

    x_m: float
    y_m: float

    @property
    def mean_m(self) -> float:
        return math.sqrt(self.x_m * self.y_m)


@dataclass(frozen=True)
class GeoGrid:
    """A georeferenced raster grid: ``height x width`` pixels, an affine transform and a CRS (as WKT)."""

    height: int
    width: int
    transform: Affine
    crs_wkt: str

    def __post_init__(self) -> None:
        if self.height <= 0 or self.width <= 0:
            raise InputError(
                problem(
                    "grid shape",
                    expected="positive height and width",
                    found=f"{self.height} x {self.width}",
                    fix="check the raster's dimensions",
                )
            )
        t = self.transform
        if t.b != 0 or t.d != 0:
            raise InputError(
                problem(
                    "grid transform",
                    expected="a north-up transform without rotation or shear",
                    found=f"rotation/shear terms b={t.b}, d={t.d}",
                    fix="warp the raster to a north-up grid first (gdalwarp)",
                )
            )

    @cached_property
    def crs(self) -> CRS:
        return CRS.from_wkt(self.crs_wkt)

    @property
    def epsg(self) -> int | None:
        return self.crs.to_epsg()

    @property
    def shape(self) -> tuple[int, int]:
        return self.height, self.width

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """(left, bottom, right, top) in CRS units."""
        x0, y0 = self.transform @ (0, 0)
        x1, y1 = self.transform @ (self.width, self.height)
        return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)

    @cached_property
    def pixel_size(self) -> PixelSize:
        """Pixel size in metres; geodesic at the grid centre for a geographic CRS."""
        t = self.transform
        if self.crs.is_geographic:
            geod = (
                Geod(ellps="WGS84")
                if self.crs.ellipsoid is None
                else Geod(a=self.crs.ellipsoid.semi_major_metre, rf=self.crs.ellipsoid.inverse_flattening)
            )
            cx, cy = t @ (self.width / 2, self.height / 2)
            _, _, dx = geod.inv(cx, cy, cx + abs(t.a), cy)
            _, _, dy = geod.inv(cx, cy, cx, cy + abs(t.e))
            return PixelSize(x_m=float(dx), y_m=float(dy))
        unit = self.crs.axis_info[0].unit_conversion_factor if self.crs.axis_info else 1.0
        return PixelSize(x_m=abs(t.a) * unit, y_m=abs(t.e) * unit)

    @cached_property
    def metric_crs_wkt(self) -> str:
        """A CRS in metres for distances on this grid: its own when projected in metres, else the UTM zone of
        its centre (WGS84 datum)."""
        axis = self.crs.axis_info[0] if self.crs.axis_info else None
        if self.crs.is_projected and axis is not None and axis.unit_conversion_factor == 1.0:
            return self.crs_wkt
        x, y = self.transform @ (self.width / 2, self.height / 2)
        lon, lat = Transformer.from_crs(self.crs, WGS84, always_xy=True).transform(x, y)
        zone = min(int((lon + 180.0) // 6.0) + 1, 60)
        return CRS.from_epsg((32600 if lat >= 0 else 32700) + zone).to_wkt()

    @property
    def cell_area_m2(self) -> float:
        """Ground area in m² of one probability cell (``STRIDE_PX x STRIDE_PX`` pixels) of this pixel grid."""
        size = self.pixel_size
        return size.x_m * size.y_m * STRIDE_PX * STRIDE_PX

    def window_transform(self, window: PixelWindow) -> Affine:
        return self.transform @ Affine.translation(window.col_off, window.row_off)

    def cell_grid(self, cell_px: int = STRIDE_PX) -> GeoGrid:
        """The probability-cell grid: cell ``(i, j)`` covers pixels ``[cell_px*i, cell_px*(i+1))`` (and in x).

        Its shape is ``ceil(height / cell_px) x ceil(width / cell_px)``; the window of cell ``(i, j)`` starts at
        pixel ``(cell_px*i - 70, cell_px*j - 70)`` and is complete only when it lies inside the scene.
        """
        return GeoGrid(
            height=math.ceil(self.height / cell_px),
            width=math.ceil(self.width / cell_px),
            transform=self.transform @ Affine.scale(cell_px),
            crs_wkt=self.crs_wkt,
        )

    def to_attrs(self) -> dict:
        """JSON-ready description (stored in every Zarr group's attributes)."""
        return {
            "height": self.height,
            "width": self.width,
            "transform": list(self.transform)[:6],
            "crs_wkt": self.crs_wkt,
            "epsg": self.epsg,
            "pixel_size_m": {"x": self.pixel_size.x_m, "y": self.pixel_size.y_m},
        }

    @classmethod
    def from_attrs(cls, attrs: dict) -> GeoGrid:
        """The grid ``to_attrs`` described; anything else (missing keys, wrong types, a transform that is not
        six finite numbers with non-zero pixel sizes, an unknown CRS) is an InputError."""
        try:
            height, width, transform = attrs["height"], attrs["width"], [float(v) for v in attrs["transform"]]
            crs_wkt = attrs["crs_wkt"]
            numbers_ok = all(isinstance(v, int) and not isinstance(v, bool) for v in (height, width))
            transform_ok = len(transform) == 6 and all(map(math.isfinite, transform))
            if not (
                numbers_ok and transform_ok and transform[0] and transform[4] and isinstance(crs_wkt, str)
            ):
                raise ValueError("wrong types or values")
            CRS.from_wkt(crs_wkt)
        except (KeyError, TypeError, ValueError, IndexError, CRSError) as error:
            text = " ".join(f"{type(error).__name__}: {error}".split())[:160]
            raise InputError(
                problem(
                    "grid attributes",
                    expected="height and width (integers), transform (6 finite numbers) and crs_wkt (a CRS)",
                    found=f"{text} in {str(attrs)[:120]}",
                    fix="rewrite the group with fringescan (re-ingest or re-scan)",
                )
            ) from error
        return cls(height=height, width=width, transform=Affine(*transform), crs_wkt=crs_wkt)
