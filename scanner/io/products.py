"""Product families from real processors, recognised by their files (the one home of this rule).

``recognise(path)`` says which files of a delivered product are the phase, coherence, DEM and masks, and what
its names and metadata say (sensor, dates, frame, pass direction, geometry). ``fringescan ingest PATH`` and the
nightly inbox both use it; a plain GeoTIFF (GAMMA, ISCE, anything else) is no product (``None``) and is
ingested as a file, with ``--sensor`` or ``--wavelength-m`` when its tags record no wavelength.

- **LiCSAR** (COMET, Sentinel-1): an interferogram folder ``YYYYMMDD_YYYYMMDD/`` holding
  ``YYYYMMDD_YYYYMMDD.geo.diff_pha.tif`` (wrapped phase), ``*.geo.cc.tif`` (coherence, uint8 0-255: ingest scales
  it to 0-1, as any uint8 coherence: ``readers.coherence_scale``) and ``*.geo.unw.tif``; the frame's ``<frame>.geo.hgt.tif`` (heights, the DEM) and
  ``<frame>.geo.{E,N,U}.tif`` (line-of-sight unit vector, ground to satellite) are taken from the folder, its
  parent or a ``metadata/`` folder beside either, where present. The frame id (``073D_05369_131313``: track,
  A/D = ascending/descending) comes from those files' names or a folder above; the scene id is
  ``<frame>_<dates>`` (``licsar_<dates>`` when no frame is found), never the file name.
- **ASF HyP3 InSAR** (GAMMA, Sentinel-1): a folder or zip named like
  ``S1AA_20170320T000000_20170413T000000_VVP024_INT80_G_ueF_74C2`` holding ``<name>_wrapped_phase.tif`` (else
  ``_unw_phase.tif``), ``_corr.tif``, ``_dem.tif``, ``_lv_theta.tif`` (look-vector elevation, radians: incidence =
  90 deg - theta), ``_lv_phi.tif`` (look-vector orientation from east, counter-clockwise), ``_water_mask.tif``
  (1 = land, 0 = water: becomes a mask) and the parameter file ``<name>.txt``. Sensor and dates come from the
  name and are checked against the parameter file's granules.
- **NISAR L2 GUNW** (NASA-ISRO L-SAR, from the ASF DAAC): one HDF5 file named as the NISAR convention names
  products of a pair (ASF, https://hyp3-docs.asf.alaska.edu/nisar-docs/naming-conventions, figure 2, after
  Cuddy et al. 2025):
  ``NISAR_L2_PR_GUNW_<refcycle>_<track>_<A|D>_<frame>_<seccycle>_<mode>_<SH|SV>_<refstart>_<refend>_``
  ``<secstart>_<secend>_<CRID>_..._<counter>.h5``. The figure is not text: the field order is taken from the
  example granule of https://hyp3-docs.asf.alaska.edu/nisar-docs/metadata, from published GUNW names, and
  from MintPy (``src/mintpy/prep_nisar.py`` takes fields 11 and 13 as the reference and secondary starts); the
  fields after the secondary end time are provenance and not read. The layout (isce3
  ``python/packages/nisar/products/insar/GUNW_writer.py``, which cites the product specification JPL D-102272)
  under ``/science/LSAR/GUNW/grids/frequencyA/`` (frequency A only, and only co-polarised HH or VV pairs:
  https://hyp3-docs.asf.alaska.edu/nisar-docs/gunw): ``wrappedInterferogram/<pol>/wrappedInterferogram``
  (complex64, 20 m posting) and ``coherenceMagnitude`` (20 m); ``unwrappedInterferogram/<pol>/unwrappedPhase``
  (float32 radians, 80 m) and ``coherenceMagnitude`` (80 m). Each polarisation group holds ``xCoordinates``
  and ``yCoordinates`` of pixel *centres* (isce3 ``nisar/workflows/h5_prep.py`` ``set_get_geo_info`` writes
  start + spacing / 2; MintPy subtracts half a pixel for the edge), ``x/yCoordinateSpacing`` and
  ``projection``, a scalar integer EPSG code (also its attribute ``epsg_code``); these are looked for beside
  the layer, then in each group above it (as nisarqa's ``_get_path_to_nearest_dataset``), since specification
  versions moved them, and coordinates that are not evenly spaced are refused. Fill values are NaN
  (``_FillValue``). The wavelength is c / ``frequencyA/centerFrequency`` (Hz; MintPy), else the sensor table's
  ``nisar-l`` 0.2384 m. ``/science/LSAR/identification/`` gives ``referenceZeroDopplerStartTime`` and
  ``secondaryZeroDopplerStartTime`` (``YYYY-MM-DDTHH:MM:SS.s``; MintPy, nisarqa), ``orbitPassDirection``
  (``Ascending`` / ``Descending``), ``trackNumber``, ``frameNumber``, ``productType`` and ``lookDirection``;
  each is checked against the name where present. ``lookDirection`` is ``Left`` in the published samples but
  no document found here states it for all products, so it is read: a left-looking pass gets the mirrored look
  direction (``NISAR_LEFT_LOOK_AZIMUTH_DEG``), a right-looking one ingest's default. Incidence: the mean of
  ``/science/LSAR/GUNW/metadata/radarGrid/incidenceAngle`` (MintPy reads it there). Early sample products of
  an older specification (``grids/frequencyA/interferogram/...``) are refused as missing both layers.
  GDAL cannot georeference these grids, so ``opened`` writes what ingest needs as GeoTIFFs into a temporary
  folder (streamed, ``NISAR_ROWS`` rows at a time): the phase (``np.angle`` of the wrapped interferogram, else
  the unwrapped phase; zero or NaN samples are nodata) tagged ``WAVELENGTH_METRES``, and the coherence beside
  it; each on its own grid from its coordinates and EPSG code. ``recognise`` reads the metadata only (its
  ``phase`` is the ``.h5``). The scene id is ``NISAR_<track>_<A|D>_<frame>_<ref date>_<sec date>`` (the full
  granule name runs to about 125 characters, the rest being provenance), the frame ``<track>_<A|D>_<frame>``.

A product whose parts contradict each other (dates in the folder vs the file, in the name vs the parameter
file or the HDF5 metadata) raises a one-line ``InputError``; so does an unreadable (truncated) HDF5 file.
"""

