"""One nightly run: lock -> discover -> ingest -> scan -> detect -> history -> mosaic -> report.

Every stage publishes atomically (scene groups, probability grids, site layers and mosaic versions by rename;
``STORE/nightly/ledger.json`` and ``STORE/history/*.json`` by ``os.replace``), and every stage decides what is
left to do from what is published, never from what an earlier run meant to do:

- a pass whose content hash is in the ledger is skipped (a renamed or re-delivered file is not new);
- ingest of a scene already ingested from the same inputs is a no-op, and a scene whose probability grid
  carries the same ``run_key`` (scene content, checkpoint, settings) is not scanned again;
- detection is re-run for every scene of the run (cheap and deterministic), the site history is rebuilt from
  all site layers, and the mosaic compares its passes with the current version's and publishes a new version
  only when something changed;
- the ledger marks a pass done only after the mosaic that includes it is published.

So a run killed at any point and run again ends with the same store and mosaic as an uninterrupted run, and
a second run over the same inbox does nothing.

**Exit codes** (``EXIT_*``): 0 all done (new passes processed and published, none failed); 10 done with
failures (at least one pass failed or was quarantined; the others were processed); 11 nothing done (nothing
new in the inbox; the store is unchanged). Errors that stop the whole run use the error classes' codes (a
store locked by a live run is a ``StoreError``, exit 4).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import socket
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from scanner.config import require
from scanner.errors import FringescanError, InputError, UsageError
from scanner.io.layout import StoreLayout
from scanner.io.readers import read_json
from scanner.io.site_layers import site_layers
from scanner.pipeline import history, inbox
from scanner.pipeline.history import write_state
from scanner.pipeline.inbox import PassFiles, PassKey

log = logging.getLogger(__name__)

EXIT_DONE = 0
EXIT_PARTIAL = 10
EXIT_NOTHING = 11
STAGES = ("discover", "ingest", "scan", "detect", "history", "mosaic")


@dataclass(frozen=True, kw_only=True)
class NightlyConfig:
    """What one nightly run works on, and how (``fringescan nightly`` flags)."""

    inbox: Path
    store: Path
    model: Path
    grid: Path
    workers: int = 0
    scheduler: str | None = None
    min_detections: int = 1
    threshold: float | None = None
    min_area_m2: float | None = None
    aux_dir: Path | None = None
    """Read-only folder of shared auxiliary files (DEMs) that manifests may name; never moved."""

    def __post_init__(self) -> None:
        require(
            self.workers >= 0,
            "--workers",
            expected=">= 0 (0: no Dask cluster, threads in this process)",
            found=self.workers,
            fix="e.g. --workers 2",
        )
        require(
            not (self.workers and self.scheduler),
            "--workers with --scheduler",
            expected="one of them",
            found=(self.workers, self.scheduler),
            fix="drop --workers to use the existing cluster, or drop --scheduler",
        )
        require(
            self.min_detections >= 1,
            "--min-detections",
            expected=">= 1",
            found=self.min_detections,
            fix="e.g. --min-detections 2",
        )
        require(
            self.threshold is None or 0.0 < self.threshold <= 1.0,
            "--threshold",
            expected="0 < P <= 1 (or none: the model's operating point)",
            found=self.threshold,
            fix="e.g. --threshold 0.9, or drop it",
        )
        require(
            self.min_area_m2 is None or self.min_area_m2 >= 0,
            "--min-area-m2",
            expected=">= 0 m2 (or none: the model's minimum site size)",
            found=self.min_area_m2,
            fix="e.g. --min-area-m2 78400, or drop it",
        )


@dataclass
class PassOutcome:
    """What happened to one discovered pass in this run."""

    name: str
    sha256: str
    status: str  # processed, skipped, failed, quarantined
    reason: str = ""
    scene_id: str | None = None
    supersedes: str | None = None
    quarantine: str | None = None

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v not in (None, "")}


@dataclass
class RunState:
    """The run's bookkeeping, turned into the run report at the end."""

    run_id: str
    outcomes: list[PassOutcome] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    figures: dict[str, object] = field(default_factory=dict)
    pending: list[tuple[str, dict]] | None = field(default_factory=list)
    """Events for ``log.jsonl`` held back until the run changes the store (None: written at once)."""

    def log_event(self, store_root: Path, kind: str, **fields: object) -> None:
        """Append an event to the store's log, or hold it back while the run has changed nothing."""
        from scanner.io.store import Store

        if self.pending is not None:
            self.pending.append((kind, fields))
            return
        Store.open(store_root).log_event(kind, **fields)

    def changes_store(self, store_root: Path) -> None:
        """From now on the run writes the store: write the events held back, then every later one."""
        pending, self.pending = self.pending or [], None
        for kind, fields in pending:
            self.log_event(store_root, kind, **fields)

    @contextlib.contextmanager
    def stage(self, name: str, store_root: Path) -> Iterator[None]:
        self.log_event(store_root, "nightly_stage", run_id=self.run_id, stage=name)
        log.info("stage %s", name, extra={"fields": {"event": "stage", "stage": name, "run_id": self.run_id}})
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)

    def by_status(self, status: str) -> list[PassOutcome]:
        return [o for o in self.outcomes if o.status == status]


