"""``fringescan ingest PATH [PATH ...] --store STORE``: interferograms into scenes of the store.

A PATH is a phase GeoTIFF (GAMMA, ISCE, any GDAL raster; ``--sensor`` or ``--wavelength-m`` when its tags record
no wavelength) or a product that ``scanner.io.products`` recognises: a LiCSAR interferogram folder, an ASF HyP3
InSAR folder or zip, a NISAR GUNW ``.h5``."""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
from pathlib import Path

from scanner.errors import UsageError, problem
from scanner.sensors import sensor_names

log = logging.getLogger(__name__)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "ingest",
        help="ingest interferogram GeoTIFFs and LiCSAR / HyP3 / NISAR products into scenes of the store",
        description="Read wrapped/unwrapped/complex interferograms (plus coherence, DEM and masks) and write one "
        "Zarr v3 scene per phase file or product into the store. The store is created when the directory is "
        "new. Products (LiCSAR YYYYMMDD_YYYYMMDD/ folders, HyP3 InSAR folders and zips, NISAR GUNW .h5 files) bring their own "
        "coherence, DEM, water mask, sensor and dates (docs/real-data.md).",
    )
    parser.add_argument(
        "phase",
        nargs="+",
        type=Path,
        help="phase GeoTIFF(s), LiCSAR interferogram folder(s), HyP3 product folder(s) or zip(s), NISAR GUNW .h5 "
        "file(s); one scene each",
    )
    parser.add_argument("--store", required=True, type=Path, help="store root directory")
    parser.add_argument(
        "--coherence",
        action="append",
        type=Path,
        default=[],
        help="coherence raster; give it once per phase file, in the same order",
    )
    parser.add_argument("--dem", type=Path, help="DEM (metres) covering the scene(s); adds dem and slope")
    parser.add_argument("--water", type=Path, help="water mask raster (non-zero = water), folded into valid")
    parser.add_argument(
        "--exclude",
        action="append",
        type=Path,
        default=[],
        help="GeoJSON polygons to exclude (known deformation, snow); repeatable",
    )
    parser.add_argument("--id", dest="scene_id", help="scene id (default: from the file name); one file only")
    parser.add_argument(
        "--kind",
        choices=("wrapped", "unwrapped", "complex", "magphase"),
        help="override the detected input kind",
    )
    parser.add_argument("--replace", action="store_true", help="replace a scene with the same id")
    parser.add_argument(
        "--pixel-size-m",
        type=float,
        default=28.0,
        help="model pixel size; finer phase is multilooked or resampled to it (default 28)",
    )
    parser.add_argument(
        "--upsample",
        action="store_true",
        help="also bring phase coarser than --pixel-size-m to it, by complex bilinear interpolation (adds no "
        "information; e.g. LiCSAR's 0.001 deg grid for a 45 m model); recorded in the scene's resample",
    )
    parser.add_argument(
        "--sensor",
        help="the radar, for files that do not record their wavelength: "
        + ", ".join(sensor_names())
        + " (docs/real-data.md)",
    )
    parser.add_argument(
        "--wavelength-m",
        type=float,
        help="radar wavelength in metres, for a sensor not in --sensor's list (L band 0.236, C band 0.0555)",
    )
    parser.add_argument("--incidence-deg", type=float, help="incidence angle for the layover/shadow mask")
    parser.add_argument(
        "--look-azimuth-deg",
        type=float,
        help="ground look direction, clockwise from north (default from PASS_DIRECTION)",
    )
    parser.set_defaults(func=run)


def _requests(args: argparse.Namespace, products: dict) -> list:
    from scanner.pipeline.ingest import IngestRequest, check_scene_id, product_request, scene_id_from_path

    if args.scene_id and len(args.phase) > 1:
        raise UsageError(
            problem(
                "--id",
                expected="a single phase file",
                found=f"{len(args.phase)} files",
                fix="drop --id; ids come from the file names",
            )
        )
    if args.coherence and len(args.coherence) != len(args.phase):
        raise UsageError(
            problem(
                "--coherence",
                expected=f"one per phase file ({len(args.phase)})",
                found=f"{len(args.coherence)}",
                fix="repeat --coherence in the phase files' order",
            )
        )
    folders = [p for p in args.phase if p.is_dir() and products.get(p) is None]
    if folders:
        raise UsageError(
            problem(
                f"ingest {folders[0]}",
                expected="a phase file, a LiCSAR YYYYMMDD_YYYYMMDD/ folder or a HyP3 product folder",
                found="a folder holding no *.geo.diff_pha.tif nor *_wrapped_phase.tif / *_unw_phase.tif",
                fix="pass the phase files themselves (docs/real-data.md lists the product layouts)",
            )
        )
    named = [p for p in args.phase if products.get(p) is not None]
    if args.coherence and named:
        raise UsageError(
            problem(
                "--coherence",
                expected="plain phase files only",
                found=f"the product {named[0]}, which brings its own coherence",
                fix="drop --coherence, or ingest the product's phase file on its own",
            )
        )
    ids = [
        check_scene_id(args.scene_id or (products[p].scene_id if products.get(p) else scene_id_from_path(p)))
        for p in args.phase
    ]
    if len(set(ids)) != len(ids):
        raise UsageError(
            problem(
                "scene ids",
                expected="one distinct id per phase file",
                found=ids,
                fix="ingest the files separately with --id",
            )
        )
    coherence = args.coherence or [None] * len(args.phase)
    common = {"dem": args.dem, "water": args.water, "exclude": tuple(args.exclude), "replace": args.replace}
    return [
        product_request(products[p], scene_id=i, **common)
        if products.get(p) is not None
        else IngestRequest(phase=p, scene_id=i, coherence=c, **common)
        for p, i, c in zip(args.phase, ids, coherence, strict=True)
    ]


def run(args: argparse.Namespace) -> int:
    from scanner.io.products import opened
    from scanner.pipeline.ingest import IngestConfig

    config = IngestConfig(
        model_pixel_size_m=args.pixel_size_m,
        kind=args.kind,
        incidence_deg=args.incidence_deg,
        look_azimuth_deg=args.look_azimuth_deg,
        sensor=args.sensor,
        wavelength_m=args.wavelength_m,
        upsample=args.upsample,
    )
    with (
        contextlib.ExitStack() as products
    ):  # a HyP3 zip stays extracted, a NISAR product converted (in a temporary folder) until the end
        found = {p: products.enter_context(opened(p)) for p in args.phase}
        requests = _requests(args, found)
        return _ingest_all(args, requests, config)


def _ingest_all(args: argparse.Namespace, requests: list, config) -> int:
    from scanner.cli.output import progress_bar
    from scanner.io.lock import store_lock
    from scanner.io.store import MARKER, Store
    from scanner.pipeline.ingest import ingest_scene

    new_store = not (args.store / MARKER).exists() and not args.store.exists()
    store = Store.open(args.store) if (args.store / MARKER).exists() else Store.create(args.store)
    try:
        with store_lock(store.root, "ingest"):
            for request in requests:
                with progress_bar(f"ingest {request.scene_id}", "chunks") as progress:
                    result = ingest_scene(store, request, config, progress)
                print(
                    f"{result.scene_id}: {result.status} ({result.kind}, {result.shape[0]} x "
                    f"{result.shape[1]} px, {result.spacing})"
                )
                for note in result.notes:
                    print(f"{result.scene_id}: note: {note}")
    except BaseException:
        if new_store and not store.scene_ids():
            shutil.rmtree(args.store, ignore_errors=True)
        raise
    return 0
