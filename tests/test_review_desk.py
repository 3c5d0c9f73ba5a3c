"""The review desk: the viewer page with tiles, pass slider and site list in headless Chromium, and the
verdict API of ``fringescan view`` (token, Origin, Host and content-type refusals) over real HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from chromium import Chromium, DevTools
from PIL import Image
from test_mosaic import small_grid
from viewer_fixtures import desk_store

from scanner.cli import main
from scanner.pipeline.history import export_labels, load_feedback
from scanner.products.viewer import make_server, serve_in_thread, write_tiles, write_viewer

TOKEN = "test-token-0123456789"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = desk_store(tmp_path_factory.mktemp("desk") / "store", small_grid())
    write_viewer(root, layers=write_tiles(root))
    return root


@pytest.fixture(scope="module")
def server(store: Path):
    server = make_server(store, 0, token=TOKEN)
    serve_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    browser = Chromium(tmp_path_factory.mktemp("chromium"))
    yield browser
    browser.close()


def in_page(browser: Chromium, url: str, scenario) -> object:
    """Open ``url`` in a fresh tab and run ``scenario(tools)``; page exceptions fail the test."""

    async def run() -> object:
        tools = await browser.page()
        await tools.open(url)
        result = await scenario(tools)
        assert tools.errors == [], tools.errors
        await tools.close()
        return result

    return asyncio.run(run())


LOADED_TILES = (
    "Array.from(document.querySelectorAll('.fs-layer-{id} img.leaflet-tile-loaded'))"
    ".map((img) => img.src.split('/tiles/')[1])"
)


async def tile_set(tools: DevTools, layer_id: str) -> set[str]:
    await tools.wait_for(f"{LOADED_TILES.format(id=layer_id)}.length > 0")
    await asyncio.sleep(0.3)
    return set(await tools.evaluate(LOADED_TILES.format(id=layer_id)))


def test_tiles_load_when_panning_and_zooming(browser: Chromium, server) -> None:
    def centre(site_id: str) -> str:
        return (
            "(p => [p.centroid_lat, p.centroid_lon])(window.fringescan.data.sites.features"
            f".find((f) => f.properties.site_id === '{site_id}').properties)"
        )

    async def scenario(tools: DevTools) -> dict:
        await tile_set(tools, "prob")
        await tools.evaluate(
            f"void window.fringescan.map.setView({centre('s1')}, "
            "window.fringescan.data.layers[0].min_zoom, {animate: false})"
        )
        first = await tile_set(tools, "prob")
        # zoom in on site s3 (west), past the finest tiles (they are scaled up, crisp), then pan to s2 (east)
        await tools.evaluate(
            f"void window.fringescan.map.setView({centre('s3')}, "
            "window.fringescan.data.layers[0].max_zoom + 2, {animate: false})"
        )
        zoomed = await tile_set(tools, "prob")
        await tools.evaluate(f"void window.fringescan.map.panTo({centre('s2')})")
        done = json.dumps(sorted(zoomed))
        await tools.wait_for(f"{LOADED_TILES.format(id='prob')}.some((t) => !{done}.includes(t))")
        panned = await tile_set(tools, "prob")
        spec = await tools.evaluate("window.fringescan.data.layers[0]")
        return {"first": first, "zoomed": zoomed, "panned": panned, "spec": spec}

    result = in_page(browser, server.page_url(), scenario)
    levels = [{int(t.split("/")[1]) for t in result[k]} for k in ("first", "zoomed", "panned")]
    assert all(t.startswith("prob/") for k in ("first", "zoomed", "panned") for t in result[k])
    assert levels[0] == {result["spec"]["min_zoom"]} and levels[0] != levels[1]
    assert levels[1] == levels[2] == {result["spec"]["max_zoom"]}
    assert result["panned"] - result["zoomed"]  # panning fetched tiles not shown before


def test_phase_layer_toggles_and_slider_changes_the_layer(browser: Chromium, server) -> None:
    async def scenario(tools: DevTools) -> dict:
        seen = {"start": await tools.evaluate("window.fringescan.activeLayers()")}
        await tools.click_selector('[data-testid="toggle-phase"]')
        seen["phase_on"] = await tools.evaluate("window.fringescan.activeLayers()")
        seen["legend"] = await tools.evaluate("document.querySelector('.fs-legend').innerText")
        phase_tiles = await tile_set(tools, "phase-B")
        await tools.click_selector('[data-testid="toggle-phase"]')
        seen["phase_off"] = await tools.evaluate("window.fringescan.activeLayers()")
        set_slider = (  # what dragging the thumb does: a new value and an input event
            "((id, v) => { const e = document.querySelector(`[data-testid=${id}]`); e.value = v; "
            "e.dispatchEvent(new Event('input', {bubbles: true})); })"
        )
        await tools.evaluate(f"{set_slider}('slider-to', 0)")  # one pass: the first by date, A
        seen["one"] = await tools.evaluate("window.fringescan.activeLayers()")
        seen["one_label"] = await tools.evaluate(
            "document.querySelector('[data-testid=time-label]').innerText"
        )
        await tile_set(tools, "pass-A")
        await tools.evaluate(f"{set_slider}('slider-to', 1)")  # a range: both passes, stacked
        seen["range"] = await tools.evaluate("window.fringescan.activeLayers()")
        seen["range_label"] = await tools.evaluate(
            "document.querySelector('[data-testid=time-label]').innerText"
        )
        await tools.evaluate(f"{set_slider}('slider-from', 1)")
        seen["last"] = await tools.evaluate("window.fringescan.activeLayers()")
        await tools.click_selector('[data-testid="mode-mosaic"]')
        seen["mosaic"] = await tools.evaluate("window.fringescan.activeLayers()")
        seen["phase_tiles"] = sorted(phase_tiles)
        return seen

    seen = in_page(browser, server.page_url(), scenario)
    assert seen["start"] == ["prob"]
    assert seen["phase_on"] == ["phase-A", "phase-B", "prob"] and "Wrapped phase" in seen["legend"]
    assert seen["phase_tiles"] and seen["phase_off"] == ["prob"]
    assert seen["one"] == ["pass-A"] and "pass A: 2026-01-01 to 2026-02-01" in seen["one_label"]
    assert (
        seen["range"] == ["pass-A", "pass-B"] and "2 passes, 2026-02-01 to 2026-02-13" in seen["range_label"]
    )
    assert seen["last"] == ["pass-B"] and seen["mosaic"] == ["prob"]


def test_site_list_popup_lists_passes_and_shows_phase(browser: Chromium, server) -> None:
    async def scenario(tools: DevTools) -> dict:
        order = await tools.evaluate(
            "Array.from(document.querySelectorAll('[data-testid=site-row]')).map((r) => r.dataset.siteId)"
        )
        await tools.click_selector('[data-site-id="s1"] [data-testid="zoom"]')
        popup = await tools.wait_for("document.querySelector('.leaflet-popup-content')?.innerText")
        zoom = await tools.evaluate("window.fringescan.map.getZoom()")
        thumbs = await tools.wait_for(
            "Array.from(document.querySelectorAll('[data-testid=popup-thumb]'))"
            ".filter((i) => i.complete && i.naturalWidth > 0).length == 2 && "
            "Array.from(document.querySelectorAll('[data-testid=popup-thumb]')).map((i) => i.title)"
        )
        await asyncio.sleep(0.6)  # the popup's auto-pan animation
        await tools.click_selector('[data-testid="popup-phase"][data-scene="B"]')
        layers = await tools.evaluate("window.fringescan.activeLayers()")
        return {"order": order, "popup": popup, "zoom": zoom, "thumbs": thumbs, "layers": layers}

    result = in_page(browser, server.page_url(), scenario)
    assert result["order"] == ["s2", "s1", "s3"]  # priority 2 first, then the strongest
    popup = result["popup"]
    assert "Site s1\n" in popup and "Passes that saw it (2)" in popup and "Scenes: A, B" in popup
    assert re.search(r"A\s+2026-01-01 to 2026-02-01\s+p 0.81", popup)
    assert re.search(r"B\s+2026-01-01 to 2026-02-13\s+p 0.93", popup)
    assert result["zoom"] >= 12 and result["thumbs"] == ["phase of A", "phase of B"]
    assert result["layers"] == ["pass-B", "phase-B"]  # the popup's phase button shows that pass


def test_confirm_click_lands_in_the_ledger_and_survives_reload(
    browser: Chromium, server, store: Path
) -> None:
    async def scenario(tools: DevTools) -> dict:
        await tools.evaluate("window.fringescan.verdictsLoaded", await_promise=True)
        await tools.evaluate("document.querySelector('[data-testid=note]').value = 'fresh scarp'")
        await tools.click_selector('[data-site-id="s3"] [data-testid="btn-confirmed"]')
        status = await tools.wait_for(
            "(t => t.startsWith('saved') || t.startsWith('not saved') ? t : null)"
            "(document.querySelector('[data-testid=desk-status]').innerText)"
        )
        await tools.call("Page.reload")
        await tools.wait_for("document.readyState === 'complete' && window.fringescan !== undefined")
        await tools.evaluate("window.fringescan.verdictsLoaded", await_promise=True)
        shown = await tools.wait_for(
            "document.querySelector('[data-site-id=s3] [data-testid=verdict]').innerText === 'confirmed' && "
            "document.querySelector('[data-site-id=s3] [data-testid=verdict]').innerText"
        )
        return {"status": status, "shown": shown}

    result = in_page(browser, server.page_url(), scenario)
    assert result["status"] == "saved: s3 confirmed" and result["shown"] == "confirmed"
    record = load_feedback(store)["s3"]
    assert (record["verdict"], record["note"]) == ("confirmed", "fresh scarp")
    assert any(f["properties"]["site_id"] == "s3" for f in export_labels(load_feedback(store))["features"])
    events = [json.loads(line) for line in (store / "log.jsonl").read_text().splitlines()]
    assert {"event": "review", "site_id": "s3", "verdict": "confirmed", "via": "view"}.items() <= events[
        -1
    ].items()


def test_page_from_disk_is_read_only_and_loads_tiles(browser: Chromium, server, store: Path) -> None:
    before = (
        (store / "history" / "feedback.json").read_bytes()
        if (store / "history" / "feedback.json").exists()
        else b""
    )

    async def scenario(tools: DevTools) -> dict:
        tiles = await tile_set(tools, "prob")
        disabled = await tools.evaluate(
            "Array.from(document.querySelectorAll('[data-testid^=btn-]')).every((b) => b.disabled)"
        )
        mode = await tools.evaluate("document.querySelector('[data-testid=desk-mode]').innerText")
        await tools.evaluate(
            "document.querySelector('[data-site-id=s2] [data-testid=btn-rejected]').disabled = false"
        )
        await tools.click_selector('[data-site-id="s2"] [data-testid="btn-rejected"]')
        status = await tools.wait_for("document.querySelector('[data-testid=desk-status]').innerText")
        return {"tiles": tiles, "disabled": disabled, "mode": mode, "status": status}

    result = in_page(browser, (store / "viewer" / "index.html").as_uri(), scenario)
    assert result["tiles"] and result["disabled"] and "Read-only: opened from disk" in result["mode"]
    assert result["status"].startswith("read-only")
    after = (
        (store / "history" / "feedback.json").read_bytes()
        if (store / "history" / "feedback.json").exists()
        else b""
    )
    assert after == before


def test_review_desk_screenshot(browser: Chromium, server, tmp_path: Path) -> None:
    """The README's picture: the served desk with verdicts, a pass's phase under the sites and a popup.

    ``FRINGESCAN_DOCS_IMG=docs/img/review_desk.png pytest tests/test_review_desk.py -k screenshot`` rewrites it.
    """

    async def scenario(tools: DevTools) -> bytes:
        await tools.call(
            "Emulation.setDeviceMetricsOverride", width=1200, height=720, deviceScaleFactor=1, mobile=False
        )
        await tools.evaluate("window.fringescan.verdictsLoaded", await_promise=True)
        for site_id, verdict in (("s2", "unsure"), ("s3", "rejected"), ("s1", "confirmed")):
            await tools.click_selector(f'[data-site-id="{site_id}"] [data-testid="btn-{verdict}"]')
            await tools.wait_for(
                f"document.querySelector('[data-testid=desk-status]').innerText === 'saved: {site_id} {verdict}'"
            )
        await tools.evaluate("window.fringescan.showPass('B', true)")
        await tools.click_selector('[data-site-id="s1"] [data-testid="zoom"]')
        await tools.evaluate("void window.fringescan.map.setZoom(12, {animate: false})")
        await tools.evaluate(
            "void window.fringescan.siteLayers.find((m) => m.feature.properties.site_id === 's1').openPopup()"
        )
        await tile_set(tools, "phase-B")
        await asyncio.sleep(1.0)
        return await tools.screenshot_png()

    png = in_page(browser, server.page_url(), scenario)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    assert image.shape[:2] == (720, 1200)
    green = (
        (abs(image[..., 0] - 0x1A) < 6) & (abs(image[..., 1] - 0x8F) < 6) & (abs(image[..., 2] - 0x3A) < 6)
    )
    assert green.sum() > 100  # the confirmed badge and outline
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 200  # phase colours, basemap, panels
    target = os.environ.get("FRINGESCAN_DOCS_IMG")
    if target:
        Path(target).write_bytes(png)


def test_mosaic_sites_list_the_passes_that_saw_them(store: Path) -> None:
    from scanner.io.readers import read_geojson
    from scanner.mosaic import zarr_io

    sites = read_geojson(zarr_io.version_path(store, None) / "sites.geojson")
    s1 = next(f["properties"] for f in sites["features"] if f["properties"]["site_id"] == "s1")
    assert s1["passes"] == [
        {
            "scene_id": "A",
            "site_id": "s1",
            "first_date": "2026-01-01",
            "second_date": "2026-02-01",
            "prob_max": 0.81,
        },
        {
            "scene_id": "B",
            "site_id": "s1b",
            "first_date": "2026-01-01",
            "second_date": "2026-02-13",
            "prob_max": 0.93,
        },
    ]


def test_tiles_of_another_version_are_not_shown(store: Path, tmp_path: Path) -> None:
    from scanner.products.viewer import page_data, read_layers

    assert read_layers(store, "v000001")["version"] == "v000001"
    assert read_layers(store, "v000002") is None
    assert page_data(store, layers={"version": "v000001", "layers": []})["prob_png"]  # no tiles: one overlay


# --- the verdict API over plain HTTP ---------------------------------------------------------------------------


def post(server, body: object, **headers: str) -> tuple[int, dict]:
    base = {"Content-Type": "application/json", "X-Fringescan-Token": TOKEN}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/api/verdict",
        data=data,
        method="POST",
        headers={k: v for k, v in base.items() if v is not None},
    )
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


@pytest.mark.parametrize(
    ("headers", "status", "message"),
    [
        ({"X-Fringescan-Token": None}, 403, "missing or wrong X-Fringescan-Token"),
        ({"X-Fringescan-Token": "guess"}, 403, "missing or wrong X-Fringescan-Token"),
        ({"Origin": "http://evil.example"}, 403, "cross-site request from Origin 'http://evil.example'"),
        ({"Content-Type": "text/plain"}, 403, "Content-Type 'text/plain', expected application/json"),
        ({"Content-Type": "application/x-www-form-urlencoded"}, 403, "expected application/json"),
        ({"Host": "attacker.example:80"}, 403, "Host 'attacker.example:80' is not this server"),
    ],
    ids=["no-token", "wrong-token", "foreign-origin", "text-plain", "form", "foreign-host"],
)
def test_api_refuses_writes(server, store: Path, headers: dict, status: int, message: str) -> None:
    ledger = store / "history" / "feedback.json"
    before = ledger.read_bytes() if ledger.exists() else b""
    code, body = post(server, {"site_id": "s2", "verdict": "rejected", "note": ""}, **headers)
    assert (code, message in body["error"]) == (status, True), body
    assert (ledger.read_bytes() if ledger.exists() else b"") == before


def ledger_bytes(store: Path) -> bytes:
    ledger = store / "history" / "feedback.json"
    return ledger.read_bytes() if ledger.exists() else b""


def test_api_validates_and_writes(server, store: Path) -> None:
    before = ledger_bytes(store)
    assert post(server, {"site_id": "s2", "verdict": "maybe"})[0] == 400
    assert post(server, b"not json")[0] == 400
    assert post(server, {"site_id": "s2", "verdict": "unsure", "note": 5})[0] == 400
    assert post(server, b"x" * 20_000)[0] == 413
    code, body = post(server, {"site_id": "nope", "verdict": "unsure"})
    assert code == 400 and "no such site" in body["error"]
    assert ledger_bytes(store) == before
    own_origin = f"http://127.0.0.1:{server.port}"
    code, body = post(
        server, {"site_id": "s1b", "verdict": "unsure", "note": "look again"}, Origin=own_origin
    )
    assert code == 200 and body["record"]["site_id"] == "s1" and body["verdicts"]["s1"]["verdict"] == "unsure"
    assert load_feedback(store)["s1"]["verdict"] == "unsure"  # written under the site's id, s1b is a member
    assert "s1" not in {f["properties"]["site_id"] for f in export_labels(load_feedback(store))["features"]}
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/api/verdicts") as response:
        assert json.load(response)["verdicts"]["s1"]["note"] == "look again"


def test_api_write_waits_for_no_other_writer(server, store: Path) -> None:
    from scanner.io.lock import store_lock

    before = ledger_bytes(store)
    with store_lock(store, "nightly"):
        code, body = post(server, {"site_id": "s2", "verdict": "rejected"})
    assert code == 409 and "nightly" in body["error"]
    assert ledger_bytes(store) == before


def test_view_serves_with_a_printed_token(store: Path) -> None:
    """`fringescan view` as a real process: the printed URL carries the token, which a write needs."""
    command = [sys.executable, "-m", "scanner.cli", "view", "--store", str(store), "--port", "0"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as process:
        try:
            lines = [process.stdout.readline(), process.stdout.readline()]
            url = next(line.split(": ", 1)[1].strip() for line in lines if line.startswith("review desk:"))
            match = re.fullmatch(r"http://127\.0\.0\.1:(\d+)/index\.html#token=([\w-]{20,})", url)
            assert match, lines
            port, token = match.groups()
            fake = type("S", (), {"port": int(port)})()
            assert post(fake, {"site_id": "s2", "verdict": "rejected"}, X_Fringescan_Token="wrong")[0] == 403
            code, body = post(fake, {"site_id": "s2", "verdict": "rejected"}, X_Fringescan_Token=token)
            assert code == 200 and body["verdicts"]["s2"]["verdict"] == "rejected"
        finally:
            process.terminate()
            process.wait(timeout=30)
    assert load_feedback(store)["s2"]["verdict"] == "rejected"


def test_view_refuses_a_bad_basemap_url(store: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["view", "--store", str(store), "--no-serve", "--basemap-url", "file:///etc/passwd"]) == 2
    assert "expected an http(s) XYZ template" in capsys.readouterr().err
    url = "https://tile.example.org/{z}/{x}/{y}.png"
    assert main(["view", "--store", str(store), "--no-serve", "--basemap-url", url]) == 0
    html = (store / "viewer" / "index.html").read_text()
    assert json.dumps(url)[1:-1] in html and "Natural Earth" in html


# --- the national grid ---------------------------------------------------------------------------------------------

CITIES = {  # (lon, lat) of 8 passes across Japan, Hokkaido to Kyushu
    "sapporo": (141.35, 43.06),
    "sendai": (140.87, 38.27),
    "niigata": (139.03, 37.90),
    "chichibu": (139.08, 35.99),
    "nagano": (138.19, 36.65),
    "kyoto": (135.77, 35.01),
    "hiroshima": (132.46, 34.39),
    "kagoshima": (130.56, 31.60),
}


def national_store(root: Path) -> Path:
    """8 small probability grids (60 x 60 cells of 280 m, each in its own UTM zone) and one site each."""
    from affine import Affine
    from mosaic_fixtures import write_prob
    from pyproj import CRS, Transformer

    from configs.grids.japan import get_config as japan_grid
    from scanner.geo import GeoGrid
    from scanner.io.store import Store
    from scanner.mosaic.combine import CombineConfig
    from scanner.mosaic.run import run_mosaic

    Store.create(root)
    (root / "sites").mkdir(exist_ok=True)
    for k, (name, (lon, lat)) in enumerate(CITIES.items()):
        epsg = 32600 + int((lon + 180) // 6) + 1
        x, y = Transformer.from_crs("EPSG:4326", f"EPSG:{epsg}", always_xy=True).transform(lon, lat)
        grid = GeoGrid(
            60, 60, Affine(280.0, 0, x - 30 * 280, 0, -280.0, y + 30 * 280), CRS.from_epsg(epsg).to_wkt()
        )
        rows, cols = np.mgrid[0:60, 0:60]
        prob = (0.5 + 0.45 * np.sin(rows / 5 + k) * np.cos(cols / 4)).astype(np.float32)
        write_prob(root, name, prob, grid, second_date=f"2026-02-{k + 1:02d}")
        d = 0.004
        ring = [
            [lon - d, lat - d],
            [lon + d, lat - d],
            [lon + d, lat + d],
            [lon - d, lat + d],
            [lon - d, lat - d],
        ]
        props = {
            "site_id": f"site-{name}",
            "scene_id": name,
            "first_date": "2026-01-01",
            "second_date": f"2026-02-{k + 1:02d}",
            "area_m2": 600_000.0,
            "centroid_lon": lon,
            "centroid_lat": lat,
            "prob_max": 0.9,
            "prob_mean": 0.8,
            "priority": 1,
        }
        feature = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": props,
        }
        (root / "sites" / f"{name}.geojson").write_text(
            json.dumps({"type": "FeatureCollection", "features": [feature]})
        )
    run_mosaic(root, japan_grid(), CombineConfig())
    return root


def test_national_first_view_shows_land_and_sites(browser: Chromium, tmp_path: Path) -> None:
    root = national_store(tmp_path / "japan")
    write_viewer(root, layers=write_tiles(root))

    async def scenario(tools: DevTools) -> dict:
        await tools.wait_for("document.querySelectorAll('.leaflet-interactive').length >= 8")
        await asyncio.sleep(0.5)
        return {
            "image": (await tools.screenshot()).tolist(),
            "map_px": await tools.evaluate(
                "(r => [r.width, r.height])(document.getElementById('map').getBoundingClientRect())"
            ),
            "zoom": await tools.evaluate("window.fringescan.map.getZoom()"),
        }

    result = in_page(browser, (root / "viewer" / "index.html").as_uri(), scenario)
    width, height = (int(v) for v in result["map_px"])
    image = np.asarray(result["image"], dtype=np.int16)[:height, :width]
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    land = (abs(r - 0xEF) < 8) & (abs(g - 0xE8) < 8) & (abs(b - 0xD2) < 8)  # the offline basemap's land fill
    water = (abs(r - 0xC9) < 6) & (abs(g - 0xDB) < 6) & (abs(b - 0xE8) < 6)
    site_blue = (b > 200) & (r < 80) & (g < 120)  # the site markers' outline, #1f4eff
    assert land.mean() > 0.03, f"no land in the first view ({land.mean():.4f})"
    assert water.mean() > 0.2 and site_blue.sum() > 8 * 10
    assert 4 <= result["zoom"] <= 7  # the whole country
    # the screenshot is not one colour: no blank canvas
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 20
