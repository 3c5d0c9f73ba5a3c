"""The fringescan store: one root directory holding every output, with Zarr v3 scene groups inside.

Every path inside it comes from ``Store.layout`` (``scanner.io.layout.StoreLayout``, the one home of the
layout; docs/contracts.md and docs/ingest.md describe it in full). The marker ``fringescan-store.json`` holds
``{"format": "fringescan-store", "schema_version": 1, "created": ...}``; ``scenes/<scene_id>/`` is a Zarr v3
group (phase, valid, [coherence, dem, slope]; attrs["fringescan"]); ``log.jsonl`` takes append-only events;
``.staging/`` holds temporary outputs, published by os.rename.

zarr-python creates groups, arrays and attributes; tensorstore does the reads (``Scene.read``), filling the
parts of a window that fall outside the scene. Published paths are immutable: a replacement is a new
directory renamed into place, the old one moved aside first and removed after.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from collections import deque
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from functools import cached_property
from pathlib import Path

import numpy as np
import tensorstore as ts
import zarr

from scanner.errors import InputError, ModelMismatchError, StoreError, UsageError, problem
from scanner.geo import CHUNK_PX, PIXEL_SIZE_TOLERANCE, WINDOW_PX, GeoGrid, PixelWindow
from scanner.io.layout import MARKER, StoreLayout
from scanner.io.readers import parse_json_file
from scanner.io.writers import staged_path, write_json

log = logging.getLogger(__name__)

FORMAT = "fringescan-store"
SCHEMA_VERSION = 1

ARRAYS = {"phase": "float32", "valid": "uint8", "coherence": "float32", "dem": "float32", "slope": "float32"}
"""Scene arrays and their dtypes; ``phase`` and ``valid`` are always present."""


def _read_cache_bytes() -> int:
    value = os.environ.get("FRINGESCAN_READ_CACHE_MIB", "64")
    if not value.strip().isdigit():
        raise UsageError(
            problem(
                "FRINGESCAN_READ_CACHE_MIB",
                expected="a whole number of MiB >= 0",
                found=repr(value),
                fix="unset it (64 MiB) or set e.g. FRINGESCAN_READ_CACHE_MIB=64",
            )
        )
    return int(value) << 20


READ_CACHE_BYTES = _read_cache_bytes()
"""Decoded-chunk cache shared by every scene read in a process (tensorstore ``cache_pool``); the environment
variable ``FRINGESCAN_READ_CACHE_MIB`` sets it (default 64 MiB, 0 turns it off).

A scan tile's read window (500 px plus a 105 px halo each side) touches 3 x 3 store chunks, so neighbouring
tiles decode the same chunks again; with the cache a chunk is decoded about once per tile row instead of up to
nine times. The budget is fixed, so memory does not grow with scene size: 64 MiB holds the 3 x 3
neighbourhood of a tile for every array, and three whole chunk rows of a 4-array scene up to about 3,000 px
wide."""

_READ_CONTEXT = ts.Context({"cache_pool": {"total_bytes_limit": READ_CACHE_BYTES}})
_WRITE_CONTEXT = ts.Context({"cache_pool": {"total_bytes_limit": 0}, "file_io_sync": False})
"""Scene writes: no chunk cache (every chunk is written whole, once) and no fsync per chunk file, as with
zarr-python; a scene becomes visible only by the staging directory's rename."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def fill_value(dtype: str) -> float | int:
    """What a scene array holds where nothing was written or the read window leaves the scene."""
    return 0 if np.dtype(dtype).kind in "ui" else float("nan")