from __future__ import annotations

import math
import re
import tempfile
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import h5py
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from rasterio.errors import CRSError

from scanner.errors import InputError, problem
from scanner.geo import GeoGrid
from scanner.io import readers
from scanner.io.artifact import is_inside
from scanner.io.writers import check_free_space, write_geotiff_rows
from scanner.sensors import SPEED_OF_LIGHT_M_S

LICSAR_PAIR = re.compile(r"^(\d{8})_(\d{8})$")
LICSAR_PHASE = ".geo.diff_pha.tif"
LICSAR_COHERENCE = ".geo.cc.tif"
LICSAR_HEIGHTS = ".geo.hgt.tif"
LICSAR_METADATA = "metadata"
"""The frame's folder of frame files (heights, line of sight) beside ``interferograms/``."""
LICSAR_LOS_AXES = "ENU"
"""The frame's line-of-sight files are ``<frame>.geo.E.tif``, ``.N.tif`` and ``.U.tif`` (``licsar_los_suffix``)."""
LICSAR_FRAME = re.compile(r"^(\d{3})([AD])_\d{5}_\d{6}$")
HYP3_NAME = re.compile(r"^(S1[ABC_][ABC_])_(\d{8})T\d{6}_(\d{8})T\d{6}_[A-Z]{2}[PR]\d{3}_INT\d+_[A-Z]_\w+$")
HYP3_PHASE = ("_wrapped_phase.tif", "_unw_phase.tif")
NISAR_NAME = re.compile(
    r"^NISAR_L2_[A-Z]{2}_GUNW_\d{3}_(?P<track>\d{3})_(?P<direction>[AD])_(?P<frame>\d{3})_\d{3}_\d{4}_"
    r"(?P<polarisation>[A-Z]{2})_(?P<first>\d{8})T\d{6}_\d{8}T\d{6}_(?P<second>\d{8})T\d{6}_\d{8}T\d{6}(_\w+)?$"
)
NISAR_IDENTIFICATION = "/science/LSAR/identification"
NISAR_GRIDS = "/science/LSAR/GUNW/grids/frequencyA"
NISAR_INCIDENCE = "/science/LSAR/GUNW/metadata/radarGrid/incidenceAngle"
NISAR_LAYERS = (
    ("wrappedInterferogram", "wrappedInterferogram"),
    ("unwrappedInterferogram", "unwrappedPhase"),
)
"""(group, phase dataset) in the order preferred; ``<group>/<pol>/coherenceMagnitude`` is the coherence."""
NISAR_POLARISATIONS = {"SH": "HH", "SV": "VV"}
"""The name's polarisation code -> the group read first (isce3 ``granule_id.py``); the other co-pol is tried next."""
NISAR_LEFT_LOOK_AZIMUTH_DEG = {"ascending": 260.0, "descending": 100.0}
"""Ground look direction (clockwise from north) of a left-looking near-polar pass: ingest's right-looking
``LOOK_AZIMUTH_DEG`` mirrored across the track."""
NISAR_ROWS = 512
"""Rows of an HDF5 layer read and written at a time (a 20 m frame is about 12,000 columns: 50 MB complex)."""
_DIRECTIONS = {"A": "ascending", "D": "descending"}


