"""Scan orchestration: scene store -> tiles (one Dask graph per run) -> probability grid ``prob/<scene_id>``.

Per tile: read the tile's read window through tensorstore (``Scene.read``; outside the scene is filled) ->
``scanner.core.phase.preprocess`` on the tile with its filter halo, cropped to the model window -> the model on
every window (``scanner.nn.infer``) -> class-1 probability -> NaN where the window is incomplete or less than
``min_valid_fraction`` of its pixels are valid -> the tile's cells are written into the staged Zarr v3 array
with tensorstore, then a done-marker is written for the tile.

Resumable: the staged grid lives in ``.staging/scan-<scene_id>-<run_key>/`` where ``run_key`` hashes the
scene content, the checkpoint and the scan settings, so a re-run of the same scan finds it and skips every
tile with a marker. A tile written but not marked is simply written again with the same values. When all
tiles are done the grid is published onto ``prob/<scene_id>`` by ``os.rename``. A scene whose published grid
already carries the same ``run_key`` is skipped. The grid's staging, publishing and reading live in
``scanner.io.probgrid`` (jax-free), with the tensorstore handle this module writes tiles through.

Nodata rule: a window with fewer than 75% valid pixels (default) gets no probability. Masked pixels are fed
to the model as 0, a value the training patches (which are wholly valid) never show in bulk, so a window
mostly of nodata would be scored on an artefact; 75% keeps windows whose missing part is at most a quarter,
less than a landslide fringe (>= 0.16 km^2, about 14 x 14 px at 28 m) can hide behind in a 150 px window.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask
import jax
import numpy as np

from scanner import __version__
from scanner.config import require
from scanner.core.phase import PreprocessConfig, preprocess, row_bands
from scanner.core.prep_device import DevicePrep
from scanner.core.tiling import Tile, TilePlan, complete_mask, in_strips, plan_tiles, window_valid_fraction
from scanner.errors import InputError, ModelMismatchError, problem
from scanner.geo import CHUNK_PX, STRIDE_PX, WINDOW_PX
from scanner.io.checkpoint import ModelMeta, check_compatible, checkpoint_hash, load_checkpoint, read_meta
from scanner.io.layout import RUN_KEY_LENGTH
from scanner.io.probgrid import (
    done_tiles,
    mark_done,
    open_staged_array,
    prepare_staging,
    prob_path,
    publish_grid,
    published_key,
)
from scanner.io.store import ARRAYS, READ_CACHE_BYTES, Scene, Store, check_scannable
from scanner.io.zoo import DEFAULT_MODEL, fitting_models, zoo_models, zoo_name_of
from scanner.nn.infer import InferConfig, Predictor

log = logging.getLogger(__name__)

LOCAL_SCHEDULERS = ("threads", "synchronous")
PREP_PLACES = ("auto", "host", "device")


@dataclass(frozen=True, kw_only=True)
class ScanConfig:
    """Scan settings (``fringescan scan`` options). ``tile_cells`` 50 = one 500 px store chunk per tile.

    ``workers``: tiles in flight at once with the local threaded scheduler (0: the CPU count plus one, so the
    host work of one tile, reads, preprocessing and the write, overlaps the others' model passes).
    ``prep_threads``: threads that preprocess one tile, in row bands (0: the CPU count divided by the
    workers). Neither changes the grid.
    ``prep``: where tiles are preprocessed: ``host`` (numpy, ``scanner.core.phase``), ``device`` (in the jitted
    dense kernel, ``scanner.core.prep_device``; for accelerators) or ``auto`` (device on a GPU/TPU with the dense
    path, else host).
    """

    path: str = "dense"
    tile_cells: int = 50
    batch_size: int = 64
    dtype: str = "float32"
    min_valid_fraction: float = 0.75
    workers: int = 0
    prep_threads: int = 0
    prep: str = "auto"

    def __post_init__(self) -> None:
        require(
            0.0 <= self.min_valid_fraction <= 1.0,
            "min_valid_fraction",
            expected="0..1",
            found=self.min_valid_fraction,
            fix="use e.g. --min-valid-fraction 0.75",
        )
        require(
            self.workers >= 0,
            "scan workers",
            expected=">= 0 (0: automatic)",
            found=self.workers,
            fix="e.g. 3",
        )
        require(
            self.prep_threads >= 0,
            "preprocessing threads",
            expected=">= 0 (0: automatic)",
            found=self.prep_threads,
            fix="e.g. 2",
        )
        require(
            self.prep in PREP_PLACES,
            "preprocessing place",
            expected=f"one of {PREP_PLACES}",
            found=self.prep,
            fix="use --prep auto, host or device",
        )
        require(
            self.prep != "device" or self.path == "dense",
            "--prep device",
            expected="the dense path",
            found=self.path,
            fix="use --prep host with --path window",
        )
        self.infer_config()

    def worker_count(self) -> int:
        return self.workers or (os.cpu_count() or 1) + 1

    def preprocess_threads(self) -> int:
        return self.prep_threads or max(1, (os.cpu_count() or 1) // self.worker_count())

    def resolved(self) -> ScanConfig:
        """``prep="auto"`` made concrete for this process's devices (the grid's run key uses this)."""
        if self.prep != "auto":
            return self
        device = self.path == "dense" and jax.default_backend() != "cpu"
        return dataclasses.replace(self, prep="device" if device else "host")

    def infer_config(self, device_prep: DevicePrep | None = None) -> InferConfig:
        return InferConfig(
            device_prep=device_prep,
            path=self.path,
            batch_size=self.batch_size,
            dtype=self.dtype,
            tile_cells=self.tile_cells,
            strip_cells=max(1, min(self.tile_cells, 64)),
        )


@dataclass(frozen=True)
class SceneJob:
    """What a tile task needs, all picklable (so a distributed worker can run it)."""

    store_root: str
    scene_id: str
    checkpoint: str
    config: ScanConfig
    staging: str
    height_px: int
    width_px: int
    run_key: str
    checkpoint_sha256: str
    device_prep: DevicePrep | None = None


@dataclass(frozen=True)
class ScanResult:
    """One scene of a run: its grid, tiles (and how many were resumed) and complete windows scored now."""

    scene_id: str
    path: Path
    tiles_total: int
    tiles_skipped: int
    windows: int
    skipped_scene: bool = False


# ---------------------------------------------------------------------------------------------- per process caches

_lock = threading.Lock()


_loaded_models: dict[tuple[str, str], tuple[Any, ModelMeta]] = {}


def _loaded(checkpoint: str, checkpoint_sha256: str, *, verify: bool = False) -> tuple[Any, ModelMeta]:
    """The checkpoint's model, loaded and verified (``load_checkpoint``): again at every run (``verify``, so
    a checkpoint damaged since the last run of a long-lived process is refused), else once per process."""
    key = (checkpoint, checkpoint_sha256)
    if verify or key not in _loaded_models:
        _loaded_models.clear()
        _loaded_models[key] = load_checkpoint(checkpoint)
    return _loaded_models[key]


@functools.cache
def _model(checkpoint: str, checkpoint_sha256: str, config: InferConfig) -> tuple[Predictor, ModelMeta]:
    """The checkpoint's predictor and metadata, once per process (keyed by content, not only by path)."""
    model, meta = _loaded(checkpoint, checkpoint_sha256)
    return Predictor(model, config), meta


