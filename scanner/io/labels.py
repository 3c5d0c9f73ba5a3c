"""Label files: the one reader of labelled landslide candidates and the one home of the class rule.

A label file is a GeoJSON FeatureCollection of Point, MultiPoint, Polygon or MultiPolygon features. Its CRS is
the file's ``crs`` member (the legacy GeoJSON 2008 member, e.g. ``urn:ogc:def:crs:EPSG::32654``), else WGS84
lon/lat as RFC 7946 says.

The class of a feature is read from its ``class`` property, else its ``label`` property (a JSON null counts as
absent), compared case-insensitively with surrounding blanks ignored:

- **positive** (a landslide candidate): neither property, or one of ``POSITIVE_VALUES`` (also JSON 1 and true);
- **negative** (not a landslide, e.g. a site an expert rejected): one of ``NEGATIVE_VALUES`` (also 0 and false);
- anything else is an ``InputError`` naming the feature (index and id), the value found and the accepted values.

A feature without a geometry, with another geometry type or an empty one is an ``InputError`` too: a label must
say where it is, and no caller needs to skip one. ``visible_scene_ids`` (written by ``fringescan synth``)
lists the scenes a label shows in; without it a label shows in every scene.

Who uses what: the dataset builder (``train.dataset_store``) centres candidate windows on positives and
negative windows on negatives, and keeps random "others" away from both; hard-negative mining never mines on
a positive; ``evaluate-scan`` and ``tools.accuracy`` expect only positives. ``fringescan review
--export-labels`` (``scanner.pipeline.history.export_labels``) writes ``class`` ``confirmed`` / ``rejected``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import shapely
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.errors import ShapelyError
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from scanner.errors import InputError, problem
from scanner.geo import WGS84
from scanner.io.readers import read_geojson

POSITIVE_VALUES = ("candidate", "landslide", "landslide_candidate", "confirmed", "1", "true")
NEGATIVE_VALUES = ("other", "negative", "rejected", "0", "false")
CLASS_KEYS = ("class", "label")
GEOMETRY_TYPES = ("Point", "MultiPoint", "Polygon", "MultiPolygon")


@dataclasses.dataclass(frozen=True)
class Label:
    """One labelled feature: ``geometry`` in ``crs`` (a CRS string: EPSG code, URN or WKT), its class
    (``positive`` = landslide candidate), the scenes it shows in (``visible_in``; None = every scene) and the
    feature's ``properties`` as read (not compared: e.g. ``fringescan synth``'s ``area_m2`` and per-scene
    ``los_peak_m``, which ``tools.accuracy.curves`` bins recall by)."""

    label_id: str
    geometry: BaseGeometry
    crs: str
    positive: bool
    visible_in: frozenset[str] | None = None
    properties: Mapping[str, Any] = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def shows_in(self, scene_id: str) -> bool:
        """Whether the label is expected to show in ``scene_id``."""
        return self.visible_in is None or scene_id in self.visible_in

    def to_crs(self, crs: str | CRS) -> Label:
        """The same label with its geometry in ``crs`` (unchanged when it already is in that CRS)."""
        return reproject([self], crs)[0]


def reproject(labels: Sequence[Label], crs: str | CRS) -> list[Label]:
    """``labels`` with their geometries in ``crs``: one transformer per source CRS, none where they match."""
    target = CRS.from_user_input(crs)
    crs = crs if isinstance(crs, str) else target.srs
    transforms = {}
    out = []
    for label in labels:
        if label.crs not in transforms:
            source = CRS.from_user_input(label.crs)
            same = source == target
            transforms[label.crs] = None if same else Transformer.from_crs(source, target, always_xy=True)
        transformer = transforms[label.crs]
        if transformer is None:
            out.append(dataclasses.replace(label, crs=crs))
            continue
        geometry = shapely.transform(label.geometry, transformer.transform, interleaved=False)
        out.append(dataclasses.replace(label, geometry=geometry, crs=crs))
    return out


def is_positive(value: object) -> bool | None:
    """The class rule for one ``class``/``label`` value: True positive, False negative, None not a class.

    ``None`` (the property absent or null) is positive.
    """
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return {1: True, 0: False}.get(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in POSITIVE_VALUES:
            return True
        if text in NEGATIVE_VALUES:
            return False
    return None


def read_labels(path: str | Path) -> list[Label]:
    """Every feature of the label file at ``path`` as a ``Label`` in the file's CRS (see the module doc)."""
    collection = read_geojson(path, role="labels", fix="check the --labels path and that the file is GeoJSON")
    crs = _file_crs(collection, path)
    features = collection.get("features")
    if not isinstance(features, list):
        raise InputError(
            problem(
                f"labels {path}",
                expected="a list of features",
                found=repr(type(features).__name__),
                fix="export the layer as a GeoJSON FeatureCollection",
            )
        )
    return [_label(feature, i, crs, path) for i, feature in enumerate(features)]


