"""``fringescan view``: write the mosaic viewer page into the store and serve it on 127.0.0.1."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "view",
        help="write the mosaic viewer (self-contained HTML) and serve it on localhost",
        description="Write STORE/viewer/index.html for the current (or given) mosaic version: probability with a "
        "legend, passes-count toggle, candidate sites with popups and scene footprints; works offline. Serves it "
        "on 127.0.0.1 only until interrupted, unless --no-serve.",
    )
    parser.add_argument("--store", required=True, help="fringescan store directory")
    parser.add_argument("--version", help="mosaic version (default: the current one)")
    parser.add_argument("--port", type=int, default=8765, help="local port (default 8765; 0 = any free port)")
    parser.add_argument("--no-serve", action="store_true", help="write the page and exit")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.io.store import Store
    from scanner.products.viewer import make_server, write_viewer

    root = Store.open(args.store).root
    path = write_viewer(Path(root), args.version)
    print(f"viewer: {path}")
    if args.no_serve:
        return 0
    server = make_server(Path(root), args.port)
    host, port = server.server_address[:2]
    print(f"serving on http://{host}:{port}/index.html (localhost only; Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