@functools.cache
def _scene(store_root: str, scene_id: str, run_key: str) -> Scene:
    """An open scene, once per process and scan (a re-ingested scene has another run key)."""
    return Store.open(store_root).scene(scene_id)


@functools.cache
def _prep_pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="fringescan-prep")


@functools.cache
def _prob_array(staging: str) -> Any:
    """The staged array's tensorstore handle, opened once per process and run."""
    return open_staged_array(Path(staging))


def _cached(factory: Callable, *args: object) -> object:
    with _lock:
        return factory(*args)


# ---------------------------------------------------------------------------------------------- one tile


def tile_input(scene: Scene, tile: Tile, meta: ModelMeta, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Model input ``(10n+140, 10m+140, C)`` of a tile and its usable-pixel mask, from the store.

    ``threads`` > 1 preprocesses the tile in that many row bands at once (numpy releases the GIL), with
    bit-identical output (``scanner.core.phase.row_bands``).
    """
    arrays = scene.read_many(meta.preprocess.rasters(), tile.read_window)
    pixel_m = scene.grid.pixel_size.mean_m
    r = tile.reach_px
    x = banded_preprocess(arrays, pixel_m, meta.preprocess, crop=r, threads=threads)
    return x, _usable_inside(arrays, r)


def tile_raw(scene: Scene, tile: Tile, prep: DevicePrep) -> tuple[np.ndarray, np.ndarray]:
    """Raw read window ``(10n+140+2r, 10m+140+2r, planes)`` float32 for device preprocessing, and the
    usable-pixel mask of the model window."""
    arrays = scene.read_many(prep.raw_names, tile.read_window)
    raw = np.empty((*arrays["phase"].shape, len(prep.raw_names)), np.float32)
    for k, name in enumerate(prep.raw_names):
        raw[..., k] = arrays[name]
    return raw, _usable_inside(arrays, tile.reach_px)


def _usable_inside(arrays: dict[str, np.ndarray], crop: int) -> np.ndarray:
    """Usable-pixel mask (valid and finite phase) of a read window without its ``crop`` px halo."""
    height, width = arrays["phase"].shape
    inner = (slice(crop, height - crop), slice(crop, width - crop))
    return (arrays["valid"][inner] != 0) & np.isfinite(arrays["phase"][inner])


def banded_preprocess(
    arrays: dict[str, np.ndarray], pixel_m: float, config: PreprocessConfig, *, crop: int, threads: int
) -> np.ndarray:
    """``preprocess`` of a read window's arrays without their ``crop`` px halo (the filter's reach), in
    ``threads`` row bands at once; bit-identical to one pass (``scanner.core.phase.row_bands``)."""

    def band(rows: slice) -> np.ndarray:
        part = {name: a[rows] for name, a in arrays.items()}
        phase, valid = part.pop("phase"), part.pop("valid")
        return preprocess(phase, valid, pixel_m, config, part, crop=crop)

    bands = row_bands(arrays["phase"].shape[0], crop, threads, crop)
    if len(bands) == 1:
        return band(bands[0][0])
    return np.concatenate(list(_prep_pool(threads).map(lambda b: band(b[0]), bands)))


def tile_probability(
    x: np.ndarray,
    usable: np.ndarray,
    tile: Tile,
    height_px: int,
    width_px: int,
    predictor: Predictor,
    min_valid_fraction: float,
) -> np.ndarray:
    """Class-1 probability of the tile's cells, NaN where the window is incomplete or mostly invalid."""
    n, m = tile.cells.height, tile.cells.width
    keep = complete_mask(tile.cells, height_px, width_px)
    keep &= window_valid_fraction(usable, n, m) >= min_valid_fraction
    if not keep.any():
        return np.full((n, m), np.nan, np.float32)
    prob = predictor.predict_tile(x, n, m)
    return np.where(keep, prob, np.float32(np.nan)).astype(np.float32)


