"""The mosaic's site layer: one feature per site (``scanner.core.site_identity``) seen by the mosaic's passes.

Sites are grouped over every site layer of the store, so a site keeps the id it has in the site history and
in ``fringescan review`` even when the mosaic uses only some passes (``--since``); the feature describes the
detections of the mosaic's own passes: the union of their polygons (geodesic area), the strongest
probability, every scene and member id, dates, slope class and priority, and ``passes``: one record per pass
that saw the site (scene id, its detection's id, dates and peak probability, by date), which the viewer's popup
lists and links to each pass's phase layer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import numpy as np
from pyproj import Geod
from shapely import to_geojson, union_all
from shapely.geometry import shape

from scanner.core.site_identity import Detection, sites_from_layers

GEOD = Geod(ellps="WGS84")


def merge_sites(layers: Mapping[str, Mapping], scene_ids: Iterable[str] | None = None) -> list[dict]:
    """One WGS84 feature per site seen by ``scene_ids`` (default: every layer), strongest first.

    ``layers`` is ``{scene_id: FeatureCollection}`` of the store's site layers (all of them, so identities
    match the site history)."""
    wanted = set(layers if scene_ids is None else scene_ids)
    merged = []
    for site in sites_from_layers(layers):
        members = site.within(wanted)
        if members:
            merged.append(merge_detections(site.site_id, members))
    return sorted(merged, key=lambda f: (-f["properties"]["prob_max"], f["properties"]["site_id"]))


def merge_detections(site_id: str, members: tuple[Detection, ...]) -> dict:
    """The mosaic feature of one site from its detections in the mosaic's passes."""
    geom = union_all([shape(d.geometry) for d in members])
    props = [d.properties for d in members]
    areas = [d.area_m2 for d in members]
    slope = [p.get("slope_class") for p in props]
    first_dates = [d.first_date for d in members if d.first_date]
    second_dates = [d.second_date for d in members if d.second_date]
    priorities = [p["priority"] for p in props if isinstance(p.get("priority"), int | float)]
    prob_means = [float(p.get("prob_mean") or 0.0) for p in props]
    total_area = sum(areas)
    centroid = geom.centroid
    properties = {
        "site_id": site_id,
        "merged_site_ids": sorted({d.site_id for d in members}),
        "scene_ids": sorted({d.scene_id for d in members}),
        "n_passes": len({d.scene_id for d in members}),
        "first_date": min(first_dates) if first_dates else None,
        "second_date": max(second_dates) if second_dates else None,
        "area_m2": abs(GEOD.geometry_area_perimeter(geom)[0]),
        "centroid_lon": centroid.x,
        "centroid_lat": centroid.y,
        "prob_max": max(d.prob_max for d in members),
        "prob_mean": sum(m * a for m, a in zip(prob_means, areas, strict=True)) / total_area
        if total_area
        else float(np.mean(prob_means)),
        "slope_class": "slope" if "slope" in slope else ("flat" if "flat" in slope else None),
        "priority": max(priorities) if priorities else None,
        "passes": _passes(members),
        "checkpoint_sha256": sorted(
            {str(p["checkpoint_sha256"]) for p in props if p.get("checkpoint_sha256")}
        ),
    }
    return {"type": "Feature", "geometry": json.loads(to_geojson(geom)), "properties": properties}


def _passes(members: tuple[Detection, ...]) -> list[dict]:
    """The passes that saw a site, by second date then scene id (one record per scene: its strongest detection)."""
    best: dict[str, Detection] = {}
    for d in members:
        if d.scene_id not in best or d.prob_max > best[d.scene_id].prob_max:
            best[d.scene_id] = d
    records = [
        {
            "scene_id": d.scene_id,
            "site_id": d.site_id,
            "first_date": d.first_date,
            "second_date": d.second_date,
            "prob_max": d.prob_max,
        }
        for d in best.values()
    ]
    return sorted(records, key=lambda r: (r["second_date"] or "", r["scene_id"]))
