"""Reading rasters with rasterio: interferograms (any kind), coherence, DEM, masks and exclusion polygons;
and the one home of JSON / GeoJSON reading (``read_json`` for store state files, ``read_geojson``).

The one place besides the writers and the store that touches rasterio. Every read is windowed, so callers
stream scenes of any size; every rasterio/GDAL failure becomes an ``InputError`` naming the file.

Phase kinds, by how the file stores them (``storage``):
- ``float``: one float32/float64 band of radians, wrapped or unwrapped (told apart by the values; see
  ``PhaseStats``); nodata is the declared nodata value and any non-finite value.
- ``complex``: one complex band (complex64, complex128 or GDAL's CInt16); phase = angle, 0+0j is nodata.
- ``magphase``: two float bands described as magnitude (or amplitude) and phase; magnitude 0 is nodata.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import rasterio.features
import rasterio.transform
import rasterio.warp
import rasterio.windows
from rasterio.enums import Resampling
from rasterio.errors import NotGeoreferencedWarning, RasterioError

from scanner.config import SizeLimits
from scanner.errors import FringescanError, InputError, ResourceError, StoreError, os_error, problem
from scanner.geo import WGS84, GeoGrid, PixelWindow

GDAL_CACHE_MB = 256
"""GDAL block cache cap: enough for one 500-row strip of a 20,000 px wide striped file, bounded for any scene."""

FLOAT_DTYPES = ("float32", "float64")
COMPLEX_DTYPES = ("complex64", "complex128", "complex_int16", "complex")
STORAGES = ("float", "complex", "magphase")
_MAGNITUDE_NAMES = ("magnitude", "amplitude", "mag", "amp", "intensity")


@contextmanager
def gdal_env() -> Iterator[None]:
    """rasterio environment with the bounded GDAL cache (peak memory must not grow with the scene)."""
    with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
        yield


@contextmanager
def _reading(path: Path, role: str) -> Iterator[None]:
    """Turn rasterio/GDAL failures while reading ``path`` into one-line InputErrors."""
    try:
        yield
    except (RasterioError, OSError) as error:
        refusal = os_error(error, doing=f"reading {role} raster {path}")
        if isinstance(refusal, ResourceError):  # no permission, a failing disk: not a corrupt file
            raise refusal from error
        cause = error.__cause__ if "previous exception" in str(error) and error.__cause__ else error
        first = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        raise InputError(
            problem(
                f"{role} raster {path}",
                expected="a readable GeoTIFF (or other GDAL raster)",
                found=f"a corrupt or truncated file ({first})",
                fix="re-export or re-download the file",
            )
        ) from error


def open_raster(path: str | Path, role: str = "phase") -> rasterio.DatasetReader:
    """Open ``path`` for reading; missing, corrupt or non-raster files raise InputError."""
    path = Path(path)
    if not path.is_file():
        raise InputError(
            problem(
                f"{role} raster",
                expected="an existing file",
                found=f"nothing at {path}",
                fix="check the path",
            )
        )
    with _reading(path, role), warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        return rasterio.open(path)


def raster_grid(ds: rasterio.DatasetReader, role: str = "phase") -> GeoGrid:
    """The dataset's GeoGrid; refuses a missing CRS and rotated or sheared transforms."""
    if ds.crs is None:
        raise InputError(
            problem(
                f"{role} raster {ds.name}",
                expected="a coordinate reference system",
                found="no CRS",
                fix="assign one, e.g. gdal_edit.py -a_srs EPSG:32654 FILE",
            )
        )
    t = ds.transform
    if t.b != 0 or t.d != 0:
        raise InputError(
            problem(
                f"{role} raster {ds.name}",
                expected="a north-up transform",
                found=f"rotation/shear terms b={t.b:g}, d={t.d:g}",
                fix="warp it to a north-up grid first (gdalwarp)",
            )
        )
    return GeoGrid(height=ds.height, width=ds.width, transform=t, crs_wkt=ds.crs.to_wkt())


