"""``fringescan detect``: candidate sites from probability grids."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="candidate sites from probability grids (GeoJSON, WGS84)",
        description="Threshold, 8-connected components, size filter; writes "
        "STORE/sites/<scene_id>.geojson and exports all sites to --out.",
    )
    parser.add_argument("--store", required=True, help="scene store directory")
    parser.add_argument(
        "--scene", action="append", dest="scenes", metavar="ID", help="scene(s); default every scanned scene"
    )
    parser.add_argument(
        "--threshold", type=float, default=0.5, help="cell probability threshold (default 0.5)"
    )
    parser.add_argument(
        "--min-area-m2",
        type=float,
        default=None,
        help="remove sites of at most this area (default: one 10 x 10 px cell)",
    )
    parser.add_argument("--out", required=True, help="GeoJSON file for all detected sites")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.detect import DetectConfig
    from scanner.errors import InputError, problem
    from scanner.probgrid import scanned_scene_ids
    from scanner.sites import feature_collection, scene_sites, write_geojson, write_scene_sites
    from scanner.store import Store

    store = Store.open(args.store)
    config = DetectConfig(threshold=args.threshold, min_area_m2=args.min_area_m2)
    scene_ids = args.scenes or scanned_scene_ids(store.root)
    if not scene_ids:
        raise InputError(
            problem(
                f"store {args.store}",
                expected="at least one scanned scene",
                found="none",
                fix=f"run `fringescan scan --store {args.store} --model CKPT` first",
            )
        )
    everything = []
    for scene_id in scene_ids:
        features, _ = scene_sites(store, scene_id, config)
        path = write_scene_sites(store, scene_id, features, config)
        everything.extend(features)
        print(f"{scene_id}: {len(features)} sites -> {path}")
    everything.sort(key=lambda f: (f["properties"]["priority"], f["properties"]["scene_id"]))
    write_geojson(
        args.out,
        feature_collection(
            everything, threshold=config.threshold, min_area_m2=config.min_area_m2, scenes=list(scene_ids)
        ),
    )
    print(f"{len(everything)} sites -> {args.out}")
    return 0
