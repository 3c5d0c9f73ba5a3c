"""The inbox of delivered passes: what is new, what supersedes what, and where bad files go.

**Naming convention** (one pass = one interferogram with optional coherence and DEM):

- ``<name>.phase.tif`` is the interferogram of pass ``<name>``; ``<name>.coh.tif`` and ``<name>.dem.tif``
  beside it are its coherence and DEM (both optional). ``.tiff`` works too.
- Any other ``*.tif`` that is not a sidecar (``*.coh.tif``, ``*.dem.tif``) nor named by a manifest is also
  taken as an interferogram, its name being the file stem (so GAMMA products such as ``..._unw.tif`` work).
- A manifest ``<name>.pass.json`` names the files explicitly, relative to the inbox:
  ``{"phase": "a.tif", "coherence": "a_cc.tif", "dem": "area1.dem.tif", "scene_id": "optional id"}``, plus
  ``"sensor": "alos2-palsar2"`` or ``"wavelength_m": 0.2384`` for files that record no wavelength (as
  ``ingest --sensor`` / ``--wavelength-m``; a pass whose wavelength nobody gives is quarantined).
  Use it when several passes share one DEM, or when the files follow another naming scheme.
- **Confinement.** Every file of a pass must resolve (after ``..`` and symlinks) inside the inbox, or inside
  the read-only folder of shared auxiliary files (``aux_dir``, ``fringescan nightly --aux-dir``; a manifest
  names its files there by absolute path or relative to the inbox). A manifest naming anything else, or an
  inbox entry that is a symlink pointing elsewhere, is a bad delivery whose reason names the escaping path.
- **Products** (``scanner.io.products``): a LiCSAR interferogram folder ``YYYYMMDD_YYYYMMDD/``, an ASF HyP3
  InSAR product (its folder or its zip) or a NISAR GUNW file (``NISAR_L2_PR_GUNW_*.h5``) dropped into the inbox
  is one pass, with the coherence, DEM, water mask, sensor and dates it brings; its scene id is the product's
  (LiCSAR: frame and dates; NISAR: track, direction, frame and dates, from the file name). LiCSAR frame files
  (``<frame>.geo.hgt.tif``, ``.geo.{E,N,U}.tif``) are found in the inbox, its ``metadata/`` folder or the
  auxiliary folder, never outside them. A folder that is no product is ignored.
- Hidden files (``.*``) and partial deliveries (``*.part``, ``*.tmp``) are ignored: deliver by writing under
  a temporary name and renaming, so a half-copied file is never seen.

**Identity.** A pass is identified by the sha256 of its interferogram's bytes, so a renamed or re-delivered
file is not new. **Superseding.** A pass whose :class:`PassKey` (first date, second date and track: orbit and
frame, or the rounded footprint when the product names neither) equals that of a scene already in the store,
but whose content differs, is a reprocessed pass: it replaces that scene. When one inbox holds two contents of
the same key, the later-modified file wins (ties: the larger hash), so every run picks the same one.

**Quarantine.** A pass that cannot be used (unreadable, corrupt, inconsistent) is moved to
``STORE/quarantine/<sha256[:16]>-<name>/`` together with ``reason.json`` (``name``, ``sha256``, ``files``,
``reason``, ``error``, ``time``, ``kept``); sidecars shared with another pass stay. Only entries the inbox
owns move: a file outside the inbox or in ``aux_dir`` is never touched (listed under ``kept``), and a symlink
is moved as the link itself, never through it. The move is crash-safe: files are copied into a hidden
staging folder, which is renamed into place before the originals are deleted.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scanner.errors import InputError, problem
from scanner.io.artifact import is_inside
from scanner.io.layout import StoreLayout
from scanner.io.products import is_product_file, product_file_scene_id, recognise
from scanner.io.readers import parse_json_file, read_json, sha256_file
from scanner.io.writers import staged_path

PHASE_SUFFIXES = (".phase.tif", ".phase.tiff")
COHERENCE_SUFFIXES = (".coh.tif", ".coh.tiff")
DEM_SUFFIXES = (".dem.tif", ".dem.tiff")
MANIFEST_SUFFIX = ".pass.json"
RASTER_SUFFIXES = (".tif", ".tiff")
IGNORED_SUFFIXES = (".part", ".tmp")


@dataclass(frozen=True)
class PassFiles:
    """The files of one delivered pass; ``sha256`` (of the interferogram) is its identity."""

    name: str
    phase: Path
    sha256: str
    coherence: Path | None = None
    dem: Path | None = None
    manifest: Path | None = None
    scene_id: str | None = None
    inbox: Path | None = field(default=None, compare=False)
    aux_dir: Path | None = field(default=None, compare=False)
    sensor: str | None = None
    wavelength_m: float | None = None
    """The radar a manifest names (``sensor``, ``wavelength_m``), for files that record none."""
    product: Path | None = None
    """The product folder or zip (``scanner.io.products``) this pass was delivered as, or None."""

    def files(self) -> list[Path]:
        if self.product is not None:
            return [self.product]
        return [p for p in (self.phase, self.coherence, self.dem, self.manifest) if p is not None]


@dataclass(frozen=True)
class BadDelivery:
    """Something in the inbox that is not a usable pass description (e.g. a broken manifest)."""

    name: str
    files: tuple[Path, ...]
    reason: str
    inbox: Path | None = field(default=None, compare=False)
    aux_dir: Path | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PassKey:
    """Which acquisition pair and track a pass covers; equal keys with different content supersede."""

    first_date: str
    second_date: str
    track: str


@dataclass
class Discovery:
    passes: list[PassFiles] = field(default_factory=list)
    bad: list[BadDelivery] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- hashing


def cached_sha256(path: Path, cache: dict[str, dict]) -> str:
    """sha256 of ``path``, reusing ``cache[path]`` when size, mtime and inode are unchanged."""
    stat = path.stat()
    stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino}
    entry = cache.get(str(path))
    if entry and all(entry.get(k) == v for k, v in stamp.items()):
        return entry["sha256"]
    digest = sha256_file(path)
    cache[str(path)] = {**stamp, "sha256": digest}
    return digest


# ---------------------------------------------------------------------------------------------- discovery


def _strip(name: str, suffixes: Iterable[str]) -> str | None:
    lower = name.lower()
    for suffix in suffixes:
        if lower.endswith(suffix):
            return name[: -len(suffix)]
    return None


def _visible_files(inbox: Path) -> list[Path]:
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.lower().endswith(IGNORED_SUFFIXES)
    )


def confined(path: Path, inbox: Path, aux_dir: Path | None = None) -> bool:
    """Whether ``path`` resolves (after ``..`` and symlinks) inside ``inbox`` or ``aux_dir``."""
    return is_inside(path, inbox) or (aux_dir is not None and is_inside(path, aux_dir))


def _escape(what: str, role: str, name: str, path: Path, inbox: Path, aux_dir: Path | None) -> InputError:
    where = "the inbox" + ("" if aux_dir is None else f" or --aux-dir {aux_dir}")
    return InputError(
        problem(
            what,
            expected=f"{role} file inside {where}",
            found=f"{name!r}, which escapes them (resolves to {path.resolve()})",
            fix="deliver the file into the inbox, or put shared files in the folder given to --aux-dir",
        )
    )


def _read_manifest(path: Path, inbox: Path, aux_dir: Path | None = None) -> dict[str, Path | str | None]:
    data = parse_json_file(
        path, what=f"pass manifest {path.name}", expected="a JSON object", fix="rewrite the manifest"
    )
    if not isinstance(data, dict) or not isinstance(data.get("phase"), str):
        raise InputError(
            problem(
                f"pass manifest {path.name}",
                expected='an object with a "phase" file name',
                found=repr(data)[:80],
                fix='add "phase": "<file>.tif"',
            )
        )
    out: dict[str, Path | str | float | None] = {"scene_id": data.get("scene_id")}
    out["sensor"], out["wavelength_m"] = _manifest_radar(path, data)
    for role in ("phase", "coherence", "dem"):
        name = data.get(role)
        if name is not None and not isinstance(name, str):
            raise InputError(
                problem(
                    f"pass manifest {path.name}",
                    expected=f"a file name for {role!r}",
                    found=repr(name)[:80],
                    fix=f'write "{role}": "<file>.tif"',
                )
            )
        out[role] = None if name is None else inbox / name
        if name is not None and not confined(inbox / name, inbox, aux_dir):
            raise _escape(f"pass manifest {path.name}", role, name, inbox / name, inbox, aux_dir)
        if name is not None and not (inbox / name).is_file():
            raise InputError(
                problem(
                    f"pass manifest {path.name}",
                    expected=f"{role} file {name} in the inbox",
                    found="no such file",
                    fix="deliver the file or correct the manifest",
                )
            )
    return out


def _manifest_radar(path: Path, data: dict) -> tuple[str | None, float | None]:
    sensor, wavelength = data.get("sensor"), data.get("wavelength_m")
    sensor_ok = sensor is None or isinstance(sensor, str)
    wave_ok = wavelength is None or (isinstance(wavelength, int | float) and not isinstance(wavelength, bool))
    if not (sensor_ok and wave_ok):
        raise InputError(
            problem(
                f"pass manifest {path.name}",
                expected='"sensor" a name (fringescan ingest --help) and "wavelength_m" a number of metres',
                found=f"sensor={sensor!r}, wavelength_m={wavelength!r}",
                fix='write e.g. "sensor": "alos2-palsar2" or "wavelength_m": 0.2384',
            )
        )
    return sensor, None if wavelength is None else float(wavelength)


def _manifest_passes(
    inbox: Path, files: list[Path], found: Discovery, cache: dict, aux_dir: Path | None
) -> set[Path]:
    claimed: set[Path] = set()
    for path in files:
        name = _strip(path.name, (MANIFEST_SUFFIX,))
        if name is None:
            continue
        claimed.add(path)
        try:
            spec = _read_manifest(path, inbox, aux_dir)
        except InputError as error:
            found.bad.append(BadDelivery(name, (path,), str(error), inbox=inbox, aux_dir=aux_dir))
            continue
        claimed.update(p for p in (spec["phase"], spec["coherence"], spec["dem"]) if isinstance(p, Path))
        found.passes.append(
            PassFiles(
                name=name,
                phase=spec["phase"],
                sha256=cached_sha256(spec["phase"], cache),
                coherence=spec["coherence"],
                dem=spec["dem"],
                manifest=path,
                scene_id=spec["scene_id"],
                sensor=spec["sensor"],
                wavelength_m=spec["wavelength_m"],
                inbox=inbox,
                aux_dir=aux_dir,
            )
        )
    return claimed


def _product_dirs(inbox: Path) -> list[Path]:
    return sorted(
        p
        for p in inbox.iterdir()
        if p.is_dir()
        and not p.is_symlink()
        and not p.name.startswith(".")
        and not p.name.lower().endswith(IGNORED_SUFFIXES)
    )


def _product_passes(
    inbox: Path, files: list[Path], found: Discovery, cache: dict, aux_dir: Path | None
) -> set[Path]:
    """Product folders and files (HyP3 zips, NISAR ``.h5``) in the inbox, one pass each; returns those claimed."""
    within = [inbox, *([aux_dir] if aux_dir is not None else [])]
    claimed: set[Path] = set()
    for path in [*_product_dirs(inbox), *(p for p in files if is_product_file(p))]:
        try:
            product = None if path.is_file() else recognise(path, within=within)
        except InputError as error:
            found.bad.append(BadDelivery(path.name, (path,), str(error), inbox=inbox, aux_dir=aux_dir))
            continue
        if path.is_dir() and product is None:
            continue  # not a product (e.g. LiCSAR's metadata/ folder)
        escaping = [f for f in (product.files if product else ()) if not confined(f, inbox, aux_dir)]
        if escaping:
            error = _escape(f"product {path.name}", "every", escaping[0].name, escaping[0], inbox, aux_dir)
            found.bad.append(BadDelivery(path.name, (path,), str(error), inbox=inbox, aux_dir=aux_dir))
            continue
        claimed.add(path)
        identity = path if product is None else product.phase
        found.passes.append(
            PassFiles(
                name=path.stem if product is None else path.name,
                phase=identity,
                sha256=cached_sha256(identity, cache),
                scene_id=product_file_scene_id(path) if product is None else product.scene_id,  # by name only
                inbox=inbox,
                aux_dir=aux_dir,
                product=path,
            )
        )
    return claimed


def _sidecar(files: set[Path], name: str, suffixes: tuple[str, ...]) -> Path | None:
    return next((p for p in sorted(files) if _strip(p.name, suffixes) == name), None)


def discover(
    inbox: str | Path, cache: dict[str, dict] | None = None, *, aux_dir: str | Path | None = None
) -> Discovery:
    """Every pass described in ``inbox`` (by manifest or by file names), sorted by name; manifests may also
    name files in ``aux_dir`` (shared, read-only: never moved)."""
    inbox, cache = Path(inbox), {} if cache is None else cache
    aux_dir = None if aux_dir is None else Path(aux_dir)
    if aux_dir is not None and not aux_dir.is_dir():
        raise InputError(
            problem(
                "--aux-dir",
                expected="an existing directory of shared auxiliary files",
                found=f"nothing at {aux_dir}" if not aux_dir.exists() else f"a file at {aux_dir}",
                fix="create it, or drop --aux-dir",
            )
        )
    if not inbox.is_dir():
        raise InputError(
            problem(
                "inbox",
                expected="an existing directory",
                found=f"nothing at {inbox}",
                fix="create it or pass the delivery directory with --inbox",
            )
        )
    found = Discovery()
    files = []
    for path in _visible_files(inbox):
        if confined(path, inbox, aux_dir):
            files.append(path)
            continue
        error = _escape(f"inbox entry {path.name}", "a", path.name, path, inbox, aux_dir)
        found.bad.append(BadDelivery(path.name, (path,), str(error), inbox=inbox, aux_dir=aux_dir))
    claimed = _manifest_passes(inbox, files, found, cache, aux_dir)
    claimed |= _product_passes(inbox, files, found, cache, aux_dir)
    rest = {p for p in files if p not in claimed}
    for path in sorted(rest):
        if _strip(path.name, COHERENCE_SUFFIXES + DEM_SUFFIXES) is not None:
            continue
        name = _strip(path.name, PHASE_SUFFIXES) or _strip(path.name, RASTER_SUFFIXES)
        if name is None:
            continue
        found.passes.append(
            PassFiles(
                name=name,
                phase=path,
                sha256=cached_sha256(path, cache),
                coherence=_sidecar(rest, name, COHERENCE_SUFFIXES),
                dem=_sidecar(rest, name, DEM_SUFFIXES),
                inbox=inbox,
                aux_dir=aux_dir,
            )
        )
    found.passes.sort(key=lambda p: p.name)
    return found


# ---------------------------------------------------------------------------------------------- keys


def _footprint(grid: Mapping | None) -> str:
    if not grid:
        return "unknown"
    t = grid.get("transform") or [0.0] * 6
    return f"{grid.get('epsg')}:{round(t[2], -3):.0f}:{round(t[5], -3):.0f}:{grid.get('width')}x{grid.get('height')}"


def pass_key(meta: Mapping) -> PassKey | None:
    """The pair-and-track key of a pass from its metadata (scene attributes or reader metadata).

    None when either date is unknown: such a pass can never be recognised as a reprocessing.
    """
    first, second = meta.get("first_date"), meta.get("second_date")
    if not first or not second:
        return None
    orbit, frame = meta.get("orbit"), meta.get("frame")
    track = f"orbit={orbit}/frame={frame}" if orbit or frame else f"footprint={_footprint(meta.get('grid'))}"
    return PassKey(first_date=str(first), second_date=str(second), track=track)


def pick_latest(candidates: list[PassFiles]) -> PassFiles:
    """Of several deliveries of one key, the one that supersedes the others (latest mtime, then hash)."""
    return max(candidates, key=lambda p: (p.phase.stat().st_mtime_ns, p.sha256))


# ---------------------------------------------------------------------------------------------- quarantine


def _shared_files(item: PassFiles | BadDelivery, others: Iterable[PassFiles]) -> set[Path]:
    shared: set[Path] = set()
    for other in others:
        if other.name != item.name:
            shared.update(other.files())
    return shared


def quarantine(
    store_root: str | Path,
    item: PassFiles | BadDelivery,
    reason: str,
    *,
    error: str = "",
    others: Iterable[PassFiles] = (),
) -> Path:
    """Move a bad pass's files to ``STORE/quarantine/<id>/`` with ``reason.json``; returns that folder."""
    files = item.files() if isinstance(item, PassFiles) else list(item.files)
    keep = _shared_files(item, others)
    present = [p for p in files if p not in keep and (p.exists() or p.is_symlink())]
    moving = [p for p in present if _owned(p, item)]
    kept = [str(p) for p in present if p not in moving]
    digest = item.sha256 if isinstance(item, PassFiles) else hashlib.sha256(reason.encode()).hexdigest()
    base = StoreLayout(store_root).quarantine
    final = base / f"{digest[:16]}-{item.name}"
    if not final.exists():
        record = {
            "name": item.name,
            "sha256": digest,
            "files": [p.name for p in moving],
            "reason": reason,
            "error": error,
            "kept": kept,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with staged_path(final, what=f"quarantine folder {final.name}") as staging:
            staging.mkdir(parents=True)
            for path in moving:
                if path.is_dir() and not path.is_symlink():  # a product folder moves whole
                    shutil.copytree(path, staging / path.name, symlinks=True)
                else:
                    shutil.copy2(path, staging / path.name, follow_symlinks=False)  # a link moves as a link
            (staging / "reason.json").write_text(json.dumps(record, indent=2) + "\n")
    for path in moving:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
    return final


def _owned(path: Path, item: PassFiles | BadDelivery) -> bool:
    """Whether the inbox owns the entry ``path``: its folder lies in the inbox and not in the auxiliary folder,
    and it is a symlink (moved as the link itself) or resolves inside the inbox and not in the auxiliary
    folder."""
    inbox = item.inbox
    if inbox is None:  # made by hand, not by discover: the folder of its manifest, else of its phase
        first = item.manifest or item.phase if isinstance(item, PassFiles) else item.files[0]
        inbox = first.parent
    aux = item.aux_dir
    if not is_inside(path.parent, inbox) or (aux is not None and is_inside(path.parent, aux)):
        return False
    return path.is_symlink() or (is_inside(path, inbox) and not (aux is not None and is_inside(path, aux)))


def quarantined(store_root: str | Path) -> list[dict]:
    """The reason records of everything in the quarantine, oldest name first."""
    base = StoreLayout(store_root).quarantine
    if not base.is_dir():
        return []
    return [
        read_json(d / "reason.json", {})
        for d in sorted(base.iterdir())
        if not d.name.startswith(".") and (d / "reason.json").is_file()
    ]
