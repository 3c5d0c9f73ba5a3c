"""One ingest: an interferogram GeoTIFF (plus coherence, DEM, masks) into one scene of the store.

The scene grid is the phase raster's grid, brought to the model's pixel size when the phase is finer than it by
more than 10%: by integer looks where they land within 5% of it, else resampled to exactly the model's spacing
(both complex averages of ``exp(i*phase)``; a pixel is valid when at least half its looks, or its area, are).
Coarser phase is stored as it is unless ``--upsample`` asks for the complex bilinear interpolation of
``exp(i*phase)`` onto the model's spacing (``scanner.core.multilook.bilinear_upsample``; it adds no information).
Everything streams in 500 x 500 output chunks: each chunk reads its input window, warps the DEM, coherence
and water mask onto the chunk (``scanner.io.readers``), computes slope and masks, and is written to a staging
group. Only when every chunk is written are the attributes set and the group renamed into ``scenes/``, so a
failure leaves the store as it was. Peak memory depends on the chunk size, not on the scene size.

The filter is not applied on ingest (the store holds the wrapped phase). The numerics live in ``scanner.core``:
multilooking and resampling in ``multilook``, slope and the layover/shadow mask in ``dem``.
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
from scanner.core.multilook import (
    UPSAMPLE,
    Reduction,
    bilinear_upsample,
    complex_average,
    multilook,
    plan_reduction,
    reduced_grid,
    source_window,
)
from scanner.core.phase import wrap
from scanner.errors import InputError, StoreError, UsageError, problem
from scanner.geo import CHUNK_PX, WINDOW_PX, GeoGrid, PixelWindow
from scanner.io import readers
from scanner.io.products import ProductFiles
from scanner.io.store import ARRAYS, SceneWriter, Store, now_iso
from scanner.io.writers import check_free_space
from scanner.progress import ProgressCallback
from scanner.sensors import band_of, get_sensor, sensor_names

log = logging.getLogger(__name__)

KINDS = ("wrapped", "unwrapped", "complex", "magphase")
WRAPPED_TOLERANCE_RAD = 1e-3
"""A float phase raster whose valid values all lie within [-pi - tol, pi + tol] is taken as wrapped."""

LOOK_AZIMUTH_DEG = {"ascending": 80.0, "descending": 280.0}
"""Right-looking SAR: ground look direction (clockwise from north) for near-polar ascending/descending passes."""

_ID_SUFFIXES = re.compile(
    r"([._-](phase|pha|unw|unwrapped|wrapped|int|ifg|interferogram|diff|eqa|geo|filt))+$", re.I
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
    sensor: str | None = None
    """``--sensor``: a name of ``scanner.sensors.SENSORS`` (supplies the wavelength when the file has none)."""
    wavelength_m: float | None = None
    """``--wavelength-m``: the radar wavelength of a file that records none (any sensor)."""
    upsample: bool = False
    """``--upsample``: bring phase coarser than the model's spacing to it by complex bilinear interpolation."""

    def __post_init__(self) -> None:
        if self.sensor is not None:
            get_sensor(self.sensor)  # UsageError listing the known sensors
        require(
            self.wavelength_m is None
            or (math.isfinite(self.wavelength_m) and 0.001 < self.wavelength_m < 10),
            "--wavelength-m",
            expected="a radar wavelength in metres (L band 0.236, C band 0.0555)",
            found=self.wavelength_m,
            fix="give the wavelength in metres, not centimetres or GHz",
        )
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
    water_is_zero: bool = False
    """The water raster marks water with 0 and land with 1 (HyP3) instead of water with non-zero."""
    known: dict = field(default_factory=dict)
    """Scene attributes the product's names and metadata give (``scanner.io.products.ProductFiles.known``);
    checked against the file's tags."""
    look_azimuth_deg: float | None = None
    """Look direction the product's geometry files give (overridden by ``IngestConfig.look_azimuth_deg``)."""
    archive: Path | None = None
    """The zip the files were extracted from: sources are recorded as ``ZIP!member``."""


@dataclass(frozen=True)
class IngestResult:
    scene_id: str
    status: str  # "ingested", "replaced" or "unchanged"
    kind: str
    shape: tuple[int, int]
    multilook: tuple[int, int] | None
    notes: tuple[str, ...] = field(default=())
    resample: dict | None = None
    """The scene attribute ``resample`` when the phase was resampled (``multilook`` is then None)."""

    @property
    def spacing(self) -> str:
        """``looks 3 x 3``, ``resampled 20 x 20 m to 28 x 28 m`` or ``upsampled 111 x 90.2 m to 45 x 45 m``: y
        then x, as the shape."""
        if self.resample is None:
            return "looks {} x {}".format(*self.multilook)
        before, after = self.resample["from_pixel_m"], self.resample["to_pixel_m"]
        verb = "upsampled" if self.resample["method"] == UPSAMPLE else "resampled"
        return f"{verb} {before['y']:.4g} x {before['x']:.4g} m to {after['y']:.4g} x {after['x']:.4g} m"


