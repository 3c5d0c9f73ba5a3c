"""The ``fringescan`` command: one entry point, one verb per capability.

Core verbs live in ``scanner.cli.<verb>`` modules and are listed in ``CORE_COMMANDS``. Other packages (``train``)
add verbs through the ``fringescan.commands`` entry-point group, the way rasterio's ``rio`` finds its plugins,
so ``scanner`` never imports ``train``. Each registrar receives the argparse subparsers object, adds its verb(s)
and sets ``func`` to a handler ``handler(args) -> int``.

Handlers import heavy libraries (jax, zarr) inside the function so ``fringescan --help`` stays fast.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from scanner import __version__
from scanner.cli import detect as detect_cli
from scanner.cli import evaluate_scan as evaluate_scan_cli
from scanner.cli import export as export_cli
from scanner.cli import ingest as ingest_cli
from scanner.cli import mosaic as mosaic_cli
from scanner.cli import nightly as nightly_cli
from scanner.cli import review as review_cli
from scanner.cli import scan as scan_cli
from scanner.cli import status as status_cli
from scanner.cli import synth as synth_cli
from scanner.cli import view as view_cli
from scanner.errors import FringescanError

LAYER = 4
"""The command line sits on top of the library (tests/test_layout.py reads this)."""
FORMAT_LIBRARIES = False
"""Verbs read and write files only through the library."""

Registrar = Callable[[argparse._SubParsersAction], None]

CORE_COMMANDS: dict[str, Registrar] = {
    "synth": synth_cli.register,
    "ingest": ingest_cli.register,
    "scan": scan_cli.register,
    "detect": detect_cli.register,
    "export": export_cli.register,
    "evaluate-scan": evaluate_scan_cli.register,
    "mosaic": mosaic_cli.register,
    "view": view_cli.register,
    "nightly": nightly_cli.register,
    "review": review_cli.register,
    "status": status_cli.register,
}

PLUGIN_GROUP = "fringescan.commands"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fringescan",
        description="Scan DInSAR interferograms for landslide-candidate fringes.",
    )
    parser.add_argument("--version", action="version", version=f"fringescan {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output (-vv for debug)")
    parser.add_argument("--log-json", action="store_true", help="structured JSON log lines on stderr")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in CORE_COMMANDS.values():
        register(subparsers)
    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from scanner.cli.output import setup_logging

    setup_logging(args.verbose, json_lines=args.log_json)
    try:
        return int(args.func(args) or 0)
    except FringescanError as error:
        print(f"fringescan: error: {error}", file=sys.stderr)
        logging.getLogger("fringescan").debug("traceback", exc_info=True)
        return error.exit_code
    except KeyboardInterrupt:
        print("fringescan: interrupted; outputs in progress were not published", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
