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
    add_operating_point_args(parser)
    parser.add_argument("--out", required=True, help="GeoJSON file for all detected sites")
    parser.set_defaults(func=run)


def add_operating_point_args(parser: argparse.ArgumentParser) -> None:
    """--threshold and --min-area-m2; without them the grid's recorded operating point is used."""
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="cell probability threshold (default: the model's operating point, else 0.5)",
    )
    parser.add_argument(
        "--min-area-m2",
        type=float,
        default=None,
        help="remove sites of at most this area (default: the model's minimum site size, "
        "else one 10 x 10 px cell)",
    )


def scene_config(store, scene_id: str, args: argparse.Namespace):
    """(DetectConfig, where its values came from) for one scanned scene: flags win over the grid's record."""
    from scanner.detect import resolve_config
    from scanner.geo import STRIDE_PX
    from scanner.probgrid import read_prob

    _, attrs = read_prob(store.root, scene_id)
    size = store.scene(scene_id).grid.pixel_size
    cell_area_m2 = size.x_m * size.y_m * STRIDE_PX * STRIDE_PX
    return resolve_config(attrs.get("operating_point"), cell_area_m2, args.threshold, args.min_area_m2)


def scanned_scenes(store, args: argparse.Namespace) -> list[str]:
    """The scenes named by --scene, else every scanned scene; refuses a store with none."""
    from scanner.errors import InputError, problem
    from scanner.probgrid import scanned_scene_ids

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
    return scene_ids


def run(args: argparse.Namespace) -> int:
    from scanner.lock import store_lock
    from scanner.sites import feature_collection, scene_sites, write_geojson, write_scene_sites
    from scanner.store import Store

    store = Store.open(args.store)
    scene_ids = scanned_scenes(store, args)
    everything, used = [], {}
    with store_lock(store.root, "detect"):
        for scene_id in scene_ids:
            config, origin = scene_config(store, scene_id, args)
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