@dataclass(frozen=True, kw_only=True)
class ProductFiles:
    """What one delivered product holds: its rasters and what its names and metadata say."""

    family: str
    """``licsar``, ``hyp3`` or ``nisar``."""
    root: Path
    """The folder (or zip) delivered."""
    scene_id: str
    phase: Path
    """The phase raster (a NISAR product's ``.h5`` itself from ``recognise``; ``opened`` writes its GeoTIFF)."""
    coherence: Path | None = None
    dem: Path | None = None
    water: Path | None = None
    water_is_zero: bool = False
    """The water raster marks water with 0 and land with 1 (HyP3), not water with non-zero."""
    sensor: str | None = None
    first_date: str | None = None
    second_date: str | None = None
    frame: str | None = None
    pass_direction: str | None = None
    incidence_deg: float | None = None
    look_azimuth_deg: float | None = None
    files: tuple[Path, ...] = field(default=())
    """Every file that belongs to the product (the inbox moves these together)."""

    def known(self) -> dict:
        """Scene attributes the product itself gives (None where it says nothing)."""
        return {
            "sensor": self.sensor,
            "first_date": self.first_date,
            "second_date": self.second_date,
            "frame": self.frame,
            "pass_direction": self.pass_direction,
            "incidence_deg": self.incidence_deg,
            "processor": {"licsar": "LiCSAR", "hyp3": "ASF HyP3 (GAMMA)", "nisar": "NISAR SDS (ISCE3)"}[
                self.family
            ],
        }


def _iso(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}"


def _contradiction(what: str, one: str, other: str, fix: str) -> InputError:
    return InputError(problem(what, expected="metadata that agree", found=f"{one} but {other}", fix=fix))


# ---------------------------------------------------------------------------------------------- LiCSAR


def _licsar_folder(path: Path) -> Path | None:
    if path.is_file() and path.name.endswith(LICSAR_PHASE):
        return path.parent
    if path.is_dir() and any(p.name.endswith(LICSAR_PHASE) for p in path.iterdir()):
        return path
    return None


def _first(folder: Path, suffix: str, prefer: str | None = None) -> Path | None:
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.name.endswith(suffix))
    preferred = [p for p in found if prefer and p.name == prefer + suffix]
    return (preferred or found or [None])[0]


def _frame_dirs(folder: Path, within: Sequence[Path] | None) -> list[Path]:
    dirs = [folder, folder.parent, folder / LICSAR_METADATA, folder.parent / LICSAR_METADATA]
    dirs += [folder.parent.parent / LICSAR_METADATA, *(w / LICSAR_METADATA for w in within or ())]
    seen, out = set(), []
    for d in dirs:
        if (
            d.is_dir()
            and d.resolve() not in seen
            and (within is None or any(is_inside(d, w) for w in within))
        ):
            seen.add(d.resolve())
            out.append(d)
    return out


def _frame_file(dirs: list[Path], suffix: str, frame: str | None) -> Path | None:
    for d in dirs:
        for p in sorted(d.iterdir()):
            stem = p.name[: -len(suffix)] if p.name.endswith(suffix) else None
            if p.is_file() and stem is not None and (frame is None or stem == frame):
                return p
    return None


def licsar_los_suffix(axis: str) -> str:
    """``.geo.E.tif`` for ``E``: the suffix of the frame's line-of-sight component ``axis`` (one of E, N, U)."""
    return f".geo.{axis}.tif"


def licsar_scene_id(frame: str | None, pair: str) -> str:
    """The scene id of a LiCSAR interferogram: ``<frame>_<pair>``, or ``licsar_<pair>`` when no frame is known."""
    return f"{frame or 'licsar'}_{pair}"