def _file_crs(collection: dict, path: str | Path) -> str:
    member = collection.get("crs")
    if member is None:
        return WGS84
    properties = member.get("properties") if isinstance(member, dict) else None
    name = properties.get("name") if isinstance(properties, dict) else None
    try:
        CRS.from_user_input(name if isinstance(name, str) else None)
    except (CRSError, TypeError) as error:
        raise InputError(
            problem(
                f"labels {path}",
                expected='a "crs" member naming a known CRS, e.g. urn:ogc:def:crs:EPSG::32654 (or none: WGS84)',
                found=repr(member),
                fix="name the CRS by its EPSG code, or drop the member and write lon/lat",
            )
        ) from error
    return name


def _label(feature: object, index: int, crs: str, path: str | Path) -> Label:
    feature = feature if isinstance(feature, dict) else {}
    properties = feature.get("properties") or {}
    properties = properties if isinstance(properties, dict) else {}
    label_id = str(feature.get("id", properties.get("site_id", properties.get("body_id", index))))
    what = f"label feature {index} (id {label_id!r}) in {path}"
    return Label(
        label_id=label_id,
        geometry=_geometry(feature.get("geometry"), what),
        crs=crs,
        positive=_positive(properties, what),
        visible_in=_visible(properties.get("visible_scene_ids"), what),
        properties=properties,
    )


def _positive(properties: dict, what: str) -> bool:
    key = next((k for k in CLASS_KEYS if properties.get(k) is not None), None)
    value = properties.get(key) if key else None
    positive = is_positive(value)
    if positive is None:
        raise InputError(
            problem(
                what,
                expected=f"its class (the `class` property, else `label`) absent or one of "
                f"{', '.join(POSITIVE_VALUES)} (landslide candidate) or {', '.join(NEGATIVE_VALUES)} (not a "
                "landslide), any case",
                found=f"{key} {value!r}",
                fix="use one of those values, e.g. candidate or rejected",
            )
        )
    return positive


def _geometry(geometry: object, what: str) -> BaseGeometry:
    kind = geometry.get("type") if isinstance(geometry, dict) else None
    found = "no geometry" if geometry is None else f"geometry {kind!r}"
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if kind in GEOMETRY_TYPES and isinstance(coordinates, list) and not _finite_numbers(coordinates):
        found = f"{kind} coordinates that are not all finite numbers"
    elif kind in GEOMETRY_TYPES:
        try:
            shaped = shape(geometry)
        except (ValueError, TypeError, KeyError, IndexError, ShapelyError) as error:
            found = f"unreadable {kind} coordinates ({type(error).__name__}: {error})".replace("\n", " ")
        else:
            if not shaped.is_empty:
                return shaped
            found = f"an empty {kind}"
    raise InputError(
        problem(
            what,
            expected=f"a {', '.join(GEOMETRY_TYPES)} geometry",
            found=found,
            fix="give every label a point or polygon where the site is",
        )
    )


def _finite_numbers(coordinates: object) -> bool:
    """Whether nested coordinate lists hold only finite JSON numbers (no strings such as "NaN", no NaN/inf)."""
    if isinstance(coordinates, list):
        return all(_finite_numbers(c) for c in coordinates)
    return (
        isinstance(coordinates, int | float)
        and not isinstance(coordinates, bool)
        and math.isfinite(coordinates)
    )


def _visible(value: object, what: str) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return frozenset(value)
    raise InputError(
        problem(
            what,
            expected="visible_scene_ids as a list of scene ids",
            found=repr(value),
            fix="write it as a JSON list of strings, or leave it out (visible in every scene)",
        )
    )
