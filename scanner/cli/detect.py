"""``fringescan detect``: candidate sites from probability grids."""

from __future__ import annotations

import argparse

from scanner.cli.common import add_operating_point_args, add_scene_args


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "detect",
        help="candidate sites from probability grids (GeoJSON, WGS84)",
        description="Threshold, 8-connected components, size filter; writes "
        "STORE/sites/<scene_id>.geojson and exports all sites to --out.",
    )
    parser.add_argument("--store", required=True, help="scene store directory")
    add_scene_args(parser)
    add_operating_point_args(parser)
    parser.add_argument("--out", required=True, help="GeoJSON file for all detected sites")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.io.lock import store_lock
    from scanner.io.site_layers import feature_collection, write_geojson
    from scanner.io.store import Store
    from scanner.pipeline.sites import operating_config, scanned_scenes, scene_sites, write_scene_sites

    store = Store.open(args.store)
    scene_ids = scanned_scenes(store, args.scenes)
    everything, used = [], {}
    with store_lock(store.root, "detect"):
        for scene_id in scene_ids:
            config, origin = operating_config(
                store, scene_id, threshold=args.threshold, min_area_m2=args.min_area_m2
            )
            used[scene_id] = config
            print(f"{scene_id}: operating point: {origin}")
            features, _ = scene_sites(store, scene_id, config)
            path = write_scene_sites(store, scene_id, features, config)
            everything.extend(features)
            print(f"{scene_id}: {len(features)} sites -> {path}")
    everything.sort(key=lambda f: (f["properties"]["priority"], f["properties"]["scene_id"]))
    write_geojson(
        args.out,
        feature_collection(
            everything,
            threshold=_common([c.threshold for c in used.values()]),
            min_area_m2=_common([c.min_area_m2 for c in used.values()]),
            scenes=list(scene_ids),
        ),
    )
    print(f"{len(everything)} sites -> {args.out}")
    return 0


def _common(values: list):
    """The one value all scenes used, else the list (scenes of different models or pixel sizes)."""
    return values[0] if len(set(values)) == 1 else values
