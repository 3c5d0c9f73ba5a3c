"""The browser viewer and review desk, its local server, and the quicklook PNG of the current mosaic version.

``write_viewer`` writes ``STORE/viewer/index.html``: one self-contained page (Leaflet 1.9.4 and its CSS inlined
from ``viewer_assets``; the tile manifest, sites, verdicts, scene footprints and the offline basemap embedded
as JSON), so it works offline and from a file. The probability and each pass's wrapped phase are XYZ tile
pyramids beside it (``STORE/viewer/tiles/<layer>/{z}/{x}/{y}.png``, written by ``write_viewer_tiles`` and
described by ``STORE/viewer/layers.json``), loaded by relative URL, which works from disk too. The page shows
the offline basemap (coastlines and boundaries; an online XYZ basemap above it when a URL is given), the
probability (the mosaic, one pass or a date range, chosen by the pass slider), the phase of the chosen passes
under the sites, the sites with popups listing every pass that saw them, a legend, a scale bar and the review
desk: the sites by priority, zoom-to, and confirm / reject / unsure buttons.

``make_server`` serves ``STORE/viewer`` on 127.0.0.1 only, with a small JSON API for the desk:
``GET /api/verdicts`` and ``POST /api/verdict`` ``{site_id, verdict, note}``, which writes the review ledger
(``scanner.pipeline.history.record_feedback``, under the store lock) like ``fringescan review``. A write needs
the header ``X-Fringescan-Token`` with the server's token (``fringescan view`` prints it in the page URL's
fragment, ``#token=...``, which browsers never send), ``Content-Type: application/json``, and a Host and
Origin (when sent) that are the server's own ``127.0.0.1:PORT``; anything else is refused with 403. Opened
from disk (or without the token) the page is read-only.

``write_quicklook`` writes ``STORE/mosaic/quicklook/<version>.png`` (probability with the sites outlined).
Every file is written to a temporary name and renamed into place (``scanner.io.writers.write_bytes``).
"""

from __future__ import annotations

import base64
import functools
import hmac
import http.server
import io
import json
import logging
import secrets
import threading
from pathlib import Path

import numpy as np

from scanner.core.palette import palette
from scanner.errors import FringescanError, StoreError
from scanner.io.layout import StoreLayout
from scanner.io.lock import store_lock
from scanner.io.readers import read_geojson, read_json
from scanner.io.store import Store
from scanner.io.writers import write_bytes
from scanner.mosaic import zarr_io
from scanner.pipeline.history import VERDICTS, load_feedback, record_feedback
from scanner.products.colours import PASSES_CMAP, PROB_CMAP, colourize
from scanner.products.tiles import write_viewer_tiles

log = logging.getLogger(__name__)

ASSETS = Path(__file__).with_name("viewer_assets")
TOKEN_HEADER = "X-Fringescan-Token"
MAX_BODY_BYTES = 16 * 1024
DRAIN_BYTES = 1024 * 1024
MAX_NOTE_CHARS = 2000


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


def page_data(
    root: Path, version: str | None = None, *, layers: dict | None = None, basemap_url: str | None = None
) -> dict:
    """Everything the page shows, as JSON-ready values.

    ``layers`` is the tile manifest of ``write_viewer_tiles`` (default: ``STORE/viewer/layers.json`` when it
    describes this version); without one the probability is a single image overlay, as before tiles.
    """
    root = Path(root)
    path = zarr_io.version_path(root, version)
    manifest = zarr_io.read_manifest(path)
    passes, bounds = zarr_io.web_overlay(path, "passes")
    top = max(1.0, float(np.nanmax(passes)) if np.isfinite(passes).any() else 1.0)
    west, south, east, north = bounds
    layers = layers if layers is not None else read_layers(root, path.name)
    sites = read_geojson(path / "sites.geojson")
    data = {
        "version": path.name,
        "latest_pass_date": manifest.get("latest_pass_date"),
        "n_passes": len(manifest["passes"]),
        "combine": manifest["combine"],
        "bounds": (layers or {}).get("bounds") or [[south, west], [north, east]],
        "passes_png": base64.b64encode(png_bytes(colourize(passes, PASSES_CMAP, 0.0, top))).decode(),
        "passes_bounds": [[south, west], [north, east]],
        "passes_max": int(top),
        "prob_ramp": ramp_css(PROB_CMAP),
        "passes_ramp": ramp_css(PASSES_CMAP),
        "phase_colours": [f"rgb({r},{g},{b})" for r, g, b in palette(16).tolist()],
        "sites": sites,
        "footprints": _footprints(manifest),
        "pass_list": _pass_list(manifest, layers),
        "layers": (layers or {}).get("layers", []),
        "basemap": _basemap(root, layers, basemap_url),
        "verdicts": site_verdicts(load_feedback(root), sites),
    }
    if not data["layers"]:  # no tiles: the probability as one image overlay
        prob, _ = zarr_io.web_overlay(path, "prob")
        data["prob_png"] = base64.b64encode(png_bytes(colourize(prob, PROB_CMAP, 0.0, 1.0))).decode()
    return data


