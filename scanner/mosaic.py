"""National probability mosaics: the grid, the combining rule, chunk planning and one mosaic run.

A run turns the store's per-scene probability grids (``prob/<scene_id>``) into one versioned mosaic:

1. **Passes.** Every probability grid is one pass, dated by its ``second_date`` (the later acquisition) and
   identified by the SHA-256 of its probability values (``pass_sha256``). ``--since DATE`` drops older passes.
2. **Plan.** The set of passes is compared with the one the current version was built from. A pass that is
   new, removed or re-scanned (other hash) marks the mosaic chunks its footprint touches as dirty; a changed
   grid or rule marks every chunk. No change means no new version.
3. **Compute.** For each dirty chunk, every pass whose footprint touches it is reprojected onto that chunk's
   cells (``rasterio.warp``, NaN as nodata; nearest neighbour by default: the probability cells (280 m) and
   the mosaic cells (about 230-280 m) are of the same size, so nearest keeps each probability as the model
   gave it, never blurs a peak and gives identical values where scenes overlap with identical values).
   The passes are combined per mosaic cell (see :class:`CombineConfig`).
4. **Publish.** Clean chunks are hard-linked from the previous version, dirty ones written, pyramid levels
   updated where their children changed; the version is published by rename and the ``CURRENT`` pointer is
   replaced atomically (``scanner.mosaic_io``).

The combining rule is anchored on pass dates, never on the wall clock: for each cell the *anchor* is the latest
pass date observing it, and only passes dated within ``window_days`` before the anchor count. Recomputing a
chunk always starts from the full set of passes, so a pass contributes exactly once however often it runs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np
from affine import Affine
from pyproj import CRS, Transformer

from scanner.config import require
from scanner.errors import InputError, problem
from scanner.geo import GeoGrid, PixelWindow

log = logging.getLogger(__name__)

ChunkIndex = tuple[int, int]
"""(chunk row, chunk column) of a mosaic chunk."""

RULES = ("max", "mean", "latest")
RESAMPLINGS = ("nearest", "average", "max", "bilinear")
BAND_NAMES = ("prob", "passes", "passes_above", "last_date")


@dataclass(frozen=True, kw_only=True)
class MosaicGrid:
    """A national mosaic grid: CRS, top-left origin, cell size, shape and chunk shape (named, never tuples)."""

    name: str
    crs: str
    """``EPSG:NNNN`` or WKT."""
    origin_x: float
    """x (easting or longitude) of the grid's left edge, CRS units."""
    origin_y: float
    """y (northing or latitude) of the grid's top edge, CRS units."""
    cell_size_x: float
    cell_size_y: float
    """Positive; rows go south."""
    height: int
    width: int
    chunk_height: int = 512
    chunk_width: int = 512

    def __post_init__(self) -> None:
        require(
            self.cell_size_x > 0 and self.cell_size_y > 0,
            "mosaic cell size",
            expected="positive sizes",
            found=(self.cell_size_x, self.cell_size_y),
            fix="set cell_size_x and cell_size_y > 0",
        )
        require(
            self.height > 0 and self.width > 0,
            "mosaic shape",
            expected="positive height and width",
            found=(self.height, self.width),
            fix="cover the region with at least one cell",
        )
        require(
            self.chunk_height >= 16 and self.chunk_width >= 16,
            "mosaic chunk shape",
            expected="at least 16 x 16 cells",
            found=(self.chunk_height, self.chunk_width),
            fix="use chunks of a few hundred cells",
        )
        try:
            CRS.from_user_input(self.crs)
        except Exception as error:  # pyproj raises its own CRSError
            raise InputError(
                problem(
                    "mosaic CRS",
                    expected="an EPSG code such as EPSG:6668 or WKT",
                    found=repr(self.crs)[:80],
                    fix=f"fix the grid config ({error})",
                )
            ) from error

    @property
    def transform(self) -> Affine:
        return Affine(self.cell_size_x, 0.0, self.origin_x, 0.0, -self.cell_size_y, self.origin_y)

    def geogrid(self) -> GeoGrid:
        return GeoGrid(
            height=self.height,
            width=self.width,
            transform=self.transform,
            crs_wkt=CRS.from_user_input(self.crs).to_wkt(),
        )

    @property
    def chunk_rows(self) -> int:
        return math.ceil(self.height / self.chunk_height)

    @property
    def chunk_cols(self) -> int:
        return math.ceil(self.width / self.chunk_width)

    def chunk_window(self, index: ChunkIndex) -> PixelWindow:
        """The cells of chunk ``index`` (edge chunks are clipped to the grid)."""
        row, col = index[0] * self.chunk_height, index[1] * self.chunk_width
        return PixelWindow(
            row, col, min(self.chunk_height, self.height - row), min(self.chunk_width, self.width - col)
        )

    def all_chunks(self) -> set[ChunkIndex]:
        return {(i, j) for i in range(self.chunk_rows) for j in range(self.chunk_cols)}

    def level(self, level: int) -> MosaicGrid:
        """Pyramid level ``level``: cells ``2**level`` times larger, same origin and chunk shape."""
        factor = 2**level
        return MosaicGrid(
            name=f"{self.name}/{level}",
            crs=self.crs,
            origin_x=self.origin_x,
            origin_y=self.origin_y,
            cell_size_x=self.cell_size_x * factor,
            cell_size_y=self.cell_size_y * factor,
            height=math.ceil(self.height / factor),
            width=math.ceil(self.width / factor),
            chunk_height=self.chunk_height,
            chunk_width=self.chunk_width,
        )

    def n_levels(self) -> int:
        """Levels until the whole grid fits in one chunk (at least one level)."""
        levels = 1
        while self.level(levels - 1).chunk_rows * self.level(levels - 1).chunk_cols > 1:
            levels += 1
        return levels


