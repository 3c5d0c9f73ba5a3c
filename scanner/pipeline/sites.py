"""Site layers (I/O module, jax-free): polygons from labelled cells, WGS84 GeoJSON features, publishing.

A site layer is an RFC 7946 FeatureCollection in WGS84 (lon, lat), one feature per candidate site, written to
``sites/<scene_id>.geojson`` in the store (and exported with ``detect --out``); the feature properties are
listed in docs/contracts.md. Features are in priority order (``scanner.core.detect.rank``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely import ops
from shapely.geometry import box, mapping, shape
from shapely.geometry.base import BaseGeometry

from scanner.core import kernels
from scanner.core.detect import Component, DetectConfig, detect, resolve_config, site_ids
from scanner.errors import InputError, problem
from scanner.eval.matching import DetectionCounts, table7
from scanner.geo import STRIDE_PX, PixelWindow
from scanner.io.labels import read_labels
from scanner.io.probgrid import prob_grid, read_prob, scanned_scene_ids
from scanner.io.readers import read_geojson
from scanner.io.store import Scene, Store
from scanner.io.writers import write_json

WGS84 = CRS.from_epsg(4326)
SITES_DIR = "sites"


def component_polygons(labels: np.ndarray, cell_transform: Affine) -> dict[int, BaseGeometry]:
    """Polygon (scene CRS) of every labelled component of an int32 label grid, keyed by label."""
    parts: dict[int, list[BaseGeometry]] = {}
    for geometry, value in rasterio.features.shapes(
        labels, mask=labels > 0, connectivity=8, transform=cell_transform
    ):
        parts.setdefault(int(value), []).append(shape(geometry))
    return {label: ops.unary_union(polys) for label, polys in parts.items()}


def to_wgs84(geometry: BaseGeometry, crs_wkt: str) -> BaseGeometry:
    """``geometry`` from the scene CRS to WGS84 lon/lat."""
    transformer = Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def from_wgs84(geometry: BaseGeometry, crs_wkt: str) -> BaseGeometry:
    """``geometry`` from WGS84 lon/lat to the scene CRS."""
    transformer = Transformer.from_crs(WGS84, CRS.from_wkt(crs_wkt), always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def site_features(
    found: Sequence[Component],
    labels: np.ndarray,
    cell_transform: Affine,
    crs_wkt: str,
    *,
    scene_id: str,
    first_date: str | None,
    second_date: str | None,
    checkpoint_sha256: str | None,
) -> list[dict]:
    """GeoJSON features (WGS84) of ``found`` in the given (priority) order, with stable site IDs."""
    polygons = component_polygons(labels, cell_transform)
    transformer = Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)
    centroids = []
    for c in found:
        x, y = cell_transform @ (c.centroid_cell[1], c.centroid_cell[0])
        centroids.append(transformer.transform(x, y))
    by_label = sorted(range(len(found)), key=lambda k: found[k].label)
    ids = dict(zip(by_label, site_ids([centroids[k] for k in by_label]), strict=True))
    features = []
    for k, c in enumerate(found):
        lon, lat = centroids[k]
        properties = {
            "site_id": ids[k],
            "scene_id": scene_id,
            "first_date": first_date,
            "second_date": second_date,
            "area_m2": c.area_m2,
            "centroid_lon": lon,
            "centroid_lat": lat,
            "prob_max": c.prob_max,
            "prob_mean": c.prob_mean,
            "n_cells": c.n_cells,
            "slope_class": c.slope_class,
            "slope_mean_deg": c.slope_mean_deg,
            "priority": k + 1,
            "checkpoint_sha256": checkpoint_sha256,
        }
        geometry = mapping(shapely.transform(polygons[c.label], transformer.transform, interleaved=False))
        features.append({"type": "Feature", "id": ids[k], "geometry": geometry, "properties": properties})
    return features


def feature_collection(features: list[dict], **metadata: object) -> dict:
    """A FeatureCollection; ``metadata`` goes under the foreign member ``fringescan``."""
    return {"type": "FeatureCollection", "fringescan": metadata, "features": features}


def write_geojson(path: str | Path, collection: dict) -> Path:
    """Write a whole FeatureCollection to ``path`` atomically (``scanner.io.writers.write_json``, no NaN)."""
    return write_json(path, collection, indent=1)


def read_geometries(path: str | Path) -> list[BaseGeometry]:
    """The geometries of a GeoJSON FeatureCollection (lon/lat, RFC 7946); features without one are skipped."""
    return [shape(f["geometry"]) for f in read_geojson(path)["features"] if f.get("geometry")]


# ---------------------------------------------------------------------------------------------- a scene


def slope_cells(scene: Scene, cell_shape: tuple[int, int], band_cells: int = 50) -> np.ndarray | None:
    """Mean slope (degrees) of each 10 px cell, read in row bands; None when no DEM was ingested."""
    if not scene.has("slope"):
        return None
    out = np.full(cell_shape, np.nan, np.float32)
    width = scene.grid.width
    for r0 in range(0, cell_shape[0], band_cells):
        r1 = min(cell_shape[0], r0 + band_cells)
        band = scene.read("slope", PixelWindow(r0 * STRIDE_PX, 0, (r1 - r0) * STRIDE_PX, width))
        out[r0:r1] = kernels.block_means(band, STRIDE_PX, r1 - r0, cell_shape[1])
    return out


def scene_sites(
    store: Store, scene_id: str, config: DetectConfig, *, size_filtered: bool = True
) -> tuple[list[dict], dict]:
    """Detect the sites of one scanned scene: WGS84 features in priority order and the grid's attributes."""
    prob, attrs = read_prob(store.root, scene_id)
    scene = store.scene(scene_id)
    cell_grid = scene.grid.cell_grid()
    found, labels = detect(
        prob,
        config,
        scene.grid.cell_area_m2,
        slope_cells=slope_cells(scene, prob.shape),
        size_filtered=size_filtered,
    )
    features = site_features(
        found,
        labels,
        cell_grid.transform,
        cell_grid.crs_wkt,
        scene_id=scene_id,
        first_date=scene.attrs.get("first_date"),
        second_date=scene.attrs.get("second_date"),
        checkpoint_sha256=attrs.get("model", {}).get("checkpoint_sha256"),
    )
    return features, attrs


