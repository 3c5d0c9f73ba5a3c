"""The files of a synthetic region: GeoTIFFs, GeoJSON labels, quicklooks and ``region.json`` (layout in
docs/simulator.md); with ``product="licsar"`` also every scene as a LiCSAR product under ``licsar/``
(``scanner.io.licsar_writer``).

``write_region_files`` plans the region, builds every file in ``OUT/.tmp-*`` and then moves them into
``OUT`` file by file with ``os.replace``; ``region.json`` goes last, so its presence means the region is
complete. Files of an earlier region in ``OUT`` that the new one does not have are removed after the new one
is published. Scenes are simulated and written one at a time, so a large region streams.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pyproj import Transformer

from scanner.config import config_to_dict, require
from scanner.core.palette import render_quicklook
from scanner.errors import InputError, UsageError, problem
from scanner.geo import GeoGrid
from scanner.io.artifact import REGION_FORMAT, check_target
from scanner.io.licsar_writer import frame_id, licsar_grid, pair_name, write_frame, write_interferogram
from scanner.io.products import licsar_scene_id
from scanner.io.readers import open_raster, parse_json_file, raster_grid
from scanner.io.writers import write_geojson, write_geojson_wgs84, write_geotiff, write_json, write_png
from scanner.progress import ProgressCallback
from scanner.sensors import get_sensor
from scanner.sim.config import SynthConfig
from scanner.sim.landslides import Body
from scanner.sim.radar import los_vector
from scanner.sim.region import RegionPlan, plan_region
from scanner.sim.scene import BodyTruth, Scene, simulate_scene

REGION_VERSION = 1
QUICKLOOK_MAX_PX = 2000
"""Quicklooks of larger scenes are decimated to this many pixels on their longer side."""
PRODUCTS = ("geotiff", "licsar")
"""What a region delivers: ``geotiff`` the region alone; ``licsar`` also each scene as a LiCSAR product."""
LICSAR_DIR = "licsar"
LICSAR_MAX_AREAS = 100
"""LiCSAR frame numbers are ``area index x 1000 + the track's frame number (mod 1000)``: five digits."""


@dataclass(frozen=True)
class RegionSummary:
    """What ``write_region_files`` published: counts of scenes, areas and bodies, and where."""

    out: Path
    scenes: int
    areas: int
    bodies: int
    visible_bodies: int
    """Bodies visible in at least one pair."""


def write_region_files(
    config: SynthConfig,
    out: Path,
    *,
    dem_path: Path | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    product: str = "geotiff",
) -> RegionSummary:
    """Simulate the region of ``config`` and publish its files into ``out`` atomically (see the module doc).

    ``dem_path`` (a GeoTIFF) replaces the fractal terrain; the region then has one area on the DEM's grid.
    ``progress(done, total)`` is called as scenes are written. ``out`` must be new, empty, or (with
    ``overwrite``) an earlier region (``scanner.io.artifact.check_target``). ``product`` is one of
    ``PRODUCTS`` (``check_product``).
    """
    check_product(config, product)
    check_target(out, "region", overwrite=overwrite)
    dem = None
    if dem_path is not None:
        config, dem = read_user_dem(dem_path, config)
    staging = prepare_out_dir(out)
    try:
        plan = plan_region(config, dem)
        region = write_region(plan, staging, progress, product=product)
        publish(staging, out, region)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return RegionSummary(
        out=out,
        scenes=len(plan.specs),
        areas=len(plan.areas),
        bodies=len(plan.bodies),
        visible_bodies=sum(len(f["properties"]["visible_scene_ids"]) > 0 for f in region["labels"]),
    )


def check_product(config: SynthConfig, product: str) -> None:
    """UsageError unless ``product`` is one of ``PRODUCTS`` and, for ``licsar``, the region is Sentinel-1-like:
    LiCSAR products are Sentinel-1, and ingest reads them at its wavelength, so L-band phase would pass for
    C band with a quarter of its fringes."""
    require(
        product in PRODUCTS,
        "synth product",
        expected=f"one of {', '.join(PRODUCTS)}",
        found=product,
        fix="use --product geotiff (the default) or --product licsar",
    )
    if product != "licsar":
        return
    sentinel1 = get_sensor("sentinel-1")
    require(
        sentinel1.band.holds(config.wavelength_m),
        "--product licsar",
        expected=f"a Sentinel-1 wavelength ({sentinel1.wavelength_m:.4f} m; LiCSAR products are Sentinel-1)",
        found=f"wavelength_m={config.wavelength_m}",
        fix="add --config sim_sentinel1 (or --set wavelength_m=0.0555)",
    )
    require(
        config.areas <= LICSAR_MAX_AREAS,
        "--product licsar",
        expected=f"at most {LICSAR_MAX_AREAS} areas (LiCSAR frame numbers have five digits)",
        found=f"areas={config.areas}",
        fix=f"use --set areas={LICSAR_MAX_AREAS} or fewer",
    )


