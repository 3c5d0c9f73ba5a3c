"""The viewer in headless Chromium (Debian's chromium, driven over the DevTools protocol), and the quicklook."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from mosaic_fixtures import add_lattice_scene, make_store, site_feature, write_sites
from PIL import Image
from test_mosaic import small_grid
from tornado.websocket import websocket_connect

from scanner.cli import main
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.run import run_mosaic
from scanner.products.viewer import make_server, serve_in_thread, write_quicklook, write_viewer


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_store(tmp_path_factory.mktemp("viewer") / "store")
    add_lattice_scene(root, "A", 10, 10, 80, 90, second_date="2026-02-01")
    add_lattice_scene(root, "B", 50, 60, 90, 80, second_date="2026-02-13", seed=1)
    write_sites(root, "A", [site_feature("A", "s1", 435_000, 4_165_000, 500, prob_max=0.81)])
    write_sites(
        root,
        "B",
        [site_feature("B", "s1b", 435_100, 4_165_000, 500, prob_max=0.93, second_date="2026-02-13")],
    )
    run_mosaic(root, small_grid(), CombineConfig())
    return root


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, connection) -> None:
        self.connection, self.next_id = connection, 0

    async def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        await self.connection.write_message(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.read_message(), 30))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    async def evaluate(self, expression: str) -> object:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0) -> object:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}")

    async def click(self, x: float, y: float) -> None:
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)


def start_chromium(profile: Path) -> tuple[subprocess.Popen, str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    assert binary, "Debian's chromium is required: apt-get install -y chromium"
    process = subprocess.Popen(
        [
            binary,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "--window-size=1000,760",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 60
    while not (port_file.is_file() and port_file.read_text().strip()):
        assert time.monotonic() < deadline and process.poll() is None, "chromium did not start"
        time.sleep(0.1)
    port = port_file.read_text().split()[0]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list") as response:
        pages = [t for t in json.load(response) if t["type"] == "page"]
    return process, pages[0]["webSocketDebuggerUrl"]


async def drive(ws_url: str, page_url: str) -> dict:
    connection = await websocket_connect(ws_url, max_message_size=64 * 1024 * 1024)
    tools = DevTools(connection)
    await tools.call("Page.enable")
    await tools.call("Page.navigate", url=page_url)
    await tools.wait_for("window.fringescan !== undefined && document.readyState === 'complete'")
    point = await tools.evaluate(
        "(() => { const m = window.fringescan.siteLayers[0]; "
        "const p = window.fringescan.map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; })()"
    )
    await tools.click(*point)
    popup = await tools.wait_for("document.querySelector('.leaflet-popup-content')?.innerText")
    legend = await tools.evaluate("document.querySelector('.fs-panel').innerText")
    await asyncio.sleep(0.5)  # let the popup finish fading in
    shot = await tools.call("Page.captureScreenshot", format="png")
    await tools.evaluate("document.querySelectorAll('.leaflet-control-layers-base input')[1].click()")
    toggled = await tools.wait_for(
        "window.fringescan.map.hasLayer(window.fringescan.passesLayer) && "
        "document.querySelector('.fs-panel').innerText"
    )
    prob_shown = await tools.evaluate("window.fringescan.map.hasLayer(window.fringescan.probLayer)")
    footprints = await tools.evaluate("window.fringescan.footprints.getLayers().length")
    connection.close()
    return {
        "popup": popup,
        "legend": legend,
        "png": base64.b64decode(shot["data"]),
        "toggled": toggled,
        "prob_shown": prob_shown,
        "footprints": footprints,
    }


def test_viewer_in_headless_chromium(store: Path, tmp_path: Path) -> None:
    page = write_viewer(store)
    html = page.read_text()
    assert "<script src=" not in html and "<link " not in html  # self-contained: nothing to fetch
    server = make_server(store, 0)
    assert server.server_address[0] == "127.0.0.1"
    serve_in_thread(server)
    process, ws_url = start_chromium(tmp_path / "profile")
    try:
        result = asyncio.run(drive(ws_url, f"http://127.0.0.1:{server.server_address[1]}/index.html"))
    finally:
        process.terminate()
        process.wait(timeout=30)
        server.shutdown()
        server.server_close()
    popup = result["popup"]
    # one site seen by A (2026-02-01) and B (2026-02-13): named by its earliest detection, s1
    assert "Site s1\n" in popup and "max 0.93" in popup and "Slope class: slope" in popup
    assert "2026-01-01 to 2026-02-13" in popup and "Scenes: A, B" in popup and "km²" in popup
    assert "Landslide-candidate probability" in result["legend"] and "v000001" in result["legend"]
    assert "Passes observed" in result["toggled"] and result["prob_shown"] is False
    assert result["footprints"] == 2
    (store / "viewer" / "test-screenshot.png").write_bytes(result["png"])
    image = np.asarray(Image.open(io.BytesIO(result["png"])).convert("RGB")).astype(int)
    assert image.shape[1] == 1000 and image.shape[0] > 500
    red, green, blue = image[..., 0], image[..., 1], image[..., 2]
    reddish = (red > 140) & (green < 120) & (red - blue > 50)  # the high end of the YlOrRd ramp
    assert reddish.mean() > 0.02
    white = (image > 245).all(axis=-1)  # popup and legend panels
    assert white.sum() > 2000


def test_quicklook_png(store: Path) -> None:
    path = write_quicklook(store)
    image = np.asarray(Image.open(path).convert("RGB")).astype(int)
    assert path.name == "v000001.png" and image.shape[0] > 300 and image.shape[1] > 300
    blue_outline = (image[..., 2] > 200) & (image[..., 0] < 80) & (image[..., 1] < 120)
    assert blue_outline.sum() > 5  # the merged site is outlined


def test_view_cli_writes_without_serving(store: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["view", "--store", str(store), "--no-serve"]) == 0
    assert str(store / "viewer" / "index.html") in capsys.readouterr().out
