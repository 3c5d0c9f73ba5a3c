"""``fringescan scan``: probability grids for the scenes of a store."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from scanner.errors import ModelMismatchError, UsageError, problem

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "scan",
        help="scan scenes with a model into probability grids (prob/<scene>)",
        description="Score every 150 px window at a 10 px stride; write one "
        "probability per 10 x 10 px cell into STORE/prob/<scene_id>. Resumable.",
    )
    parser.add_argument("--store", required=True, help="scene store directory")
    parser.add_argument(
        "--model",
        help="a zoo model name (`fringescan models`) or a checkpoint directory (default: each scene with the "
        "zoo model that fits its pixel spacing and band; scenes no zoo model fits are refused, the others scanned)",
    )
    parser.add_argument("--scene", action="append", dest="scenes", metavar="ID", help="scene(s); default all")
    parser.add_argument("--tile-cells", type=int, default=50, help="tile side in 10 px cells (default 50)")
    parser.add_argument("--batch", type=int, default=64, help="windows per batch on the window path")
    parser.add_argument(
        "--bf16", action="store_true", help="compute in bfloat16 (accuracy cost: docs/scanning.md)"
    )
    parser.add_argument(
        "--min-valid-fraction",
        type=float,
        default=0.75,
        help="windows with fewer valid pixels get no probability (default 0.75)",
    )
    parser.add_argument(
        "--path",
        choices=("dense", "window"),
        default=None,
        help="dense (alexnet_scan, default for it) or window (any model)",
    )
    parser.add_argument(
        "--scheduler",
        default=None,
        metavar="ADDR",
        help="dask scheduler: threads (default), synchronous, or a distributed address",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="tiles in flight at once, as threads of this process (default 0: CPU count + 1); "
        "worker processes are nightly's --workers or a --scheduler cluster",
    )
    parser.add_argument("--workers", type=int, dest="old_workers", help=argparse.SUPPRESS)
    parser.add_argument(
        "--prep",
        choices=("auto", "host", "device"),
        default="auto",
        help="preprocess tiles on the host (numpy) or in the jitted kernel on the device; "
        "auto: device on a GPU/TPU with the dense path (docs/scanning.md)",
    )
    parser.add_argument(
        "--prep-threads",
        type=int,
        default=0,
        help="threads preprocessing one tile in row bands (default: CPU count / --threads)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from scanner.io.checkpoint import read_meta
    from scanner.io.lock import store_lock
    from scanner.io.store import Store
    from scanner.io.zoo import resolve_model, zoo_name_of
    from scanner.pipeline.scan import ScanConfig, scan, zoo_assignment

    if args.old_workers is not None:
        raise UsageError(
            problem(
                "scan --workers",
                expected="--threads N (tiles in flight as threads of this process)",
                found=f"--workers {args.old_workers} (now the name for worker processes, as in nightly)",
                fix=f"use --threads {args.old_workers}",
            )
        )
    store = Store.open(args.store)
    if args.model is None:  # each scene with the zoo model that fits it; scenes none fits are refused
        plan, refused = zoo_assignment(store, args.scenes)
    else:
        plan, refused = {resolve_model(args.model): args.scenes}, {}
    for scene_id, reason in refused.items():
        print(f"fringescan: error: scene {scene_id} not scanned: {reason}", file=sys.stderr)
    results = []
    start = time.perf_counter()
    with store_lock(store.root, "scan"):
        for model, scene_ids in plan.items():
            meta = read_meta(model)
            name = zoo_name_of(model)
            print(
                f"model: {name + ' (zoo)' if name else model}"
                + (f" for {', '.join(scene_ids)}" if scene_ids else "")
            )
            config = ScanConfig(
                path=args.path or ("dense" if meta.model_config.name == "alexnet_scan" else "window"),
                tile_cells=args.tile_cells,
                batch_size=args.batch,
                dtype="bfloat16" if args.bf16 else "float32",
                min_valid_fraction=args.min_valid_fraction,
                workers=args.threads,
                prep_threads=args.prep_threads,
                prep=args.prep,
            )
            km2_per_window = (meta.pixel_size_m * 10) ** 2 / 1e6
            with progress_bar("scan", "windows", rate_scale=km2_per_window, rate_unit="km²") as progress:
                results += scan(store, model, scene_ids, config, scheduler=args.scheduler, progress=progress)
    elapsed = time.perf_counter() - start
    for r in results:
        if r.skipped_scene:
            print(f"{r.scene_id}: already scanned with this model and settings: {r.path}")
        else:
            print(
                f"{r.scene_id}: {r.tiles_total} tiles ({r.tiles_skipped} resumed), {r.windows} windows "
                f"-> {r.path}"
            )
    windows = sum(r.windows for r in results)
    print(f"{windows} windows in {elapsed:.1f} s ({windows / max(elapsed, 1e-9):,.0f} windows/s)")
    return ModelMismatchError.exit_code if refused else 0