def _licsar(folder: Path, within: Sequence[Path] | None) -> ProductFiles:
    phase = _first(folder, LICSAR_PHASE, folder.name)
    pair = phase.name[: -len(LICSAR_PHASE)]
    named, folder_named = LICSAR_PAIR.match(pair), LICSAR_PAIR.match(folder.name)
    if named is None:
        raise InputError(
            problem(
                f"LiCSAR interferogram {phase}",
                expected="a file named YYYYMMDD_YYYYMMDD.geo.diff_pha.tif",
                found=repr(phase.name),
                fix="keep LiCSAR's file names",
            )
        )
    if folder_named and folder.name != pair:
        raise _contradiction(
            f"LiCSAR folder {folder}",
            f"the folder names the pair {folder.name}",
            f"its interferogram {phase.name} names {pair}",
            "deliver each interferogram in its own YYYYMMDD_YYYYMMDD folder",
        )
    dirs = _frame_dirs(folder, within)
    frame = next((p.name for p in [folder, *folder.parents][:4] if LICSAR_FRAME.match(p.name)), None)
    hgt = _frame_file(dirs, LICSAR_HEIGHTS, frame)
    if frame is None and hgt is not None and LICSAR_FRAME.match(hgt.name[: -len(LICSAR_HEIGHTS)]):
        frame = hgt.name[: -len(LICSAR_HEIGHTS)]
    los = {axis: _frame_file(dirs, licsar_los_suffix(axis), frame) for axis in LICSAR_LOS_AXES}
    coherence = _first(folder, LICSAR_COHERENCE, pair)
    unwrapped = _first(folder, ".geo.unw.tif", pair)
    incidence, azimuth = _licsar_geometry(los)
    files = (phase, coherence, unwrapped, hgt, *los.values())
    return ProductFiles(
        family="licsar",
        root=folder,
        scene_id=licsar_scene_id(frame, pair),
        phase=phase,
        coherence=coherence,
        dem=hgt,
        sensor="sentinel-1",
        first_date=_iso(named[1]),
        second_date=_iso(named[2]),
        frame=frame,
        pass_direction=_DIRECTIONS[LICSAR_FRAME.match(frame)[2]] if frame else None,
        incidence_deg=incidence,
        look_azimuth_deg=azimuth,
        files=tuple(p for p in files if p is not None),
    )


def _mean(path: Path | None, role: str) -> float | None:
    """Mean of band 1 (a decimated read, nodata and zeros left out), or None."""
    if path is None:
        return None
    with readers.gdal_env(), readers.open_raster(path, role) as ds:
        shape = (min(ds.height, 64), min(ds.width, 64))
        values = ds.read(1, out_shape=shape, masked=True).astype(np.float64).filled(np.nan)
    values = values[np.isfinite(values) & (values != 0)]
    return float(values.mean()) if values.size else None


def _licsar_geometry(los: dict[str, Path | None]) -> tuple[float | None, float | None]:
    """(incidence, look azimuth) in degrees from the LOS unit vector (ground to satellite), where present."""
    east, north, up = (_mean(los[a], f"LOS {a}") for a in LICSAR_LOS_AXES)
    incidence = math.degrees(math.acos(max(-1.0, min(1.0, up)))) if up is not None else None
    azimuth = None
    if east is not None and north is not None:
        azimuth = math.degrees(math.atan2(-east, -north)) % 360.0  # satellite to ground, clockwise from north
    return incidence, azimuth


# ---------------------------------------------------------------------------------------------- HyP3


def _hyp3_name(path: Path) -> str | None:
    name = path.name[:-4] if path.suffix.lower() == ".zip" else path.name
    return name if HYP3_NAME.match(name) else None


def _hyp3_folder(path: Path) -> tuple[Path, str] | None:
    if path.is_file():
        for suffix in HYP3_PHASE:
            if path.name.endswith(suffix) and HYP3_NAME.match(path.name[: -len(suffix)]):
                return path.parent, path.name[: -len(suffix)]
        return None
    if not path.is_dir():
        return None
    name = _hyp3_name(path)
    if name is None:
        names = {p.name[: -len(s)] for p in path.iterdir() for s in HYP3_PHASE if p.name.endswith(s)}
        name = next((n for n in sorted(names) if HYP3_NAME.match(n)), None)
    return (path, name) if name else None


def read_hyp3_parameters(path: Path) -> dict[str, str]:
    """The ``key: value`` lines of a HyP3 parameter file (keys lower case)."""
    try:
        text = path.read_text(errors="replace")
    except OSError as error:
        raise InputError(
            problem(
                f"HyP3 parameter file {path}", expected="a readable file", found=str(error), fix="re-download"
            )
        ) from error
    out = {}
    for line in text.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip().lower()] = value.strip()
    return out


def _granule_date(value: str | None) -> str | None:
    match = re.search(r"_(\d{8})T\d{6}", value or "")
    return _iso(match[1]) if match else None