def new_run_id() -> str:
    """UTC time to the microsecond and pid: unique, and sorts chronologically."""
    return f"{dt.datetime.now(dt.UTC).strftime('%Y%m%dT%H%M%S.%fZ')}-{os.getpid()}"


# ---------------------------------------------------------------------------------------------- Dask


@contextlib.contextmanager
def dask_scheduler(workers: int, scheduler: str | None) -> Iterator[str | None]:
    """The scheduler address the scan should use.

    ``workers > 0`` starts a ``LocalCluster`` of that many single-threaded worker *processes*, started by
    spawn (``distributed.worker.multiprocessing-method``: JAX must never be forked). ``scheduler`` uses an
    existing cluster; otherwise the Dask config key ``scheduler-address`` does, else None (threads in-process).
    """
    if not workers:
        import dask

        yield scheduler or dask.config.get("scheduler-address", None)
        return
    import dask
    from dask.distributed import LocalCluster

    with (
        dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}),
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None, host="127.0.0.1"
        ) as cluster,
    ):
        log.info(
            "started a LocalCluster of %d spawned worker processes at %s", workers, cluster.scheduler_address
        )
        yield cluster.scheduler_address


# ---------------------------------------------------------------------------------------------- ledger


def load_ledger(root: Path) -> dict:
    return read_json(StoreLayout(root).nightly_ledger, {"schema_version": 1, "passes": {}})


def mark_done(root: Path, outcomes: list[PassOutcome]) -> None:
    ledger = load_ledger(root)
    for o in outcomes:
        ledger["passes"][o.sha256] = {"name": o.name, "scene_id": o.scene_id, "supersedes": o.supersedes}
    write_state(StoreLayout(root).nightly_ledger, ledger)


# ---------------------------------------------------------------------------------------------- planning


@dataclass(frozen=True)
class Planned:
    """A new pass ready to ingest: its files, key and the scene id it becomes (or replaces)."""

    files: PassFiles
    key: PassKey | None
    scene_id: str
    supersedes: str | None


def read_pass_key(path: Path, files: PassFiles | None = None) -> tuple[PassKey | None, dict]:
    """The pass key of an interferogram, from its tags and grid, or of a delivered product (its names and
    metadata first); raises InputError when unreadable."""
    from scanner.io import readers
    from scanner.io.products import opened

    if files is not None and files.product is not None:
        with opened(files.product, within=_within(files)) as product:
            key, meta = read_pass_key(product.phase)
            meta.update({k: v for k, v in product.known().items() if v is not None and k != "processor"})
            return inbox.pass_key(meta), meta
    with readers.gdal_env(), readers.open_raster(path, "phase") as ds:
        meta = readers.scene_metadata(ds.tags(), path)
        meta["grid"] = readers.raster_grid(ds, "phase").to_attrs()
    return inbox.pass_key(meta), meta


def _within(files: PassFiles) -> list[Path] | None:
    if files.inbox is None:
        return None
    return [files.inbox, *([files.aux_dir] if files.aux_dir is not None else [])]


def store_keys(store) -> dict[PassKey, str]:
    """The pass key of every scene in the store -> its scene id."""
    keys = {}
    for scene_id in store.scene_ids():
        key = inbox.pass_key(store.scene(scene_id).attrs)
        if key is not None:
            keys[key] = scene_id
    return keys