def check_raster_size(ds: rasterio.DatasetReader, role: str, limits: SizeLimits | None = None) -> None:
    """Refuse (InputError) a raster declaring more than ``limits.max_raster_px`` pixels, from its header alone,
    before any of it is read or anything is written."""
    limits = limits or SizeLimits.from_env()
    declared = ds.height * ds.width
    if declared > limits.max_raster_px:
        variable = SizeLimits.variable("max_raster_px")
        raise InputError(
            problem(
                f"{role} raster {ds.name}",
                expected=f"at most {limits.max_raster_px:,} px ({variable})",
                found=f"{ds.height:,} x {ds.width:,} = {declared:,} px declared",
                fix=f"crop or tile it (gdal_translate -srcwin), or, if it is real, raise {variable}",
            )
        )


def phase_storage(ds: rasterio.DatasetReader) -> str:
    """How the file stores the interferogram: ``float``, ``complex`` or ``magphase`` (see module doc)."""
    dtypes = tuple(ds.dtypes)
    descriptions = tuple((d or "").strip().lower() for d in ds.descriptions)
    if ds.count == 1 and dtypes[0] in COMPLEX_DTYPES:
        return "complex"
    if ds.count == 1 and dtypes[0] in FLOAT_DTYPES:
        return "float"
    if ds.count == 2 and all(d in FLOAT_DTYPES for d in dtypes) and _magphase_bands(descriptions):
        return "magphase"
    raise InputError(
        problem(
            f"phase raster {ds.name}",
            expected="one float band of radians, one complex band (complex64 or CInt16), "
            "or two float bands described as magnitude and phase",
            found=f"{ds.count} band(s) of {', '.join(dtypes)} described as {list(descriptions)}",
            fix="convert it (gdal_translate -ot Float32 -b N) or pass the phase band as its own file",
        )
    )


def _magphase_bands(descriptions: tuple[str, ...]) -> tuple[int, int] | None:
    """(magnitude band, phase band), 1-based, when the band descriptions name them."""
    if len(descriptions) != 2:
        return None
    for mag, pha in ((1, 2), (2, 1)):
        if descriptions[mag - 1] in _MAGNITUDE_NAMES and descriptions[pha - 1] == "phase":
            return mag, pha
    return None


def read_phase(
    ds: rasterio.DatasetReader, storage: str, window: PixelWindow
) -> tuple[np.ndarray, np.ndarray]:
    """Phase (float32 radians, not wrapped) and usable mask (bool) for a window inside the raster."""
    win = rasterio.windows.Window(window.col_off, window.row_off, window.width, window.height)
    with _reading(Path(ds.name), "phase"):
        if storage == "magphase":
            mag_band, phase_band = _magphase_bands(tuple((d or "").strip().lower() for d in ds.descriptions))
            magnitude = ds.read(mag_band, window=win)
            phase = ds.read(phase_band, window=win).astype(np.float32)
            usable = np.isfinite(phase) & np.isfinite(magnitude) & (magnitude > 0)
        elif storage == "complex":
            values = ds.read(1, window=win)
            phase = np.angle(values).astype(np.float32)
            usable = np.isfinite(values) & (values != 0)
        else:
            phase = ds.read(1, window=win).astype(np.float32)
            usable = np.isfinite(phase)
            if ds.nodata is not None and np.isfinite(ds.nodata):
                usable &= phase != np.float32(ds.nodata)
    return np.where(usable, phase, np.float32(np.nan)), usable


def overlaps(ds: rasterio.DatasetReader, grid: GeoGrid) -> bool:
    """Whether the raster's footprint intersects the grid's (compared in the grid's CRS)."""
    left, bottom, right, top = rasterio.warp.transform_bounds(ds.crs, grid.crs_wkt, *ds.bounds)
    g_left, g_bottom, g_right, g_top = grid.bounds
    return left < g_right and right > g_left and bottom < g_top and top > g_bottom


