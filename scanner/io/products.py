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

A product whose parts contradict each other (dates in the folder vs the file, in the name vs the parameter
file) raises a one-line ``InputError``.
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

import numpy as np

from scanner.errors import InputError, problem
from scanner.io import readers
from scanner.io.artifact import is_inside

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
_DIRECTIONS = {"A": "ascending", "D": "descending"}


@dataclass(frozen=True, kw_only=True)
class ProductFiles:
    """What one delivered product holds: its rasters and what its names and metadata say."""

    family: str
    """``licsar`` or ``hyp3``."""
    root: Path
    """The folder (or zip) delivered."""
    scene_id: str
    phase: Path
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
            "processor": {"licsar": "LiCSAR", "hyp3": "ASF HyP3 (GAMMA)"}[self.family],
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


# ---------------------------------------------------------------------------------------------- entry points


def recognise(path: str | Path, *, within: Sequence[Path] | None = None) -> ProductFiles | None:
    """The product at ``path`` (a LiCSAR or HyP3 folder, or a file inside one), or None for anything else.

    ``within``: folders every file must lie in (the inbox and its auxiliary folder); frame files elsewhere are
    not looked for. A zip is opened with ``opened``.
    """
    path = Path(path)
    folder = _licsar_folder(path)
    if folder is not None:
        return _licsar(folder, within)
    hyp3 = _hyp3_folder(path)
    if hyp3 is not None:
        return _hyp3(*hyp3)
    return None


def is_product_zip(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() == ".zip" and _hyp3_name(path) is not None


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
    """``recognise`` for folders and files, and for a HyP3 zip extracted into a temporary folder under
    ``workdir`` (removed afterwards); the product's ``root`` is then the zip."""
    path = Path(path)
    if not is_product_zip(path):
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