def _scene_id(files: PassFiles, key: PassKey | None, existing: dict[PassKey, str], taken: set[str]) -> str:
    from scanner.pipeline.ingest import check_scene_id, scene_id_from_path

    if key is not None and key in existing:
        return existing[key]
    base = check_scene_id(files.scene_id or scene_id_from_path(files.phase.name))
    return base if base not in taken else f"{base}-{files.sha256[:8]}"


def plan_passes(found: inbox.Discovery, root: Path, store, state: RunState) -> list[Planned]:
    """Decide, pass by pass: skip (known content), quarantine (unreadable), or ingest as which scene."""
    done = load_ledger(root)["passes"]
    existing, candidates = store_keys(store), {}
    for bad in found.bad:
        _quarantine(root, bad, bad.reason, "InputError", found.passes, state)
    for files in found.passes:
        if files.sha256 in done:
            known = done[files.sha256]
            state.outcomes.append(
                PassOutcome(
                    files.name,
                    files.sha256,
                    "skipped",
                    f"already processed as scene {known['scene_id']}",
                    scene_id=known["scene_id"],
                )
            )
            continue
        try:
            key, _ = read_pass_key(files.phase, files)
        except FringescanError as error:
            _quarantine(root, files, str(error), type(error).__name__, found.passes, state)
            continue
        candidates.setdefault(key or files.sha256, []).append((files, key))
    return _resolve(candidates, existing, store, state, found.passes)


def _resolve(
    candidates: dict, existing: dict[PassKey, str], store, state: RunState, others: list[PassFiles]
) -> list[Planned]:
    planned, taken = [], set(store.scene_ids())
    for group in candidates.values():
        winner = inbox.pick_latest([f for f, _ in group])
        key = next(k for f, k in group if f is winner)
        for files, _ in group:
            if files is not winner:
                state.outcomes.append(
                    PassOutcome(
                        files.name,
                        files.sha256,
                        "skipped",
                        f"superseded by the newer delivery {winner.name} of the same pair and track",
                    )
                )
        try:
            scene_id = _scene_id(winner, key, existing, taken)
        except FringescanError as error:
            _quarantine(Path(store.root), winner, str(error), type(error).__name__, others, state)
            continue
        taken.add(scene_id)
        supersedes = scene_id if key is not None and key in existing else None
        planned.append(Planned(winner, key, scene_id, supersedes))
    return sorted(planned, key=lambda p: p.scene_id)


def _quarantine(root: Path, item, reason: str, error: str, others, state: RunState) -> None:
    folder = inbox.quarantine(root, item, reason, error=error, others=others)
    sha = getattr(item, "sha256", "")
    log.warning(
        "quarantined %s: %s",
        item.name,
        reason,
        extra={"fields": {"event": "quarantine", "pass": item.name, "folder": str(folder)}},
    )
    state.outcomes.append(
        PassOutcome(item.name, sha, "quarantined", reason, quarantine=str(folder.relative_to(root)))
    )


# ---------------------------------------------------------------------------------------------- stages


def ingest_passes(
    store, planned: list[Planned], model_pixel_size_m: float, state: RunState, others: list[PassFiles]
) -> list[Planned]:
    """Ingest each planned pass; an unusable input is quarantined, any other failure is recorded."""
    from scanner.pipeline.ingest import IngestConfig, ingest_scene

    ok = []
    for p in planned:
        try:
            with contextlib.ExitStack() as stack:
                request = _request(p, stack)
                config = IngestConfig(
                    model_pixel_size_m=model_pixel_size_m,
                    sensor=p.files.sensor,
                    wavelength_m=p.files.wavelength_m,
                )
                result = ingest_scene(store, request, config)
        except (InputError, UsageError) as error:  # the delivery (files, manifest) is unusable
            _quarantine(Path(store.root), p.files, str(error), type(error).__name__, others, state)
            continue
        except Exception as error:  # one bad pass never stops the others
            _failed(p, error, state)
            continue
        ok.append(
            p
            if result.status != "unchanged" or p.supersedes is None
            else Planned(p.files, p.key, p.scene_id, None)
        )
    return ok


