"""One ingest: an interferogram GeoTIFF (plus coherence, DEM, masks) into one scene of the store.

The scene grid is the phase raster's grid, multilooked when the phase is finer than the model's pixel size by
more than 10% (complex averaging of ``exp(i*phase)``; a pixel is valid when at least half its looks are).
Everything streams in 500 x 500 output chunks: each chunk reads its input window, warps the DEM, coherence
and water mask onto the chunk (``scanner.io.readers``), computes slope and masks, and is written to a staging
group. Only when every chunk is written are the attributes set and the group renamed into ``scenes/``, so a
failure leaves the store as it was. Peak memory depends on the chunk size, not on the scene size.

The filter is not applied on ingest (the store holds the wrapped phase). The numerics live in ``scanner.core``:
multilooking in ``multilook``, slope and the layover/shadow mask in ``dem``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from scanner import __version__
from scanner.config import require
from scanner.core.dem import layover_shadow_from_gradient, slope_from_gradient
from scanner.core.kernels import horn_gradient
from scanner.core.multilook import multilook, multilook_factors, multilooked_grid
from scanner.core.phase import wrap
from scanner.errors import InputError, StoreError, UsageError, problem
from scanner.geo import CHUNK_PX, WINDOW_PX, GeoGrid, PixelWindow
from scanner.io import readers
from scanner.io.store import SceneWriter, Store, now_iso
from scanner.progress import ProgressCallback

log = logging.getLogger(__name__)

KINDS = ("wrapped", "unwrapped", "complex", "magphase")
WRAPPED_TOLERANCE_RAD = 1e-3
"""A float phase raster whose valid values all lie within [-pi - tol, pi + tol] is taken as wrapped."""

LOOK_AZIMUTH_DEG = {"ascending": 80.0, "descending": 280.0}
"""Right-looking SAR: ground look direction (clockwise from north) for near-polar ascending/descending passes."""

_ID_SUFFIXES = re.compile(
    r"([._-](phase|unw|unwrapped|wrapped|int|ifg|interferogram|diff|eqa|geo|filt))+$", re.I
)
_ID_VALID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


@dataclass(frozen=True, kw_only=True)
class IngestConfig:
    """Options of one ingest (``fringescan ingest`` flags)."""

    model_pixel_size_m: float = 28.0
    kind: str | None = None
    chunk_px: int = CHUNK_PX
    incidence_deg: float | None = None
    look_azimuth_deg: float | None = None

    def __post_init__(self) -> None:
        require(
            self.model_pixel_size_m > 0,
            "--pixel-size-m",
            expected="a positive size in metres",
            found=self.model_pixel_size_m,
            fix="use the model's spacing, e.g. 28",
        )
        require(
            self.kind is None or self.kind in KINDS,
            "--kind",
            expected=f"one of {KINDS}",
            found=self.kind,
            fix="drop --kind to detect it",
        )
        require(
            self.chunk_px > 0 and self.chunk_px % 10 == 0,
            "chunk size",
            expected="a multiple of 10 px",
            found=self.chunk_px,
            fix="use 500",
        )
        require(
            self.incidence_deg is None or 0 < self.incidence_deg < 90,
            "--incidence-deg",
            expected="an angle in (0, 90)",
            found=self.incidence_deg,
            fix="pass the look angle at the scene",
        )


@dataclass(frozen=True, kw_only=True)
class IngestRequest:
    """The files of one scene."""

    phase: Path
    scene_id: str
    coherence: Path | None = None
    dem: Path | None = None
    water: Path | None = None
    exclude: tuple[Path, ...] = ()
    replace: bool = False


@dataclass(frozen=True)
class IngestResult:
    scene_id: str
    status: str  # "ingested", "replaced" or "unchanged"
    kind: str
    shape: tuple[int, int]
    multilook: tuple[int, int]
    notes: tuple[str, ...] = field(default=())


def scene_id_from_path(path: str | Path) -> str:
    """Default scene id: the file name without extensions and processor suffixes (``.phase``, ``_unw``...)."""
    name = Path(path).name
    stem = re.sub(r"(\.(tif|tiff|vrt|img|nc))+$", "", name, flags=re.I)
    return _ID_SUFFIXES.sub("", stem) or stem


def check_scene_id(scene_id: str) -> str:
    if not _ID_VALID.match(scene_id):
        raise UsageError(
            problem(
                "scene id",
                expected="1-128 letters, digits, '.', '_' or '-' (no leading dot)",
                found=repr(scene_id),
                fix="pass --id with a plain name",
            )
        )
    return scene_id


def chunk_windows(grid: GeoGrid, chunk_px: int) -> Iterator[PixelWindow]:
    """The grid's chunk-aligned windows, row-major."""
    for row in range(0, grid.height, chunk_px):
        for col in range(0, grid.width, chunk_px):
            yield PixelWindow(row, col, min(chunk_px, grid.height - row), min(chunk_px, grid.width - col))