def read_user_dem(path: Path, config: SynthConfig) -> tuple[SynthConfig, np.ndarray]:
    """The DEM (float32 metres, NaN nodata) and the config moved onto its grid (origin, CRS, pixel size)."""
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


# ---------------------------------------------------------------------------------------------- staging


def write_region(
    plan: RegionPlan, staging: Path, progress: ProgressCallback | None = None, *, product: str = "geotiff"
) -> dict[str, Any]:
    """Write every file of ``plan`` into ``staging``; return the region description (region.json)."""
    config = plan.config
    areas = []
    for area in plan.areas:
        name = f"{area.area_id}.dem.tif"
        write_geotiff(staging / name, area.dem, area.grid, nodata=None, tags={"DATA_TYPE": "ORIGINAL_DEM"})
        areas.append({"area_id": area.area_id, "dem": name, "grid": _grid_attrs(area.grid)})
    scenes, truths = [], {}
    frames = _write_licsar_frames(plan, staging) if product == "licsar" else None
    (staging / "quicklooks").mkdir()
    if progress:
        progress(0, len(plan.specs))
    for done, spec in enumerate(plan.specs, start=1):
        scene = simulate_scene(plan, spec)
        scenes.append(_write_scene(scene, plan, staging))
        if frames is not None:
            scenes[-1]["licsar"] = _write_licsar_scene(scene, frames, staging)
        truths[spec.scene_id] = {t.body_id: t for t in scene.truths}
        if progress:
            progress(done, len(plan.specs))
    labels = _label_features(plan, truths)
    _write_labels(staging, labels, plan)
    region = {
        "format": REGION_FORMAT,
        "version": REGION_VERSION,
        "seed": config.seed,
        "config": config_to_dict(config),
        "crs": f"EPSG:{config.crs_epsg}",
        "areas": areas,
        "scenes": scenes,
        "labels": labels,
    }
    if frames is not None:
        region["licsar"] = _write_licsar_labels(staging, labels, scenes, frames, plan)
    region["files"] = _listing(staging)
    return region


def _grid_attrs(grid: GeoGrid) -> dict[str, Any]:
    attrs = grid.to_attrs()
    attrs.pop("crs_wkt")
    return attrs


def scene_tags(scene: Scene, config: SynthConfig) -> dict[str, Any]:
    """GeoTIFF tags of a scene's rasters (the GAMMA names of the real files, plus orbit, frame and pass)."""
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


def _write_scene(scene: Scene, plan: RegionPlan, staging: Path) -> dict[str, Any]:
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


def _pixel_ring(body: Body, grid: GeoGrid) -> list[tuple[float, float]]:
    inverse = ~grid.transform
    return [tuple(reversed(inverse * xy)) for xy in body.polygon]


def _label_features(plan: RegionPlan, truths: dict[str, dict[str, BodyTruth]]) -> list[dict[str, Any]]:
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


def _write_labels(staging: Path, features: list[dict[str, Any]], plan: RegionPlan) -> None:
    write_geojson(staging / "labels.geojson", features, plan.config.crs_epsg)
    write_geojson_wgs84(staging / "labels_wgs84.geojson", features, plan.config.crs_epsg)


# ---------------------------------------------------------------------------------------------- LiCSAR


@dataclass(frozen=True)
class _Frame:
    """A LiCSAR frame of the region: its id, its grid and its record in region.json."""

    frame: str
    grid: GeoGrid
    record: dict[str, Any]