def _hyp3(folder: Path, name: str) -> ProductFiles:
    def part(suffix: str) -> Path | None:
        path = folder / f"{name}{suffix}"
        return path if path.is_file() else None

    phase = next((p for p in map(part, HYP3_PHASE) if p is not None), None)
    if phase is None:
        raise InputError(
            problem(
                f"HyP3 product {folder}",
                expected=f"{name}_wrapped_phase.tif or {name}_unw_phase.tif",
                found="neither",
                fix="download the complete product (include the wrapped phase when ordering)",
            )
        )
    match = HYP3_NAME.match(name)
    first, second = _iso(match[2]), _iso(match[3])
    parameters = part(".txt")
    meta = read_hyp3_parameters(parameters) if parameters else {}
    for role, key, date in (
        ("reference", "reference granule", first),
        ("secondary", "secondary granule", second),
    ):
        granule = _granule_date(meta.get(key))
        if granule is not None and granule != date:
            raise _contradiction(
                f"HyP3 product {name}",
                f"the name gives the {role} date {date}",
                f"{parameters.name} gives {granule} ({meta.get(key)})",
                "re-download the product; its name and parameter file must describe one pair",
            )
    direction = next((v.lower() for k, v in meta.items() if "pass direction" in k and v), None)
    theta, phi = (
        _mean(part("_lv_theta.tif"), "look vector theta"),
        _mean(part("_lv_phi.tif"), "look vector phi"),
    )
    files = [phase, *(part(s) for s in ("_corr.tif", "_dem.tif", "_lv_theta.tif", "_lv_phi.tif"))]
    files += [part("_water_mask.tif"), parameters, part("_unw_phase.tif")]
    return ProductFiles(
        family="hyp3",
        root=folder,
        scene_id=name,
        phase=phase,
        coherence=part("_corr.tif"),
        dem=part("_dem.tif"),
        water=part("_water_mask.tif"),
        water_is_zero=True,
        sensor="sentinel-1",
        first_date=first,
        second_date=second,
        pass_direction=direction if direction in ("ascending", "descending") else None,
        incidence_deg=None if theta is None else 90.0 - math.degrees(theta),
        look_azimuth_deg=None if phi is None else (270.0 - math.degrees(phi)) % 360.0,
        files=tuple(dict.fromkeys(p for p in files if p is not None)),
    )


# ---------------------------------------------------------------------------------------------- NISAR


def _nisar_name(path: Path) -> re.Match | None:
    return NISAR_NAME.match(path.stem) if path.suffix.lower() == ".h5" else None


def nisar_scene_id(granule: str) -> str:
    """``NISAR_<track>_<A|D>_<frame>_<ref date>_<sec date>``: the scene id of a GUNW granule name."""
    named = NISAR_NAME.match(granule)
    return f"NISAR_{named['track']}_{named['direction']}_{named['frame']}_{named['first']}_{named['second']}"


_H5_ERRORS = (OSError, KeyError, ValueError, TypeError, RuntimeError)
"""What h5py raises on a truncated or corrupt file (and on a dataset of the wrong shape or kind)."""


def _unreadable(path: Path, error: BaseException) -> InputError:
    return InputError(
        problem(
            f"NISAR GUNW product {path}",
            expected="a readable HDF5 file",
            found=" ".join(f"{type(error).__name__}: {error}".split()),
            fix="re-download the product (a truncated download is the usual cause)",
        )
    )


@contextmanager
def _hdf5(path: Path) -> Iterator[h5py.File]:
    try:
        h5 = h5py.File(path, "r")
    except _H5_ERRORS as error:
        raise _unreadable(path, error) from error
    with h5:
        yield h5


def _h5(path: Path, read, *args):
    """``read(*args)`` on the open file, its h5py errors turned into the one-line ``InputError``."""
    try:
        return read(*args)
    except _H5_ERRORS as error:
        raise _unreadable(path, error) from error


def _value(h5: h5py.File, name: str, path: Path, selection=()) -> np.ndarray | None:
    """Dataset ``name`` (or its ``selection``), or None when the file has no such dataset."""
    if not _h5(path, h5.__contains__, name) or not isinstance(_h5(path, h5.get, name), h5py.Dataset):
        return None
    return np.asarray(_h5(path, lambda: h5[name][selection]))


def _text(value: np.ndarray | None) -> str | None:
    if value is None or value.size != 1:
        return None
    item = value.ravel()[0]
    return (item.decode(errors="replace") if isinstance(item, bytes) else str(item)).strip()


def _nearest(h5: h5py.File, dataset: str, name: str, path: Path) -> str | None:
    """``name`` beside ``dataset`` or in the nearest group above it that holds one (nisarqa's rule)."""
    parts = dataset.split("/")[:-1]
    for end in range(len(parts), 1, -1):
        candidate = "/".join([*parts[:end], name])
        if _h5(path, h5.__contains__, candidate):
            return candidate
    return None


def _nisar_metadata(h5: h5py.File, path: Path) -> dict[str, str | None]:
    if not _h5(path, h5.__contains__, NISAR_IDENTIFICATION):
        raise InputError(
            problem(
                f"NISAR GUNW product {path}",
                expected=f"the identification metadata {NISAR_IDENTIFICATION}",
                found="no such group",
                fix="re-download the product; rename no other HDF5 file to a NISAR granule name",
            )
        )
    keys = ("productType", "referenceZeroDopplerStartTime", "secondaryZeroDopplerStartTime")
    keys += ("orbitPassDirection", "trackNumber", "frameNumber", "lookDirection")
    return {key: _text(_value(h5, f"{NISAR_IDENTIFICATION}/{key}", path)) for key in keys}