def reproject_window(
    ds: rasterio.DatasetReader,
    grid: GeoGrid,
    window: PixelWindow,
    *,
    resampling: str,
    src_nodata: float | None = None,
    role: str = "raster",
) -> np.ndarray:
    """Band 1 of ``ds`` warped onto ``window`` of ``grid`` (rasterio.warp.reproject); float32, NaN = no data.

    ``src_nodata`` overrides the declared nodata (pass an impossible value to keep a declared nodata value
    as data, as for GAMMA coherence where 0 is both). The window may reach outside the grid (halos).
    """
    out = np.full((window.height, window.width), np.nan, dtype=np.float32)
    nodata = ds.nodata if src_nodata is None else src_nodata
    if nodata is not None and not _holds(ds.dtypes[0], nodata):
        # GDAL refuses a nodata its band type cannot hold (the "no nodata" -1 for uint8 coherence): warp a
        # float32 copy of the source window instead, NaN outside the raster and nothing else taken as nodata.
        with _reading(Path(ds.name), role):
            source, transform = _float_source(ds, grid, window)
        target = GeoGrid(window.height, window.width, grid.window_transform(window), grid.crs_wkt)
        return warp_array(source, transform, ds.crs.to_wkt(), target, resampling)
    with _reading(Path(ds.name), role):
        rasterio.warp.reproject(
            source=rasterio.band(ds, 1),
            destination=out,
            src_transform=ds.transform,
            src_crs=ds.crs,
            src_nodata=nodata,
            dst_transform=grid.window_transform(window),
            dst_crs=grid.crs_wkt,
            dst_nodata=np.nan,
            resampling=Resampling[resampling],
            init_dest_nodata=True,
        )
    return out


def warp_array(
    array: np.ndarray,
    src_transform: Any,
    src_crs_wkt: str,
    target: GeoGrid,
    resampling: str,
    *,
    exact: bool = False,
) -> np.ndarray:
    """``array`` (NaN = no data) on ``src_transform`` / ``src_crs_wkt`` warped onto ``target`` with
    rasterio.warp: float32, NaN where the source has none. ``exact`` turns off GDAL's approximate (linearly
    interpolated) transformer, so a cell's value does not depend on which chunk it is computed in."""
    out = np.full((target.height, target.width), np.nan, dtype=np.float32)
    rasterio.warp.reproject(
        source=np.ascontiguousarray(array, dtype=np.float32),
        destination=out,
        src_transform=src_transform,
        src_crs=src_crs_wkt,
        src_nodata=np.nan,
        dst_transform=target.transform,
        dst_crs=target.crs_wkt,
        dst_nodata=np.nan,
        resampling=Resampling[resampling],
        init_dest_nodata=True,
        **({"tolerance": 0.0} if exact else {}),
    )
    return out


def _holds(dtype: str, value: float) -> bool:
    """Whether a band of ``dtype`` can hold ``value`` (GDAL's condition on a warp's source nodata)."""
    if np.issubdtype(np.dtype(dtype), np.floating):
        return True
    info = np.iinfo(np.dtype(dtype))
    return math.isfinite(value) and float(value).is_integer() and info.min <= value <= info.max


def _float_source(ds: rasterio.DatasetReader, grid: GeoGrid, window: PixelWindow) -> tuple[np.ndarray, Any]:
    """Band 1 of ``ds`` over the source pixels that ``window`` of ``grid`` needs (2 px margin), as float32 with
    NaN outside the raster, and that block's transform."""
    transform = grid.window_transform(window)
    bounds = rasterio.transform.array_bounds(window.height, window.width, transform)
    left, bottom, right, top = rasterio.warp.transform_bounds(
        grid.crs_wkt, ds.crs, bounds[0], bounds[1], bounds[2], bounds[3]
    )
    need = rasterio.windows.from_bounds(left, bottom, right, top, ds.transform)
    col0, row0 = math.floor(need.col_off) - 2, math.floor(need.row_off) - 2
    col1, row1 = math.ceil(need.col_off + need.width) + 2, math.ceil(need.row_off + need.height) + 2
    block = np.full((row1 - row0, col1 - col0), np.nan, dtype=np.float32)
    r0, c0 = max(row0, 0), max(col0, 0)
    r1, c1 = min(row1, ds.height), min(col1, ds.width)
    if r1 > r0 and c1 > c0:
        inside = rasterio.windows.Window(c0, r0, c1 - c0, r1 - r0)
        block[r0 - row0 : r1 - row0, c0 - col0 : c1 - col0] = ds.read(1, window=inside).astype(np.float32)
    return block, rasterio.windows.transform(
        rasterio.windows.Window(col0, row0, col1 - col0, row1 - row0), ds.transform
    )