def _write_licsar_frames(plan: RegionPlan, staging: Path) -> dict[tuple[str, str], _Frame]:
    """One LiCSAR frame per (area, pass direction), by that key, its metadata written."""
    frames: dict[tuple[str, str], _Frame] = {}
    for spec in plan.specs:
        track, key = spec.track, (spec.area_id, spec.track.pass_direction)
        if key in frames:
            continue
        area = plan.area(spec.area_id)
        frame = frame_id(track.orbit, track.pass_direction, area.index * 1000 + track.frame % 1000)
        grid = licsar_grid(area.grid)
        los = los_vector(track.incidence_deg, track.heading_deg)
        folder = write_frame(staging / LICSAR_DIR, frame, grid, area.dem, area.grid, los)
        record = {
            "frame": frame,
            "area_id": area.area_id,
            "pass_direction": track.pass_direction,
            "track": track.orbit,
            "incidence_deg": track.incidence_deg,
            "heading_deg": track.heading_deg,
            "folder": str(folder.relative_to(staging)),
            "grid": _grid_attrs(grid),
        }
        frames[key] = _Frame(frame, grid, record)
    return frames


def _write_licsar_scene(scene: Scene, frames: dict[tuple[str, str], _Frame], staging: Path) -> dict:
    """The scene's interferogram folder in its frame; its record for region.json (LiCSAR scene id, folder)."""
    spec = scene.spec
    frame = frames[(spec.area_id, spec.track.pass_direction)]
    dates = (spec.first_date, spec.second_date)
    folder = write_interferogram(
        staging / LICSAR_DIR, frame.frame, frame.grid, dates, scene.phase, scene.coherence, spec.grid
    )
    return {
        "scene_id": licsar_scene_id(frame.frame, pair_name(*dates)),
        "folder": str(folder.relative_to(staging)),
    }


def _write_licsar_labels(
    staging: Path,
    labels: list[dict[str, Any]],
    scenes: list[dict[str, Any]],
    frames: dict[tuple[str, str], _Frame],
    plan: RegionPlan,
) -> dict[str, Any]:
    """``licsar/labels_wgs84.geojson``: the labels with the scene ids ingest gives the LiCSAR products; returns
    the ``licsar`` part of region.json."""
    ids = {scene["scene_id"]: scene["licsar"]["scene_id"] for scene in scenes}
    renamed = []
    for feature in labels:
        properties = feature["properties"]
        seen = [{**s, "scene_id": ids[s["scene_id"]]} for s in properties["scenes"]]
        visible = [ids[s] for s in properties["visible_scene_ids"]]
        renamed.append(
            {**feature, "properties": {**properties, "scenes": seen, "visible_scene_ids": visible}}
        )
    path = f"{LICSAR_DIR}/labels_wgs84.geojson"
    write_geojson_wgs84(staging / path, renamed, plan.config.crs_epsg)
    return {"folder": LICSAR_DIR, "labels": path, "frames": [f.record for f in frames.values()]}


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------------------------- publishing


def publish(staging: Path, out: Path, region: dict[str, Any]) -> None:
    """Move the staged files into ``out`` (each by ``os.replace``), region.json last; drop stale files of an
    earlier region."""
    previous = _previous_files(out)
    for relative in region["files"]:
        target = out / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / relative, target)
    description = {k: v for k, v in region.items() if k != "labels"}
    write_json(out / "region.json", description)
    for relative in previous - set(region["files"]) - {"region.json"}:
        (out / relative).unlink(missing_ok=True)


def read_region(folder: str | Path) -> dict:
    """The description (``region.json``) of a synthetic region written by ``write_region_files``: scenes with
    their files, areas, config. InputError when the folder holds no such region."""
    path = Path(folder) / "region.json"
    region = parse_json_file(
        path,
        what=f"synthetic region {folder}",
        expected="region.json written by `fringescan synth`",
        fix="pass the --out folder of `fringescan synth`",
    )
    if not isinstance(region, dict) or region.get("format") != REGION_FORMAT:
        raise InputError(
            problem(
                f"synthetic region {folder}",
                expected=f'region.json with "format": "{REGION_FORMAT}"',
                found=repr(region)[:80],
                fix="pass the --out folder of `fringescan synth`",
            )
        )
    return region


def ingest_argv(folder: str | Path, scene: dict, store: str | Path) -> list[str]:
    """The ``fringescan ingest`` arguments for one scene of a region (``read_region(folder)["scenes"]``):
    its phase with its coherence and DEM, under its own scene id."""
    files, folder = scene["files"], Path(folder)
    return [
        "ingest",
        str(folder / files["phase"]),
        "--coherence",
        str(folder / files["coherence"]),
        "--dem",
        str(folder / files["dem"]),
        "--id",
        scene["scene_id"],
        "--store",
        str(store),
    ]


def _previous_files(out: Path) -> set[str]:
    try:
        earlier = read_region(out)
    except InputError:
        return set()
    return {f for f in earlier.get("files", []) if isinstance(f, str) and ".." not in Path(f).parts}
