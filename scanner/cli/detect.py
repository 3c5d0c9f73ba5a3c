"""``fringescan detect``: candidate sites from probability grids."""

from __future__ import annotations

import argparse

from scanner.cli.common import (
    add_operating_point_args,
    add_overwrite_arg,
    add_scene_args,
    add_split_args,
    split_prominence,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="candidate sites from probability grids (GeoJSON, WGS84)",
        description="Threshold, 8-connected components split at probability saddles (one site per peak; "
        "--no-split keeps whole components), size filter, at the model's operating point unless "
        "--threshold / --min-area-m2 / --min-support are given (the same detection as `fringescan nightly`); writes "
        "STORE/sites/<scene_id>.geojson, and with --out also all sites in one GeoJSON file.",
    )
    parser.add_argument("--store", required=True, help="scene store directory")
    add_scene_args(parser)
    add_operating_point_args(parser)
    add_split_args(parser)
    parser.add_argument(
        "--out",
        help="also write every scene's sites, in priority order, into this GeoJSON file "
        "(default: only the site layers STORE/sites/<scene_id>.geojson)",
    )
    add_overwrite_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.io.artifact import check_target
    from scanner.io.lock import store_lock
    from scanner.io.site_layers import feature_collection, write_geojson
    from scanner.io.store import Store
    from scanner.pipeline.sites import PairIndex, detect_scene, scanned_scenes

    if args.out:
        check_target(args.out, "geojson", overwrite=args.overwrite)  # before any site layer is written
    prominence = split_prominence(args)
    store = Store.open(args.store)
    scene_ids = scanned_scenes(store, args.scenes)
    everything, used, pairs = [], {}, PairIndex(store)
    with store_lock(store.root, "detect"):
        for scene_id in scene_ids:
            found = detect_scene(
                store,
                scene_id,
                threshold=args.threshold,
                min_area_m2=args.min_area_m2,
                split_prominence=prominence,
                min_support=args.min_support,
                pairs=pairs,
            )
            used[scene_id] = found.config
            print(f"{scene_id}: operating point: {found.origin}")
            everything.extend(found.features)
            print(f"{scene_id}: {len(found.features)} sites -> {found.path}")
    if not args.out:
        print(f"{len(everything)} sites in {len(scene_ids)} site layers under {store.layout.sites}")
        return 0
    check_target(args.out, "geojson", overwrite=args.overwrite)  # again: a file may have appeared meanwhile
    everything.sort(key=lambda f: (f["properties"]["priority"], f["properties"]["scene_id"]))
    write_geojson(
        args.out,
        feature_collection(
            everything,
            threshold=_common([c.threshold for c in used.values()]),
            min_area_m2=_common([c.min_area_m2 for c in used.values()]),
            split_prominence=prominence,
            scenes=list(scene_ids),
        ),
    )
    print(f"{len(everything)} sites -> {args.out}")
    return 0


def _common(values: list):
    """The one value all scenes used, else the list (scenes of different models or pixel sizes)."""
    return values[0] if len(set(values)) == 1 else values
