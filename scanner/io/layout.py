"""The one home of every path in a fringescan store (layout version 1). Pure: builds paths, touches nothing.

Every module that reads or writes inside a store asks a :class:`StoreLayout` for the path; no other module
spells a store path. docs/contracts.md shows the tree::

    STORE/
      fringescan-store.json        marker: format and schema version
      scenes/<scene_id>/           Zarr v3 scene groups (ingest)
      prob/<scene_id>/             probability grids (scan)
      sites/<scene_id>.geojson     site layers (detect)
      mosaic/CURRENT               pointer to the current mosaic version
      mosaic/versions/vNNNNNN/     immutable mosaic versions
      mosaic/quicklook/<v>.png     quicklook of a version
      stac/catalog.json            STAC catalog
      viewer/index.html            offline viewer
      viewer/layers.json           the viewer's tile layers (scanner.products.tiles)
      viewer/tiles/<layer>/        XYZ tile pyramids {z}/{x}/{y}.png and layer.json
      viewer/basemap.geojson       offline basemap (Natural Earth, clipped to the mosaic)
      runs/<run_id>.json           nightly run reports; runs/mosaic-<v>.json mosaic run reports
      nightly/ledger.json          processed passes; nightly/hash-cache.json
      history/sites.json           site histories; history/feedback.json expert verdicts
      quarantine/<name>/           bad deliveries moved out of the inbox
      .lock                        the store lock (an OS lock on the open file; the content names the holder)
      log.jsonl                    append-only events
      .staging/                    temporary outputs, published by rename
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

MARKER = "fringescan-store.json"
RUN_KEY_LENGTH = 16
"""Hex digits of a scan's ``run_key`` (``scanner.pipeline.scan.run_key``), the last part of its staging name."""


@dataclass(frozen=True)
class StoreLayout:
    """Paths inside the store at ``root``."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # --- the store itself
    @property
    def marker(self) -> Path:
        return self.root / MARKER

    @property
    def staging(self) -> Path:
        return self.root / ".staging"

    @property
    def log(self) -> Path:
        return self.root / "log.jsonl"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    # --- per scene
    @property
    def scenes(self) -> Path:
        return self.root / "scenes"

    def scene(self, scene_id: str) -> Path:
        return self.scenes / scene_id

    @property
    def probs(self) -> Path:
        return self.root / "prob"

    def prob(self, scene_id: str) -> Path:
        return self.probs / scene_id

    def scan_staging(self, scene_id: str, run_key: str) -> Path:
        """A scan in progress: its grid and per-tile done-markers until it publishes."""
        return self.staging / f"scan-{scene_id}-{run_key}"

    def scan_stagings(self) -> dict[Path, tuple[str, str]]:
        """Every scan staging folder -> its ``(scene_id, run_key)`` (the inverse of ``scan_staging``)."""
        found = {}
        for path in self.staging.glob("scan-*") if self.staging.is_dir() else ():
            scene_id, _, key = path.name[len("scan-") :].rpartition("-")
            if scene_id and len(key) == RUN_KEY_LENGTH:
                found[path] = (scene_id, key)
        return found

    @property
    def sites(self) -> Path:
        return self.root / "sites"

    def site_layer(self, scene_id: str) -> Path:
        return self.sites / f"{scene_id}.geojson"

    # --- mosaic and products
    @property
    def mosaic(self) -> Path:
        return self.root / "mosaic"

    @property
    def mosaic_pointer(self) -> Path:
        return self.mosaic / "CURRENT"

    @property
    def mosaic_versions(self) -> Path:
        return self.mosaic / "versions"

    def mosaic_version(self, version: str) -> Path:
        return self.mosaic_versions / version

    def mosaic_quicklook(self, version: str) -> Path:
        return self.mosaic / "quicklook" / f"{version}.png"

    @property
    def stac(self) -> Path:
        return self.root / "stac"

    @property
    def stac_catalog(self) -> Path:
        return self.stac / "catalog.json"

    def stac_item_dir(self, catalog: str, item_id: str) -> Path:
        """Where pystac's self-contained layout puts the item ``item_id`` of child catalog ``catalog``."""
        return self.stac / catalog / item_id

    def href(self, target: Path, start: Path) -> str:
        """``target`` relative to the folder ``start`` (both in this store), as a STAC or HTML href."""
        return Path(os.path.relpath(target, start)).as_posix()

    @property
    def viewer(self) -> Path:
        return self.root / "viewer"

    @property
    def viewer_page(self) -> Path:
        return self.viewer / "index.html"

    @property
    def viewer_layers(self) -> Path:
        return self.viewer / "layers.json"

    @property
    def viewer_tiles(self) -> Path:
        return self.viewer / "tiles"

    def viewer_tile_layer(self, layer_id: str) -> Path:
        return self.viewer_tiles / layer_id

    @property
    def viewer_basemap(self) -> Path:
        return self.viewer / "basemap.geojson"

    # --- operations
    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_report(self, run_id: str) -> Path:
        return self.runs / f"{run_id}.json"

    def mosaic_report(self, version: str) -> Path:
        return self.runs / f"mosaic-{version}.json"

    @property
    def nightly_ledger(self) -> Path:
        return self.root / "nightly" / "ledger.json"

    @property
    def hash_cache(self) -> Path:
        return self.root / "nightly" / "hash-cache.json"

    @property
    def history_sites(self) -> Path:
        return self.root / "history" / "sites.json"

    @property
    def history_feedback(self) -> Path:
        return self.root / "history" / "feedback.json"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    def relative(self, path: Path) -> Path:
        """``path`` relative to the store root (for messages and reports)."""
        return Path(path).relative_to(self.root)
