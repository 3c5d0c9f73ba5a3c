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
import errno
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
from zarr.codecs import ZstdCodec

from scanner.errors import FringescanError, InputError, ModelMismatchError, StoreError, UsageError, problem
from scanner.geo import CHUNK_PX, PIXEL_SIZE_TOLERANCE, WINDOW_PX, GeoGrid, PixelWindow
from scanner.io.artifact import check_target
from scanner.io.layout import MARKER, StoreLayout
from scanner.io.probgrid import published_key
from scanner.io.readers import parse_json_file
from scanner.io.writers import ATOMIC_TEMPORARY, disk_refusal, remove_path, staged_path, write_json

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


COMPRESSOR = ZstdCodec(level=0, checksum=True)
"""Scene chunks: zarr-python's default codec (zstd level 0) plus zstd's content checksum, so a bit flipped in a
chunk file fails its decode (a ``StoreError`` naming the chunk) instead of reading as other values."""

ALL_CHUNKS = "all"
"""``attrs["fringescan"]["chunks_written"]`` of a scene whose writer stored every chunk of every array (also
those holding only the fill value): a missing chunk file is then damage, never nodata. Scenes written before
this was recorded (no key) are read as before, a missing chunk as the fill value."""


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def fill_value(dtype: str) -> float | int:
    """What a scene array holds where nothing was written or the read window leaves the scene."""
    return 0 if np.dtype(dtype).kind in "ui" else float("nan")


def chunk_shape(array: ts.TensorStore) -> tuple[int, int]:
    """The (rows, cols) of one stored chunk of a 2-D array."""
    rows, cols = array.chunk_layout.read_chunk.shape
    return int(rows), int(cols)


def chunk_indices(array: ts.TensorStore, rows: range, cols: range) -> list[tuple[int, int]]:
    """(chunk row, chunk column) of every chunk holding pixels of ``rows`` x ``cols``."""
    if not rows or not cols:
        return []
    ch, cw = chunk_shape(array)
    return [
        (i, j)
        for i in range(rows.start // ch, (rows.stop - 1) // ch + 1)
        for j in range(cols.start // cw, (cols.stop - 1) // cw + 1)
    ]


def chunk_key_format(array: ts.TensorStore) -> str:
    """Format of a chunk file's path relative to the array's directory, from its ``chunk_key_encoding``
    (``"c/{i}/{j}"`` for zarr-python's default): ``fmt.format(i=chunk_row, j=chunk_col)``."""
    encoding = array.spec().to_json().get("metadata", {}).get("chunk_key_encoding", {})
    separator = encoding.get("configuration", {}).get("separator", "/")
    if encoding.get("name", "default") == "v2":
        return f"{{i}}{separator}{{j}}"
    return f"c{separator}{{i}}{separator}{{j}}"


def missing_chunks(path: Path, names: Sequence[str]) -> dict[str, list[tuple[int, int]]]:
    """For each array of the group at ``path``, the chunks of its grid that have no chunk file."""
    out = {}
    for name in names:
        spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(Path(path) / name)}}
        array = ts.open(spec, open=True, read=True).result()
        height, width = array.shape
        key = chunk_key_format(array)
        absent = [
            (i, j)
            for i, j in chunk_indices(array, range(height), range(width))
            if not (Path(path) / name / key.format(i=i, j=j)).is_file()
        ]
        if absent:
            out[name] = absent
    return out


