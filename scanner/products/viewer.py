"""The browser viewer and the quicklook PNG of the current mosaic version.

``write_viewer`` writes ``STORE/viewer/index.html``: one self-contained page (Leaflet 1.9.4 and its CSS
inlined from ``scanner/viewer_assets``, the overlays as PNG data URIs, the sites and footprints as GeoJSON),
so it works offline and from a file. It shows the combined probability (colour ramp and legend), a toggle
for the passes-observed band, the merged candidate sites with popups (area, probability, slope class, dates)
and the scene footprints. ``serve`` serves the page on 127.0.0.1 only.

``write_quicklook`` writes ``STORE/mosaic/quicklook/<version>.png`` (probability with the sites outlined).
Every file is written to a temporary name and renamed into place (``scanner.io.writers.write_bytes``).
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import logging
import threading
from pathlib import Path

import numpy as np

from scanner.io.layout import StoreLayout
from scanner.io.readers import read_geojson
from scanner.io.writers import write_bytes
from scanner.mosaic import zarr_io

log = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("viewer_assets")
PROB_CMAP = "YlOrRd"
PASSES_CMAP = "viridis"


def colourize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """RGBA uint8 image of ``values`` (NaN transparent) through a matplotlib colour map."""
    from matplotlib import colormaps

    scaled = np.clip((values - vmin) / max(vmax - vmin, 1e-9), 0.0, 1.0)
    rgba = colormaps[cmap](np.nan_to_num(scaled), bytes=True)
    rgba[..., 3] = np.where(np.isfinite(values), 210, 0)
    return rgba


def png_bytes(rgba: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def ramp_css(cmap: str, steps: int = 11) -> str:
    from matplotlib import colormaps

    colours = [colormaps[cmap](i / (steps - 1), bytes=True) for i in range(steps)]
    return ", ".join(f"rgb({c[0]},{c[1]},{c[2]})" for c in colours)


def _footprints(manifest: dict) -> dict:
    features = [
        {
            "type": "Feature",
            "properties": {"scene_id": sid, "date": p["date"]},
            "geometry": {"type": "Polygon", "coordinates": [p["footprint_lonlat"]]},
        }
        for sid, p in sorted(manifest["passes"].items())
        if p.get("footprint_lonlat")
    ]
    return {"type": "FeatureCollection", "features": features}


def page_data(root: Path, version: str | None = None) -> dict:
    """Everything the page shows, as JSON-ready values."""
    path = zarr_io.version_path(root, version)
    manifest = zarr_io.read_manifest(path)
    prob, bounds = zarr_io.web_overlay(path, "prob")
    passes, _ = zarr_io.web_overlay(path, "passes")
    top = max(1.0, float(np.nanmax(passes)) if np.isfinite(passes).any() else 1.0)
    west, south, east, north = bounds
    return {
        "version": path.name,
        "latest_pass_date": manifest.get("latest_pass_date"),
        "n_passes": len(manifest["passes"]),
        "combine": manifest["combine"],
        "bounds": [[south, west], [north, east]],
        "prob_png": base64.b64encode(png_bytes(colourize(prob, PROB_CMAP, 0.0, 1.0))).decode(),
        "passes_png": base64.b64encode(png_bytes(colourize(passes, PASSES_CMAP, 0.0, top))).decode(),
        "passes_max": int(top),
        "prob_ramp": ramp_css(PROB_CMAP),
        "passes_ramp": ramp_css(PASSES_CMAP),
        "sites": read_geojson(path / "sites.geojson"),
        "footprints": _footprints(manifest),
    }


def render_html(data: dict) -> str:
    """The self-contained page (Leaflet inlined, data embedded)."""
    template = (ASSETS / "viewer.html").read_text()
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        template.replace("/*LEAFLET_CSS*/", (ASSETS / "leaflet.css").read_text())
        .replace("/*LEAFLET_JS*/", (ASSETS / "leaflet.js").read_text().replace("</script", "<\\/script"))
        .replace("/*DATA*/null", payload)
    )


def write_viewer(root: Path, version: str | None = None) -> Path:
    """Write ``STORE/viewer/index.html`` for ``version`` (the current one by default); returns its path."""
    html = render_html(page_data(Path(root), version))
    return write_bytes(StoreLayout(root).viewer_page, html.encode())


def write_quicklook(root: Path, version: str | None = None) -> Path:
    """``STORE/mosaic/quicklook/<version>.png``: the probability band with the merged sites outlined."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    path = zarr_io.version_path(Path(root), version)
    manifest = zarr_io.read_manifest(path)
    grid = zarr_io.grid_of_version(path)
    level = zarr_io.overview_level(grid, manifest["levels"], 1600)
    g = grid.level(level).geogrid()
    prob = zarr_io.LevelArrays(path, level, mode="r").read_band("prob")
    left, bottom, right, top = g.bounds
    figure, axes = plt.subplots(figsize=(8, 8 * g.height / max(g.width, 1) + 0.8), dpi=110)
    image = axes.imshow(
        np.ma.masked_invalid(prob),
        cmap=PROB_CMAP,
        vmin=0,
        vmax=1,
        extent=(left, right, bottom, top),
        interpolation="nearest",
    )
    for feature in read_geojson(path / "sites.geojson")["features"]:
        for ring in _outer_rings(feature["geometry"]):
            xs, ys = zip(*ring, strict=True)
            axes.plot(xs, ys, color="#1f4eff", linewidth=1.2)
    figure.colorbar(image, ax=axes, shrink=0.7, label="landslide-candidate probability")
    axes.set_title(
        f"fringescan mosaic {path.name}: {len(manifest['passes'])} passes, "
        f"latest {manifest.get('latest_pass_date')}",
        fontsize=10,
    )
    axes.set_xlabel("longitude (JGD2011)" if g.crs.is_geographic else "x")
    axes.set_ylabel("latitude" if g.crs.is_geographic else "y")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(figure)
    return write_bytes(StoreLayout(root).mosaic_quicklook(path.name), buffer.getvalue())


def _outer_rings(geometry: dict) -> list[list]:
    if geometry["type"] == "Polygon":
        return [geometry["coordinates"][0]]
    if geometry["type"] == "MultiPolygon":
        return [polygon[0] for polygon in geometry["coordinates"]]
    return []


def publish_products(root: Path) -> Path:
    """Quicklook, STAC catalog and viewer page of the current version; returns the viewer page's path.

    Call after ``scanner.mosaic.run_mosaic`` (``fringescan mosaic`` does; so can ``nightly`` and the demo).
    """
    from scanner.products.stac import write_catalog

    write_quicklook(Path(root))
    write_catalog(Path(root))
    return write_viewer(Path(root))


def make_server(root: Path, port: int = 0) -> http.server.ThreadingHTTPServer:
    """An HTTP server for ``STORE/viewer`` bound to 127.0.0.1 only (port 0: any free port)."""
    handler = functools.partial(_QuietHandler, directory=str(StoreLayout(root).viewer))
    return http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)


def serve_in_thread(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("viewer: " + format, *args)