def _request(p: Planned, stack: contextlib.ExitStack):
    """The ingest of a planned pass; a product stays open (a zip extracted) until ``stack`` closes."""
    from scanner.io.products import opened
    from scanner.pipeline.ingest import IngestRequest, product_request

    if p.files.product is not None:
        product = stack.enter_context(opened(p.files.product, within=_within(p.files)))
        return product_request(product, scene_id=p.scene_id, replace=p.supersedes is not None)
    return IngestRequest(
        phase=p.files.phase,
        scene_id=p.scene_id,
        coherence=p.files.coherence,
        dem=p.files.dem,
        replace=p.supersedes is not None,
    )


def _failed(p: Planned, error: BaseException, state: RunState, *, step: str | None = None) -> None:
    reason = str(error) if isinstance(error, FringescanError) else f"{type(error).__name__}: {error}"
    reason = f"{step} step: {reason}" if step else reason
    log.error(
        "pass %s failed: %s",
        p.files.name,
        reason,
        extra={"fields": {"event": "pass_failed", "pass": p.files.name}},
    )
    log.debug("traceback of pass %s:\n%s", p.files.name, traceback.format_exc())
    state.outcomes.append(PassOutcome(p.files.name, p.files.sha256, "failed", reason, scene_id=p.scene_id))


def scannable(store, planned: list[Planned], meta, state: RunState, others: list[PassFiles]) -> list[Planned]:
    """Passes whose scene the model can scan; the others are quarantined with the refusal as reason."""
    from scanner.io.checkpoint import check_compatible
    from scanner.io.store import check_scannable

    ok = []
    for p in planned:
        scene = store.scene(p.scene_id)
        try:
            check_scannable(scene, meta.pixel_size_m)
            check_compatible(meta, scene.grid.pixel_size.mean_m, scene.attrs.get("wavelength_m"))
        except FringescanError as error:
            _quarantine(
                Path(store.root),
                p.files,
                f"ingested as scene {p.scene_id} but not scannable: {error}",
                type(error).__name__,
                others,
                state,
            )
            continue
        ok.append(p)
    return ok


def scan_scenes(
    store, model: Path, meta, planned: list[Planned], address: str | None, state: RunState
) -> list[Planned]:
    """One scan (one Dask graph) over every scene of the run; on failure every pass of it fails."""
    from scanner.pipeline.scan import ScanConfig, scan

    if not planned:
        return []
    config = ScanConfig(path="dense" if meta.model_config.name == "alexnet_scan" else "window")
    try:
        results = scan(store, model, [p.scene_id for p in planned], config, scheduler=address)
    except Exception as error:
        for p in planned:
            _failed(p, error, state)
        return []
    cells = {r.scene_id: r.windows for r in results}
    area_km2 = sum(cells[p.scene_id] * _cell_area_km2(store, p.scene_id) for p in planned)
    state.figures.update(
        windows_scanned=sum(cells.values()),
        area_scanned_km2=round(area_km2, 3),
        tiles=sum(r.tiles_total for r in results),
        tiles_resumed=sum(r.tiles_skipped for r in results),
        scenes_already_scanned=sorted(r.scene_id for r in results if r.skipped_scene),
    )
    return planned


def _cell_area_km2(store, scene_id: str) -> float:
    return store.scene(scene_id).grid.cell_area_m2 / 1e6


def detect_scenes(store, planned: list[Planned], config: NightlyConfig, state: RunState) -> list[Planned]:
    """Site layers of every scanned scene of the run (re-run every time: cheap, deterministic, atomic), by the
    one detection path of ``fringescan detect`` (``scanner.pipeline.sites.detect_scene``): the model's operating
    point unless the run gives ``threshold`` / ``min_area_m2``."""
    from scanner.pipeline.sites import PairIndex, detect_scene

    ok, n_sites, origins, pairs = [], 0, {}, PairIndex(store)
    for p in planned:
        try:
            found = detect_scene(
                store, p.scene_id, threshold=config.threshold, min_area_m2=config.min_area_m2, pairs=pairs
            )
        except Exception as error:
            _failed(p, error, state)
            continue
        n_sites += len(found.features)
        origins[found.origin] = None
        ok.append(p)
    state.figures["site_detections"] = n_sites
    state.figures["operating_point"] = list(origins)
    return ok