class Scene:
    """A published scene group: attributes, grid and tensorstore reads of its arrays."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._arrays: dict[str, ts.TensorStore] = {}

    @cached_property
    def attrs(self) -> dict:
        group = zarr.open_group(str(self.path), mode="r", zarr_format=3)
        return dict(group.attrs.get("fringescan", {}))

    @property
    def id(self) -> str:
        return self.attrs["scene_id"]

    @cached_property
    def grid(self) -> GeoGrid:
        return GeoGrid.from_attrs(self.attrs["grid"])

    def has(self, name: str) -> bool:
        return (self.path / name / "zarr.json").is_file()

    def _array(self, name: str) -> ts.TensorStore:
        if not self.has(name):
            raise StoreError(
                problem(
                    f"scene {self.path.name} array {name!r}",
                    expected="a stored array",
                    found=f"only {[n for n in ARRAYS if self.has(n)]}",
                    fix="re-ingest the scene with the input that provides it (--dem, --coherence)",
                )
            )
        if name not in self._arrays:
            spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(self.path / name)}}
            self._arrays[name] = ts.open(spec, open=True, read=True, context=_READ_CONTEXT).result()
        return self._arrays[name]

    def read(self, name: str, window: PixelWindow | None = None, fill: float | None = None) -> np.ndarray:
        """Array ``name`` over ``window`` (whole scene when None); outside the scene is ``fill``
        (default NaN for floats, 0 for ``valid``)."""
        return self.read_many([name], window, fill)[name]

    def read_many(
        self, names: Sequence[str], window: PixelWindow | None = None, fill: float | None = None
    ) -> dict[str, np.ndarray]:
        """Several arrays over one window, read concurrently (tensorstore decodes chunks in parallel)."""
        arrays = {name: self._array(name) for name in names}
        height, width = next(iter(arrays.values())).shape if arrays else (0, 0)
        window = window or PixelWindow(0, 0, height, width)
        y0, y1 = max(window.row_off, 0), min(window.row_end, height)
        x0, x1 = max(window.col_off, 0), min(window.col_end, width)
        inside = y0 < y1 and x0 < x1
        pending = {name: array[y0:y1, x0:x1].read() for name, array in arrays.items() if inside}
        out = {}
        for name, array in arrays.items():
            value = fill_value(ARRAYS.get(name, "float32")) if fill is None else fill
            shape = (window.height, window.width)
            if inside and (y0, x0, y1, x1) == (
                window.row_off,
                window.col_off,
                window.row_end,
                window.col_end,
            ):
                out[name] = pending[name].result()
                continue
            out[name] = np.full(shape, value, dtype=array.dtype.numpy_dtype)
            if inside:
                part = pending[name].result()
                rows = slice(y0 - window.row_off, y1 - window.row_off)
                out[name][rows, x0 - window.col_off : x1 - window.col_off] = part
        return out


class SceneWriter:
    """Builds a scene group in a staging directory: zarr-python creates the group and the arrays' metadata,
    tensorstore writes the chunks asynchronously, and ``finish`` sets the attributes once every write is done.

    ``write`` copies the data and returns at once (the caller may reuse its buffer); tensorstore encodes and
    writes the chunks on its own threads while the caller computes the next one. At most ``max_pending``
    writes are in flight, so memory stays bounded for any scene size. A failed write raises StoreError (at a
    later ``write`` or at ``finish``). ``close`` waits for every write still in flight, so nothing writes into
    the staging directory after an error has removed it: use the writer as a context manager inside
    ``Store.staging`` (``with store.staging(...) as tmp, SceneWriter(tmp, ...) as writer``).
    """

    def __init__(
        self,
        path: Path,
        grid: GeoGrid,
        names: Sequence[str],
        chunk_px: int = CHUNK_PX,
        *,
        max_pending: int = 16,
    ) -> None:
        self.path = Path(path)
        self.group = zarr.create_group(str(path), zarr_format=3)
        for name in names:
            self.group.create_array(
                name,
                shape=grid.shape,
                dtype=ARRAYS[name],
                chunks=(chunk_px, chunk_px),
                fill_value=fill_value(ARRAYS[name]),
                dimension_names=("y", "x"),
            )
        self._arrays = {name: _open_for_writing(self.path / name) for name in names}
        self._pending: deque[tuple[str, ts.WriteFutures]] = deque()
        self._max_pending = max(1, max_pending)

    def __enter__(self) -> SceneWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *exc_info: object) -> None:
        if exc_type is None:
            self.flush()
        else:
            self.close()

    @property
    def in_flight(self) -> int:
        """Writes queued and not yet waited for (at most ``max_pending`` after each ``write``)."""
        return len(self._pending)

    def write(self, name: str, window: PixelWindow, data: np.ndarray) -> None:
        """Queue ``data`` (any dtype that casts to the array's) for ``window`` of array ``name``."""
        # tensorstore reads its source asynchronously: hand it a private copy (in the array's dtype) that it
        # may keep, so the caller can reuse ``data`` at once and nothing is copied twice.
        owned = np.array(data, dtype=ARRAYS[name], order="C", copy=True)
        target = self._arrays[name][window.slices()]
        future = target.write(owned, can_reference_source_data_indefinitely=True)
        self._pending.append((name, future))
        while len(self._pending) > self._max_pending:
            self._wait(*self._pending.popleft())

    def flush(self) -> None:
        """Wait for every queued write; the first failure raises StoreError (after all have settled)."""
        failures = []
        while self._pending:
            try:
                self._wait(*self._pending.popleft())
            except StoreError as failure:
                failures.append(failure)
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Let every write in flight settle, ignoring failures (the error path: staging removes the rest)."""
        with suppress(StoreError):
            self.flush()

    def finish(self, attrs: dict) -> None:
        """Wait for every chunk write, then set the group's attributes (the last step of a scene)."""
        self.flush()
        self.group.attrs.update({"fringescan": attrs})

    def _wait(self, name: str, future: ts.WriteFutures) -> None:
        try:
            future.result()
        except Exception as error:  # tensorstore raises ValueError/OSError subclasses, by cause
            raise StoreError(
                problem(
                    f"write of scene array {name!r} under {self.path}",
                    expected="the chunk written to disk",
                    found=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                    fix="check free disk space and permissions on the store, then re-run",
                )
            ) from error


def _open_for_writing(path: Path) -> ts.TensorStore:
    """Tensorstore handle on an array zarr-python just created (metadata read back, chunks written)."""
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}
    return ts.open(spec, open=True, write=True, context=_WRITE_CONTEXT).result()


