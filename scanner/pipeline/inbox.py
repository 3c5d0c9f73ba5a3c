"""The inbox of delivered passes: what is new, what supersedes what, and where bad files go.

**Naming convention** (one pass = one interferogram with optional coherence and DEM):

- ``<name>.phase.tif`` is the interferogram of pass ``<name>``; ``<name>.coh.tif`` and ``<name>.dem.tif``
  beside it are its coherence and DEM (both optional). ``.tiff`` works too.
- Any other ``*.tif`` that is not a sidecar (``*.coh.tif``, ``*.dem.tif``) nor named by a manifest is also
  taken as an interferogram, its name being the file stem (so GAMMA products such as ``..._unw.tif`` work).
- A manifest ``<name>.pass.json`` names the files explicitly, relative to the inbox:
  ``{"phase": "a.tif", "coherence": "a_cc.tif", "dem": "area1.dem.tif", "scene_id": "optional id"}``.
  Use it when several passes share one DEM, or when the files follow another naming scheme.
- Hidden files (``.*``) and partial deliveries (``*.part``, ``*.tmp``) are ignored: deliver by writing under
  a temporary name and renaming, so a half-copied file is never seen.

**Identity.** A pass is identified by the sha256 of its interferogram's bytes, so a renamed or re-delivered
file is not new. **Superseding.** A pass whose :class:`PassKey` (first date, second date and track: orbit and
frame, or the rounded footprint when the product names neither) equals that of a scene already in the store,
but whose content differs, is a reprocessed pass: it replaces that scene. When one inbox holds two contents of
the same key, the later-modified file wins (ties: the larger hash), so every run picks the same one.

**Quarantine.** A pass that cannot be used (unreadable, corrupt, inconsistent) is moved to
``STORE/quarantine/<sha256[:16]>-<name>/`` together with ``reason.json`` (``name``, ``sha256``, ``files``,
``reason``, ``error``, ``time``); sidecars shared with another pass stay. The move is crash-safe: files are
copied into a hidden staging folder, which is renamed into place before the originals are deleted.
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
from scanner.io.layout import StoreLayout
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

    def files(self) -> list[Path]:
        return [p for p in (self.phase, self.coherence, self.dem, self.manifest) if p is not None]


@dataclass(frozen=True)
class BadDelivery:
    """Something in the inbox that is not a usable pass description (e.g. a broken manifest)."""

    name: str
    files: tuple[Path, ...]
    reason: str


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


def _read_manifest(path: Path, inbox: Path) -> dict[str, Path | str | None]:
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
    out: dict[str, Path | str | None] = {"scene_id": data.get("scene_id")}
    for role in ("phase", "coherence", "dem"):
        name = data.get(role)
        out[role] = None if name is None else inbox / name
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


def _manifest_passes(inbox: Path, files: list[Path], found: Discovery, cache: dict) -> set[Path]:
    claimed: set[Path] = set()
    for path in files:
        name = _strip(path.name, (MANIFEST_SUFFIX,))
        if name is None:
            continue
        claimed.add(path)
        try:
            spec = _read_manifest(path, inbox)
        except InputError as error:
            found.bad.append(BadDelivery(name=name, files=(path,), reason=str(error)))
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
            )
        )
    return claimed


def _sidecar(files: set[Path], name: str, suffixes: tuple[str, ...]) -> Path | None:
    return next((p for p in sorted(files) if _strip(p.name, suffixes) == name), None)


def discover(inbox: str | Path, cache: dict[str, dict] | None = None) -> Discovery:
    """Every pass described in ``inbox`` (by manifest or by file names), sorted by name."""
    inbox, cache = Path(inbox), {} if cache is None else cache
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
    files = _visible_files(inbox)
    claimed = _manifest_passes(inbox, files, found, cache)
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
    moving = [p for p in files if p not in keep and p.exists()]
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
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        with staged_path(final, what=f"quarantine folder {final.name}") as staging:
            staging.mkdir(parents=True)
            for path in moving:
                shutil.copy2(path, staging / path.name)
            (staging / "reason.json").write_text(json.dumps(record, indent=2) + "\n")
    for path in moving:
        path.unlink(missing_ok=True)
    return final


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
