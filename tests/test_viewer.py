"""The viewer in headless Chromium (Debian's chromium, driven over the DevTools protocol), and the quicklook."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import numpy as np
import pytest
from chromium import Chromium
from mosaic_fixtures import add_lattice_scene, make_store, site_feature, write_sites
from PIL import Image
from test_mosaic import small_grid

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


async def drive(browser: Chromium, page_url: str) -> dict:
    tools = await browser.page()
    await tools.open(page_url)
    point = await tools.evaluate(
        "(() => { const m = window.fringescan.siteLayers[0]; "
        "const p = window.fringescan.map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; })()"
    )
    await tools.click(*point)
    popup = await tools.wait_for("document.querySelector('.leaflet-popup-content')?.innerText")
    legend = await tools.evaluate("document.querySelector('.fs-legend').innerText")
    await asyncio.sleep(0.5)  # let the popup finish fading in
    png = await tools.screenshot_png()
    await tools.click_selector('[data-testid="toggle-passes"]')
    toggled = await tools.wait_for(
        "window.fringescan.map.hasLayer(window.fringescan.passesLayer) && "
        "document.querySelector('.fs-legend').innerText"
    )
    await tools.click_selector('[data-testid="toggle-prob"]')
    prob_shown = await tools.evaluate("window.fringescan.map.hasLayer(window.fringescan.probOverlay)")
    footprints = await tools.evaluate("window.fringescan.footprints.getLayers().length")
    errors = tools.errors
    await tools.close()
    return {
        "popup": popup,
        "legend": legend,
        "png": png,
        "toggled": toggled,
        "prob_shown": prob_shown,
        "footprints": footprints,
        "errors": errors,
    }


def test_viewer_in_headless_chromium(store: Path, tmp_path: Path) -> None:
    """Without tiles (layers.json not written) the probability is one image overlay, as before tiles."""
    page = write_viewer(store)
    html = page.read_text()
    assert "<script src=" not in html and "<link " not in html  # self-contained: nothing to fetch
    server = make_server(store, 0)
    assert server.server_address[0] == "127.0.0.1"
    serve_in_thread(server)
    browser = Chromium(tmp_path / "profile")
    try:
        result = asyncio.run(drive(browser, f"http://127.0.0.1:{server.server_address[1]}/index.html"))
    finally:
        browser.close()
        server.shutdown()
        server.server_close()
    popup = result["popup"]
    # one site seen by A (2026-02-01) and B (2026-02-13): named by its earliest detection, s1
    assert "Site s1\n" in popup and "max 0.93" in popup and "Slope class: slope" in popup
    assert "2026-01-01 to 2026-02-13" in popup and "Scenes: A, B" in popup and "km²" in popup
    assert "Landslide-candidate probability" in result["legend"] and "v000001" in result["legend"]
    assert "Passes observed" in result["toggled"] and result["prob_shown"] is False
    assert result["footprints"] == 2 and result["errors"] == []
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
    # no tiles of this version yet: view writes them, and the page lists them (no image overlay then)
    layers = json.loads((store / "viewer" / "layers.json").read_text())
    assert layers["version"] == "v000001" and [x["id"] for x in layers["layers"]] == [
        "prob",
        "pass-A",
        "pass-B",
    ]
    html = (store / "viewer" / "index.html").read_text()
    assert '"url": "tiles/pass-B/{z}/{x}/{y}.png"' in html and '"prob_png"' not in html