class Scene:
    """A published scene group: attributes, grid and tensorstore reads of its arrays."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._arrays: dict[str, ts.TensorStore] = {}
        self._keys: dict[str, str] = {}

    @cached_property
    def attrs(self) -> dict:
        try:
            group = zarr.open_group(str(self.path), mode="r", zarr_format=3)
            attrs = group.attrs.get("fringescan", {})
        except Exception as error:  # zarr raises JSON, Unicode, Type and Value errors for a damaged zarr.json
            raise self._damaged_metadata(f"{type(error).__name__}: {error}") from error
        if not isinstance(attrs, dict) or not isinstance(attrs.get("scene_id", ""), str):
            raise self._damaged_metadata(f"attributes {str(attrs)[:80]}")
        return dict(attrs)

    @property
    def id(self) -> str:
        return self.attrs.get("scene_id") or self.path.name

    @cached_property
    def grid(self) -> GeoGrid:
        try:
            return GeoGrid.from_attrs(self.attrs.get("grid"))
        except (InputError, AttributeError, TypeError) as error:
            raise self._damaged_metadata(str(error)) from error

    def _damaged_metadata(self, found: str) -> StoreError:
        return StoreError(
            problem(
                f"scene metadata {self.path / 'zarr.json'}",
                expected="a Zarr v3 group with the scene's fringescan attributes (docs/contracts.md)",
                found=" ".join(found.split())[:240],
                fix=f"re-ingest the scene (fringescan ingest --replace --id {self.path.name} ...)",
            )
        )

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
            try:
                self._arrays[name] = ts.open(spec, open=True, read=True, context=_READ_CONTEXT).result()
            except ValueError as error:  # tensorstore: unreadable or invalid zarr.json
                raise self._damaged(name, "its metadata (zarr.json)", error) from error
        return self._arrays[name]

    @property
    def all_chunks_written(self) -> bool:
        """Whether the writer recorded storing every chunk (then a missing chunk file is damage)."""
        return self.attrs.get("chunks_written") == ALL_CHUNKS

    def check_chunks(self, names: Sequence[str]) -> None:
        """Refuse (StoreError) a scene written whole whose arrays ``names`` miss a chunk file (a whole-scene
        check before a job starts; every read also checks the chunks it touches)."""
        if not self.all_chunks_written:
            return
        for name in names:
            array = self._array(name)
            self._check_chunks(name, array, range(array.shape[0]), range(array.shape[1]))

    def _check_chunks(self, name: str, array: ts.TensorStore, rows: range, cols: range) -> None:
        """Refuse a read of pixels ``rows`` x ``cols`` whose chunk file is missing (scenes written whole only)."""
        if not self.all_chunks_written or not rows or not cols:
            return
        if name not in self._keys:
            self._keys[name] = chunk_key_format(array)
        for i, j in chunk_indices(array, rows, cols):
            key = self._keys[name].format(i=i, j=j)
            if not (self.path / name / key).is_file():
                raise StoreError(
                    problem(
                        f"scene {self.path.name} array {name!r} chunk ({i}, {j})",
                        expected=f"the chunk file {name}/{key} that ingest wrote",
                        found="no such file (deleted or lost)",
                        fix="re-ingest the scene with --replace, or restore the store from a backup",
                    )
                )

    def _damaged(self, name: str, part: str, error: Exception) -> StoreError:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        return StoreError(
            problem(
                f"scene {self.path.name} array {name!r} {part}",
                expected="a readable Zarr v3 chunk as ingest wrote it",
                found=f"a corrupt or truncated file ({first})",
                fix="re-ingest the scene with --replace, or restore the store from a backup",
            )
        )

    def _read(
        self, name: str, array: ts.TensorStore, future: ts.Future, rows: range, cols: range
    ) -> np.ndarray:
        """The result of a read of ``rows`` x ``cols``; a chunk that fails to decode is named in a StoreError."""
        try:
            return future.result()
        except ValueError as error:  # tensorstore reports decode and I/O failures as ValueError
            for i, j in chunk_indices(array, rows, cols):
                (ch, cw) = chunk_shape(array)
                part = array[i * ch : (i + 1) * ch, j * cw : (j + 1) * cw]
                try:
                    part.read().result()
                except ValueError as failure:
                    raise self._damaged(name, f"chunk ({i}, {j})", failure) from failure
            raise self._damaged(
                name, f"rows {rows.start}-{rows.stop} cols {cols.start}-{cols.stop}", error
            ) from error

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
        rows, cols = range(y0, y1), range(x0, x1)
        for name, array in arrays.items():
            self._check_chunks(name, array, rows, cols)
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
                out[name] = self._read(name, array, pending[name], rows, cols)
                continue
            out[name] = np.full(shape, value, dtype=array.dtype.numpy_dtype)
            if inside:
                part = self._read(name, array, pending[name], rows, cols)
                inner = slice(y0 - window.row_off, y1 - window.row_off)
                out[name][inner, x0 - window.col_off : x1 - window.col_off] = part
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
                compressors=COMPRESSOR,
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
        """Wait for every queued write; the first failure raises StoreError, or ResourceError when the disk
        refused (after all have settled)."""
        failures = []
        while self._pending:
            try:
                self._wait(*self._pending.popleft())
            except FringescanError as failure:
                failures.append(failure)
        if failures:
            raise failures[0]

    def close(self) -> None:
        """Let every write in flight settle, ignoring failures (the error path: staging removes the rest)."""
        with suppress(FringescanError):
            self.flush()

    def finish(self, attrs: dict) -> None:
        """Wait for every chunk write, check that every chunk of every array was stored, then set the group's
        attributes with ``chunks_written: "all"`` (the last step of a scene)."""
        self.flush()
        missing = missing_chunks(self.path, list(self._arrays))
        if missing:
            name, chunks = next(iter(missing.items()))
            raise StoreError(
                problem(
                    f"scene array {name!r} under {self.path}",
                    expected="every chunk written",
                    found=f"{len(chunks)} chunk(s) never written, the first {chunks[0]}",
                    fix="write every window of the scene before finish (a bug in the caller)",
                )
            )
        self.group.attrs.update({"fringescan": {**attrs, "chunks_written": ALL_CHUNKS}})

    def _wait(self, name: str, future: ts.WriteFutures) -> None:
        try:
            future.result()
        except Exception as error:  # tensorstore raises ValueError/OSError subclasses, by cause
            refusal = disk_refusal(self.path, error)
            if refusal is not None:
                raise refusal from error
            raise StoreError(
                problem(
                    f"write of scene array {name!r} under {self.path}",
                    expected="the chunk written to disk",
                    found=f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}",
                    fix="check free disk space and permissions on the store, then re-run",
                )
            ) from error


def _open_for_writing(path: Path) -> ts.TensorStore:
    """Tensorstore handle on an array zarr-python just created (metadata read back, chunks written): every
    chunk is stored, also one holding only the fill value, so a missing chunk file is always damage."""
    spec = {
        "driver": "zarr3",
        "kvstore": {"driver": "file", "path": str(path)},
        "store_data_equal_to_fill_value": True,
    }
    return ts.open(spec, open=True, write=True, context=_WRITE_CONTEXT).result()


class Store:
    """A fringescan store root (see the module docstring for the layout)."""

    def __init__(self, root: Path, meta: dict) -> None:
        self.root = Path(root).absolute()  # a relative --store stays valid whatever the working directory
        self.layout = StoreLayout(self.root)
        self.meta = meta

    @classmethod
    def create(cls, root: str | Path) -> Store:
        """Create an empty store at ``root`` (a new or empty directory); an existing store is opened."""
        root = Path(root)
        layout = StoreLayout(root)
        if layout.marker.is_file():
            return cls.open(root)
        check_target(root, "store", flag="--store")  # new or empty only: nothing else is ever taken over
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
        data = line.encode()
        fd = os.open(self.layout.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            try:
                written = os.write(fd, data)
            except OSError as error:
                raise OSError(error.errno, error.strerror, str(self.layout.log)) from error
            if written < len(data):  # a nearly full disk: no half line stays in the log
                os.ftruncate(fd, size)
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.layout.log))
        finally:
            os.close(fd)

    def events(self) -> list[dict]:
        path = self.layout.log
        return [json.loads(line) for line in path.read_text().splitlines() if line] if path.is_file() else []


def sweep_staging(root: str | Path) -> list[Path]:
    """Remove what runs that died (SIGKILL, power loss) left behind; returns the removed paths.

    - ``.staging/.tmp-*`` (outputs being built, e.g. a scene of a killed ingest) and ``.staging/.*.old-*``
      (old versions moved aside while being replaced);
    - scan staging ``.staging/scan-<scene>-<key>`` whose grid is already published with that key, or whose
      scene is gone. An unfinished one is kept: the next scan with the same settings resumes from its tiles;
    - temporary files of atomic writes (``writers.ATOMIC_TEMPORARY``) in the folders of small files.

    Call it only under the store lock (``scanner.io.lock.store_lock`` does): no writer runs then, so nothing
    swept is in use.
    """
    layout = StoreLayout(root)
    stale = []
    if layout.staging.is_dir():
        stale += [p for p in layout.staging.iterdir() if p.name.startswith(".tmp-") or ".old-" in p.name]
    for path, (scene_id, key) in layout.scan_stagings().items():
        if not (layout.scene(scene_id) / "zarr.json").is_file() or published_key(root, scene_id) == key:
            stale.append(path)
    folders = (layout.root, layout.runs, layout.nightly_ledger.parent, layout.history_sites.parent)
    folders += (layout.sites, layout.viewer, layout.mosaic, layout.mosaic_quicklook("v").parent)
    for folder in folders:
        if folder.is_dir():
            stale += [p for p in folder.iterdir() if ATOMIC_TEMPORARY.match(p.name) and p.is_file()]
    for path in stale:
        remove_path(path)
        log.warning(
            "removed %s, left by a run that ended without cleaning up",
            layout.relative(path),
            extra={"fields": {"event": "stale_staging", "path": str(layout.relative(path))}},
        )
    return stale


def check_scannable(scene: Scene, model_pixel_size_m: float) -> None:
    """Refuse a scene the scanner cannot scan with a model trained at ``model_pixel_size_m``.

    InputError when the scene is smaller than one 150 px window; ModelMismatchError when its pixel size
    differs from the model's by more than 10% (ingest brings finer data to the model's spacing, but stores coarser
    data as is unless ``--upsample`` is given).
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
                fix="use a model trained at this spacing, or ingest finer data (coarser data with --upsample) "
                "so that ingest brings it to the model's spacing",
            )
        )
