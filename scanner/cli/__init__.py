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
from scanner.cli import calibrate as calibrate_cli
from scanner.cli import detect as detect_cli
from scanner.cli import evaluate_scan as evaluate_scan_cli
from scanner.cli import export as export_cli
from scanner.cli import ingest as ingest_cli
from scanner.cli import models as models_cli
from scanner.cli import mosaic as mosaic_cli
from scanner.cli import nightly as nightly_cli
from scanner.cli import review as review_cli
from scanner.cli import scan as scan_cli
from scanner.cli import status as status_cli
from scanner.cli import synth as synth_cli
from scanner.cli import view as view_cli
from scanner.cli.signals import exit_code, stop_on_signals
from scanner.errors import FringescanError, os_error

LAYER = 4
"""The command line sits on top of the library (tests/test_layout.py reads this)."""
FORMAT_LIBRARIES = False
"""Verbs read and write files only through the library."""

Registrar = Callable[[argparse._SubParsersAction], None]

CORE_COMMANDS: dict[str, Registrar] = {
    "synth": synth_cli.register,
    "ingest": ingest_cli.register,
    "models": models_cli.register,
    "scan": scan_cli.register,
    "detect": detect_cli.register,
    "export": export_cli.register,
    "evaluate-scan": evaluate_scan_cli.register,
    "calibrate": calibrate_cli.register,
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
    add_output_args(parser, top=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in CORE_COMMANDS.values():
        register(subparsers)
    for entry in entry_points(group=PLUGIN_GROUP):
        entry.load()(subparsers)
    for verb in {id(p): p for p in subparsers.choices.values()}.values():
        add_output_args(verb, top=False)
    return parser


def add_output_args(parser: argparse.ArgumentParser, *, top: bool) -> None:
    """-v/-q and --log-json, accepted before the verb (``top``) and after it; ``main`` adds the two up.

    The verb's copies write to their own ``dest`` so a flag after the verb never resets one given before it.
    """
    suffix = "" if top else "_after"
    parser.add_argument(
        "-v",
        "--verbose",
        dest="verbose" + suffix,
        action="count",
        default=0,
        help="debug log output (default: info); before or after the verb",
    )
    parser.add_argument(
        "-q",
        "--quiet",
        dest="quiet" + suffix,
        action="store_true",
        help="warnings and errors only, no progress bars; before or after the verb",
    )
    parser.add_argument(
        "--log-json",
        dest="log_json" + suffix,
        action="store_true",
        help="structured JSON log lines on stderr; before or after the verb",
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from scanner.cli.output import quiet_abandoned_writes, route_undecodable_gdal_messages, setup_logging

    verbosity = args.verbose + getattr(args, "verbose_after", 0)
    quiet = args.quiet or getattr(args, "quiet_after", False)
    if quiet and verbosity:
        return _usage_error(parser, "-q/--quiet with -v/--verbose: expected one of them; fix: drop one")
    setup_logging(
        -1 if quiet else verbosity, json_lines=args.log_json or getattr(args, "log_json_after", False)
    )
    route_undecodable_gdal_messages()
    restore_signals = stop_on_signals()
    try:
        return int(args.func(args) or 0)
    except FringescanError as error:
        return _report(error)
    except Exception as error:
        # A disk or file system refusal (full, read-only, permission) anywhere below the verb, as an OSError
        # or a library error quoting one: one line, not a traceback. Anything else is a bug: the traceback.
        translated = os_error(error, doing=_doing(args))
        if translated is None:
            raise
        return _report(translated, error)
    except KeyboardInterrupt as interrupt:  # Ctrl-C, or SIGTERM (scanner.cli.signals)
        print(
            f"fringescan: stopped by {interrupt or 'SIGINT'}; outputs in progress were not published and the "
            "store lock is released",
            file=sys.stderr,
        )
        quiet_abandoned_writes()
        return exit_code(interrupt)
    finally:
        restore_signals()


def _usage_error(parser: argparse.ArgumentParser, message: str) -> int:
    parser.print_usage(sys.stderr)
    print(f"fringescan: error: {message}", file=sys.stderr)
    return 2


def _doing(args: argparse.Namespace) -> str:
    """``fringescan VERB --store S --out O``: the verb and the places it writes, for a disk refusal."""
    places = (("store", "--store"), ("out", "--out"), ("export_labels", "--export-labels"))
    named = [f"{flag} {getattr(args, key)}" for key, flag in places if getattr(args, key, None)]
    return " ".join([f"fringescan {args.command}", *named])


def _report(error: FringescanError, cause: BaseException | None = None) -> int:
    """Print ``error`` as the one-line ``fringescan: error:`` message (traceback at debug level)."""
    from scanner.cli.output import quiet_abandoned_writes

    print(f"fringescan: error: {error}", file=sys.stderr)
    logging.getLogger("fringescan").debug("traceback", exc_info=cause or error)
    quiet_abandoned_writes()
    return error.exit_code


if __name__ == "__main__":
    sys.exit(main())
