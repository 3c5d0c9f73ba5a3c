"""Headless Chromium for the viewer tests: Debian's chromium driven over the DevTools protocol (CDP).

``Chromium`` starts one browser (share it per test module: a start costs a few seconds); ``Chromium.page``
opens a fresh tab and returns its ``DevTools`` client, whose ``call``/``evaluate``/``wait_for``/``click`` are
async (run the whole scenario in one ``asyncio.run``). Uncaught page exceptions are collected in
``DevTools.errors``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
from PIL import Image
from tornado.websocket import websocket_connect


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, connection) -> None:
        self.connection, self.next_id = connection, 0
        self.errors: list[str] = []

    async def call(self, method: str, **params: object) -> dict:
        self.next_id += 1
        await self.connection.write_message(
            json.dumps({"id": self.next_id, "method": method, "params": params})
        )
        while True:
            message = json.loads(await asyncio.wait_for(self.connection.read_message(), 30))
            if message.get("method") == "Runtime.exceptionThrown":
                details = message["params"]["exceptionDetails"]
                self.errors.append(str(details.get("exception", {}).get("description") or details))
            if message.get("id") == self.next_id:
                assert "error" not in message, message
                return message["result"]

    async def close(self) -> None:
        """Close the websocket and wait until it is closed (an open socket left behind is a ResourceWarning)."""
        self.connection.close()
        with contextlib.suppress(Exception):
            while await asyncio.wait_for(self.connection.read_message(), 5) is not None:
                pass

    async def evaluate(self, expression: str, *, await_promise: bool = False) -> object:
        result = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=await_promise
        )
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    async def wait_for(self, expression: str, timeout_s: float = 20.0) -> object:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = await self.evaluate(expression)
            if value:
                return value
            await asyncio.sleep(0.1)
        raise AssertionError(f"timed out waiting for {expression}; page errors: {self.errors}")

    async def click(self, x: float, y: float) -> None:
        await self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        for kind in ("mousePressed", "mouseReleased"):
            await self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    async def click_selector(self, selector: str) -> None:
        """A real mouse click at the centre of the first element matching ``selector``."""
        box = await self.wait_for(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null; "
            "const r = e.getBoundingClientRect(); "
            "return r.width > 0 ? [r.x + r.width / 2, r.y + r.height / 2] : null; })()"
        )
        await self.click(*box)

    async def open(self, url: str, ready: str = "window.fringescan !== undefined") -> None:
        await self.call("Page.navigate", url=url)
        await self.wait_for(f"document.readyState === 'complete' && {ready}")

    async def screenshot(self) -> np.ndarray:
        shot = await self.call("Page.captureScreenshot", format="png")
        return np.asarray(Image.open(io.BytesIO(base64.b64decode(shot["data"]))).convert("RGB"))

    async def screenshot_png(self) -> bytes:
        return base64.b64decode((await self.call("Page.captureScreenshot", format="png"))["data"])


class Chromium:
    """One headless browser; ``close`` ends it."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1000, 760)) -> None:
        binary = shutil.which("chromium") or shutil.which("chromium-browser")
        assert binary, "Debian's chromium is required: apt-get install -y chromium"
        self.process = subprocess.Popen(
            [
                binary,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                f"--window-size={size[0]},{size[1]}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not (port_file.is_file() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and self.process.poll() is None, "chromium did not start"
            time.sleep(0.1)
        self.port = int(port_file.read_text().split()[0])

    def new_target(self) -> str:
        """A fresh tab's websocket URL."""
        request = urllib.request.Request(f"http://127.0.0.1:{self.port}/json/new?about:blank", method="PUT")
        with urllib.request.urlopen(request) as response:
            return json.load(response)["webSocketDebuggerUrl"]

    async def page(self) -> DevTools:
        connection = await websocket_connect(self.new_target(), max_message_size=64 * 1024 * 1024)
        tools = DevTools(connection)
        await tools.call("Page.enable")
        await tools.call("Runtime.enable")
        return tools

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
