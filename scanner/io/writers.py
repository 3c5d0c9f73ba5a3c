"""Writing GeoTIFFs, JSON, GeoJSON and PNG atomically, and publishing finished directories by rename.

Every file fringescan writes goes through ``atomic_path``: the content is written to a temporary file in the
destination's directory (same filesystem) and moved onto the final path with ``os.replace`` only when the
writer finished; on error the temporary file is removed and the final path is untouched. Every directory
(or file) built in a staging place is published with ``publish_directory`` (``staged_path`` wraps the
build-then-publish pattern): the one home for "temporary, then rename, old one moved aside".

GeoTIFF tags follow the real GAMMA products in ``../shared/data/pyrate-cropA`` (``FIRST_DATE``,
``SECOND_DATE``, ``WAVELENGTH_METRES``, ``INCIDENCE_DEGREES``, ``DATA_TYPE``, ...), plus ``ORBIT``, ``FRAME``
and ``PASS_DIRECTION``, so one reader handles both.
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from pyproj import CRS, Transformer
from rasterio.windows import Window

from scanner.config import require
from scanner.errors import FringescanError, InputError, ResourceError, StoreError, os_error, problem
from scanner.geo import WGS84, GeoGrid

GEOTIFF_BLOCK_PX = 256
FILE_MODE = 0o644
"""Mode of published files (mkstemp creates 0600)."""


ATOMIC_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp(\.[^.]*)?$")
"""Names ``atomic_path`` gives its temporary files (``.<final name>.<8 random>.tmp<suffix>``, mkstemp's)."""


@contextmanager
def atomic_path(final_path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``final_path``; on clean exit move it onto ``final_path`` atomically.

    The temporary name keeps the final suffix (drivers that look at the extension still work). On an
    exception the temporary file is deleted and the exception propagates.
    """
    final = Path(final_path)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle, name = tempfile.mkstemp(
            prefix=f".{final.name}.", suffix=f".tmp{final.suffix}", dir=final.parent
        )
    except OSError as error:  # read-only, no permission: name the file the caller asked for
        raise OSError(error.errno, error.strerror, str(final)) from error
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, final)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        refusal = disk_refusal(final.parent, error)
        if refusal is not None:
            raise refusal from error
        raise


DISK_LIBRARIES = ("rasterio", "tensorstore", "zarr", "numcodecs", "orbax", "PIL", "matplotlib")
"""Libraries whose write errors may hide a disk refusal (GDAL: "IO error writing tag data")."""


def disk_refusal(directory: str | os.PathLike[str], error: BaseException) -> FringescanError | None:
    """The ``ResourceError`` for a write under ``directory`` that failed with ``error`` because the disk refused
    (full, read-only, permission): from the error's errno or message, else, for an OSError or a file-format
    library's error that lost the errno, from the file system itself (``statvfs``, ``access``). None when
    the disk is not the cause (and for fringescan's own errors, which already say what is wrong)."""
    if isinstance(error, FringescanError) or not isinstance(error, Exception):
        return None
    doing = f"writing under {directory}"
    translated = os_error(error, doing=doing)
    library = type(error).__module__.split(".")[0] in DISK_LIBRARIES
    if translated is None and (library or isinstance(error, OSError)):
        code = _refusing_errno(Path(directory))
        translated = None if code is None else os_error(OSError(code, os.strerror(code)), doing=doing)
    # Only the disk's refusals: a missing path while writing is no fault of an input (nightly would
    # quarantine the input for an InputError), so it propagates as it is.
    return translated if isinstance(translated, ResourceError) else None


def _refusing_errno(directory: Path) -> int | None:
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    if stats.f_flag & os.ST_RDONLY:
        return errno.EROFS
    if stats.f_bavail * stats.f_frsize < DISK_FULL_BYTES:
        return errno.ENOSPC
    if not os.access(directory, os.W_OK):
        return errno.EACCES
    return None


DISK_FULL_BYTES = 64 * 1024
"""Free space under which a write failure that lost its errno is taken for a full disk."""


def write_geotiff(
    path: str | os.PathLike[str],
    array: np.ndarray,
    grid: GeoGrid,
    *,
    nodata: float | None = None,
    tags: Mapping[str, Any] | None = None,
    dtype: str = "float32",
) -> Path:
    """Write one band ``array`` (y, x) on ``grid`` as a tiled, deflate-compressed GeoTIFF, atomically.

    ``tags`` become dataset tags (values stringified). Float data use NaN as nodata by convention (pass
    ``nodata=float('nan')``).
    """
    if array.shape != grid.shape:
        raise InputError(
            problem(
                "GeoTIFF array",
                expected=f"shape {grid.shape} of its grid",
                found=f"shape {array.shape}",
                fix="pass the grid the array was made on",
            )
        )
    profile = _profile(grid, dtype, nodata)
    with atomic_path(path) as temporary, rasterio.open(temporary, "w", **profile) as dst:
        dst.write(array.astype(dtype, copy=False), 1)
        if tags:
            dst.update_tags(**{key: _tag_text(value) for key, value in tags.items()})
    return Path(path)


def write_geotiff_rows(
    path: str | os.PathLike[str],
    rows: Iterable[tuple[int, np.ndarray]],
    grid: GeoGrid,
    *,
    nodata: float | None = None,
    tags: Mapping[str, Any] | None = None,
    dtype: str = "float32",
) -> Path:
    """``write_geotiff`` streamed: ``rows`` yields ``(row_offset, block)`` pairs of full-width row blocks that
    together cover ``grid``, so a raster larger than memory is written a block at a time."""
    with (
        atomic_path(path) as temporary,
        rasterio.open(temporary, "w", **_profile(grid, dtype, nodata)) as dst,
    ):
        for row, block in rows:
            assert block.ndim == 2 and block.shape[1] == grid.width, (row, block.shape, grid.shape)
            window = Window(0, row, grid.width, block.shape[0])
            dst.write(block.astype(dtype, copy=False), 1, window=window)
        if tags:
            dst.update_tags(**{key: _tag_text(value) for key, value in tags.items()})
    return Path(path)


def _profile(grid: GeoGrid, dtype: str, nodata: float | None) -> dict[str, Any]:
    tiled = grid.height >= GEOTIFF_BLOCK_PX and grid.width >= GEOTIFF_BLOCK_PX
    profile: dict[str, Any] = {
        "driver": "GTiff",
        "height": grid.height,
        "width": grid.width,
        "count": 1,
        "dtype": dtype,
        "crs": grid.crs_wkt,
        "transform": grid.transform,
        "nodata": nodata,
        "compress": "deflate",
        "predictor": 3 if np.dtype(dtype).kind == "f" else 2,
    }
    if tiled:
        profile.update(tiled=True, blockxsize=GEOTIFF_BLOCK_PX, blockysize=GEOTIFF_BLOCK_PX)
    return profile


def _tag_text(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def write_json(
    path: str | os.PathLike[str],
    payload: Any,
    *,
    indent: int | None = 2,
    sort_keys: bool = False,
    allow_nan: bool = False,
) -> Path:
    """Write ``payload`` as JSON (plus a final newline) atomically, fsynced before the rename.

    numpy scalars are written as their Python values; anything else not JSON-serialisable raises TypeError
    and leaves ``path`` untouched.
    """
    text = json.dumps(payload, indent=indent, sort_keys=sort_keys, allow_nan=allow_nan, default=_json_default)
    with atomic_path(path) as temporary, open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically."""
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)
    return Path(path)


def write_png(path: str | os.PathLike[str], rgb: np.ndarray) -> Path:
    """Write an RGB uint8 image (y, x, 3) as PNG, atomically (matplotlib.image.imsave, which uses PIL; no
    pyplot, no backend)."""
    import matplotlib.image  # only here: most writers never need matplotlib

    require(
        rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8,
        "PNG image",
        expected="an RGB uint8 array (y, x, 3)",
        found=(rgb.shape, str(rgb.dtype)),
        fix="pass the output of scanner.core.palette.render_quicklook",
    )
    with atomic_path(path) as temporary:
        matplotlib.image.imsave(temporary, rgb, format="png")
    return Path(path)


# ---------------------------------------------------------------------------------------------- directories


def remove_path(path: Path) -> None:
    """Delete a file or directory tree if it exists."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def publish_directory(
    tmp: str | os.PathLike[str],
    final: str | os.PathLike[str],
    *,
    replace: bool = False,
    aside: str | os.PathLike[str] | None = None,
    what: str | None = None,
    expected: str = "a new path",
    found: str = "an existing output",
    fix: str = "remove it, or publish with replace",
) -> Path:
    """Rename the finished ``tmp`` (a directory, or a file) onto ``final``, on the same filesystem.

    With ``replace`` an existing ``final`` is first renamed into ``aside`` (a folder; default: beside
    ``final`` under a hidden name) and deleted after the new one is in place; without it an existing
    ``final`` raises ``StoreError`` (``what``/``expected``/``found``/``fix`` word the message).
    """
    tmp, final = Path(tmp), Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    if not final.exists():
        os.rename(tmp, final)
        return final
    if not replace:
        raise StoreError(problem(what or f"output {final}", expected=expected, found=found, fix=fix))
    folder = Path(aside) if aside is not None else final.parent
    old = folder / f".{final.name}.old-{uuid.uuid4().hex[:12]}"
    os.rename(final, old)
    os.rename(tmp, final)
    remove_path(old)
    return final


@contextmanager
def staged_path(
    final: str | os.PathLike[str],
    *,
    replace: bool = False,
    staging: str | os.PathLike[str] | None = None,
    what: str | None = None,
    fix: str = "remove it, or publish with replace",
) -> Iterator[Path]:
    """Yield an unused temporary path; on clean exit ``publish_directory`` it onto ``final``.

    The temporary path lives in ``staging`` (a folder on the same filesystem; default: beside ``final``
    under a hidden name), which also receives the old ``final`` while it is replaced. On error, or when
    publishing is refused, the temporary path is removed and ``final`` is unchanged.
    """
    final = Path(final)
    folder = Path(staging) if staging is not None else final.parent
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".tmp-{uuid.uuid4().hex}-{final.name}"  # keeps the final suffix (pystac, drivers)
    try:
        yield tmp
        publish_directory(tmp, final, replace=replace, aside=folder, what=what, fix=fix)
    finally:
        remove_path(tmp)


def write_geojson(
    path: str | os.PathLike[str],
    features: Sequence[Mapping[str, Any]],
    crs: str | int | CRS,
) -> Path:
    """Write a FeatureCollection whose coordinates are in ``crs``, atomically.

    A non-WGS84 CRS is named in the (pre-RFC 7946, still widely read) ``crs`` member, e.g.
    ``urn:ogc:def:crs:EPSG::32654``; use ``write_geojson_wgs84`` for the RFC 7946 copy.
    """
    source = CRS.from_user_input(crs)
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": list(features)}
    epsg = source.to_epsg()
    if epsg != 4326:
        name = f"urn:ogc:def:crs:EPSG::{epsg}" if epsg else source.to_wkt()
        collection["crs"] = {"type": "name", "properties": {"name": name}}
    return write_json(path, collection)


def write_geojson_wgs84(
    path: str | os.PathLike[str], features: Sequence[Mapping[str, Any]], crs: str | int | CRS
) -> Path:
    """Write ``features`` (coordinates in ``crs``) reprojected to WGS84 longitude/latitude (RFC 7946)."""
    return write_geojson(path, to_wgs84(features, crs), 4326)


def to_wgs84(features: Sequence[Mapping[str, Any]], crs: str | int | CRS) -> list[dict[str, Any]]:
    """Reproject Polygon / MultiPolygon / Point features to WGS84 (lon, lat), exterior rings
    counter-clockwise as RFC 7946 asks, 7 decimals (about 1 cm)."""
    transformer = Transformer.from_crs(CRS.from_user_input(crs), WGS84, always_xy=True)
    return [
        {**feature, "geometry": _reproject_geometry(feature["geometry"], transformer)} for feature in features
    ]


def _reproject_geometry(geometry: Mapping[str, Any], transformer: Transformer) -> dict[str, Any]:
    kind = geometry["type"]
    if kind == "Point":
        return {"type": kind, "coordinates": _reproject_ring([geometry["coordinates"]], transformer)[0]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": _reproject_polygon(geometry["coordinates"], transformer)}
    if kind == "MultiPolygon":
        return {
            "type": kind,
            "coordinates": [_reproject_polygon(p, transformer) for p in geometry["coordinates"]],
        }
    raise InputError(
        problem(
            "GeoJSON geometry",
            expected="Point, Polygon or MultiPolygon",
            found=kind,
            fix="convert the geometry before writing",
        )
    )


def _reproject_polygon(rings: Sequence[Sequence[Sequence[float]]], transformer: Transformer) -> list:
    out = []
    for index, ring in enumerate(rings):
        coords = _reproject_ring(ring, transformer)
        counter_clockwise = _signed_area(coords) > 0
        if counter_clockwise != (index == 0):
            coords = coords[::-1]
        out.append(coords)
    return out


def _reproject_ring(ring: Sequence[Sequence[float]], transformer: Transformer) -> list[list[float]]:
    xs, ys = transformer.transform([p[0] for p in ring], [p[1] for p in ring])
    return [
        [round(float(x), 7), round(float(y), 7)]
        for x, y in zip(np.atleast_1d(xs), np.atleast_1d(ys), strict=True)
    ]


def _signed_area(coords: Sequence[Sequence[float]]) -> float:
    x = np.array([c[0] for c in coords])
    y = np.array([c[1] for c in coords])
    return float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) / 2.0)


def human_bytes(n: float) -> str:
    """``n`` bytes as a short human figure (1.5 GB, 263 MB, 12 kB)."""
    for unit in ("B", "kB", "MB", "GB", "TB", "PB"):
        if abs(n) < 1000 or unit == "PB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} PB"


def check_free_space(path: str | Path, needed_bytes: int, *, what: str, fix: str) -> None:
    """Refuse (``ResourceError``, exit 7 like any full disk) to write an estimated ``needed_bytes`` under ``path`` when its file system has
    less free space, before anything is written."""
    probe = Path(path).absolute()
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed_bytes > free:
        raise ResourceError(
            problem(
                what,
                expected=f"{human_bytes(needed_bytes)} free on the file system of {probe} (the estimate of "
                "what will be written)",
                found=f"{human_bytes(free)} free",
                fix=fix,
            )
        )