ON_GRID_DTYPES = ("uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64")
"""Band types whose cast to float32 rounds once, as the warp's does (64-bit integers would round twice there)."""


def on_grid(ds, role: str, grid: GeoGrid) -> bool:
    """Whether band 1 of ``ds`` lies on ``grid`` exactly (CRS, transform and shape), has a type of
    ``ON_GRID_DTYPES`` and no mask besides its nodata value: then a window read equals the warp."""
    flags = {flag.name for flag in ds.mask_flag_enums[0]}
    typed = ds.dtypes[0] in ON_GRID_DTYPES
    return typed and flags <= {"all_valid", "nodata"} and raster_grid(ds, role) == grid


NODATA_NEAR_REL = 1e-5
"""GDAL's warper takes float values within a few ulps of a finite nodata as nodata (fuzzy equality); a window
read with such values is left to the warp, so both paths give the same bits."""


def read_on_grid(ds, window: PixelWindow, src_nodata: float | None, role: str) -> np.ndarray | None:
    """Band 1 of an on-grid raster over ``window`` as the warp gives it: float32, NaN for nodata and outside
    the raster. None when the window holds float values near (not equal to) a finite nodata, or values
    beyond float32's range, which the warp treats in its own way."""
    out = np.full((window.height, window.width), np.nan, dtype=np.float32)
    y0, y1 = max(window.row_off, 0), min(window.row_end, ds.height)
    x0, x1 = max(window.col_off, 0), min(window.col_end, ds.width)
    if y0 >= y1 or x0 >= x1:
        return out
    with _reading(Path(ds.name), role):  # GDAL failures become InputError
        values = ds.read(1, window=((y0, y1), (x0, x1)))
    nodata = ds.nodata if src_nodata is None else src_nodata
    block = values.astype(np.float32)
    if nodata is not None and not math.isnan(nodata):
        is_nodata = values == nodata
        if values.dtype.kind == "f" and _fuzzy_or_huge(values, is_nodata, nodata):
            return None
        block[is_nodata] = np.nan
    elif values.dtype.kind == "f" and _fuzzy_or_huge(values, np.zeros(values.shape, bool), None):
        return None
    out[y0 - window.row_off : y1 - window.row_off, x0 - window.col_off : x1 - window.col_off] = block
    return out


def _fuzzy_or_huge(values: np.ndarray, is_nodata: np.ndarray, nodata: float | None) -> bool:
    with np.errstate(invalid="ignore", over="ignore"):
        huge = bool(np.any(np.abs(values) > np.finfo(np.float32).max))
        if nodata is None:
            return huge
        near = np.abs(values - nodata) <= NODATA_NEAR_REL * abs(nodata) + 1e-9
    return huge or bool(np.any(near & ~is_nodata))


def coherence_scale(ds: rasterio.DatasetReader) -> float:
    """Factor that turns a coherence raster's values into 0..1: 1/255 for uint8 (LiCSAR's ``.geo.cc.tif``
    stores 0-255), else 1."""
    return 1.0 / 255.0 if ds.dtypes[0] == "uint8" else 1.0


def resampling_for(ds: rasterio.DatasetReader, grid: GeoGrid, *, categorical: bool = False) -> str:
    """``nearest`` for masks; ``average`` when the source is finer than the grid, else ``bilinear``."""
    if categorical:
        return "nearest"
    src = raster_grid(ds, "auxiliary").pixel_size.mean_m
    return "average" if src < grid.pixel_size.mean_m else "bilinear"


