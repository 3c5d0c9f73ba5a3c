"""The store's STAC catalog (pystac): an item per scene product and per mosaic version, with provenance.

Layout: ``STORE/stac/catalog.json`` with two child catalogs, ``scenes`` (one item per probability grid, with
its site layer) and ``mosaics`` (one item per published mosaic version, with its Zarr tree, merged sites and
quicklook). The catalog is self-contained (relative links only), rebuilt from the store after every mosaic run
and published by rename, so it never shows a half-written state.

Provenance on every item (properties in the ``fringescan:`` namespace): input scene hashes (content SHA-256
of the interferogram and SHA-256 of the probability grid), model checkpoint hash(es), the resolved config
and the code version.

Validation works offline: the items use only core STAC fields (no extension schemas), whose JSON schemas
pystac ships in ``pystac/validation/jsonschemas``; ``validate_catalog`` runs ``validate_all`` with a StacIO
that refuses any network read, so a missing local schema fails loudly instead of fetching it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pystac
from pyproj import Transformer

from scanner import __version__
from scanner.errors import InputError, problem
from scanner.geo import WGS84
from scanner.io.layout import StoreLayout

ZARR_MEDIA_TYPE = "application/vnd+zarr"
SCENES, MOSAICS = "scenes", "mosaics"
"""The child catalogs: one item per scanned scene, one per mosaic version."""


def code_version() -> str:
    """The package version, plus the git commit when running from a checkout (read from .git, no subprocess)."""
    git = Path(__file__).resolve().parents[1] / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        commit = (git / head[5:]).read_text().strip() if head.startswith("ref: ") else head
        return f"{__version__}+g{commit[:12]}"
    except OSError:
        return __version__


def _date(value: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(str(value)[:10]).replace(tzinfo=dt.UTC) if value else None


def _polygon(ring: list) -> dict:
    return {"type": "Polygon", "coordinates": [[list(point) for point in ring]]}


def _bbox(ring: list) -> list[float]:
    xs, ys = [p[0] for p in ring], [p[1] for p in ring]
    return [min(xs), min(ys), max(xs), max(ys)]


def scene_item(root: Path, scene_id: str) -> pystac.Item:
    """The STAC item of a scene's probability grid (and its site layer when present)."""
    from scanner.io.probgrid import prob_grid, read_prob
    from scanner.mosaic.grid import footprint_lonlat
    from scanner.mosaic.plan import prob_sha256

    layout = StoreLayout(root)
    here = layout.stac_item_dir(SCENES, scene_id)
    prob, attrs = read_prob(root, scene_id)
    grid = prob_grid(attrs)
    ring = [list(p) for p in footprint_lonlat(grid)]
    scene = attrs.get("scene_attrs", {})
    first, second = _date(scene.get("first_date")), _date(scene.get("second_date"))
    item = pystac.Item(
        id=f"scene-{scene_id}",
        geometry=_polygon(ring),
        bbox=_bbox(ring),
        datetime=None,
        start_datetime=first or second,
        end_datetime=second or first,
        properties={
            "title": f"Landslide-candidate probability, scene {scene_id}",
            "fringescan:scene_id": scene_id,
            "fringescan:content_sha256": scene.get("content_sha256"),
            "fringescan:prob_sha256": prob_sha256(prob),
            "fringescan:checkpoint_sha256": (attrs.get("model") or {}).get("checkpoint_sha256"),
            "fringescan:config": attrs.get("config", {}),
            "fringescan:code_version": attrs.get("fringescan_version"),
            "fringescan:crs_wkt": grid.crs_wkt,
            "fringescan:cell_size_m": grid.pixel_size.mean_m,
            "created": attrs.get("created"),
        },
    )
    if first is None and second is None:
        raise InputError(
            problem(
                f"scene {scene_id}",
                expected="first or second date in scene_attrs",
                found="neither",
                fix="re-ingest the scene with its acquisition dates",
            )
        )
    item.add_asset(
        "prob",
        pystac.Asset(
            href=layout.href(layout.prob(scene_id), here),
            media_type=ZARR_MEDIA_TYPE,
            roles=["data"],
            title="probability grid (Zarr v3, one value per 10 px)",
        ),
    )
    if layout.site_layer(scene_id).is_file():
        item.add_asset(
            "sites",
            pystac.Asset(
                href=layout.href(layout.site_layer(scene_id), here),
                media_type=pystac.MediaType.GEOJSON,
                roles=["data"],
                title="candidate sites",
            ),
        )
    return item