def scanned_scenes(store: Store, scene_ids: Sequence[str] | None = None) -> list[str]:
    """``scene_ids`` when given, else every scanned scene of the store; refuses a store with none."""
    ids = list(scene_ids) if scene_ids else scanned_scene_ids(store.root)
    if not ids:
        raise InputError(
            problem(
                f"store {store.root}",
                expected="at least one scanned scene",
                found="none",
                fix=f"run `fringescan scan --store {store.root} --model CKPT` first",
            )
        )
    return ids


def operating_config(
    store: Store, scene_id: str, *, threshold: float | None = None, min_area_m2: float | None = None
) -> tuple[DetectConfig, str]:
    """(DetectConfig, where its values came from) for one scanned scene: explicit values win over the
    operating point its grid records (the model's), which wins over the defaults."""
    _, attrs = read_prob(store.root, scene_id)
    cell_area_m2 = store.scene(scene_id).grid.cell_area_m2
    return resolve_config(attrs.get("operating_point"), cell_area_m2, threshold, min_area_m2)


def write_scene_sites(store: Store, scene_id: str, features: list[dict], config: DetectConfig) -> Path:
    """Publish ``sites/<scene_id>.geojson`` in the store (atomic replace)."""
    collection = feature_collection(
        features, scene_id=scene_id, threshold=config.threshold, min_area_m2=config.min_area_m2
    )
    return write_geojson(Path(store.root) / SITES_DIR / f"{scene_id}.geojson", collection)


# ---------------------------------------------------------------------------------------------- evaluation


def scanned_footprint(prob: np.ndarray, cell_transform: Affine, crs_wkt: str) -> BaseGeometry:
    """WGS84 box around the cells that got a probability (labels outside it are not counted)."""
    rows, cols = np.nonzero(np.isfinite(prob))
    if rows.size == 0:
        return box(0, 0, 0, 0)
    x0, y0 = cell_transform @ (cols.min(), rows.min())
    x1, y1 = cell_transform @ (cols.max() + 1, rows.max() + 1)
    return to_wgs84(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), crs_wkt)


def evaluate_store(
    store: Store, labels_path: str | Path, config: DetectConfig, scene_ids: Sequence[str] | None = None
) -> tuple[dict[str, DetectionCounts], dict[str, dict[str, DetectionCounts]]]:
    """Table 7 over scanned scenes: totals and per-scene counts, with and without the size filter.

    Only positive labels (``scanner.io.labels``) are expected candidates; a negative label is neither expected
    nor a false positive by itself (a detection on it is a false positive, as anywhere without a candidate).
    """
    labels = [lab.to_crs(WGS84) for lab in read_labels(labels_path) if lab.positive]
    ids = scanned_scenes(store, scene_ids)
    per_scene = {}
    for scene_id in ids:
        prob, attrs = read_prob(store.root, scene_id)
        cells = prob_grid(attrs)
        footprint = scanned_footprint(prob, cells.transform, cells.crs_wkt)
        inside = [lab for lab in labels if lab.geometry.intersects(footprint)]
        expected = [lab.geometry for lab in inside if lab.shows_in(scene_id)]
        hidden = [lab.geometry for lab in inside if not lab.shows_in(scene_id)]
        unfiltered, _ = scene_sites(store, scene_id, config, size_filtered=False)
        filtered, _ = scene_sites(store, scene_id, config, size_filtered=True)
        per_scene[scene_id] = table7(
            expected,
            [shape(f["geometry"]) for f in unfiltered],
            [shape(f["geometry"]) for f in filtered],
            hidden,
        )
    totals = {
        case: sum((r[case] for r in per_scene.values()), DetectionCounts(0, 0, 0))
        for case in ("without_size_filter", "with_size_filter")
    }
    return totals, per_scene
