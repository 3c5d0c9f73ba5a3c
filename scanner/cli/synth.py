"""``fringescan synth [--out DIR]``: a synthetic DInSAR region with ground truth (layout in docs/simulator.md).

Parses the arguments, resolves the ``SynthConfig`` and calls ``scanner.sim.files.write_region_files``, which
writes the region atomically (built in ``DIR/.tmp-*``, published file by file, ``region.json`` last), with
``--product licsar`` its scenes as LiCSAR products too.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.cli.common import add_overwrite_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="simulate a region of DInSAR interferograms with landslide ground truth",
        description="Simulate overlapping wrapped-phase interferograms (L band, 28 m) over fractal terrain with "
        "landslides, stratified and turbulent atmosphere, orbital ramps, DEM errors and decorrelation; write "
        "GeoTIFFs, GeoJSON labels and quicklooks. Without options: a demo region of 4 scenes of 1000 px.",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("out/synth"),
        help="output directory (created if missing; default out/synth)",
    )
    parser.add_argument("--scenes", type=int, help="number of scenes (interferometric pairs; default 4)")
    parser.add_argument("--size", type=int, help="scene side in pixels (>= 150; default 1000)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument(
        "--config", type=Path, help="a configs/<name>.py whose get_config() returns SynthConfig"
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a SynthConfig field, e.g. --set areas=2 (repeatable)",
    )
    parser.add_argument(
        "--dem",
        type=Path,
        help="use this DEM GeoTIFF (projected CRS, square pixels of about 28 m, at least size + 1 km on a side) "
        "instead of fractal terrain; the region then has one area on the DEM's grid",
    )
    parser.add_argument(
        "--product",
        choices=("geotiff", "licsar"),
        default="geotiff",
        help="geotiff (default): the region's GeoTIFFs only; licsar: also each scene as the LiCSAR product a "
        "Sentinel-1 user downloads (OUT/licsar/<frame>/interferograms/<pair>/ and <frame>/metadata/, EPSG:4326 "
        "at 0.001 deg, about 100 m), for `fringescan ingest` and the nightly inbox; needs a C-band region "
        "(--config sim_sentinel1), best at --set pixel_size_m=100",
    )
    add_overwrite_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from scanner.sim.config import load_synth_config
    from scanner.sim.files import write_region_files

    config = load_synth_config(
        args.config, args.overrides, scenes=args.scenes, size_px=args.size, seed=args.seed
    )
    with progress_bar("synth", "scenes") as progress:
        summary = write_region_files(
            config,
            args.out,
            dem_path=args.dem,
            progress=progress,
            overwrite=args.overwrite,
            product=args.product,
        )
    print(
        f"synthetic region: {summary.scenes} scenes, {summary.areas} area(s), {summary.bodies} landslide "
        f"bodies ({summary.visible_bodies} visible in at least one pair) -> {args.out}"
    )
    return 0