def read_layers(root: Path, version: str) -> dict | None:
    """``STORE/viewer/layers.json`` when it describes ``version`` (tiles of another version are not shown)."""
    layers = read_json(StoreLayout(root).viewer_layers, None)
    if layers is None:
        return None
    if layers.get("version") != version:
        log.warning("viewer tiles are of mosaic %s, not %s: showing no tiles", layers.get("version"), version)
        return None
    return layers


def _pass_list(manifest: dict, layers: dict | None) -> list[dict]:
    """The mosaic's passes ordered by date, with the ids of their probability and phase tile layers."""
    ids = {layer["id"] for layer in (layers or {}).get("layers", [])}
    out = []
    for sid, p in manifest["passes"].items():
        entry = next((x for x in (layers or {}).get("layers", []) if x.get("scene_id") == sid), {})
        out.append(
            {
                "scene_id": sid,
                "first_date": entry.get("first_date") or p.get("first_date"),
                "date": entry.get("second_date") or p.get("date"),
                "prob_layer": f"pass-{sid}" if f"pass-{sid}" in ids else None,
                "phase_layer": f"phase-{sid}" if f"phase-{sid}" in ids else None,
            }
        )
    return sorted(out, key=lambda x: (x["date"] or "", x["scene_id"]))


def _basemap(root: Path, layers: dict | None, basemap_url: str | None) -> dict:
    """The offline basemap (embedded GeoJSON, always shown) and the optional online XYZ template."""
    info = (layers or {}).get("basemap") or {}
    layout = StoreLayout(root)
    offline = layout.viewer / info["offline"] if info.get("offline") else layout.viewer_basemap
    geojson = read_geojson(offline, role="offline basemap") if offline.is_file() else None
    return {
        "geojson": geojson,
        "url": basemap_url,
        "attribution": info.get("attribution") or "",
    }


def site_verdicts(feedback: dict[str, dict], sites: dict) -> dict[str, dict]:
    """The latest verdict on each mosaic site, looked up under its id and every merged id."""
    out = {}
    for feature in sites["features"]:
        props = feature["properties"]
        ids = {props["site_id"], *props.get("merged_site_ids", [])}
        records = [feedback[i] for i in ids if i in feedback]
        if records:
            latest = max(records, key=lambda r: r["time"])
            out[props["site_id"]] = {k: latest[k] for k in ("verdict", "note", "time")}
    return out


def render_html(data: dict) -> str:
    """The self-contained page (Leaflet inlined, data embedded)."""
    template = (ASSETS / "viewer.html").read_text()
    payload = json.dumps(data).replace("</", "<\\/")
    return (
        template.replace("/*LEAFLET_CSS*/", (ASSETS / "leaflet.css").read_text())
        .replace("/*LEAFLET_JS*/", (ASSETS / "leaflet.js").read_text().replace("</script", "<\\/script"))
        .replace("/*DATA*/null", payload)
    )


def write_viewer(
    root: Path, version: str | None = None, *, layers: dict | None = None, basemap_url: str | None = None
) -> Path:
    """Write ``STORE/viewer/index.html`` for ``version`` (the current one by default); returns its path."""
    data = page_data(Path(root), version, layers=layers, basemap_url=basemap_url)
    return write_bytes(StoreLayout(root).viewer_page, render_html(data).encode())


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
    """Quicklook, STAC catalog, viewer tiles and viewer page of the current version; returns the page's path.

    Call after ``scanner.mosaic.run_mosaic`` (``fringescan mosaic`` does; so can ``nightly`` and the demo).
    """
    from scanner.products.stac import write_catalog

    write_quicklook(Path(root))
    write_catalog(Path(root))
    return write_viewer(Path(root), layers=write_tiles(Path(root)))


def write_tiles(root: Path, version: str | None = None) -> dict:
    """The viewer's tile pyramids, offline basemap and ``layers.json`` (``scanner.products.tiles``)."""
    return write_viewer_tiles(Path(root), version)


# ---------------------------------------------------------------------------------------------- server