def grid_for_bounds(
    *, name: str, crs: str, west: float, south: float, east: float, north: float, cell_size: float, chunk: int
) -> MosaicGrid:
    """A grid covering ``(west, south, east, north)`` (CRS units), its origin snapped to whole cells."""
    origin_x = math.floor(west / cell_size) * cell_size
    origin_y = math.ceil(north / cell_size) * cell_size
    width = math.ceil(round((east - origin_x) / cell_size, 9))
    height = math.ceil(round((origin_y - south) / cell_size, 9))
    return MosaicGrid(
        name=name,
        crs=crs,
        origin_x=round(origin_x, 9),
        origin_y=round(origin_y, 9),
        cell_size_x=cell_size,
        cell_size_y=cell_size,
        height=height,
        width=width,
        chunk_height=chunk,
        chunk_width=chunk,
    )


@dataclass(frozen=True, kw_only=True)
class CombineConfig:
    """How passes are combined per mosaic cell.

    ``rule``: ``max`` (default: a hazard map keeps the strongest evidence), ``mean`` or ``latest`` (the most
    recent pass, ties by the larger value). Only passes dated within ``window_days`` before the cell's latest
    pass date count (``None``: every pass). ``threshold`` defines "passes above threshold". ``resampling`` is
    the rasterio.warp method used to bring probability cells onto the mosaic grid.
    """

    rule: str = "max"
    window_days: int | None = None
    threshold: float = 0.5
    resampling: str = "nearest"

    def __post_init__(self) -> None:
        require(
            self.rule in RULES,
            "combine rule",
            expected=f"one of {RULES}",
            found=self.rule,
            fix="pass --rule max, mean or latest",
        )
        require(
            self.window_days is None or self.window_days >= 0,
            "combine window",
            expected=">= 0 days",
            found=self.window_days,
            fix="pass --window-days 0 or more",
        )
        require(
            0.0 <= self.threshold <= 1.0,
            "threshold",
            expected="a probability in [0, 1]",
            found=self.threshold,
            fix="pass --threshold between 0 and 1",
        )
        require(
            self.resampling in RESAMPLINGS,
            "resampling",
            expected=f"one of {RESAMPLINGS}",
            found=self.resampling,
            fix="pick nearest unless you know why not",
        )


@dataclass(frozen=True, kw_only=True)
class PassInfo:
    """One probability grid as the mosaic sees it."""

    scene_id: str
    pass_sha256: str
    date: str
    """ISO date of the pass (its second acquisition)."""
    first_date: str | None = None
    checkpoint_sha256: str | None = None
    content_sha256: str | None = None
    footprint_lonlat: tuple[tuple[float, float], ...] = field(default=(), compare=False)

    def to_manifest(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("scene_id", "footprint_lonlat")}


