"""One national mosaic run: the store's probability grids into a new mosaic version.

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
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from scanner import __version__
from scanner.errors import InputError, problem
from scanner.geo import GeoGrid, PixelWindow
from scanner.io import probgrid
from scanner.io.site_layers import site_layers
from scanner.io.store import Store
from scanner.io.writers import check_free_space, write_json
from scanner.mosaic import zarr_io
from scanner.mosaic.combine import CombineConfig, combine_passes, date_ordinal, downsample
from scanner.mosaic.grid import (
    ChunkIndex,
    MosaicGrid,
    check_grid_size,
    chunks_touched,
    footprint_in,
    footprint_lonlat,
    parent_chunks,
)
from scanner.mosaic.plan import MosaicPlan, PassInfo, plan_run, prob_sha256, select_passes, settings_key
from scanner.mosaic.sites import merge_sites
from scanner.progress import ProgressCallback

log = logging.getLogger(__name__)


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
    window = grid.chunk_window(index)
    g = grid.geogrid()
    dst = GeoGrid(
        height=window.height, width=window.width, transform=g.window_transform(window), crs_wkt=g.crs_wkt
    )
    probs = [
        zarr_io.reproject_to(data[p.scene_id][0], data[p.scene_id][1], dst, combine.resampling)
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
    check_grid_size(grid)
    store = Store.open(root)
    root = Path(root)
    parent = zarr_io.current_version(root)
    previous = zarr_io.read_manifest(zarr_io.version_path(root, parent)) if parent else None
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
    _check_passes_on_grid(grid, wanted, fresh, since)
    check_free_space(
        store.layout.staging,
        version_bytes(grid, plan, fresh),
        what=f"mosaic version of grid {grid.name}",
        fix="free space on the store's disk or use a store on a larger one",
    )
    version = zarr_io.next_version(root)
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
    with store.staging(store.layout.mosaic_version(version)) as stage:
        zarr_io.create_version(stage, grid, levels, manifest, write_coords=plan.full_rebuild)
        prev_path = None if plan.full_rebuild else zarr_io.version_path(root, parent)
        per_level, linked = _write_levels(
            stage, prev_path, grid, levels, plan, data, fresh, combine, progress
        )
        sites = merge_sites(site_layers(root), wanted)
        write_json(
            stage / "sites.geojson",
            {"type": "FeatureCollection", "features": sites},
            indent=None,
            allow_nan=True,
        )
    zarr_io.set_current(root, version)
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
        store.layout.mosaic_report(version), report.to_dict(), indent=1, sort_keys=True, allow_nan=True
    )
    log.debug(report.summary())
    return report


def _check_passes_on_grid(
    grid: MosaicGrid, wanted: dict[str, PassInfo], chunks: dict, since: str | None
) -> None:
    """Refuse (InputError) a version no pass falls on: it would publish an empty mosaic as CURRENT. Passes
    outside the grid beside others on it are only logged."""
    outside = sorted(sid for sid in wanted if not chunks.get(sid))
    if wanted and len(outside) < len(wanted):
        if outside:
            log.warning("passes outside mosaic grid %s (not in the mosaic): %s", grid.name, " ".join(outside))
        return
    left, bottom, right, top = grid.geogrid().bounds
    found = (
        f"{len(wanted)} pass(es), none inside the grid's bounds ({left:g}, {bottom:g}, {right:g}, {top:g}); "
        f"the first, {outside[0]}, covers {_lonlat_box(wanted[outside[0]])} (lon/lat)"
        if wanted
        else "no pass" + (f" dated on or after --since {since}" if since else " (no scanned scene)")
    )
    raise InputError(
        problem(
            f"mosaic grid {grid.name}",
            expected="at least one pass (probability grid) on the grid; an empty version is never published",
            found=found,
            fix="pass the grid config of the region these scenes cover (--grid), or scan scenes inside it",
        )
    )


def _lonlat_box(info: PassInfo) -> str:
    xs = [x for x, _ in info.footprint_lonlat] or [float("nan")]
    ys = [y for _, y in info.footprint_lonlat] or [float("nan")]
    return f"{min(xs):.3f}..{max(xs):.3f}, {min(ys):.3f}..{max(ys):.3f}"


def version_bytes(grid: MosaicGrid, plan: MosaicPlan, chunks: dict) -> int:
    """Upper bound of what a version writes: every dirty level-0 chunk a pass touches, uncompressed, with a
    third more for the pyramid levels, plus the coordinates."""
    observed = set().union(*(chunks.get(sid, set()) for sid in plan.passes)) if plan.passes else set()
    written = len(set(plan.dirty) & observed)
    cell_bytes = sum(np.dtype(spec["dtype"]).itemsize for spec in zarr_io.BAND_SPECS.values())
    level0 = written * grid.chunk_height * grid.chunk_width * cell_bytes
    return level0 * 4 // 3 + 8 * (grid.height + grid.width)


def _write_levels(
    stage,
    prev_path,
    grid: MosaicGrid,
    levels: int,
    plan: MosaicPlan,
    data: dict,
    footprints: dict[str, set],
    combine: CombineConfig,
    progress: ProgressCallback | None,
) -> tuple[tuple[int, ...], int]:
    """Write the dirty chunks of every level into ``stage`` (``footprints``: the level-0 chunks of each pass,
    from ``load_passes``); link the clean ones from ``prev_path``. Returns chunks per level and links made."""
    dirty, per_level, linked = set(plan.dirty), [], 0
    ordered = sorted(plan.passes.values(), key=lambda p: (date_ordinal(p.date), p.scene_id))
    for level in range(levels):
        if prev_path is not None:
            linked += zarr_io.link_unchanged(prev_path, stage, level, dirty)
        arrays = zarr_io.LevelArrays(stage, level)
        level_grid = grid.level(level)
        below = zarr_io.LevelArrays(stage, level - 1) if level else None
        if progress and level == 0:
            progress(0, len(dirty))
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
                if not zarr_io.has_observed_children(stage, level, index):
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