def product_request(
    product: ProductFiles,
    *,
    scene_id: str | None = None,
    replace: bool = False,
    dem: Path | None = None,
    water: Path | None = None,
    exclude: tuple[Path, ...] = (),
) -> IngestRequest:
    """The ingest of a recognised product (``scanner.io.products``): its phase, coherence, DEM and water
    mask, and what its names and metadata say; ``dem`` / ``water`` given here replace the product's own."""
    archive = product.root if product.root.is_file() else None
    return IngestRequest(
        phase=product.phase,
        scene_id=scene_id or product.scene_id,
        coherence=product.coherence,
        dem=dem or product.dem,
        water=water or product.water,
        water_is_zero=product.water_is_zero if water is None else False,
        exclude=exclude,
        replace=replace,
        known=product.known(),
        look_azimuth_deg=product.look_azimuth_deg,
        archive=archive,
    )


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
    """What every chunk needs: open datasets, grids, the reduction and masks."""

    phase_ds: object
    storage: str
    grid: GeoGrid
    reduction: Reduction
    source_shape: tuple[int, int]
    aux: dict[str, object]
    polygons: list[dict]
    geometry: tuple[float, float] | None
    aligned: frozenset[str] = frozenset()
    stats: _Stats = field(default_factory=_Stats)
    coherence_scale: float = 1.0
    water_is_zero: bool = False


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
        readers.check_raster_size(phase_ds, "phase")
        in_grid = readers.raster_grid(phase_ds, "phase")
        storage = readers.phase_storage(phase_ds)
        _check_kind(config.kind, storage, request.phase)
        reduction = plan_reduction(in_grid.pixel_size, config.model_pixel_size_m, upsample=config.upsample)
        grid = reduced_grid(in_grid, reduction)
        aux = {role: readers.open_raster(path, role) for role, path in _aux_paths(request).items()}
        try:
            return _ingest_open(
                store, request, config, progress, phase_ds, storage, (in_grid, grid), reduction, aux
            )
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
    grids: tuple[GeoGrid, GeoGrid],
    reduction: Reduction,
    aux: dict,
) -> IngestResult:
    in_grid, grid = grids
    resample = resample_attrs(in_grid, grid, reduction)
    for role, ds in aux.items():
        _check_aux(role, ds, grid)
    polygons = [p for path in request.exclude for p in readers.load_polygons(path)]
    sources = _sources(request)
    inputs_sha256 = _inputs_sha256(sources, config, reduction, request)
    meta = scene_metadata(phase_ds.tags(), request, config)
    previous = _previous(store, request, inputs_sha256)
    if previous is not None and previous.get("inputs_sha256") == inputs_sha256:
        log.info("scene %s: already ingested from the same inputs; nothing to do", request.scene_id)
        return IngestResult(
            request.scene_id,
            "unchanged",
            previous.get("kind", "?"),
            grid.shape,
            reduction.looks,
            ("already ingested from the same inputs; the store is unchanged",),
            resample,
        )
    aligned = frozenset(role for role, ds in aux.items() if readers.on_grid(ds, role, grid))
    geometry = _geometry(config, meta, aux)
    ctx = _Context(phase_ds, storage, grid, reduction, in_grid.shape, aux, polygons, geometry, aligned)
    ctx.water_is_zero = request.water_is_zero
    if "coherence" in aux:
        ctx.coherence_scale = readers.coherence_scale(aux["coherence"])
    meta.pop("look_azimuth_deg", None)
    names = [
        "phase",
        "valid",
        *(n for n in ("coherence",) if "coherence" in aux),
        *(n for n in ("dem", "slope") if "dem" in aux),
    ]
    check_free_space(
        store.layout.staging,
        scene_bytes(grid, names),
        what=f"ingest of scene {request.scene_id} ({grid.height:,} x {grid.width:,} px, {len(names)} arrays)",
        fix="free space on the store's disk or use a store on a larger one",
    )
    with (
        store.staging(store.layout.scene(request.scene_id), replace=previous is not None) as tmp,
        SceneWriter(tmp, grid, names, config.chunk_px) as writer,
    ):
        _stream(ctx, writer, config.chunk_px, progress)
        kind = _finish_checks(ctx, config, request)
        attrs = _attrs(request, config, grid, reduction.looks, kind, meta, sources, inputs_sha256, previous)
        if resample is not None:
            attrs["resample"] = resample
        if ctx.geometry is not None:
            attrs["layover_shadow"] = {"incidence_deg": ctx.geometry[0], "look_azimuth_deg": ctx.geometry[1]}
        writer.finish(attrs)
    return _report(store, request, grid, kind, previous, ctx, resample)