def update_history(store, config: NightlyConfig, state: RunState) -> None:
    """Rebuild the site history from all site layers; record new and reported sites."""
    root = Path(store.root)
    before = history.load_history(root)
    after = history.build_history(site_layers(root))
    history.save_history(root, after)
    reported = history.report_sites(after, history.load_feedback(root), min_detections=config.min_detections)
    new = set(history.new_site_ids(before, after))
    state.figures.update(
        sites_total=len(after["sites"]),
        sites_reported=len(reported),
        new_sites=[s["site_id"] for s in reported if s["site_id"] in new],
    )


def load_grid(grid_path: Path):
    """The run's mosaic grid config, checked (type and size) before anything of the run is done."""
    from scanner.config import load_config
    from scanner.mosaic.grid import MosaicGrid, check_grid_size

    grid = load_config(grid_path, family="grid", expect=MosaicGrid)
    check_grid_size(grid)
    return grid


def publish_mosaic(store, grid, planned: list[Planned], state: RunState) -> list[Planned]:
    """The mosaic step; when it refuses (no pass on the grid, no disk space, ...) nothing is published, and
    every pass of the run fails with the reason, so the ledger does not mark it done and a later run retries."""
    from scanner.mosaic.combine import CombineConfig
    from scanner.mosaic.run import run_mosaic

    try:
        report = run_mosaic(Path(store.root), grid, CombineConfig())
    except FringescanError as error:
        state.figures["mosaic"] = {"error": str(error), "summary": f"mosaic not published: {error}"}
        for p in planned:
            _failed(p, error, state, step="mosaic")
        return []
    state.figures["mosaic"] = {
        "version": report.version,
        "unchanged": report.unchanged,
        "passes": report.n_passes,
        "summary": report.summary(),
    }
    return planned


# ---------------------------------------------------------------------------------------------- one run


def run_nightly(config: NightlyConfig, *, run_id: str | None = None) -> dict:
    """One nightly run under the store lock; returns the run report (also written to STORE/runs/)."""
    from scanner.io.lock import store_lock
    from scanner.io.store import Store

    grid = load_grid(config.grid)  # a bad or oversized grid stops the run before it touches anything
    root = Path(config.store)
    store = Store.create(root)
    state = RunState(run_id or new_run_id())
    started, clock = dt.datetime.now(dt.UTC), time.perf_counter()
    with store_lock(root, "nightly"):
        state.log_event(root, "nightly_start", run_id=state.run_id, inbox=str(config.inbox))
        _run_stages(store, config, state, grid)
        report = build_report(config, state, started, time.perf_counter() - clock)
        if state.pending is not None:  # nothing new: the store stays byte for byte as it was
            log.info(
                "nothing new in %s; the store is unchanged (no run report written)",
                config.inbox,
                extra={"fields": {"event": "nothing_new", "run_id": state.run_id}},
            )
            return report
        write_state(store.layout.run_report(state.run_id), report)
        store.log_event(
            "nightly_end", run_id=state.run_id, exit_code=report["exit_code"], outcome=report["outcome"]
        )
    return report


def _run_stages(store, config: NightlyConfig, state: RunState, grid) -> None:
    from scanner.io.checkpoint import read_meta

    root = Path(store.root)
    meta = read_meta(config.model)
    with state.stage("discover", root):
        before = read_json(store.layout.hash_cache, {})
        cache = dict(before)
        found = inbox.discover(config.inbox, cache, aux_dir=config.aux_dir)
        present = {str(path) for item in found.passes for path in item.files()}
        cache = {k: v for k, v in cache.items() if k in present}
        if cache != before:  # the inbox's files changed (even if none is new): keep their hashes
            state.changes_store(root)
            write_state(store.layout.hash_cache, cache)
        planned = plan_passes(found, root, store, state)
        state.figures["passes_found"] = len(found.passes) + len(found.bad)
    if state.by_status("quarantined"):
        state.changes_store(root)
    if not planned:
        return
    state.changes_store(root)
    with state.stage("ingest", root):
        planned = ingest_passes(store, planned, meta.pixel_size_m, state, found.passes)
        planned = scannable(store, planned, meta, state, found.passes)
    with contextlib.ExitStack() as cluster:
        with state.stage("cluster_start", root):
            address = cluster.enter_context(dask_scheduler(config.workers, config.scheduler))
        state.figures["scheduler"] = address or "threads (in-process)"
        with state.stage("scan", root):
            planned = scan_scenes(store, config.model, meta, planned, address, state)
    with state.stage("detect", root):
        planned = detect_scenes(store, planned, config, state)
    with state.stage("history", root):
        update_history(store, config, state)
    with state.stage("mosaic", root):
        planned = publish_mosaic(store, grid, planned, state)
    processed = [
        PassOutcome(p.files.name, p.files.sha256, "processed", scene_id=p.scene_id, supersedes=p.supersedes)
        for p in planned
    ]
    mark_done(root, processed)
    state.outcomes.extend(processed)