def _integer_text(value: str) -> str:
    try:
        return str(int(value))
    except ValueError:
        return value


_NISAR_NAMED = {
    "productType": ("product type", lambda n: "GUNW", str.upper),
    "referenceZeroDopplerStartTime": ("reference date", lambda n: _iso(n["first"]), lambda v: v[:10]),
    "secondaryZeroDopplerStartTime": ("secondary date", lambda n: _iso(n["second"]), lambda v: v[:10]),
    "orbitPassDirection": ("pass direction", lambda n: _DIRECTIONS[n["direction"]], str.lower),
    "trackNumber": ("track", lambda n: str(int(n["track"])), _integer_text),
    "frameNumber": ("frame", lambda n: str(int(n["frame"])), _integer_text),
}
"""Identification datasets the granule name also gives: (what, the name's value, the metadata's value normalised)."""


def _check_nisar_name(named: re.Match, meta: dict[str, str | None], path: Path) -> None:
    for key, (what, from_name, normalised) in _NISAR_NAMED.items():
        value = meta.get(key)
        if value is not None and normalised(value) != from_name(named):
            raise _contradiction(
                f"NISAR GUNW product {path.name}",
                f"the name gives the {what} {from_name(named)}",
                f"{NISAR_IDENTIFICATION}/{key} gives {value}",
                "re-download the product; its name and metadata must describe one pair",
            )


def _nisar_layer(h5: h5py.File, named: re.Match, path: Path) -> tuple[str, str | None]:
    """The HDF5 paths of the phase layer to ingest and of its coherence (None when absent)."""
    preferred = NISAR_POLARISATIONS.get(named["polarisation"])
    for pol in sorted(NISAR_POLARISATIONS.values(), key=lambda p: p != preferred):
        for group, dataset in NISAR_LAYERS:
            base = f"{NISAR_GRIDS}/{group}/{pol}"
            if _h5(path, h5.__contains__, f"{base}/{dataset}"):
                coherence = f"{base}/coherenceMagnitude"
                return f"{base}/{dataset}", coherence if _h5(path, h5.__contains__, coherence) else None
    raise InputError(
        problem(
            f"NISAR GUNW product {path}",
            expected=f"a wrapped interferogram ({NISAR_GRIDS}/wrappedInterferogram/HH or VV/wrappedInterferogram) "
            "or an unwrapped phase (.../unwrappedInterferogram/HH or VV/unwrappedPhase)",
            found="neither",
            fix="re-download the complete product",
        )
    )


def _nisar_wavelength_m(h5: h5py.File, path: Path) -> float | None:
    hertz = _value(h5, f"{NISAR_GRIDS}/centerFrequency", path)
    if hertz is None or hertz.size != 1 or hertz.dtype.kind not in "iuf":
        return None
    hertz = float(hertz.ravel()[0])
    return SPEED_OF_LIGHT_M_S / hertz if math.isfinite(hertz) and hertz > 0 else None


def _nisar_incidence_deg(h5: h5py.File, path: Path) -> float | None:
    angles = _value(h5, NISAR_INCIDENCE, path)
    if angles is None or angles.dtype.kind not in "iuf":
        return None
    angles = angles[np.isfinite(angles) & (angles > 0) & (angles < 90)]
    return float(angles.mean()) if angles.size else None


def _nisar(path: Path, into: Path | None = None) -> ProductFiles:
    """The NISAR GUNW product at ``path``; with ``into``, its phase and coherence written there as GeoTIFFs."""
    named = _nisar_name(path)
    with _hdf5(path) as h5:
        meta = _nisar_metadata(h5, path)
        _check_nisar_name(named, meta, path)
        phase, coherence = _nisar_layer(h5, named, path)
        direction = _DIRECTIONS[named["direction"]]
        left = (meta["lookDirection"] or "").lower() == "left"
        product = ProductFiles(
            family="nisar",
            root=path,
            scene_id=nisar_scene_id(path.stem),
            phase=path,
            sensor="nisar-l",
            first_date=_iso(named["first"]),
            second_date=_iso(named["second"]),
            frame=f"{named['track']}_{named['direction']}_{named['frame']}",
            pass_direction=direction,
            incidence_deg=_nisar_incidence_deg(h5, path),
            look_azimuth_deg=NISAR_LEFT_LOOK_AZIMUTH_DEG[direction] if left else None,
            files=(path,),
        )
        if into is None:
            return product
        wavelength = _nisar_wavelength_m(h5, path)
        tags = {} if wavelength is None else {"WAVELENGTH_METRES": f"{wavelength:.8g}"}
        label = "_".join(phase.split("/")[-3:-1])  # wrappedInterferogram_HH
        phase_tif = _nisar_geotiff(h5, path, phase, into / f"{label}_phase.tif", _phase_block, tags)
        coherence_tif = coherence and _nisar_geotiff(
            h5, path, coherence, into / f"{label}_coherence.tif", _coherence_block
        )
    return replace(product, phase=phase_tif, coherence=coherence_tif)