def parse_json_file(
    path: str | Path,
    *,
    what: str,
    expected: str,
    fix: str,
    error: type[FringescanError] = InputError,
) -> Any:
    """The JSON value in ``path``; an unreadable or invalid file raises ``error`` worded by the arguments."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as failure:
        raise error(
            problem(what, expected=expected, found=f"{type(failure).__name__}: {failure}", fix=fix)
        ) from failure


def read_json(path: str | Path, default: Any) -> Any:
    """A store state file's JSON, or ``default`` when the file does not exist (StoreError when invalid)."""
    if not Path(path).exists():
        return default
    return parse_json_file(
        path,
        what=f"state file {path}",
        expected="valid JSON",
        fix="restore it from backup or delete it to rebuild",
        error=StoreError,
    )


def read_geojson(
    path: str | Path, *, role: str = "GeoJSON", fix: str = "check the path and the file's contents"
) -> dict:
    """Read a GeoJSON FeatureCollection, refusing anything else with a one-line InputError."""
    data = parse_json_file(path, what=f"{role} {path}", expected="a readable GeoJSON file", fix=fix)
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InputError(
            problem(
                f"{role} {path}",
                expected="a FeatureCollection",
                found=repr(data.get("type") if isinstance(data, dict) else type(data)),
                fix="export the layer as a GeoJSON FeatureCollection",
            )
        )
    return data


def load_polygons(path: str | Path) -> list[dict]:
    """GeoJSON geometries (WGS84 per RFC 7946 unless a legacy ``crs`` member says otherwise), with their CRS."""
    path = Path(path)
    data = parse_json_file(
        path, what=f"exclusion polygons {path}", expected="a readable GeoJSON file", fix="check the file"
    )
    features = data.get("features", [data]) if data.get("type") == "FeatureCollection" else [data]
    geometries = [f.get("geometry", f) if f.get("type") == "Feature" else f for f in features]
    geometries = [g for g in geometries if g]
    if not geometries or any(g.get("type") not in ("Polygon", "MultiPolygon") for g in geometries):
        raise InputError(
            problem(
                f"exclusion polygons {path}",
                expected="Polygon or MultiPolygon geometries",
                found=sorted({str(g.get("type")) for g in geometries}) or "none",
                fix="save the areas as polygons",
            )
        )
    crs = data.get("crs", {}).get("properties", {}).get("name", WGS84)
    return [{"geometry": g, "crs": crs} for g in geometries]


def rasterize_window(polygons: list[dict], grid: GeoGrid, window: PixelWindow) -> np.ndarray:
    """Bool mask of the window's pixels whose centres fall inside any polygon."""
    shapes = [rasterio.warp.transform_geom(p["crs"], grid.crs_wkt, p["geometry"]) for p in polygons]
    if not shapes:
        return np.zeros((window.height, window.width), dtype=bool)
    burned = rasterio.features.rasterize(
        ((s, 1) for s in shapes),
        out_shape=(window.height, window.width),
        transform=grid.window_transform(window),
        fill=0,
        dtype="uint8",
    )
    return burned.astype(bool)


_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")
_NAME_DATES = re.compile(r"(\d{8})[-_](\d{8})")


def _iso_date(value: str | None) -> str | None:
    match = _DATE.match((value or "").strip())
    return f"{match[1]}-{match[2]}-{match[3]}" if match else None


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def scene_metadata(tags: dict[str, str], path: Path) -> dict:
    """Scene attributes from GAMMA-style tags (FIRST_DATE, WAVELENGTH_METRES, ...); dates fall back to the
    ``YYYYMMDD-YYYYMMDD`` pair in the file name."""
    first, second = _iso_date(tags.get("FIRST_DATE")), _iso_date(tags.get("SECOND_DATE"))
    named = _NAME_DATES.search(path.name)
    if named and first is None and second is None:
        first, second = _iso_date(named[1]), _iso_date(named[2])
    return {
        "wavelength_m": _number(tags.get("WAVELENGTH_METRES")),
        "first_date": first,
        "second_date": second,
        "orbit": tags.get("ORBIT"),
        "frame": tags.get("FRAME"),
        "pass_direction": (tags.get("PASS_DIRECTION") or "").lower() or None,
        "incidence_deg": _number(tags.get("INCIDENCE_DEGREES")),
        "processor": tags.get("INSAR_PROCESSOR"),
    }


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file's bytes (``hashlib.file_digest``, streamed)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
