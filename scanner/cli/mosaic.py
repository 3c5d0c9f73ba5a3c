"""``fringescan mosaic``: combine the store's probability grids into a new national mosaic version.

After the run it refreshes the products of the current version: the STAC catalog, the quicklook PNG and the
viewer page, and prints the viewer's path.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "mosaic",
        help="combine probability grids into a versioned national mosaic",
        description="Reproject every scene's probability grid onto a mosaic grid, combine the passes and publish "
        "a new immutable version (only chunks touched by new, removed or re-scanned passes are recomputed), "
        "then refresh the STAC catalog, quicklook and viewer.",
    )
    parser.add_argument("--store", required=True, help="fringescan store directory")
    parser.add_argument(
        "--grid", help="grid: a shipped name (japan, demo) or a grid config file (required unless --list)"
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a grid field"
    )
    parser.add_argument("--since", metavar="DATE", help="only passes whose second date is on or after DATE")
    parser.add_argument("--rule", default="max", choices=("max", "mean", "latest"), help="combining rule")
    parser.add_argument(
        "--window-days",
        type=int,
        default=None,
        help="count only passes within N days before each cell's latest pass (default: all)",
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="probability for 'passes above threshold'"
    )
    parser.add_argument(
        "--resampling",
        default="nearest",
        choices=("nearest", "average", "max", "bilinear"),
        help="rasterio.warp resampling onto the mosaic grid (default nearest)",
    )
    parser.add_argument("--list", action="store_true", help="list the published versions and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.config import load_config
    from scanner.errors import UsageError, problem
    from scanner.mosaic.combine import CombineConfig, date_ordinal
    from scanner.mosaic.grid import MosaicGrid
    from scanner.mosaic.run import run_mosaic

    root = Path(args.store)
    if args.list:
        return list_versions(root)
    if not args.grid:
        raise UsageError(
            problem(
                "--grid",
                expected="a grid config such as configs/grids/japan.py",
                found="none",
                fix="pass --grid japan (a shipped grid) or --grid PATH.py",
            )
        )
    grid = load_config(args.grid, args.set, family="grid", expect=MosaicGrid)
    if args.since:
        date_ordinal(args.since)
    combine = CombineConfig(
        rule=args.rule, window_days=args.window_days, threshold=args.threshold, resampling=args.resampling
    )
    from scanner.cli.output import progress_bar
    from scanner.io.layout import StoreLayout
    from scanner.io.lock import store_lock
    from scanner.io.store import Store
    from scanner.products.viewer import publish_products

    Store.open(root)  # a clear error for a path that is not a store, before the lock is taken there
    with store_lock(root, "mosaic"):
        with progress_bar("mosaic", "chunks") as progress:
            report = run_mosaic(root, grid, combine, since=args.since, progress=progress)
        print(report.summary())
        viewer = StoreLayout(root).viewer_page
        if not report.unchanged or not viewer.is_file():
            viewer = _products(root, report, publish_products)
    print(f"viewer: {viewer}")
    return 0


def _products(root: Path, report, publish_products) -> Path:
    """Quicklook, STAC and viewer of the published version; a failure says the version itself is safe."""
    from scanner.errors import FringescanError, os_error

    try:
        return publish_products(root)
    except Exception as error:
        refusal = error if isinstance(error, FringescanError) else os_error(error, doing=f"mosaic {root}")
        if refusal is None:
            raise
        note = f"mosaic {report.version} is published and complete, its quicklook, STAC and viewer are not"
        raise type(refusal)(f"{note} (re-run fringescan mosaic to write them): {refusal}") from error


def list_versions(root: Path) -> int:
    from scanner.mosaic import zarr_io

    current = zarr_io.current_version(root)
    for version in zarr_io.list_versions(root):
        manifest = zarr_io.read_manifest(zarr_io.version_path(root, version))
        mark = "*" if version == current else " "
        print(
            f"{mark} {version}  created {manifest['created']}  passes {len(manifest['passes'])}  "
            f"latest pass {manifest['latest_pass_date']}  chunks recomputed {len(manifest['dirty_chunks'])}"
        )
    return 0
