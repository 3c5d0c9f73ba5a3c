"""``fringescan synth --out DIR``: a synthetic DInSAR region with ground truth (layout in docs/simulator.md).

Everything is built in ``DIR/.tmp-*`` and then moved into ``DIR`` file by file with ``os.replace``;
``region.json`` goes last, so its presence means the region is complete. Files of an earlier region in
``DIR`` that the new one does not have are removed after the new one is published.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from scanner.errors import UsageError, problem

log = logging.getLogger(__name__)

REGION_FORMAT = "fringescan-synth-region"
REGION_VERSION = 1
QUICKLOOK_MAX_PX = 2000
"""Quicklooks of larger scenes are decimated to this many pixels on their longer side."""


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "synth",
        help="simulate a region of DInSAR interferograms with landslide ground truth",
        description="Simulate overlapping wrapped-phase interferograms (L band, 28 m) over fractal terrain with "
        "landslides, stratified and turbulent atmosphere, orbital ramps, DEM errors and decorrelation; write "
        "GeoTIFFs, GeoJSON labels and quicklooks. Without options: a demo region of 4 scenes of 1000 px.",
    )
    parser.add_argument("--out", required=True, type=Path, help="output directory (created if missing)")
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
    parser.set_defaults(func=run)


def resolve_config(args: argparse.Namespace):
    """SynthConfig from --config / --set, then --scenes / --size / --seed (validated)."""
    from scanner.config import apply_overrides, load_config
    from scanner.sim.config import SynthConfig

    config = (
        load_config(args.config, args.overrides)
        if args.config
        else apply_overrides(SynthConfig(), args.overrides)
    )
    if not isinstance(config, SynthConfig):
        raise UsageError(
            problem(
                f"config {args.config}",
                expected="get_config() returning a SynthConfig",
                found=type(config).__name__,
                fix="return scanner.sim.config.SynthConfig(...)",
            )
        )
    flags = {"scenes": args.scenes, "size_px": args.size, "seed": args.seed}
    return dataclasses.replace(config, **{k: v for k, v in flags.items() if v is not None})


def read_user_dem(path: Path, config):
    """The DEM (float32 metres, NaN nodata) and the config moved onto its grid (origin, CRS, pixel size)."""
    import numpy as np

    from scanner.io.readers import open_raster, raster_grid

    with open_raster(path, "dem") as ds:
        grid = raster_grid(ds, "dem")
        values = ds.read(1, masked=True).astype(np.float32).filled(np.nan)
    pixel = grid.pixel_size
    if grid.crs.is_geographic or grid.epsg is None or abs(pixel.x_m - pixel.y_m) > 0.01 * pixel.x_m:
        raise UsageError(
            problem(
                f"--dem {path}",
                expected="a projected CRS with an EPSG code and square pixels",
                found=f"EPSG {grid.epsg}, pixels {pixel.x_m:g} x {pixel.y_m:g} m",
                fix="warp it first, e.g. gdalwarp -t_srs EPSG:32654 -tr 28 28 in.tif out.tif",
            )
        )
    if config.areas != 1:
        raise UsageError(
            problem(
                "--dem",
                expected="areas=1 (one DEM, one area)",
                found=f"areas={config.areas}",
                fix="drop --set areas=...",
            )
        )
    moved = dataclasses.replace(
        config,
        pixel_size_m=pixel.x_m,
        crs_epsg=grid.epsg,
        origin_x_m=grid.transform.c,
        origin_y_m=grid.transform.f,
    )
    return moved, values


def prepare_out_dir(out: Path) -> Path:
    """Create ``out`` if needed and a private staging directory inside it; clear errors when impossible."""
    if out.exists() and not out.is_dir():
        raise UsageError(
            problem(
                "--out",
                expected="a directory (new or existing)",
                found=f"a file at {out}",
                fix="choose another path",
            )
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".tmp-", dir=out))
    except OSError as error:
        raise UsageError(
            problem(
                "--out",
                expected="a directory fringescan can create and write",
                found=f"{out}: {error.strerror or error}",
                fix="choose a writable location or fix its permissions",
            )
        ) from None


def run(args: argparse.Namespace) -> int:
    from scanner.cli.output import progress_bar
    from scanner.sim.region import plan_region

    config = resolve_config(args)
    dem = None
    if args.dem:
        config, dem = read_user_dem(args.dem, config)
    staging = prepare_out_dir(args.out)
    try:
        plan = plan_region(config, dem)
        with progress_bar("synth", "scenes") as progress:
            region = write_region(plan, staging, progress)
        publish(staging, args.out, region)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    visible = sum(len(f["properties"]["visible_scene_ids"]) > 0 for f in region["labels"])
    print(
        f"synthetic region: {len(plan.specs)} scenes, {len(plan.areas)} area(s), {len(plan.bodies)} landslide "
        f"bodies ({visible} visible in at least one pair) -> {args.out}"
    )
    return 0


def write_region(plan, staging: Path, progress=None) -> dict[str, Any]:
    """Write every file of ``plan`` into ``staging``; return the region description (region.json)."""
    from scanner.config import config_to_dict
    from scanner.io.writers import write_geotiff
    from scanner.sim.scene import simulate_scene

    config = plan.config
    areas = []
    for area in plan.areas:
        name = f"{area.area_id}.dem.tif"
        write_geotiff(staging / name, area.dem, area.grid, nodata=None, tags={"DATA_TYPE": "ORIGINAL_DEM"})
        areas.append({"area_id": area.area_id, "dem": name, "grid": _grid_attrs(area.grid)})
    scenes, truths = [], {}
    (staging / "quicklooks").mkdir()
    for done, spec in enumerate(plan.specs, start=1):
        scene = simulate_scene(plan, spec)
        scenes.append(_write_scene(scene, plan, staging))
        truths[spec.scene_id] = {t.body_id: t for t in scene.truths}
        if progress:
            progress(done, len(plan.specs))
    labels = _label_features(plan, truths)
    _write_labels(staging, labels, plan)
    return {
        "format": REGION_FORMAT,
        "version": REGION_VERSION,
        "seed": config.seed,
        "config": config_to_dict(config),
        "crs": f"EPSG:{config.crs_epsg}",
        "areas": areas,
        "scenes": scenes,
        "labels": labels,
        "files": _listing(staging),
    }


def _grid_attrs(grid) -> dict[str, Any]:
    attrs = grid.to_attrs()
    attrs.pop("crs_wkt")
    return attrs


def scene_tags(scene, config) -> dict[str, Any]:
    spec = scene.spec
    return {
        "FIRST_DATE": spec.first_date,
        "SECOND_DATE": spec.second_date,
        "TIME_SPAN_YEAR": spec.span_days / 365.25,
        "WAVELENGTH_METRES": config.wavelength_m,
        "INCIDENCE_DEGREES": spec.track.incidence_deg,
        "ORBIT": spec.track.orbit,
        "FRAME": spec.track.frame,
        "PASS_DIRECTION": spec.track.pass_direction,
        "PERPENDICULAR_BASELINE_METRES": spec.perp_baseline_m,
        "INSAR_PROCESSOR": "fringescan-synth",
    }


def _write_scene(scene, plan, staging: Path) -> dict[str, Any]:
    from scanner.core.palette import render_quicklook
    from scanner.io.writers import write_geotiff, write_png

    spec, config = scene.spec, plan.config
    tags = scene_tags(scene, config)
    files = {
        "phase": f"{spec.scene_id}.phase.tif",
        "coherence": f"{spec.scene_id}.coh.tif",
        "dem": f"{spec.area_id}.dem.tif",
        "quicklook": f"quicklooks/{spec.scene_id}.png",
    }
    write_geotiff(
        staging / files["phase"],
        scene.phase,
        spec.grid,
        nodata=float("nan"),
        tags={**tags, "DATA_TYPE": "ORIGINAL_IFG", "DATA_UNITS": "RADIANS", "PHASE_KIND": "wrapped"},
    )
    write_geotiff(
        staging / files["coherence"],
        scene.coherence,
        spec.grid,
        nodata=None,
        tags={**tags, "DATA_TYPE": "ORIGINAL_COH", "DATA_UNITS": "COHERENCE"},
    )
    outlines = [_pixel_ring(body, spec.grid) for body in plan.bodies if body.area_id == spec.area_id]
    write_png(staging / files["quicklook"], render_quicklook(scene.phase, outlines, max_px=QUICKLOOK_MAX_PX))
    return {
        "scene_id": spec.scene_id,
        "area_id": spec.area_id,
        "first_date": spec.first_date.isoformat(),
        "second_date": spec.second_date.isoformat(),
        "span_days": spec.span_days,
        "pass_direction": spec.track.pass_direction,
        "orbit": spec.track.orbit,
        "frame": spec.track.frame,
        "incidence_deg": spec.track.incidence_deg,
        "perp_baseline_m": spec.perp_baseline_m,
        "window_in_area": {
            "row_off": spec.window.row_off,
            "col_off": spec.window.col_off,
            "height": spec.window.height,
            "width": spec.window.width,
        },
        "grid": _grid_attrs(spec.grid),
        "files": files,
        "nuisance": {k: round(v, 6) for k, v in scene.nuisance.items()},
    }


def _pixel_ring(body, grid) -> list[tuple[float, float]]:
    inverse = ~grid.transform
    return [tuple(reversed(inverse * xy)) for xy in body.polygon]


def _label_features(plan, truths: dict[str, dict]) -> list[dict[str, Any]]:
    from pyproj import Transformer

    to_wgs84 = Transformer.from_crs(plan.config.crs_epsg, 4326, always_xy=True)
    features = []
    for body in plan.bodies:
        seen = [
            (scene_id, by_body[body.body_id])
            for scene_id, by_body in truths.items()
            if body.body_id in by_body
        ]
        lon, lat = to_wgs84.transform(body.centre_x, body.centre_y)
        properties = {
            "body_id": body.body_id,
            "area_id": body.area_id,
            "area_m2": round(body.area_m2, 1),
            "centre_x": round(body.centre_x, 2),
            "centre_y": round(body.centre_y, 2),
            "centre_lon": round(lon, 7),
            "centre_lat": round(lat, 7),
            "slope_deg": round(body.slope_deg, 2),
            "rate_m_per_yr": round(body.rate_m_per_yr, 5),
            "downslope_m": round(max((t.downslope_m for _, t in seen), default=0.0), 5),
            "scenes": [
                {
                    "scene_id": scene_id,
                    "downslope_m": round(t.downslope_m, 5),
                    "los_peak_m": round(t.los_peak_m, 5),
                    "valid_fraction": round(t.valid_fraction, 4),
                    "mean_coherence": round(t.mean_coherence, 4),
                    "visible": t.visible,
                }
                for scene_id, t in seen
            ],
            "visible_scene_ids": [scene_id for scene_id, t in seen if t.visible],
        }
        ring = [[round(x, 2), round(y, 2)] for x, y in body.polygon]
        features.append(
            {
                "type": "Feature",
                "id": body.body_id,
                "properties": properties,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
            }
        )
    return features


def _write_labels(staging: Path, features: list[dict[str, Any]], plan) -> None:
    from scanner.io.writers import write_geojson, write_geojson_wgs84

    write_geojson(staging / "labels.geojson", features, plan.config.crs_epsg)
    write_geojson_wgs84(staging / "labels_wgs84.geojson", features, plan.config.crs_epsg)


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def publish(staging: Path, out: Path, region: dict[str, Any]) -> None:
    """Move the staged files into ``out`` (each by ``os.replace``), region.json last; drop stale files of an
    earlier region."""
    from scanner.io.writers import write_json

    previous = _previous_files(out)
    for relative in region["files"]:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)
    description = {k: v for k, v in region.items() if k != "labels"}
    write_json(out / "region.json", description)
    for relative in previous - set(region["files"]) - {"region.json"}:
        (out / relative).unlink(missing_ok=True)


def _previous_files(out: Path) -> set[str]:
    try:
        earlier = json.loads((out / "region.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    if earlier.get("format") != REGION_FORMAT:
        return set()
    return {f for f in earlier.get("files", []) if isinstance(f, str) and ".." not in Path(f).parts}
