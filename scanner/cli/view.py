"""``fringescan view``: write the mosaic viewer and review desk into the store and serve it on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "view",
        help="write the mosaic viewer and review desk (self-contained HTML) and serve it on localhost",
        description="Write STORE/viewer/index.html for the current (or given) mosaic version: probability tiles "
        "(mosaic, one pass or a date range), wrapped-phase tiles, an offline basemap, candidate sites with "
        "popups, and the review desk (sites by priority; confirm / reject / unsure). Serves it on 127.0.0.1 "
        "only until interrupted, unless --no-serve; verdicts clicked in the page are written to the same "
        "ledger as `fringescan review` and need the token printed in the URL. Opened from disk the page is "
        "read-only.",
    )
    parser.add_argument("--store", required=True, help="fringescan store directory")
    parser.add_argument("--version", help="mosaic version (default: the current one)")
    parser.add_argument("--port", type=int, default=8765, help="local port (default 8765; 0 = any free port)")
    parser.add_argument(
        "--basemap-url",
        metavar="TEMPLATE",
        help="an online XYZ basemap, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png (default: none; the "
        "offline coastlines and boundaries are always drawn underneath)",
    )
    parser.add_argument("--no-serve", action="store_true", help="write the page and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.io.lock import store_lock
    from scanner.io.store import Store
    from scanner.products.viewer import make_server, read_layers, write_tiles, write_viewer

    root = Path(Store.open(args.store).root)
    _check_basemap_url(args.basemap_url)
    with store_lock(root, "view"):  # the page is part of the store: one writer at a time
        from scanner.mosaic import zarr_io

        version = zarr_io.version_path(root, args.version).name
        layers = read_layers(root, version) or write_tiles(root, args.version)
        path = write_viewer(root, args.version, layers=layers, basemap_url=args.basemap_url)
    print(f"viewer: {path}")
    if args.no_serve:
        return 0
    server = make_server(root, args.port, version=args.version)
    print(f"review desk: {server.page_url()}", flush=True)
    print("(localhost only; the token in the URL authorises verdicts; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


def _check_basemap_url(url: str | None) -> None:
    from scanner.errors import UsageError, problem

    if url is None:
        return
    if not url.startswith(("https://", "http://")) or not all(k in url for k in ("{z}", "{x}", "{y}")):
        raise UsageError(
            problem(
                "--basemap-url",
                expected="an http(s) XYZ template with {z}, {x} and {y}",
                found=repr(url),
                fix="e.g. --basemap-url 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'",
            )
        )