def scene_metadata(tags: dict[str, str], request: IngestRequest, config: IngestConfig) -> dict:
    """The scene's metadata attributes: the file's tags, what the product says (``request.known``) and the
    radar (``sensor``, ``wavelength_m``) from tags, product, ``--sensor`` and ``--wavelength-m``.

    Refuses (before anything is written) a scene whose wavelength nobody gives (``InputError``), a product
    whose tags and names disagree (``InputError``) and flags that contradict the product (``UsageError``).
    """
    meta = readers.scene_metadata(tags, request.phase)
    known = {k: v for k, v in request.known.items() if v is not None}
    tags_only = readers.scene_metadata(tags, Path())  # no dates from a file name
    for key in ("first_date", "second_date"):
        tagged = tags_only[key]
        if tagged is not None and key in known and tagged != known[key]:
            raise InputError(
                problem(
                    f"product {request.phase}",
                    expected=f"one {key.replace('_', ' ')}",
                    found=f"{known[key]} in its name but {tagged} in its tags",
                    fix="re-download or re-export the product; its name and metadata must describe one pair",
                )
            )
    meta.update({k: v for k, v in known.items() if k != "sensor" and (meta.get(k) is None or "date" in k)})
    if request.look_azimuth_deg is not None:
        meta["look_azimuth_deg"] = request.look_azimuth_deg
    sensor, wavelength_m = resolve_radar(
        request.phase, meta.get("wavelength_m"), known.get("sensor"), config.sensor, config.wavelength_m
    )
    meta["sensor"], meta["wavelength_m"] = sensor, wavelength_m
    return meta


WAVELENGTH_AGREEMENT = 0.01
"""A ``--wavelength-m`` within 1% of the wavelength a file records agrees with it (rounding); more is a
contradiction: the flag describes another radar."""


def resolve_radar(
    path: Path,
    tagged_m: float | None,
    product_sensor: str | None,
    flag_sensor: str | None,
    flag_wavelength_m: float | None,
) -> tuple[str | None, float]:
    """(sensor name or None, wavelength in metres) of a scene; see ``scene_metadata`` for the refusals."""
    flag = get_sensor(flag_sensor) if flag_sensor else None
    product = get_sensor(product_sensor) if product_sensor else None
    if flag is not None and product is not None and flag is not product:
        raise _disagree(path, f"--sensor {flag_sensor}", f"a {product.title} product", "drop --sensor")
    if (
        tagged_m is not None
        and flag_wavelength_m is not None
        and abs(flag_wavelength_m - tagged_m) / tagged_m > WAVELENGTH_AGREEMENT
    ):
        raise _disagree(
            path,
            f"--wavelength-m {flag_wavelength_m:g}",
            f"a file recording WAVELENGTH_METRES {tagged_m:g}",
            "drop --wavelength-m (the file's own wavelength is used)",
        )
    sensor = flag or product
    given = flag_wavelength_m if flag_wavelength_m is not None else tagged_m
    if sensor is not None and given is not None and not sensor.band.holds(given):
        source = "--wavelength-m" if flag_wavelength_m is not None else "WAVELENGTH_METRES"
        raise _disagree(
            path,
            f"{source} {given:g}",
            f"{sensor.title} (band {sensor.band.name}: {sensor.band.low_m:g}-{sensor.band.high_m:g} m)",
            "pass the right --sensor, or only --wavelength-m",
        )
    wavelength_m = given if given is not None else (sensor.wavelength_m if sensor is not None else None)
    if wavelength_m is None:
        raise InputError(
            problem(
                f"radar wavelength of {path}",
                expected="a WAVELENGTH_METRES tag or a recognised product (LiCSAR, HyP3)",
                found="neither, so no model can be matched to it",
                fix=f"pass --sensor NAME ({', '.join(sensor_names())}) or --wavelength-m M "
                '(nightly inbox: a manifest with "sensor" or "wavelength_m")',
            )
        )
    if band_of(wavelength_m) is None:
        log.info("%s: wavelength %g m is neither L nor C band", path, wavelength_m)
    return (sensor.name if sensor is not None else None), float(wavelength_m)


def _disagree(path: Path, flag: str, product: str, fix: str) -> UsageError:
    return UsageError(
        problem(f"{flag} for {path}", expected="a radar that agrees with the product", found=product, fix=fix)
    )


def scene_bytes(grid: GeoGrid, names: list[str]) -> int:
    """Upper bound of a scene's size on disk: its arrays uncompressed (zstd only makes them smaller)."""
    return grid.height * grid.width * sum(np.dtype(ARRAYS[name]).itemsize for name in names)


