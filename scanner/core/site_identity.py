"""Site identity across passes: which detections are one landslide, and the one id it carries everywhere.

A *detection* is one feature of one scene's site layer (``sites/<scene_id>.geojson``). Two detections are the
same *site* when their polygons intersect or when they carry the same per-scene ``site_id`` (the geohash of
the rounded centroid, ``scanner.core.detect.site_ids``); sites are the connected components of that relation
(``scipy.sparse.csgraph.connected_components`` over ``shapely.STRtree`` pairs).

**The id rule.** A site's id is the ``site_id`` of its *earliest* detection, by second date, then first date,
scene id and site id. Earliest wins because ids must stay put while passes arrive: a later or larger
detection never renames a site an expert may already have reviewed. Every member's ``site_id`` is kept
(``member_ids``) so feedback given under any of them still applies. Two sites never share an id: equal ids
link their detections.

The site history (``scanner.pipeline.history``), the nightly report, ``fringescan review`` and the mosaic's
merged ``sites.geojson`` (``scanner.mosaic.run``) all group here, over every site layer of the store, so the
same landslide has the same id in every product. Pure: shapely geometries and dicts in, values out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from shapely.geometry import shape
from shapely.strtree import STRtree


@dataclass(frozen=True)
class Detection:
    """One site feature of one scene's site layer (geometry in WGS84 as GeoJSON, properties as written)."""

    site_id: str
    scene_id: str
    first_date: str | None
    second_date: str | None
    area_m2: float
    prob_max: float
    geometry: dict
    properties: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_feature(cls, feature: Mapping, scene_id: str) -> Detection:
        props = dict(feature.get("properties") or {})
        return cls(
            site_id=str(props["site_id"]),
            scene_id=str(props.get("scene_id") or scene_id),
            first_date=props.get("first_date"),
            second_date=props.get("second_date"),
            area_m2=float(props.get("area_m2") or 0.0),
            prob_max=float(props.get("prob_max") or 0.0),
            geometry=feature["geometry"],
            properties=props,
        )

    def sort_key(self) -> tuple:
        """Earliest first: the order of the id rule (the geometry only breaks exact ties, for determinism)."""
        geometry = json.dumps(self.geometry, sort_keys=True)
        return (self.second_date or "", self.first_date or "", self.scene_id, self.site_id, geometry)

    def to_json(self) -> dict:
        return {
            "site_id": self.site_id,
            "scene_id": self.scene_id,
            "first_date": self.first_date,
            "second_date": self.second_date,
            "area_m2": self.area_m2,
            "prob_max": self.prob_max,
        }


@dataclass(frozen=True)
class Site:
    """One landslide seen by one or more detections (earliest first)."""

    site_id: str
    detections: tuple[Detection, ...]

    @property
    def member_ids(self) -> list[str]:
        return sorted({d.site_id for d in self.detections})

    @property
    def scene_ids(self) -> list[str]:
        return sorted({d.scene_id for d in self.detections})

    def within(self, scene_ids: set[str]) -> tuple[Detection, ...]:
        """The detections of this site made by the given scenes (earliest first)."""
        return tuple(d for d in self.detections if d.scene_id in scene_ids)


def detections_from_layers(layers: Mapping[str, Mapping]) -> list[Detection]:
    """Every feature of every site layer (``{scene_id: FeatureCollection}``) as a detection, earliest first."""
    found = [
        Detection.from_feature(feature, scene_id)
        for scene_id in sorted(layers)
        for feature in layers[scene_id].get("features", [])
        if feature.get("geometry")
    ]
    return sorted(found, key=Detection.sort_key)


def group_detections(detections: Sequence[Detection]) -> list[Site]:
    """The sites of ``detections``: connected components of "polygons intersect or site ids are equal",
    each named by its earliest detection's ``site_id``; sorted by site id. Independent of input order."""
    ordered = sorted(detections, key=Detection.sort_key)
    n = len(ordered)
    if n == 0:
        return []
    shapes = [shape(d.geometry) for d in ordered]
    left, right = STRtree(shapes).query(shapes, predicate="intersects")
    first_with_id: dict[str, int] = {}
    same_id = np.array([first_with_id.setdefault(d.site_id, i) for i, d in enumerate(ordered)])
    rows = np.concatenate([left, np.arange(n)])
    cols = np.concatenate([right, same_id])
    links = coo_matrix((np.ones(rows.size, dtype=np.int8), (rows, cols)), shape=(n, n))
    _, component = connected_components(links, directed=False)
    members: dict[int, list[Detection]] = {}
    for index, label in enumerate(component.tolist()):
        members.setdefault(label, []).append(ordered[index])
    sites = [Site(group[0].site_id, tuple(group)) for group in members.values()]
    return sorted(sites, key=lambda s: s.site_id)


def sites_from_layers(layers: Mapping[str, Mapping]) -> list[Site]:
    """The sites of a store's site layers (``{scene_id: FeatureCollection}``): the one grouping every product
    uses."""
    return group_detections(detections_from_layers(layers))