@dataclass(frozen=True)
class MosaicPlan:
    """What a run must do: the passes it is built from and the chunks to recompute."""

    passes: dict[str, PassInfo]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    dirty: frozenset[ChunkIndex]
    full_rebuild: bool

    @property
    def unchanged(self) -> bool:
        return not self.dirty and not self.added and not self.removed and not self.changed


# --- Passes and dates ----------------------------------------------------------------------------------------


def date_ordinal(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date (``YYYY-MM-DD``, any time part ignored)."""
    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError as error:
        raise InputError(
            problem(
                "pass date",
                expected="an ISO date YYYY-MM-DD",
                found=repr(iso),
                fix="re-ingest the scene with its acquisition dates",
            )
        ) from error
    return (day - dt.date(1970, 1, 1)).days


def ordinal_to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """int32 YYYYMMDD for day ordinals (days since 1970-01-01); negative ordinals (no pass) become 0."""
    out = np.zeros(days.shape, dtype=np.int32)
    valid = days >= 0
    if valid.any():
        as_dates = (np.datetime64("1970-01-01") + days[valid].astype("timedelta64[D]")).astype(
            "datetime64[D]"
        )
        years = as_dates.astype("datetime64[Y]").astype(int) + 1970
        months = as_dates.astype("datetime64[M]").astype(int) % 12 + 1
        mday = (as_dates - as_dates.astype("datetime64[M]")).astype(int) + 1
        out[valid] = years * 10000 + months * 100 + mday
    return out


def prob_sha256(prob: np.ndarray) -> str:
    """Identity of a pass: SHA-256 of its probability grid (shape, dtype and little-endian bytes)."""
    arr = np.ascontiguousarray(prob, dtype="<f4")
    digest = hashlib.sha256(json.dumps(list(arr.shape)).encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def select_passes(passes: Iterable[PassInfo], since: str | None) -> dict[str, PassInfo]:
    """Passes dated on or after ``since`` (all when None), by scene id."""
    floor = date_ordinal(since) if since else None
    return {p.scene_id: p for p in passes if floor is None or date_ordinal(p.date) >= floor}


# --- Footprints and chunk planning ---------------------------------------------------------------------------


def footprint_in(grid: MosaicGrid, src: GeoGrid) -> PixelWindow | None:
    """The mosaic cells a source grid's bounds cover (clipped to the mosaic), or None when outside it."""
    dst_crs = CRS.from_user_input(grid.crs)
    left, bottom, right, top = Transformer.from_crs(src.crs, dst_crs, always_xy=True).transform_bounds(
        *src.bounds, densify_pts=21
    )
    inverse = ~grid.transform
    col0, row0 = inverse @ (left, top)
    col1, row1 = inverse @ (right, bottom)
    r0, r1 = max(0, math.floor(min(row0, row1)) - 1), min(grid.height, math.ceil(max(row0, row1)) + 1)
    c0, c1 = max(0, math.floor(min(col0, col1)) - 1), min(grid.width, math.ceil(max(col0, col1)) + 1)
    if r0 >= r1 or c0 >= c1:
        return None
    return PixelWindow(r0, c0, r1 - r0, c1 - c0)


def chunks_touched(grid: MosaicGrid, window: PixelWindow | None) -> set[ChunkIndex]:
    if window is None:
        return set()
    rows = range(window.row_off // grid.chunk_height, (window.row_end - 1) // grid.chunk_height + 1)
    cols = range(window.col_off // grid.chunk_width, (window.col_end - 1) // grid.chunk_width + 1)
    return {(i, j) for i in rows for j in cols}


def footprint_lonlat(src: GeoGrid) -> tuple[tuple[float, float], ...]:
    """The source grid's outline (densified, closed) in WGS84 lon/lat."""
    left, bottom, right, top = src.bounds
    steps = np.linspace(0.0, 1.0, 11)
    xs = np.concatenate(
        [left + (right - left) * steps, np.full(11, right), right - (right - left) * steps, np.full(11, left)]
    )
    ys = np.concatenate(
        [np.full(11, top), top - (top - bottom) * steps, np.full(11, bottom), bottom + (top - bottom) * steps]
    )
    lon, lat = Transformer.from_crs(src.crs, "EPSG:4326", always_xy=True).transform(xs, ys)
    points = tuple((round(float(x), 7), round(float(y), 7)) for x, y in zip(lon, lat, strict=True))
    return points + (points[0],)


def plan_run(
    grid: MosaicGrid,
    settings_key: str,
    wanted: dict[str, PassInfo],
    footprints: dict[str, set],
    previous: dict | None,
) -> MosaicPlan:
    """Compare the wanted passes with the previous version's manifest and list the dirty chunks.

    ``footprints`` maps every scene id (wanted or previously used) to the chunks it touches.
    """
    if previous is None or previous.get("settings_key") != settings_key:
        return MosaicPlan(wanted, tuple(sorted(wanted)), (), (), frozenset(grid.all_chunks()), True)
    before = previous["passes"]
    added = tuple(sorted(set(wanted) - set(before)))
    removed = tuple(sorted(set(before) - set(wanted)))
    changed = tuple(
        sorted(s for s in set(wanted) & set(before) if before[s]["pass_sha256"] != wanted[s].pass_sha256)
    )
    dirty: set[ChunkIndex] = set()
    for scene_id in (*added, *removed, *changed):
        dirty |= footprints.get(scene_id, set())
    return MosaicPlan(wanted, added, removed, changed, frozenset(dirty), False)


def settings_key(grid: MosaicGrid, combine: CombineConfig) -> str:
    """A change of grid or rule invalidates every chunk; this key detects it."""
    payload = json.dumps({"grid": asdict(grid), "combine": asdict(combine)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


# --- Combining ------------------------------------------------------------------------------------------------


def combine_passes(probs: np.ndarray, days: np.ndarray, config: CombineConfig) -> dict[str, np.ndarray]:
    """Combine ``probs (K, y, x)`` of K passes dated ``days (K,)`` (day ordinals) into the four mosaic bands.

    NaN means the pass did not observe the cell. Returns ``prob`` (float32, NaN where no pass), ``passes`` and
    ``passes_above`` (uint16, counted within the window) and ``last_date`` (int32 YYYYMMDD, 0 = never).
    """
    k, height, width = probs.shape
    if k == 0:
        return empty_bands(height, width)
    observed = np.isfinite(probs)
    day = np.asarray(days, dtype=np.int64)[:, None, None]
    anchor = np.where(observed, day, -1).max(axis=0)
    window = np.iinfo(np.int64).max // 2 if config.window_days is None else config.window_days
    counted = observed & (day >= anchor[None] - window)
    n = counted.sum(axis=0)
    values = np.where(counted, probs, 0.0).astype(np.float64)
    if config.rule == "max":
        combined = np.where(counted, probs, -np.inf).max(axis=0)
    elif config.rule == "mean":
        combined = values.sum(axis=0) / np.maximum(n, 1)
    else:
        latest = counted & (day == anchor[None])
        combined = np.where(latest, probs, -np.inf).max(axis=0)
    return {
        "prob": np.where(n > 0, combined, np.nan).astype(np.float32),
        "passes": n.astype(np.uint16),
        "passes_above": (counted & (np.nan_to_num(probs, nan=-1.0) >= config.threshold))
        .sum(0)
        .astype(np.uint16),
        "last_date": ordinal_to_yyyymmdd(anchor),
    }


def empty_bands(height: int, width: int) -> dict[str, np.ndarray]:
    return {
        "prob": np.full((height, width), np.nan, np.float32),
        "passes": np.zeros((height, width), np.uint16),
        "passes_above": np.zeros((height, width), np.uint16),
        "last_date": np.zeros((height, width), np.int32),
    }


def downsample(band: str, block: np.ndarray) -> np.ndarray:
    """One pyramid step (2 x 2 cells -> 1): max for every band (probability: the strongest evidence wins;
    counts and dates: the most observed, the latest), NaN-aware for ``prob``."""
    height, width = block.shape
    fill = np.nan if band == "prob" else 0
    padded = np.full((height + height % 2, width + width % 2), fill, dtype=block.dtype)
    padded[:height, :width] = block
    quads = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2)
    if band != "prob":
        return quads.max(axis=(1, 3))
    finite = np.isfinite(quads).any(axis=(1, 3))
    best = np.where(np.isfinite(quads), quads, -np.inf).max(axis=(1, 3))
    return np.where(finite, best, np.nan).astype(np.float32)


def parent_chunks(dirty: Iterable[ChunkIndex]) -> set[ChunkIndex]:
    """Chunks of the next pyramid level covering the given chunks (same chunk shape, cells twice as big)."""
    return {(i // 2, j // 2) for i, j in dirty}


ProgressCallback = Callable[[int, int], None]


# --- Sites merged across scenes -------------------------------------------------------------------------------


def merge_sites(features: list[dict]) -> list[dict]:
    """De-duplicate candidate sites seen by several scenes: sites whose polygons intersect, or that share a
    ``site_id``, become one feature (geometry union, geodesic area, max probability, every scene listed)."""
    from shapely.geometry import shape
    from shapely.strtree import STRtree

    if not features:
        return []
    geoms = [shape(f["geometry"]) for f in features]
    parent = list(range(len(features)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    left, right = STRtree(geoms).query(geoms, predicate="intersects")
    by_id: dict[str, int] = {}
    for i, f in enumerate(features):
        first = by_id.setdefault(str(f["properties"].get("site_id")), i)
        left, right = np.append(left, i), np.append(right, first)
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        parent[find(a)] = find(b)
    groups: dict[int, list[int]] = {}
    for i in range(len(features)):
        groups.setdefault(find(i), []).append(i)
    merged = [
        _merge_group([features[i] for i in members], [geoms[i] for i in members])
        for members in groups.values()
    ]
    return sorted(merged, key=lambda f: (-f["properties"]["prob_max"], f["properties"]["site_id"]))


def _merge_group(features: list[dict], geoms: list) -> dict:
    from pyproj import Geod
    from shapely import to_geojson, union_all

    geom = union_all(geoms)
    geod = Geod(ellps="WGS84")
    props = [f["properties"] for f in features]
    areas = [float(p.get("area_m2") or 0.0) for p in props]
    main = max(range(len(props)), key=lambda i: (areas[i], str(props[i].get("site_id"))))
    centroid = geom.centroid
    slope = [p.get("slope_class") for p in props]
    first_dates = [p["first_date"] for p in props if p.get("first_date")]
    second_dates = [p["second_date"] for p in props if p.get("second_date")]
    priorities = [p["priority"] for p in props if isinstance(p.get("priority"), int | float)]
    weight = sum(areas) or 1.0
    merged = {
        "site_id": props[main].get("site_id"),
        "merged_site_ids": sorted({str(p.get("site_id")) for p in props}),
        "scene_ids": sorted({str(p.get("scene_id")) for p in props}),
        "n_passes": len({str(p.get("scene_id")) for p in props}),
        "first_date": min(first_dates) if first_dates else None,
        "second_date": max(second_dates) if second_dates else None,
        "area_m2": abs(geod.geometry_area_perimeter(geom)[0]),
        "centroid_lon": centroid.x,
        "centroid_lat": centroid.y,
        "prob_max": max(float(p.get("prob_max") or 0.0) for p in props),
        "prob_mean": sum(float(p.get("prob_mean") or 0.0) * a for p, a in zip(props, areas, strict=True))
        / weight
        if sum(areas)
        else float(np.mean([float(p.get("prob_mean") or 0.0) for p in props])),
        "slope_class": "slope" if "slope" in slope else ("flat" if "flat" in slope else None),
        "priority": max(priorities) if priorities else None,
        "checkpoint_sha256": sorted(
            {str(p["checkpoint_sha256"]) for p in props if p.get("checkpoint_sha256")}
        ),
    }
    return {"type": "Feature", "geometry": json.loads(to_geojson(geom)), "properties": merged}


# --- One run ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MosaicReport:
    """What a run did; ``version`` is the published (or, when unchanged, the current) version."""

    version: str | None
    parent: str | None
    unchanged: bool
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    dirty_chunks: tuple[ChunkIndex, ...]
    total_chunks: int
    full_rebuild: bool
    chunks_per_level: tuple[int, ...] = ()
    linked_files: int = 0
    n_passes: int = 0
    n_sites: int = 0

    def summary(self) -> str:
        if self.unchanged:
            return (
                f"mosaic unchanged: no new, removed or re-scanned pass since {self.version} "
                f"({self.n_passes} passes); nothing written"
            )
        chunks = " ".join(f"({i},{j})" for i, j in self.dirty_chunks[:16])
        if len(self.dirty_chunks) > 16:
            chunks += f" ... (all {len(self.dirty_chunks)} listed in runs/mosaic-{self.version}.json)"
        how = "full build" if self.full_rebuild else "incremental"
        return (
            f"mosaic {self.version} ({how}, parent {self.parent}): {len(self.added)} new, "
            f"{len(self.changed)} re-scanned, {len(self.removed)} removed passes; recomputed "
            f"{len(self.dirty_chunks)} of {self.total_chunks} chunks at level 0: {chunks}; "
            f"{self.n_sites} merged sites"
        )

    def to_dict(self) -> dict:
        return asdict(self)


def load_passes(root, grid: MosaicGrid) -> tuple[dict[str, PassInfo], dict[str, tuple], dict[str, set]]:
    """Every probability grid in the store as a pass, its (prob, cell grid), and the mosaic chunks it touches."""
    from scanner import probgrid

    passes, data, chunks = {}, {}, {}
    for scene_id in probgrid.scanned_scene_ids(root):
        prob, attrs = probgrid.read_prob(root, scene_id)
        src = probgrid.prob_grid(attrs)
        scene = attrs.get("scene_attrs", {})
        date = scene.get("second_date") or scene.get("first_date")
        if not date:
            raise InputError(
                problem(
                    f"pass {scene_id}",
                    expected="scene_attrs.second_date in its prob attrs",
                    found="no date",
                    fix="re-ingest the scene with acquisition dates",
                )
            )
        passes[scene_id] = PassInfo(
            scene_id=scene_id,
            pass_sha256=prob_sha256(prob),
            date=str(date)[:10],
            first_date=scene.get("first_date"),
            checkpoint_sha256=(attrs.get("model") or {}).get("checkpoint_sha256"),
            content_sha256=scene.get("content_sha256"),
            footprint_lonlat=footprint_lonlat(src),
        )
        data[scene_id] = (prob, src)
        chunks[scene_id] = chunks_touched(grid, footprint_in(grid, src))
    return passes, data, chunks


def compute_chunk(
    grid: MosaicGrid, index: ChunkIndex, passes: list[PassInfo], data: dict, combine: CombineConfig
) -> dict[str, np.ndarray]:
    """The four bands of one level-0 chunk from the passes touching it."""
    from scanner import mosaic_io

    window = grid.chunk_window(index)
    g = grid.geogrid()
    dst = GeoGrid(
        height=window.height, width=window.width, transform=g.window_transform(window), crs_wkt=g.crs_wkt
    )
    probs = [
        mosaic_io.reproject_to(data[p.scene_id][0], data[p.scene_id][1], dst, combine.resampling)
        for p in passes
    ]
    stack = np.stack(probs) if probs else np.empty((0, window.height, window.width), np.float32)
    return combine_passes(stack, np.array([date_ordinal(p.date) for p in passes]), combine)


def run_mosaic(
    root,
    grid: MosaicGrid,
    combine: CombineConfig,
    *,
    since: str | None = None,
    progress: ProgressCallback | None = None,
) -> MosaicReport:
    """One mosaic run: plan against the current version, write a new version, switch the pointer."""
    from pathlib import Path

    from scanner import __version__, mosaic_io
    from scanner.store import Store
    from scanner.writers import write_json

    store = Store.open(root)
    root = Path(root)
    parent = mosaic_io.current_version(root)
    previous = mosaic_io.read_manifest(mosaic_io.version_path(root, parent)) if parent else None
    passes, data, fresh = load_passes(root, grid)
    chunks = {sid: set(c) for sid, c in fresh.items()}
    for scene_id, info in (previous or {}).get("passes", {}).items():
        chunks.setdefault(scene_id, set()).update(tuple(c) for c in info["chunks"])
    wanted = select_passes(passes.values(), since)
    plan = plan_run(grid, settings_key(grid, combine), wanted, chunks, previous)
    total = grid.chunk_rows * grid.chunk_cols
    if plan.unchanged:
        log.debug("no new pass: mosaic %s unchanged", parent)
        return MosaicReport(parent, parent, True, (), (), (), (), total, False, n_passes=len(wanted))
    version = mosaic_io.next_version(root)
    levels = grid.n_levels()
    manifest = {
        "version": version,
        "parent": parent,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "grid": asdict(grid),
        "combine": asdict(combine),
        "since": since,
        "levels": levels,
        "settings_key": settings_key(grid, combine),
        "fringescan_version": __version__,
        "latest_pass_date": max((p.date for p in wanted.values()), default=None),
        "passes": {
            sid: {
                **p.to_manifest(),
                "chunks": sorted(fresh[sid]),
                "footprint_lonlat": [list(xy) for xy in p.footprint_lonlat],
            }
            for sid, p in sorted(wanted.items())
        },
        "dirty_chunks": sorted(plan.dirty),
        "full_rebuild": plan.full_rebuild,
    }
    with store.staging(f"{mosaic_io.VERSIONS_DIR}/{version}") as stage:
        mosaic_io.create_version(stage, grid, levels, manifest, write_coords=plan.full_rebuild)
        prev_path = None if plan.full_rebuild else mosaic_io.version_path(root, parent)
        per_level, linked = _write_levels(stage, prev_path, grid, levels, plan, data, combine, progress)
        sites = _merged_sites(root, sorted(wanted))
        write_json(
            stage / "sites.geojson",
            {"type": "FeatureCollection", "features": sites},
            indent=None,
            allow_nan=True,
        )
    mosaic_io.set_current(root, version)
    report = MosaicReport(
        version,
        parent,
        False,
        plan.added,
        plan.removed,
        plan.changed,
        tuple(sorted(plan.dirty)),
        total,
        plan.full_rebuild,
        per_level,
        linked,
        len(wanted),
        len(sites),
    )
    store.log_event(
        "mosaic",
        version=version,
        parent=parent,
        added=list(plan.added),
        removed=list(plan.removed),
        changed=list(plan.changed),
        dirty_chunks=len(plan.dirty),
    )
    write_json(
        _runs_dir(root) / f"mosaic-{version}.json", report.to_dict(), indent=1, sort_keys=True, allow_nan=True
    )
    log.debug(report.summary())
    return report


def _runs_dir(root):
    (root / "runs").mkdir(exist_ok=True)
    return root / "runs"


def _write_levels(
    stage,
    prev_path,
    grid: MosaicGrid,
    levels: int,
    plan: MosaicPlan,
    data: dict,
    combine: CombineConfig,
    progress: ProgressCallback | None,
) -> tuple[tuple[int, ...], int]:
    from scanner import mosaic_io

    dirty, per_level, linked = set(plan.dirty), [], 0
    ordered = sorted(plan.passes.values(), key=lambda p: (date_ordinal(p.date), p.scene_id))
    footprints = {p.scene_id: chunks_touched(grid, footprint_in(grid, data[p.scene_id][1])) for p in ordered}
    for level in range(levels):
        if prev_path is not None:
            linked += mosaic_io.link_unchanged(prev_path, stage, level, dirty)
        arrays = mosaic_io.LevelArrays(stage, level)
        level_grid = grid.level(level)
        below = mosaic_io.LevelArrays(stage, level - 1) if level else None
        for n, index in enumerate(sorted(dirty)):
            if progress and level == 0:
                progress(n + 1, len(dirty))
            window = level_grid.chunk_window(index)
            if level == 0:
                touching = [p for p in ordered if index in footprints[p.scene_id]]
                if not touching:
                    continue  # nothing observed: no chunk file, readers see the fill values
                bands = compute_chunk(grid, index, touching, data, combine)
            else:
                if not mosaic_io.has_observed_children(stage, level, index):
                    continue
                child = PixelWindow(
                    window.row_off * 2, window.col_off * 2, window.height * 2, window.width * 2
                )
                child = _clip(child, grid.level(level - 1))
                bands = {
                    b: downsample(b, v)[: window.height, : window.width] for b, v in below.read(child).items()
                }
            arrays.write(window, bands)
        per_level.append(len(dirty))
        dirty = parent_chunks(dirty)
    return tuple(per_level), linked


def _clip(window: PixelWindow, grid: MosaicGrid) -> PixelWindow:
    return PixelWindow(
        window.row_off,
        window.col_off,
        min(window.height, grid.height - window.row_off),
        min(window.width, grid.width - window.col_off),
    )


def _merged_sites(root, scene_ids: list[str]) -> list[dict]:
    from scanner import mosaic_io

    features = []
    for scene_id in scene_ids:
        path = root / "sites" / f"{scene_id}.geojson"
        if path.is_file():
            for feature in mosaic_io.read_site_layer(path).get("features", []):
                feature.setdefault("properties", {}).setdefault("scene_id", scene_id)
                features.append(feature)
    return merge_sites(features)
