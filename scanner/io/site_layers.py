"""Site layers on disk (I/O): polygons from labelled cells, WGS84 GeoJSON features, reading and writing.

A site layer is an RFC 7946 FeatureCollection in WGS84 (lon, lat), one feature per candidate site, written to
``sites/<scene_id>.geojson`` in the store (``StoreLayout.site_layer``) and exported with ``detect --out``; the
feature properties are listed in docs/contracts.md. Features are in priority order
(``scanner.core.detect.rank``). Jax-free.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import rasterio.features
import shapely
from affine import Affine
from pyproj import CRS, Transformer
from shapely import ops
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from scanner.core.detect import Component, site_ids
from scanner.geo import WGS84
from scanner.io.layout import StoreLayout
from scanner.io.readers import read_geojson
from scanner.io.writers import write_json


def component_polygons(labels: np.ndarray, cell_transform: Affine) -> dict[int, BaseGeometry]:
    """Polygon (scene CRS) of every labelled component of an int32 label grid, keyed by label."""
    parts: dict[int, list[BaseGeometry]] = {}
    for geometry, value in rasterio.features.shapes(
        labels, mask=labels > 0, connectivity=8, transform=cell_transform
    ):
        parts.setdefault(int(value), []).append(shape(geometry))
    return {label: ops.unary_union(polys) for label, polys in parts.items()}


def reproject_geometry(geometry: BaseGeometry, source: str, target: str) -> BaseGeometry:
    """``geometry`` from CRS ``source`` to CRS ``target`` (WKT, or any form pyproj reads such as "EPSG:4326");
    unchanged when they are one CRS."""
    source_crs, target_crs = CRS.from_user_input(source), CRS.from_user_input(target)
    if source_crs == target_crs:
        return geometry
    transformer = Transformer.from_crs(source_crs, target_crs, always_xy=True)
    return shapely.transform(geometry, transformer.transform, interleaved=False)


def to_wgs84(geometry: BaseGeometry, crs_wkt: str) -> BaseGeometry:
    """``geometry`` from the scene CRS to WGS84 lon/lat."""
    return reproject_geometry(geometry, crs_wkt, WGS84)


def from_wgs84(geometry: BaseGeometry, crs_wkt: str) -> BaseGeometry:
    """``geometry`` from WGS84 lon/lat to the scene CRS."""
    return reproject_geometry(geometry, WGS84, crs_wkt)


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
    """GeoJSON features (WGS84) of ``found`` in the given (priority) order, with stable site IDs.

    ``centroid_lon`` / ``centroid_lat`` carry the site's point (``Component.point_cell``: inside its own
    cells), from which the site ID is derived; the name is kept from when it was the cells' plain centroid."""
    polygons = component_polygons(labels, cell_transform)
    transformer = Transformer.from_crs(CRS.from_wkt(crs_wkt), WGS84, always_xy=True)
    centroids = []
    for c in found:
        x, y = cell_transform @ (c.point_cell[1], c.point_cell[0])
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
            "component_sites": c.component_sites,
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


def read_site_layer(path: str | Path) -> dict:
    """A scene's site layer (``sites/<scene_id>.geojson``), a FeatureCollection."""
    return read_geojson(path, role="site layer", fix="re-run `fringescan detect` for this scene")


def site_layers(store_root: str | Path, scene_ids: Iterable[str] | None = None) -> dict[str, dict]:
    """``{scene_id: FeatureCollection}`` of the given scenes that have a site layer (default: every site layer
    of the store)."""
    layout = StoreLayout(store_root)
    if scene_ids is None:
        found = sorted(layout.sites.glob("*.geojson")) if layout.sites.is_dir() else []
        scene_ids = [p.name.removesuffix(".geojson") for p in found if not p.name.startswith(".")]
    paths = {scene_id: layout.site_layer(scene_id) for scene_id in scene_ids}
    return {scene_id: read_site_layer(path) for scene_id, path in paths.items() if path.is_file()}