def mosaic_item(root: Path, version: str) -> pystac.Item:
    """The STAC item of one mosaic version; its date is the latest pass date (never the wall clock)."""
    from scanner.mosaic.grid import MosaicGrid
    from scanner.mosaic.zarr_io import read_manifest, version_path

    manifest = read_manifest(version_path(root, version))
    grid = MosaicGrid(**manifest["grid"]).geogrid()
    west, south, east, north = Transformer.from_crs(grid.crs, WGS84, always_xy=True).transform_bounds(
        *grid.bounds
    )
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    passes = manifest["passes"]
    when = _date(manifest.get("latest_pass_date")) or _date(manifest["created"])
    item = pystac.Item(
        id=f"mosaic-{version}",
        geometry=_polygon(ring),
        bbox=[west, south, east, north],
        datetime=when,
        properties={
            "title": f"National landslide-candidate mosaic {version} ({manifest['grid']['name']})",
            "fringescan:mosaic_version": version,
            "fringescan:parent_version": manifest.get("parent"),
            "fringescan:input_scenes": [
                {
                    "scene_id": sid,
                    "prob_sha256": p["pass_sha256"],
                    "content_sha256": p.get("content_sha256"),
                    "date": p["date"],
                }
                for sid, p in sorted(passes.items())
            ],
            "fringescan:checkpoint_sha256": sorted(
                {p["checkpoint_sha256"] for p in passes.values() if p.get("checkpoint_sha256")}
            ),
            "fringescan:config": {
                "grid": manifest["grid"],
                "combine": manifest["combine"],
                "since": manifest.get("since"),
            },
            "fringescan:code_version": manifest.get("fringescan_version"),
            "fringescan:chunks_recomputed": len(manifest["dirty_chunks"]),
            "created": manifest["created"],
        },
    )
    layout = StoreLayout(root)
    here = layout.stac_item_dir(MOSAICS, f"mosaic-{version}")
    base = layout.href(layout.mosaic_version(version), here)
    item.add_asset(
        "zarr",
        pystac.Asset(
            href=base,
            media_type=ZARR_MEDIA_TYPE,
            roles=["data"],
            title="mosaic (Zarr v3, GeoZarr-style, multiscale)",
        ),
    )
    item.add_asset(
        "sites",
        pystac.Asset(
            href=f"{base}/sites.geojson",
            media_type=pystac.MediaType.GEOJSON,
            roles=["data"],
            title="candidate sites merged across scenes",
        ),
    )
    if layout.mosaic_quicklook(version).is_file():
        item.add_asset(
            "quicklook",
            pystac.Asset(
                href=layout.href(layout.mosaic_quicklook(version), here),
                media_type=pystac.MediaType.PNG,
                roles=["overview"],
            ),
        )
    return item


def build_catalog(root: Path) -> pystac.Catalog:
    from scanner.io.probgrid import scanned_scene_ids
    from scanner.mosaic.zarr_io import list_versions

    catalog = pystac.Catalog(
        id="fringescan",
        title="fringescan products",
        description="Landslide-candidate probability grids, sites and national mosaics.",
    )
    scenes = pystac.Catalog(id=SCENES, description="One item per scanned scene (probability grid, sites).")
    mosaics = pystac.Catalog(id=MOSAICS, description="One item per published mosaic version.")
    catalog.add_children([scenes, mosaics])
    scenes.add_items([scene_item(root, sid) for sid in scanned_scene_ids(root)])
    mosaics.add_items([mosaic_item(root, version) for version in list_versions(root)])
    return catalog


def write_catalog(root: Path) -> Path:
    """Rebuild ``STORE/stac`` from the store and publish it by rename (replacing the previous catalog)."""
    from scanner.io.store import Store

    store = Store.open(root)
    catalog = build_catalog(Path(root))
    with store.staging(store.layout.stac, replace=True) as tmp:
        catalog.normalize_hrefs(str(tmp))
        catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return store.layout.stac_catalog


class OfflineStacIO(pystac.stac_io.DefaultStacIO):
    """Reads local files only: a schema that pystac does not ship raises instead of being downloaded."""

    def read_text_from_href(self, href: str) -> str:
        if href.startswith(("http://", "https://")):
            raise InputError(
                problem(
                    "STAC validation",
                    expected="schemas available offline",
                    found=f"a request for {href}",
                    fix="use only core STAC fields, or vendor the extension schema",
                )
            )
        return super().read_text_from_href(href)


@contextmanager
def _offline() -> Iterator[None]:
    previous: Any = pystac.StacIO._default_io
    pystac.StacIO.set_default(OfflineStacIO)
    try:
        yield
    finally:
        pystac.StacIO._default_io = previous


def validate_catalog(root: Path) -> int:
    """Validate every object of ``STORE/stac`` against the STAC JSON schemas, offline; returns the count."""
    from pystac.validation import JsonSchemaSTACValidator, set_validator

    with _offline():
        set_validator(JsonSchemaSTACValidator())
        catalog = pystac.Catalog.from_file(str(StoreLayout(root).stac_catalog))
        catalog.validate_all()
        return sum(1 for _ in catalog.get_items(recursive=True)) + len(list(catalog.get_children())) + 1
