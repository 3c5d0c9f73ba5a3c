"""What an output path holds, and whether a verb may write there: the one home of "nothing is lost".

Every writing verb calls ``check_target(path, kind, overwrite=...)`` before it does any work (and the library
calls it again right before it publishes):

- a path that does not exist (or, for a folder artifact, an empty folder) is free;
- a path that holds the same kind of artifact is replaced only with ``--overwrite``; the new one is built
  beside it and renamed into place (``scanner.io.writers.publish_directory`` / ``atomic_path``);
- anything else (another kind of artifact, a folder fringescan did not write, a folder where a file is
  wanted) is refused with ``StoreError``, with or without ``--overwrite``.

``kind_of(path)`` names what a path holds, from each artifact's own identity: the store's marker
``fringescan-store.json``, the checkpoint's ``fringescan-model.json``, a dataset's Zarr attributes (format
``fringescan-dataset``), a synthetic region's ``region.json``, the cross-validation marker
``fringescan-crossval.json``, an evaluation's ``report.json`` + ``report.md``, and for single files their
content (a GeoJSON FeatureCollection, an evaluate-scan report, a TIFF). Pure reading; writes nothing.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import StoreError, problem
from scanner.io.layout import MARKER as STORE_MARKER

MODEL_MARKER = "fringescan-model.json"
"""A model checkpoint's metadata file (``scanner.io.checkpoint.META_NAME``)."""
DATASET_FORMAT = "fringescan-dataset"
"""``attrs["fringescan"]["format"]`` of a patch dataset (``train.dataset_store``)."""
REGION_FORMAT = "fringescan-synth-region"
"""``format`` of a synthetic region's ``region.json`` (``scanner.sim.files``)."""
CROSSVAL_MARKER = "fringescan-crossval.json"
"""Written into a cross-validation folder (``fringescan crossval``) when it is complete."""
JSON_SNIFF_BYTES = 256 << 20
"""Single JSON files larger than this are not parsed to find their kind (they count as a plain file)."""


@dataclass(frozen=True)
class Kind:
    description: str
    folder: bool


KINDS: dict[str, Kind] = {
    "store": Kind("a fringescan store", folder=True),
    "model": Kind("a model checkpoint", folder=True),
    "dataset": Kind("a patch dataset", folder=True),
    "region": Kind("a synthetic region", folder=True),
    "crossval": Kind("a cross-validation folder", folder=True),
    "evaluation": Kind("an evaluation report folder", folder=True),
    "geojson": Kind("a GeoJSON FeatureCollection", folder=False),
    "scan-report": Kind("an evaluate-scan JSON report", folder=False),
    "geotiff": Kind("a GeoTIFF", folder=False),
    # what kind_of finds but no verb writes
    "empty": Kind("an empty folder", folder=True),
    "folder": Kind("a folder that is not a fringescan output", folder=True),
    "file": Kind("a file that is not a fringescan output of this kind", folder=False),
    "other": Kind("something that is neither a file nor a folder (a dangling link, a device)", folder=False),
}


def describe(kind: str) -> str:
    return KINDS[kind].description


# ---------------------------------------------------------------------------------------------- kind_of


def kind_of(path: str | os.PathLike[str]) -> str | None:
    """What ``path`` holds (a key of ``KINDS``), or None when nothing is there."""
    path = Path(path)
    if not path.exists():
        return "other" if path.is_symlink() else None
    if path.is_dir():
        return _folder_kind(path)
    if path.is_file():
        return _file_kind(path)
    return "other"


def _folder_kind(path: Path) -> str:
    if (path / STORE_MARKER).exists():
        return "store"
    if (path / MODEL_MARKER).exists():
        return "model"
    if (path / CROSSVAL_MARKER).exists():
        return "crossval"
    zarr_meta = _json_or_none(path / "zarr.json")
    if isinstance(zarr_meta, dict):
        attrs = (zarr_meta.get("attributes") or {}).get("fringescan") or {}
        if isinstance(attrs, dict) and attrs.get("format") == DATASET_FORMAT:
            return "dataset"
    region = _json_or_none(path / "region.json")
    if isinstance(region, dict) and region.get("format") == REGION_FORMAT:
        return "region"
    if (path / "report.json").is_file() and (path / "report.md").is_file():
        return "evaluation"
    try:
        next(path.iterdir())
    except StopIteration:
        return "empty"
    except OSError:
        pass
    return "folder"


def _file_kind(path: Path) -> str:
    try:
        with open(path, "rb") as handle:
            head = handle.read(4)
    except OSError:
        return "file"
    if head in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "geotiff"
    value = _json_or_none(path)
    if isinstance(value, dict):
        if value.get("type") == "FeatureCollection":
            return "geojson"
        if "matching" in value and "total" in value:
            return "scan-report"
    return "file"


def _json_or_none(path: Path) -> object:
    try:
        if not path.is_file() or path.stat().st_size > JSON_SNIFF_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- the rule


def check_target(
    path: str | os.PathLike[str], kind: str, *, overwrite: bool = False, flag: str = "--out"
) -> None:
    """Refuse (``StoreError``) to write ``kind`` at ``path`` unless nothing would be lost (module docstring)."""
    path = Path(path)
    wanted = KINDS[kind]
    found = kind_of(path)
    if found is None or (found == "empty" and wanted.folder):
        return
    if found == kind:
        if overwrite:
            return
        raise StoreError(
            problem(
                f"{flag} {path}",
                expected="a new path",
                found=f"{describe(found)} already there",
                fix=f"pass --overwrite to replace it (the new one is built beside it, then renamed into place), "
                f"or choose another {flag}",
            )
        )
    raise StoreError(
        problem(
            f"{flag} {path}",
            expected=f"a new path, or {wanted.description} to replace with --overwrite",
            found=describe(found),
            fix=f"choose another {flag}; fringescan never replaces {describe(found)}",
        )
    )


def is_inside(path: str | os.PathLike[str], folder: str | os.PathLike[str]) -> bool:
    """Whether ``path``, after resolving every symlink and ``..``, lies inside ``folder`` (also resolved)."""
    return Path(path).resolve().is_relative_to(Path(folder).resolve())