def _nisar_grid(h5: h5py.File, dataset: str, path: Path) -> GeoGrid:
    """The grid of a GUNW layer: its shape, the pixel-centre coordinates and the EPSG code nearest to it."""
    shape, dtype = _h5(path, lambda: (h5[dataset].shape, h5[dataset].dtype))
    if len(shape) != 2 or 0 in shape or dtype.kind not in "fc":
        raise _bad_layer(path, dataset, "a 2-D float or complex raster", f"shape {shape}, dtype {dtype}")
    (x0, dx), (y0, dy) = (
        _nisar_axis(h5, dataset, axis, size, path) for axis, size in (("x", shape[1]), ("y", shape[0]))
    )
    transform = Affine(dx, 0.0, x0 - dx / 2, 0.0, dy, y0 - dy / 2)  # centres -> the corner of pixel (0, 0)
    return GeoGrid(shape[0], shape[1], transform, _nisar_crs_wkt(h5, dataset, path))


def _bad_layer(path: Path, dataset: str, expected: str, found: str) -> InputError:
    return InputError(
        problem(
            f"NISAR GUNW layer {dataset} of {path.name}",
            expected=expected,
            found=found,
            fix="re-download the product",
        )
    )


def _nisar_axis(h5: h5py.File, dataset: str, axis: str, size: int, path: Path) -> tuple[float, float]:
    """(first pixel centre, spacing) along ``axis`` from the nearest ``<axis>Coordinates`` and spacing."""
    centres, step = _numbers(h5, dataset, f"{axis}Coordinates", path), math.nan
    spacing = _numbers(h5, dataset, f"{axis}CoordinateSpacing", path)
    if spacing.size == 1:
        step = float(spacing[0])
    elif centres.size == size > 1:
        step = float(centres[-1] - centres[0]) / (size - 1)
    if centres.size != size or not (np.isfinite(centres).all() and math.isfinite(step) and step != 0):
        found = f"{centres.size} {axis} coordinates for {size} pixels" + (
            f" (spacing {step})" if centres.size == size else ""
        )
        raise _bad_layer(
            path, dataset, f"{size} evenly spaced {axis}Coordinates beside it or in a group above", found
        )
    if not np.allclose(centres, centres[0] + step * np.arange(size), rtol=0.0, atol=abs(step) * 0.01):
        raise _bad_layer(path, dataset, f"evenly spaced {axis}Coordinates (every {step:g})", "uneven spacing")
    return float(centres[0]), step


def _numbers(h5: h5py.File, dataset: str, name: str, path: Path) -> np.ndarray:
    """The numbers of the dataset ``name`` nearest to ``dataset``, flat (empty when none or not numbers)."""
    where = _nearest(h5, dataset, name, path)
    values = None if where is None else _value(h5, where, path)
    return (
        values.astype(np.float64).ravel()
        if values is not None and values.dtype.kind in "iuf"
        else np.empty(0)
    )


def _nisar_crs_wkt(h5: h5py.File, dataset: str, path: Path) -> str:
    where = _nearest(h5, dataset, "projection", path)
    code = None if where is None else _value(h5, where, path)
    if where is not None and (code is None or code.size != 1 or code.dtype.kind not in "iu"):
        code = np.asarray(_h5(path, lambda: h5[where].attrs.get("epsg_code")))
    epsg = int(code.ravel()[0]) if code is not None and code.size == 1 and code.dtype.kind in "iu" else None
    try:
        return CRS.from_epsg(epsg).to_wkt()
    except (CRSError, TypeError, ValueError) as error:
        found = "no projection" if where is None else f"{where} = {code!r} ({error})"
        raise _bad_layer(path, dataset, "a projection dataset holding an EPSG code", found) from error


def _nisar_geotiff(h5: h5py.File, path: Path, dataset: str, out: Path, convert, tags=None) -> Path:
    """HDF5 layer ``dataset`` as a float32 GeoTIFF at ``out`` (NaN nodata), ``NISAR_ROWS`` rows at a time."""
    grid = _nisar_grid(h5, dataset, path)
    check_free_space(
        out.parent,
        grid.height * grid.width * 4,
        what=f"layer {dataset} of {path.name} ({grid.height:,} x {grid.width:,} px) as a temporary GeoTIFF",
        fix="free space in the temporary folder (TMPDIR) or point TMPDIR at a larger disk",
    )
    fill = _h5(path, lambda: h5[dataset].attrs.get("_FillValue"))
    fill = None if fill is None else np.asarray(fill).ravel()[0]

    def rows() -> Iterator[tuple[int, np.ndarray]]:
        for row in range(0, grid.height, NISAR_ROWS):
            yield row, convert(_value(h5, dataset, path, np.s_[row : row + NISAR_ROWS]), fill)

    return write_geotiff_rows(out, rows(), grid, nodata=math.nan, tags=tags)


