"""``fringescan export``: a scene's probability grid as a Cloud-Optimized GeoTIFF."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.cli.common import add_overwrite_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a probability grid as a Cloud-Optimized GeoTIFF",
        description="Export STORE/prob/<scene_id> (float32, NaN = no window) as a COG "
        "in the scene's CRS with 10 px cells.",
    )
    parser.add_argument("--store", required=True, help="scene store directory")
    parser.add_argument("--scene", metavar="ID", help="scene to export (or --mosaic)")
    parser.add_argument("--mosaic", action="store_true", help="export a mosaic version instead of a scene")
    parser.add_argument("--version", help="with --mosaic: the version (default: the current one)")
    parser.add_argument(
        "--band", default="prob", help="with --mosaic: prob, passes, passes_above or last_date"
    )
    parser.add_argument(
        "--out",
        help="output .tif path (default: <scene_id>-prob.tif, or mosaic-<version>-<band>.tif, "
        "in the current directory)",
    )
    add_overwrite_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.mosaic or not args.scene:
        return export_mosaic(args)
    from scanner.io.artifact import check_target
    from scanner.io.cog import write_cog
    from scanner.io.probgrid import prob_grid, read_prob
    from scanner.io.store import Store

    out = args.out or f"{args.scene}-prob.tif"
    check_target(out, "geotiff", overwrite=args.overwrite)
    store = Store.open(args.store)
    prob, attrs = read_prob(store.root, args.scene)
    grid = prob_grid(attrs)
    tags = {
        "scene_id": args.scene,
        "checkpoint_sha256": str(attrs["model"]["checkpoint_sha256"]),
        "first_date": str(attrs["scene_attrs"].get("first_date")),
        "second_date": str(attrs["scene_attrs"].get("second_date")),
        "units": "probability of class 1",
    }
    path = write_cog(out, prob, grid.transform, grid.crs_wkt, tags=tags)
    print(f"{args.scene}: {prob.shape[0]} x {prob.shape[1]} cells -> {path}")
    return 0


def export_mosaic(args: argparse.Namespace) -> int:
    """``fringescan export --store S --mosaic [--version V] [--band B] --out mosaic.tif``."""
    from scanner.errors import UsageError, problem
    from scanner.io.artifact import check_target
    from scanner.mosaic import zarr_io

    if not getattr(args, "mosaic", False):
        raise UsageError(
            problem(
                "fringescan export",
                expected="--scene ID or --mosaic",
                found="neither",
                fix="pass --scene ID for a scene or --mosaic for the current mosaic",
            )
        )
    path = zarr_io.version_path(Path(args.store), getattr(args, "version", None))
    band = getattr(args, "band", None) or "prob"
    target = Path(args.out) if getattr(args, "out", None) else Path(f"mosaic-{path.name}-{band}.tif")
    check_target(target, "geotiff", overwrite=getattr(args, "overwrite", False))
    out = zarr_io.export_cog(path, band, target)
    print(f"mosaic {path.name} -> {out}")
    return 0