class Store:
    """A fringescan store root (see the module docstring for the layout)."""

    def __init__(self, root: Path, meta: dict) -> None:
        self.root = root
        self.layout = StoreLayout(root)
        self.meta = meta

    @classmethod
    def create(cls, root: str | Path) -> Store:
        """Create an empty store at ``root`` (a new or empty directory); an existing store is opened."""
        root = Path(root)
        layout = StoreLayout(root)
        if layout.marker.is_file():
            return cls.open(root)
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise StoreError(
                problem(
                    f"store {root}",
                    expected="a new or empty directory, or an existing store",
                    found="a non-empty directory that is not a store",
                    fix="pick another --store path",
                )
            )
        root.mkdir(parents=True, exist_ok=True)
        layout.staging.mkdir(exist_ok=True)
        layout.scenes.mkdir(exist_ok=True)
        meta = {"format": FORMAT, "schema_version": SCHEMA_VERSION, "created": now_iso()}
        write_json(layout.marker, meta)
        return cls(root, meta)

    @classmethod
    def open(cls, root: str | Path) -> Store:
        """Open an existing store; refuses directories that are not stores and unknown schema versions."""
        root = Path(root)
        layout = StoreLayout(root)
        marker = layout.marker
        meta = parse_json_file(
            marker,
            what=f"store {root}",
            expected=f"a fringescan store ({MARKER} inside)",
            fix="pass the directory given to --store when it was created",
            error=StoreError,
        )
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise StoreError(
                problem(
                    f"store {root}",
                    expected=f'{MARKER} with "format": "{FORMAT}"',
                    found=repr(meta)[:80],
                    fix="pass a fringescan store directory",
                )
            )
        if meta.get("schema_version") != SCHEMA_VERSION:
            raise StoreError(
                problem(
                    f"store {root}",
                    expected=f"schema version {SCHEMA_VERSION}",
                    found=f"schema version {meta.get('schema_version')!r}",
                    fix="use the fringescan version that wrote this store, or re-ingest",
                )
            )
        layout.staging.mkdir(exist_ok=True)
        return cls(root, meta)

    def scene_ids(self) -> list[str]:
        scenes = self.layout.scenes
        return (
            sorted(p.name for p in scenes.iterdir() if (p / "zarr.json").is_file()) if scenes.is_dir() else []
        )

    def has_scene(self, scene_id: str) -> bool:
        return (self.layout.scene(scene_id) / "zarr.json").is_file()

    def scene(self, scene_id: str) -> Scene:
        if not self.has_scene(scene_id):
            raise StoreError(
                problem(
                    f"scene {scene_id!r} in store {self.root}",
                    expected="an ingested scene",
                    found=f"scenes {self.scene_ids()}",
                    fix="run fringescan ingest first",
                )
            )
        return Scene(self.layout.scene(scene_id))

    @contextmanager
    def staging(self, target: Path, *, replace: bool = False) -> Iterator[Path]:
        """Yield a temporary path; on clean exit publish it onto ``target`` (a path of ``self.layout``) by rename.

        With ``replace`` an existing target is moved aside first and removed after; without it an existing
        target is refused. On error the temporary path is removed and nothing at ``target`` changes.
        (``scanner.io.writers.staged_path`` in ``.staging/``.)
        """
        target = Path(target)
        if not target.is_absolute() or not target.is_relative_to(self.root):
            raise ValueError(f"staging target {target} is not a path inside the store {self.root}")
        with staged_path(
            target,
            replace=replace,
            staging=self.layout.staging,
            what=f"store path {self.layout.relative(target)}",
            fix="pass --replace to replace it",
        ) as tmp:
            yield tmp

    def log_event(self, kind: str, /, **fields: object) -> None:
        """Append one JSON line ``{"time", "event", ...fields}`` to ``log.jsonl`` (one write, O_APPEND)."""
        line = json.dumps({"time": now_iso(), "event": kind, **fields}, default=str) + "\n"
        fd = os.open(self.layout.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def events(self) -> list[dict]:
        path = self.layout.log
        return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def check_scannable(scene: Scene, model_pixel_size_m: float) -> None:
    """Refuse a scene the scanner cannot scan with a model trained at ``model_pixel_size_m``.

    InputError when the scene is smaller than one 150 px window; ModelMismatchError when its pixel size
    differs from the model's by more than 10% (ingest multilooks finer data, but stores coarser data as is).
    """
    grid = scene.grid
    if grid.height < WINDOW_PX or grid.width < WINDOW_PX:
        raise InputError(
            problem(
                f"scene {scene.id}",
                expected=f"at least one {WINDOW_PX} x {WINDOW_PX} px window",
                found=f"{grid.height} x {grid.width} px",
                fix="ingest a larger crop of the interferogram",
            )
        )
    pixel_m = grid.pixel_size.mean_m
    if abs(pixel_m - model_pixel_size_m) > PIXEL_SIZE_TOLERANCE * model_pixel_size_m:
        raise ModelMismatchError(
            problem(
                f"scene {scene.id} pixel size",
                expected=f"{model_pixel_size_m:g} m +/- {PIXEL_SIZE_TOLERANCE:.0%} (the model's spacing)",
                found=f"{pixel_m:.1f} m",
                fix="use a model trained at this spacing, or ingest finer data so that "
                "ingest multilooks it to the model's spacing",
            )
        )