def _phase_block(values: np.ndarray, fill) -> np.ndarray:
    """Phase in radians of a block: the angle of a complex interferogram, or the unwrapped phase itself."""
    bad = ~np.isfinite(values) | ((values == fill) if fill is not None else False)
    if np.iscomplexobj(values):
        bad |= values == 0  # no signal: no phase
        values = np.angle(values)
    return np.where(bad, np.nan, values).astype(np.float32)


def _coherence_block(values: np.ndarray, fill) -> np.ndarray:
    bad = ~np.isfinite(values) | ((values == fill) if fill is not None else False)
    return np.where(bad, np.nan, values).astype(np.float32)


# ---------------------------------------------------------------------------------------------- entry points


def recognise(path: str | Path, *, within: Sequence[Path] | None = None) -> ProductFiles | None:
    """The product at ``path`` (a LiCSAR or HyP3 folder, or a file inside one, or a NISAR GUNW ``.h5``), or None
    for anything else.

    ``within``: folders every file must lie in (the inbox and its auxiliary folder); frame files elsewhere are
    not looked for. A zip is opened with ``opened``; a NISAR product's metadata is read and checked here, its
    layers are written as GeoTIFFs by ``opened``.
    """
    path = Path(path)
    folder = _licsar_folder(path)
    if folder is not None:
        return _licsar(folder, within)
    hyp3 = _hyp3_folder(path)
    if hyp3 is not None:
        return _hyp3(*hyp3)
    if path.is_file() and _nisar_name(path) is not None:
        return _nisar(path)
    return None


def _is_hyp3_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip" and _hyp3_name(path) is not None


def is_product_file(path: Path) -> bool:
    """Whether ``path`` is a product delivered as one file, by its name: a HyP3 zip or a NISAR GUNW ``.h5``."""
    return _is_hyp3_zip(path) or (path.is_file() and _nisar_name(path) is not None)


def product_file_scene_id(path: Path) -> str:
    """The scene id a product file's name gives (``is_product_file``), without opening it."""
    return nisar_scene_id(path.stem) if _nisar_name(path) is not None else path.stem


def _extract(archive: Path, into: Path) -> Path:
    """The HyP3 zip's rasters and parameter file, extracted flat into ``into`` (names taken as base names
    only, so no member can land outside it)."""
    name = _hyp3_name(archive)
    try:
        with zipfile.ZipFile(archive) as zipped:
            for member in zipped.infolist():
                base = Path(member.filename).name
                if member.is_dir() or not base.startswith(name) or not base.endswith((".tif", ".txt")):
                    continue
                with zipped.open(member) as source, open(into / base, "wb") as target:
                    while chunk := source.read(1 << 20):
                        target.write(chunk)
    except (zipfile.BadZipFile, EOFError, ValueError) as error:
        raise InputError(
            problem(
                f"HyP3 product {archive}",
                expected="a readable zip",
                found=f"{type(error).__name__}: {error}",
                fix="re-download the product",
            )
        ) from error
    return into


@contextmanager
def opened(
    path: str | Path, *, workdir: Path | None = None, within: Sequence[Path] | None = None
) -> Iterator[ProductFiles | None]:
    """``recognise`` for folders and files; a HyP3 zip extracted, or a NISAR product's layers written as
    GeoTIFFs, into a temporary folder under ``workdir`` (removed afterwards); the product's ``root`` is then the
    zip or ``.h5``."""
    path = Path(path)
    if path.is_file() and _nisar_name(path) is not None:
        with tempfile.TemporaryDirectory(dir=workdir, prefix=".tmp-product-") as tmp:
            yield _nisar(path, Path(tmp))
        return
    if not _is_hyp3_zip(path):
        yield recognise(path, within=within)
        return
    with tempfile.TemporaryDirectory(dir=workdir, prefix=".tmp-product-") as tmp:
        folder = _extract(path, Path(tmp))
        product = recognise(folder)
        if product is None:
            raise InputError(
                problem(
                    f"HyP3 product {path}",
                    expected=f"{_hyp3_name(path)}_wrapped_phase.tif (or _unw_phase.tif) inside",
                    found="no phase raster",
                    fix="re-download the complete product",
                )
            )
        yield replace(product, root=path)