class ViewerServer(http.server.ThreadingHTTPServer):
    """``STORE/viewer`` and the review API on 127.0.0.1; ``token`` authorises writes."""

    daemon_threads = True

    def __init__(self, root: Path, port: int, token: str, version: str | None = None) -> None:
        self.root, self.token, self.version = Path(root), token, version
        handler = functools.partial(ViewerHandler, directory=str(StoreLayout(root).viewer))
        super().__init__(("127.0.0.1", port), handler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def page_url(self) -> str:
        """The page's URL with the write token in its fragment (never sent to any server)."""
        return f"http://127.0.0.1:{self.port}/index.html#token={self.token}"

    def own_origins(self) -> set[str]:
        return {f"http://{host}:{self.port}" for host in ("127.0.0.1", "localhost")}


def make_server(
    root: Path, port: int = 0, token: str | None = None, version: str | None = None
) -> ViewerServer:
    """An HTTP server for ``STORE/viewer`` and the review API of mosaic ``version`` (default: the current one),
    bound to 127.0.0.1 only (port 0: any free port); ``token`` (default: a new random one) authorises writes."""
    return ViewerServer(Path(root), port, token or secrets.token_urlsafe(24), version)


def serve_in_thread(server: http.server.ThreadingHTTPServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread


class Refused(Exception):
    """An API request the server answers with ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ViewerHandler(http.server.SimpleHTTPRequestHandler):
    """Static files of ``STORE/viewer`` and the JSON API under ``/api/``."""

    server: ViewerServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the stdlib's name)
        log.debug("viewer: " + format, *args)

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-cache")  # a re-written page or tile is fetched again
        self.send_header("X-Content-Type-Options", "nosniff")
        super().end_headers()

    def do_GET(self) -> None:
        if self.path.split("?")[0].startswith("/api/"):
            self._api(self._get_api)
        else:
            super().do_GET()

    def do_POST(self) -> None:
        self._api(self._post_api)

    def _read_body(self) -> bytes:
        """The request body, read before any answer so a refusal never resets the connection."""
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_BODY_BYTES:
            self.close_connection = True
            if 0 < length <= DRAIN_BYTES:  # read it anyway, so the client gets the answer, not a reset
                self.rfile.read(length)
            raise Refused(413, f"a JSON body of at most {MAX_BODY_BYTES} bytes is expected, found {length}")
        return self.rfile.read(length)

    def _api(self, method) -> None:
        try:
            body = self._read_body() if self.command == "POST" else b""
            self._check_host()
            status, payload = method(body) if self.command == "POST" else method()
        except Refused as refusal:
            status, payload = refusal.status, {"error": str(refusal)}
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _check_host(self) -> None:
        """Only the server's own address: a foreign Host (DNS rebinding) or Origin (another site) is refused."""
        own = self.server.own_origins()
        if f"http://{self.headers.get('Host', '')}" not in own:
            raise Refused(403, f"refused: Host {self.headers.get('Host')!r} is not this server")
        origin = self.headers.get("Origin")
        if origin is not None and origin not in own:
            raise Refused(403, f"refused: cross-site request from Origin {origin!r}")

    def _get_api(self) -> tuple[int, dict]:
        if self.path.split("?")[0] != "/api/verdicts":
            raise Refused(404, f"no API {self.path!r}: GET /api/verdicts, POST /api/verdict")
        return 200, {"verdicts": self._verdicts()}

    def _post_api(self, body: bytes) -> tuple[int, dict]:
        if self.path != "/api/verdict":
            raise Refused(404, f"no API {self.path!r}: POST /api/verdict")
        content_type = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            raise Refused(403, f"refused: Content-Type {content_type!r}, expected application/json")
        if not hmac.compare_digest(self.headers.get(TOKEN_HEADER, "").encode(), self.server.token.encode()):
            raise Refused(
                403, f"refused: missing or wrong {TOKEN_HEADER} (the token printed by fringescan view)"
            )
        site_id, verdict, note = parse_verdict(body)
        try:
            with store_lock(self.server.root, "review"):
                record = record_feedback(self.server.root, site_id, verdict, note)
                _log_review(self.server.root, record["site_id"], verdict)
        except StoreError as error:
            raise Refused(409, str(error)) from error
        except FringescanError as error:
            raise Refused(400, str(error)) from error
        log.info("review desk: site %s %s", record["site_id"], verdict)
        return 200, {
            "record": {k: record[k] for k in ("site_id", "verdict", "note", "time")},
            "verdicts": self._verdicts(),
        }

    def _verdicts(self) -> dict[str, dict]:
        """Verdicts of the page's sites: the current mosaic's site layer against the ledger."""
        try:
            sites = read_geojson(
                zarr_io.version_path(self.server.root, self.server.version) / "sites.geojson"
            )
        except FringescanError as error:
            raise Refused(500, str(error)) from error
        return site_verdicts(load_feedback(self.server.root), sites)


def parse_verdict(body: bytes) -> tuple[str, str, str]:
    """``(site_id, verdict, note)`` of a ``POST /api/verdict`` body, or ``Refused`` 400 saying what is wrong."""
    try:
        request = json.loads(body)
    except ValueError as error:
        raise Refused(400, f"the body is not JSON: {error}") from error
    if not isinstance(request, dict):
        raise Refused(400, "expected a JSON object {site_id, verdict, note}")
    site_id, verdict, note = request.get("site_id"), request.get("verdict"), request.get("note", "")
    if not isinstance(site_id, str) or not site_id:
        raise Refused(400, f"site_id: expected a site id string, found {site_id!r}")
    if verdict not in VERDICTS:
        raise Refused(400, f"verdict: expected one of {', '.join(VERDICTS)}, found {verdict!r}")
    if not isinstance(note, str) or len(note) > MAX_NOTE_CHARS:
        raise Refused(400, f"note: expected text of at most {MAX_NOTE_CHARS} characters")
    return site_id, verdict, note


def _log_review(root: Path, site_id: str, verdict: str) -> None:
    Store.open(root).log_event("review", site_id=site_id, verdict=verdict, via="view")