def exit_code(state: RunState) -> int:
    if state.by_status("failed") or state.by_status("quarantined"):
        return EXIT_PARTIAL
    return EXIT_DONE if state.by_status("processed") else EXIT_NOTHING


def build_report(config: NightlyConfig, state: RunState, started: dt.datetime, wall_s: float) -> dict:
    code = exit_code(state)
    figures = dict(state.figures)
    scan_s = state.seconds.get("scan", 0.0)
    windows, area = figures.get("windows_scanned", 0), figures.get("area_scanned_km2", 0.0)
    throughput = {
        "windows_per_s_scan": round(windows / scan_s, 1) if scan_s else None,
        "windows_per_s_run": round(windows / wall_s, 1) if wall_s else None,
        "km2_per_s_run": round(area / wall_s, 3) if wall_s else None,
        "passes_per_hour": round(3600 * len(state.by_status("processed")) / wall_s, 1) if wall_s else None,
    }
    return {
        "run_id": state.run_id,
        "started": started.isoformat(timespec="seconds"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "wall_s": round(wall_s, 3),
        "inbox": str(config.inbox),
        "store": str(config.store),
        "model": str(config.model),
        "grid": str(config.grid),
        "workers": config.workers,
        "min_detections": config.min_detections,
        "outcome": {EXIT_DONE: "done", EXIT_PARTIAL: "done_with_failures", EXIT_NOTHING: "nothing_done"}[
            code
        ],
        "exit_code": code,
        "passes": {
            status: [o.to_json() for o in state.by_status(status)]
            for status in ("processed", "skipped", "failed", "quarantined")
        },
        "stages_s": state.seconds,
        "figures": figures,
        "throughput": throughput,
    }


def summary_text(report: dict) -> str:
    """The human summary of a run report (what the CLI prints)."""
    p, f = report["passes"], report["figures"]
    lines = [
        f"nightly run {report['run_id']}: {report['outcome'].replace('_', ' ')} (exit {report['exit_code']})",
        f"passes: {f.get('passes_found', 0)} found, {len(p['processed'])} processed, "
        f"{len(p['skipped'])} skipped, {len(p['failed'])} failed, {len(p['quarantined'])} quarantined",
    ]
    for o in p["processed"]:
        extra = f" (supersedes the earlier {o['supersedes']})" if o.get("supersedes") else ""
        lines.append(f"  processed {o['name']} -> scene {o['scene_id']}{extra}")
    for status in ("skipped", "failed", "quarantined"):
        lines += [f"  {status} {o['name']}: {o.get('reason', '')}" for o in p[status]]
    if "windows_scanned" in f:
        lines.append(f"windows scanned: {f['windows_scanned']:,} ({f['area_scanned_km2']:,.1f} km2)")
    if "sites_total" in f:
        lines.append(
            f"sites: {f['sites_total']} in history, {f['sites_reported']} reported, "
            f"{len(f['new_sites'])} new" + (f": {' '.join(f['new_sites'])}" if f["new_sites"] else "")
        )
    if "mosaic" in f:
        lines.append(f["mosaic"]["summary"])
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in report["stages_s"].items())
    t = report["throughput"]
    lines.append(f"time: {report['wall_s']:.1f} s ({stages})")
    if t["windows_per_s_run"]:
        lines.append(
            f"throughput: {t['windows_per_s_scan']:,} windows/s in scan, {t['windows_per_s_run']:,} "
            f"windows/s and {t['km2_per_s_run']} km2/s over the run, {t['passes_per_hour']} passes/h"
        )
    return "\n".join(lines)