def run_tile(job: SceneJob, tile: Tile) -> int:
    """Score one tile, write its cells and its done-marker; returns the number of cells written."""
    scene = _cached(_scene, job.store_root, job.scene_id, job.run_key)
    infer = job.config.infer_config(job.device_prep)
    predictor, meta = _cached(_model, job.checkpoint, job.checkpoint_sha256, infer)
    if job.device_prep is None:
        x, usable = tile_input(scene, tile, meta, job.config.preprocess_threads())
    else:
        x, usable = tile_raw(scene, tile, job.device_prep)
    prob = tile_probability(
        x, usable, tile, job.height_px, job.width_px, predictor, job.config.min_valid_fraction
    )
    rows, cols = tile.cells.slices()
    array = _cached(_prob_array, str(job.staging))
    array[rows, cols].write(prob).result()
    windows = tile_windows(tile, job.height_px, job.width_px)
    mark_done(Path(job.staging), tile.tile_id, {"cells": tile.cells.n_cells, "windows": windows})
    return windows


def tile_windows(tile: Tile, height_px: int, width_px: int) -> int:
    """Complete windows (cells that can get a probability) of a tile."""
    return int(complete_mask(tile.cells, height_px, width_px).sum())


# ---------------------------------------------------------------------------------------------- one scene