@dataclass
class _Stats:
    """Running figures of the streamed phase, checked when the last chunk is written."""

    n_valid: int = 0
    max_abs_phase: float = 0.0
    coherence_range: tuple[float, float] = (math.inf, -math.inf)


@dataclass
class _Context:
    """What every chunk needs: open datasets, grids, looks and masks."""

    phase_ds: object
    storage: str
    grid: GeoGrid
    looks: tuple[int, int]
    aux: dict[str, object]
    polygons: list[dict]
    geometry: tuple[float, float] | None
    aligned: frozenset[str] = frozenset()
    stats: _Stats = field(default_factory=_Stats)


COHERENCE_NODATA_OFF = -1.0
"""Stand-in nodata for coherence rasters declaring nodata 0 (GAMMA): 0 is a legal coherence, kept as data."""


def ingest_scene(
    store: Store,
    request: IngestRequest,
    config: IngestConfig | None = None,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Ingest one scene into ``store`` (see the module docstring); returns what was done."""
    config = config or IngestConfig()
    check_scene_id(request.scene_id)
    with readers.gdal_env(), readers.open_raster(request.phase, "phase") as phase_ds:
        in_grid = readers.raster_grid(phase_ds, "phase")
        storage = readers.phase_storage(phase_ds)
        _check_kind(config.kind, storage, request.phase)
        looks = multilook_factors(in_grid.pixel_size, config.model_pixel_size_m)
        grid = multilooked_grid(in_grid, looks)
        aux = {role: readers.open_raster(path, role) for role, path in _aux_paths(request).items()}
        try:
            return _ingest_open(store, request, config, progress, phase_ds, storage, grid, looks, aux)
        finally:
            for ds in aux.values():
                ds.close()


def _ingest_open(
    store: Store,
    request: IngestRequest,
    config: IngestConfig,
    progress: ProgressCallback | None,
    phase_ds,
    storage: str,
    grid: GeoGrid,
    looks: tuple[int, int],
    aux: dict,
) -> IngestResult:
    for role, ds in aux.items():
        _check_aux(role, ds, grid)
    polygons = [p for path in request.exclude for p in readers.load_polygons(path)]
    sources = _sources(request)
    inputs_sha256 = _inputs_sha256(sources, config, looks)
    previous = _previous(store, request, inputs_sha256)
    if previous is not None and previous.get("inputs_sha256") == inputs_sha256:
        log.info("scene %s: already ingested from the same inputs; nothing to do", request.scene_id)
        return IngestResult(
            request.scene_id,
            "unchanged",
            previous.get("kind", "?"),
            grid.shape,
            looks,
            ("already ingested from the same inputs; the store is unchanged",),
        )
    meta = readers.scene_metadata(phase_ds.tags(), request.phase)
    aligned = frozenset(role for role, ds in aux.items() if readers.on_grid(ds, role, grid))
    ctx = _Context(phase_ds, storage, grid, looks, aux, polygons, _geometry(config, meta, aux), aligned)
    names = [
        "phase",
        "valid",
        *(n for n in ("coherence",) if "coherence" in aux),
        *(n for n in ("dem", "slope") if "dem" in aux),
    ]
    with (
        store.staging(store.layout.scene(request.scene_id), replace=previous is not None) as tmp,
        SceneWriter(tmp, grid, names, config.chunk_px) as writer,
    ):
        _stream(ctx, writer, config.chunk_px, progress)
        kind = _finish_checks(ctx, config, request)
        attrs = _attrs(request, config, grid, looks, kind, meta, sources, inputs_sha256, previous)
        if ctx.geometry is not None:
            attrs["layover_shadow"] = {"incidence_deg": ctx.geometry[0], "look_azimuth_deg": ctx.geometry[1]}
        writer.finish(attrs)
    return _report(store, request, grid, looks, kind, previous, ctx)


def _aux_paths(request: IngestRequest) -> dict[str, Path]:
    paths = {"coherence": request.coherence, "dem": request.dem, "water": request.water}
    return {role: Path(path) for role, path in paths.items() if path is not None}


def _check_kind(kind: str | None, storage: str, path: Path) -> None:
    allowed = {"float": ("wrapped", "unwrapped"), "complex": ("complex",), "magphase": ("magphase",)}[storage]
    if kind is not None and kind not in allowed:
        raise UsageError(
            problem(
                f"--kind {kind} for {path}",
                expected=f"one of {allowed} for a {storage} raster",
                found=kind,
                fix="drop --kind to detect the kind from the file",
            )
        )


def _check_aux(role: str, ds, grid: GeoGrid) -> None:
    aux_grid = readers.raster_grid(ds, role)
    if not readers.overlaps(ds, grid):
        raise InputError(
            problem(
                f"{role} raster {ds.name}",
                expected="a footprint overlapping the phase scene",
                found=f"bounds {tuple(round(v, 4) for v in ds.bounds)} in {aux_grid.crs.name}, "
                f"scene bounds {tuple(round(v, 4) for v in grid.bounds)} in {grid.crs.name}",
                fix=f"pass the {role} raster that covers this scene",
            )
        )


def _geometry(config: IngestConfig, meta: dict, aux: dict) -> tuple[float, float] | None:
    """(incidence, look azimuth) in degrees for the layover/shadow mask, or None when unknown or no DEM."""
    if "dem" not in aux:
        return None
    incidence = config.incidence_deg or meta.get("incidence_deg")
    azimuth = config.look_azimuth_deg
    if azimuth is None:
        azimuth = LOOK_AZIMUTH_DEG.get(meta.get("pass_direction") or "")
    if incidence is None or azimuth is None:
        log.info("no incidence angle or look direction (tags or flags): layover/shadow mask skipped")
        return None
    return float(incidence), float(azimuth)


def _sources(request: IngestRequest) -> list[dict]:
    roles = [
        ("phase", request.phase),
        *_aux_paths(request).items(),
        *(("exclude", p) for p in request.exclude),
    ]
    return [
        {"role": role, "path": str(Path(path).resolve()), "sha256": readers.sha256_file(path)}
        for role, path in roles
    ]


def _inputs_sha256(sources: list[dict], config: IngestConfig, looks: tuple[int, int]) -> str:
    """Hash of every input file's content and of the options that change the stored arrays."""
    key = {
        "sources": [(s["role"], s["sha256"]) for s in sources],
        "looks": looks,
        "kind": config.kind,
        "incidence_deg": config.incidence_deg,
        "look_azimuth_deg": config.look_azimuth_deg,
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


def _previous(store: Store, request: IngestRequest, inputs_sha256: str) -> dict | None:
    """Attributes of the scene already under this id; refuses different content without ``replace``."""
    if not store.has_scene(request.scene_id):
        return None
    previous = store.scene(request.scene_id).attrs
    if previous.get("inputs_sha256") != inputs_sha256 and not request.replace:
        raise StoreError(
            problem(
                f"scene id {request.scene_id!r}",
                expected="a new id, or the same inputs again",
                found=f"a scene with other content (ingested {previous.get('ingested')} from "
                f"{previous.get('sources', [{}])[0].get('path')})",
                fix="pass --replace to replace it, or --id to store this one under another id",
            )
        )
    return previous


def _stream(ctx: _Context, writer: SceneWriter, chunk_px: int, progress: ProgressCallback | None) -> None:
    windows = list(chunk_windows(ctx.grid, chunk_px))
    for done, window in enumerate(windows, start=1):
        for name, data in _chunk(ctx, window).items():
            writer.write(name, window, data)
        if progress:
            progress(done, len(windows))


def _chunk(ctx: _Context, window: PixelWindow) -> dict[str, np.ndarray]:
    """All arrays of one output chunk."""
    ly, lx = ctx.looks
    source = PixelWindow(window.row_off * ly, window.col_off * lx, window.height * ly, window.width * lx)
    phase, valid = readers.read_phase(ctx.phase_ds, ctx.storage, source)
    if valid.any():
        ctx.stats.max_abs_phase = max(ctx.stats.max_abs_phase, float(np.abs(phase[valid]).max()))
    if (ly, lx) != (1, 1):
        phase, valid = multilook(phase, valid, ctx.looks)
    out: dict[str, np.ndarray] = {}
    excluded = _aux_arrays(ctx, window, out)
    if ctx.polygons:
        excluded |= readers.rasterize_window(ctx.polygons, ctx.grid, window)
    valid &= ~excluded
    ctx.stats.n_valid += int(valid.sum())
    out["phase"] = np.where(valid, wrap(phase), np.float32(np.nan))
    out["valid"] = valid.astype(np.uint8)
    return out


def _aux_arrays(ctx: _Context, window: PixelWindow, out: dict[str, np.ndarray]) -> np.ndarray:
    """Coherence, DEM and slope of the chunk into ``out``; returns the water + layover/shadow mask."""
    excluded = np.zeros((window.height, window.width), dtype=bool)
    if "coherence" in ctx.aux:
        nodata_off = COHERENCE_NODATA_OFF if ctx.aux["coherence"].nodata == 0 else None
        coherence = _aux_window(ctx, "coherence", window, src_nodata=nodata_off)
        if np.isfinite(coherence).any():
            low, high = ctx.stats.coherence_range
            ctx.stats.coherence_range = (
                min(low, float(np.nanmin(coherence))),
                max(high, float(np.nanmax(coherence))),
            )
        out["coherence"] = coherence
    if "dem" in ctx.aux:
        halo = _fill_halo(_aux_window(ctx, "dem", window.grown(1)))
        pixel = ctx.grid.pixel_size
        gradient = horn_gradient(halo, pixel.x_m, pixel.y_m)
        out["dem"] = halo[1:-1, 1:-1]
        out["slope"] = slope_from_gradient(*gradient)
        if ctx.geometry is not None:
            excluded |= layover_shadow_from_gradient(
                gradient, incidence_deg=ctx.geometry[0], look_azimuth_deg=ctx.geometry[1]
            )
    if "water" in ctx.aux:
        water = _aux_window(ctx, "water", window, categorical=True)
        excluded |= np.nan_to_num(water) != 0
    return excluded


def _aux_window(
    ctx: _Context,
    role: str,
    window: PixelWindow,
    *,
    src_nodata: float | None = None,
    categorical: bool = False,
) -> np.ndarray:
    """Auxiliary raster ``role`` on ``window`` of the scene grid (float32, NaN = no data).

    A raster on the scene grid itself is read directly (``readers.read_on_grid``), which equals the warp bit for
    bit at a fraction of its cost; any other raster, or a window that read cannot settle, is warped.
    """
    ds = ctx.aux[role]
    if role in ctx.aligned:
        values = readers.read_on_grid(ds, window, src_nodata, role)
        if values is not None:
            return values
    resampling = "nearest" if categorical else readers.resampling_for(ds, ctx.grid)
    return readers.reproject_window(
        ds, ctx.grid, window, resampling=resampling, src_nodata=src_nodata, role=role
    )


def _fill_halo(z: np.ndarray) -> np.ndarray:
    """Replace NaN in the 1 px ring by the adjacent inner pixel (edge replication where the DEM stops)."""
    z = z.copy()
    for outer, inner in ((0, 1), (-1, -2)):
        z[outer] = np.where(np.isnan(z[outer]), z[inner], z[outer])
        z[:, outer] = np.where(np.isnan(z[:, outer]), z[:, inner], z[:, outer])
    return z


def _finish_checks(ctx: _Context, config: IngestConfig, request: IngestRequest) -> str:
    """Whole-scene checks once every chunk is streamed; returns the kind (given or detected)."""
    if ctx.stats.n_valid == 0:
        raise InputError(
            problem(
                f"phase raster {request.phase}",
                expected="some valid pixels",
                found="only nodata (after nodata, masks and exclusions)",
                fix="check the file's nodata value and the masks passed",
            )
        )
    low, high = ctx.stats.coherence_range
    if low < -1e-3 or high > 1 + 1e-3:
        raise InputError(
            problem(
                f"coherence raster {request.coherence}",
                expected="values in 0..1",
                found=f"values in {low:g}..{high:g}",
                fix="pass the coherence (cc) file, not an amplitude or phase file",
            )
        )
    kind = config.kind or _detected_kind(ctx.storage, ctx.stats.max_abs_phase)
    log.info("scene %s: %s phase, %d x %d px, looks %s", request.scene_id, kind, *ctx.grid.shape, ctx.looks)
    return kind


def _detected_kind(storage: str, max_abs_phase: float) -> str:
    if storage != "float":
        return storage
    return "wrapped" if max_abs_phase <= math.pi + WRAPPED_TOLERANCE_RAD else "unwrapped"


def _attrs(
    request: IngestRequest,
    config: IngestConfig,
    grid: GeoGrid,
    looks: tuple[int, int],
    kind: str,
    meta: dict,
    sources: list[dict],
    inputs_sha256: str,
    previous: dict | None,
) -> dict:
    history = list((previous or {}).get("replaces", []))
    if previous is not None:
        history.append(
            {k: previous.get(k) for k in ("ingested", "content_sha256", "inputs_sha256", "sources")}
        )
    phase_hashes = "".join(s["sha256"] for s in sources if s["role"] == "phase")
    return {
        "scene_id": request.scene_id,
        "kind": kind,
        "grid": grid.to_attrs(),
        **meta,
        "sources": sources,
        "multilook": list(looks),
        "model_pixel_size_m": config.model_pixel_size_m,
        "content_sha256": hashlib.sha256(phase_hashes.encode()).hexdigest(),
        "inputs_sha256": inputs_sha256,
        "layover_shadow": None,
        "chunk_px": config.chunk_px,
        "ingested": now_iso(),
        "fringescan_version": __version__,
        "replaces": history,
    }


def _report(
    store: Store,
    request: IngestRequest,
    grid: GeoGrid,
    looks: tuple[int, int],
    kind: str,
    previous: dict | None,
    ctx: _Context,
) -> IngestResult:
    status = "replaced" if previous is not None else "ingested"
    store.log_event(
        "replace" if previous else "ingest",
        scene_id=request.scene_id,
        kind=kind,
        shape=list(grid.shape),
        multilook=list(looks),
        source=str(request.phase),
    )
    notes = []
    if grid.height < WINDOW_PX or grid.width < WINDOW_PX:
        notes.append(
            f"{grid.height} x {grid.width} px is smaller than one {WINDOW_PX} px window: stored, "
            "but the scan will refuse it"
        )
    return IngestResult(request.scene_id, status, kind, grid.shape, looks, tuple(notes))
