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
   replaced atomically (``scanner.mosaic.zarr_io``).

The combining rule is anchored on pass dates, never on the wall clock: for each cell the *anchor* is the latest
pass date observing it, and only passes dated within ``window_days`` before the anchor count. Recomputing a
chunk always starts from the full set of passes, so a pass contributes exactly once however often it runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import asdict, dataclass

import numpy as np

from scanner.errors import InputError, problem
from scanner.geo import GeoGrid, PixelWindow
from scanner.mosaic.combine import CombineConfig, combine_passes, date_ordinal, downsample
from scanner.mosaic.grid import (
    ChunkIndex,
    MosaicGrid,
    chunks_touched,
    footprint_in,
    footprint_lonlat,
    parent_chunks,
)
from scanner.mosaic.plan import MosaicPlan, PassInfo, plan_run, prob_sha256, select_passes, settings_key
from scanner.progress import ProgressCallback

log = logging.getLogger(__name__)


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
    from scanner.io import probgrid

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
    from scanner.mosaic import zarr_io as mosaic_io

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

    from scanner import __version__
    from scanner.io.store import Store
    from scanner.io.writers import write_json
    from scanner.mosaic import zarr_io as mosaic_io

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
    from scanner.mosaic import zarr_io as mosaic_io

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
    from scanner.mosaic import zarr_io as mosaic_io

    features = []
    for scene_id in scene_ids:
        path = root / "sites" / f"{scene_id}.geojson"
        if path.is_file():
            for feature in mosaic_io.read_site_layer(path).get("features", []):
                feature.setdefault("properties", {}).setdefault("scene_id", scene_id)
                features.append(feature)
    return merge_sites(features)