def run_key(scene: Scene, checkpoint_sha256: str, config: ScanConfig) -> str:
    """Identity of a scan: scene content, checkpoint and every setting that changes the grid."""
    ignored = ("workers", "batch_size", "prep_threads")
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in ignored}
    payload = json.dumps(
        {
            "scene": scene.attrs.get("content_sha256"),
            "grid": scene.grid.to_attrs(),
            "checkpoint": checkpoint_sha256,
            "config": settings,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:RUN_KEY_LENGTH]


def grid_attrs(
    scene: Scene,
    meta: ModelMeta,
    checkpoint_sha256: str,
    config: ScanConfig,
    key: str,
    checkpoint: str | Path,
) -> dict:
    """The ``prob`` group's ``attrs["fringescan"]`` (docs/contracts.md)."""
    attrs = scene.attrs
    return {
        "scene_id": scene.id,
        "grid": scene.grid.cell_grid().to_attrs(),
        "cell_px": STRIDE_PX,
        "window_px": WINDOW_PX,
        "min_valid_fraction": config.min_valid_fraction,
        "model": {
            "name": meta.model_config.name,
            "checkpoint_sha256": checkpoint_sha256,
            "zoo_model": zoo_name_of(checkpoint),  # which shipped model, when it is one
        },
        "preprocess": dataclasses.asdict(meta.preprocess),
        "scene_attrs": {
            k: attrs.get(k) for k in ("first_date", "second_date", "wavelength_m", "content_sha256")
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fringescan_version": __version__,
        "config": dataclasses.asdict(config),
        "run_key": key,
        "operating_point": (None if meta.operating_point is None else meta.operating_point.to_dict()),
    }


# ---------------------------------------------------------------------------------------------- a run


def plan_scene(
    store: Store, scene_id: str, checkpoint: str, config: ScanConfig
) -> tuple[SceneJob, TilePlan, list[Tile], str] | None:
    """Check the scene and model, stage the grid and list the tiles still to do (None: already published)."""
    meta = read_meta(checkpoint)
    scene = store.scene(scene_id)
    config = config.resolved()
    check_scannable(scene, meta.pixel_size_m)
    check_compatible(meta, scene.grid.pixel_size.mean_m, scene.attrs.get("wavelength_m"))
    scene.check_chunks(meta.preprocess.rasters())
    digest = checkpoint_hash(checkpoint)
    key = run_key(scene, digest, config)
    root = Path(store.root)
    if published_key(root, scene_id) == key:
        return None
    staging = store.layout.scan_staging(scene_id, key)
    attrs = grid_attrs(scene, meta, digest, config, key, checkpoint)
    prepare_staging(staging, scene.grid.cell_grid().shape, attrs, chunk_cells=config.tile_cells)
    reach = meta.preprocess.reach_px(scene.grid.pixel_size.mean_m)
    plan = plan_tiles(scene.grid.height, scene.grid.width, tile_cells=config.tile_cells, reach_px=reach)
    done = done_tiles(staging)
    todo = in_strips(
        [t for t in plan.tiles if t.tile_id not in done], strip_width_px(meta.preprocess.rasters())
    )
    job = SceneJob(
        store_root=str(root),
        scene_id=scene_id,
        checkpoint=str(Path(checkpoint).absolute()),
        config=config,
        staging=str(staging),
        height_px=scene.grid.height,
        width_px=scene.grid.width,
        run_key=key,
        checkpoint_sha256=digest,
        device_prep=(
            DevicePrep(meta.preprocess, scene.grid.pixel_size.mean_m) if config.prep == "device" else None
        ),
    )
    return job, plan, todo, key


def strip_width_px(names: Sequence[str], cache_bytes: int = READ_CACHE_BYTES) -> int:
    """Widest strip of tiles (``scanner.core.tiling.in_strips``) whose reads stay in the decoded-chunk cache.

    A row of tiles reads three rows of store chunks (its own and the halos above and below), one chunk
    column more on each side; the strip is as many chunk columns as that fits in ``cache_bytes``, at least
    one. The order only changes speed, never the grid."""
    column_bytes = 3 * CHUNK_PX * CHUNK_PX * sum(np.dtype(ARRAYS[name]).itemsize for name in names)
    return max(1, cache_bytes // column_bytes - 2) * CHUNK_PX


def zoo_assignment(
    store: Store, scene_ids: Sequence[str] | None = None
) -> tuple[dict[Path, list[str]], dict[str, str]]:
    """``fringescan scan`` without ``--model``: each scene's shipped model and the scenes no zoo model fits.

    A scene takes the default model when it fits (pixel spacing and fringe density, ``check_compatible``'s
    tolerances), else the first zoo model that fits; a scene none fits maps to the reason, which is
    ``check_compatible``'s message against the default model (it names the models that would fit).
    """
    models = zoo_models()
    plan: dict[Path, list[str]] = {}
    refused: dict[str, str] = {}
    for sid in list(scene_ids) if scene_ids else store.scene_ids():
        scene = store.scene(sid)
        pixel, wavelength = scene.grid.pixel_size.mean_m, scene.attrs.get("wavelength_m")
        names = fitting_models(pixel, wavelength) if isinstance(wavelength, int | float) else []
        if not names:
            try:
                check_compatible(read_meta(models[DEFAULT_MODEL].path), pixel, wavelength)
            except ModelMismatchError as error:
                refused[sid] = str(error)
                continue
            names = [DEFAULT_MODEL]
        name = DEFAULT_MODEL if DEFAULT_MODEL in names else names[0]
        plan.setdefault(models[name].path, []).append(sid)
    return plan, refused


def scan(
    store: Store,
    checkpoint: str | Path,
    scene_ids: Sequence[str] | None = None,
    config: ScanConfig | None = None,
    *,
    scheduler: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[ScanResult]:
    """Scan ``scene_ids`` (default: every scene) with the checkpoint; one Dask graph for the whole run."""
    config = (config or ScanConfig()).resolved()
    checkpoint = str(Path(checkpoint).absolute())
    # The model is loaded and verified (params present, readable, of the recorded sha256) before anything
    # else, so a damaged checkpoint is refused even where every scene is already scanned with it.
    with _lock:
        _loaded(checkpoint, checkpoint_hash(checkpoint), verify=True)
    ids = list(scene_ids) if scene_ids else store.scene_ids()
    plans = {sid: plan_scene(store, sid, checkpoint, config) for sid in ids}
    jobs = [(p[0], t) for p in plans.values() if p is not None for t in p[2]]
    total = sum(tile_windows(t, job.height_px, job.width_px) for job, t in jobs)
    if progress is not None:
        progress(0, total)  # the window count is known before the first tile (and its compile) finishes
    try:
        _compute(jobs, config, scheduler, progress, total)
    finally:
        with _lock:
            _prob_array.cache_clear()  # staged arrays are renamed away when published
    results = []
    for sid, planned in plans.items():
        if planned is None:
            path = prob_path(store.root, sid)
            results.append(ScanResult(sid, path, 0, 0, 0, skipped_scene=True))
            continue
        job, plan, todo, key = planned
        _check_complete(Path(job.staging), plan)
        path = publish_grid(Path(store.root), sid, Path(job.staging))
        windows = sum(tile_windows(t, job.height_px, job.width_px) for t in todo)
        results.append(ScanResult(sid, path, len(plan.tiles), len(plan.tiles) - len(todo), windows))
        store.log_event(
            "scan",
            scene_id=sid,
            run_key=key,
            tiles=len(plan.tiles),
            tiles_resumed=len(plan.tiles) - len(todo),
            checkpoint=checkpoint,
        )
    return results


def _compute(
    jobs: list[tuple[SceneJob, Tile]],
    config: ScanConfig,
    scheduler: str | None,
    progress: Callable[[int, int], None] | None,
    total: int,
) -> None:
    done = [0]

    def one(job: SceneJob, tile: Tile) -> int:
        cells = run_tile(job, tile)
        if progress is not None:
            with _lock:
                done[0] += cells
                progress(done[0], total)
        return cells

    if scheduler and scheduler not in LOCAL_SCHEDULERS:
        from dask.distributed import Client

        tasks = [dask.delayed(run_tile, pure=False)(job, tile) for job, tile in jobs]
        with Client(scheduler) as client:
            dask.compute(*tasks, scheduler=client.get)
        return
    # Dask's local schedulers run independent tasks in descending key order; these keys make that the plan
    # order (strip by strip, scanner.core.tiling.in_strips), which keeps tile reads in the decoded-chunk cache.
    # test_scan_runs_tiles_in_plan_order holds Dask to it.
    tasks = [
        dask.delayed(one)(job, tile, dask_key_name=f"fringescan-tile-{len(jobs) - k:08d}")
        for k, (job, tile) in enumerate(jobs)
    ]
    if scheduler == "synchronous":
        dask.compute(*tasks, scheduler="synchronous")
        return
    # Our own pool, so that an error or a stop (SIGTERM, Ctrl-C: an exception in this thread) waits for the
    # tiles in flight before the caller releases the lock: they finish, keep their done-markers for the resume,
    # and nothing writes into the store after the run has ended. Tiles not started are dropped.
    pool = ThreadPoolExecutor(config.worker_count(), thread_name_prefix="fringescan-tile")
    try:
        dask.compute(*tasks, scheduler="threads", pool=pool)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _check_complete(staging: Path, plan: TilePlan) -> None:
    done = done_tiles(staging)
    missing = [t.tile_id for t in plan.tiles if t.tile_id not in done]
    if missing:
        raise InputError(
            problem(
                "scan run",
                expected="every tile finished",
                found=f"{len(missing)} unfinished",
                fix="re-run the same scan; finished tiles are skipped",
            )
        )