def resample_attrs(in_grid: GeoGrid, grid: GeoGrid, reduction: Reduction) -> dict | None:
    """The scene attribute ``resample`` (None when multilooked): method (``complex_average`` or
    ``complex_bilinear_upsample``), the factors (input pixels per output pixel, y and x; below 1 when
    upsampled) and the pixel sizes in metres before and after."""
    if reduction.looks is not None:
        return None

    def metres(g: GeoGrid) -> dict:
        return {"x": g.pixel_size.x_m, "y": g.pixel_size.y_m}

    return {
        "method": reduction.method,
        "factors": [reduction.y, reduction.x],
        "from_pixel_m": metres(in_grid),
        "to_pixel_m": metres(grid),
    }


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
        azimuth = meta.get("look_azimuth_deg")
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

    def shown(path: Path) -> str:
        if request.archive is not None:
            return f"{Path(request.archive).resolve()}!{Path(path).name}"
        return str(Path(path).resolve())

    return [{"role": role, "path": shown(path), "sha256": readers.sha256_file(path)} for role, path in roles]


def _inputs_sha256(
    sources: list[dict], config: IngestConfig, reduction: Reduction, request: IngestRequest
) -> str:
    """Hash of every input file's content and of the options that change the stored arrays or attributes
    (the radar and product options only when given, so scenes ingested before them keep their hash)."""
    key = {
        "sources": [(s["role"], s["sha256"]) for s in sources],
        "looks": reduction.looks,
        "kind": config.kind,
        "incidence_deg": config.incidence_deg,
        "look_azimuth_deg": config.look_azimuth_deg,
    }
    extra = {
        "sensor": config.sensor,
        "wavelength_m": config.wavelength_m,
        "water_is_zero": request.water_is_zero or None,
        "known": request.known or None,
        "product_look_azimuth_deg": request.look_azimuth_deg,
        "resample": None if reduction.looks else [reduction.method, reduction.y, reduction.x],
    }
    key.update({k: v for k, v in extra.items() if v is not None})
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
    if progress:
        progress(0, len(windows))
    for done, window in enumerate(windows, start=1):
        for name, data in _chunk(ctx, window).items():
            writer.write(name, window, data)
        if progress:
            progress(done, len(windows))


def _chunk(ctx: _Context, window: PixelWindow) -> dict[str, np.ndarray]:
    """All arrays of one output chunk."""
    source = source_window(ctx.reduction, window, ctx.source_shape)
    phase, valid = readers.read_phase(ctx.phase_ds, ctx.storage, source)
    if valid.any():
        ctx.stats.max_abs_phase = max(ctx.stats.max_abs_phase, float(np.abs(phase[valid]).max()))
    if ctx.reduction.method == UPSAMPLE:
        phase, valid = bilinear_upsample(phase, valid, ctx.reduction, window, ctx.source_shape)
    elif ctx.reduction.looks is None:
        phase, valid = complex_average(phase, valid, ctx.reduction, window, ctx.source_shape)
    elif ctx.reduction.looks != (1, 1):
        phase, valid = multilook(phase, valid, ctx.reduction.looks)
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
        if ctx.coherence_scale != 1.0:
            coherence *= np.float32(ctx.coherence_scale)
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
        excluded |= (water == 0) if ctx.water_is_zero else (np.nan_to_num(water) != 0)
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
    log.info("scene %s: %s phase, %d x %d px, %s", request.scene_id, kind, *ctx.grid.shape, ctx.reduction)
    return kind


def _detected_kind(storage: str, max_abs_phase: float) -> str:
    if storage != "float":
        return storage
    return "wrapped" if max_abs_phase <= math.pi + WRAPPED_TOLERANCE_RAD else "unwrapped"


def _attrs(
    request: IngestRequest,
    config: IngestConfig,
    grid: GeoGrid,
    looks: tuple[int, int] | None,
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
        "multilook": list(looks) if looks else None,
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
    kind: str,
    previous: dict | None,
    ctx: _Context,
    resample: dict | None,
) -> IngestResult:
    status = "replaced" if previous is not None else "ingested"
    looks = ctx.reduction.looks
    store.log_event(
        "replace" if previous else "ingest",
        scene_id=request.scene_id,
        kind=kind,
        shape=list(grid.shape),
        multilook=list(looks) if looks else None,
        **({"resample": resample} if resample else {}),
        source=str(request.phase),
    )
    notes = []
    if grid.height < WINDOW_PX or grid.width < WINDOW_PX:
        notes.append(
            f"{grid.height} x {grid.width} px is smaller than one {WINDOW_PX} px window: stored, "
            "but the scan will refuse it"
        )
    return IngestResult(request.scene_id, status, kind, grid.shape, looks, tuple(notes), resample)
