"""Logging handlers and progress bars: the one place the CLI sets them up.

Library modules log with ``logging.getLogger(__name__)`` and report progress through a callback
``progress(done, total)``; the CLI turns that into a rich progress bar with rates.

Bars are drawn on stderr only when both stdout and stderr are terminals and ``-q`` was not given, so
redirected, piped and scheduled runs get clean output.
"""

from __future__ import annotations

import json
import logging
import sys
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from scanner.progress import ProgressCallback

_console = Console(stderr=True)
_quiet = False


class _JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(getattr(record, "fields", {}) or {})
        return json.dumps(payload)


GDAL_LOG_CALLBACK = "rasterio._env.log_error"
"""rasterio's GDAL error handler: it decodes each GDAL message as UTF-8 inside a callback that cannot raise."""


def route_undecodable_gdal_messages() -> None:
    """Turn rasterio's failure to decode a GDAL message into one warning line instead of a traceback.

    A file whose metadata holds bytes that are not UTF-8 (a corrupt GeoTIFF's GDAL_METADATA, say) makes GDAL
    quote them in a message, and rasterio's handler then fails in a callback that cannot raise: Python prints
    "Exception ignored in: 'rasterio._env.log_error'" and a traceback on stderr while the read goes on. The
    read's own outcome (data, or fringescan's one-line refusal) is unchanged; only that noise is replaced.
    """
    default = sys.unraisablehook
    if getattr(default, "routes_gdal_messages", False):  # installed by an earlier call in this process
        return

    def hook(unraisable) -> None:
        if issubclass(unraisable.exc_type, UnicodeDecodeError) and GDAL_LOG_CALLBACK in str(
            unraisable.object
        ):
            logging.getLogger("scanner.io").warning(
                "a GDAL message about an input file was not UTF-8 (stray bytes in its metadata?): not shown"
            )
            return
        default(unraisable)

    hook.routes_gdal_messages = True
    sys.unraisablehook = hook


def cells(n: int) -> str:
    """``n`` cells in words: "1 cell", "6 cells" (operating points' minimum site sizes)."""
    return f"{n} cell{'' if n == 1 else 's'}"


ABANDONED_WRITE_NOISE = ("Task was destroyed but it is pending", "Event loop is closed", "was never awaited")
"""What the interpreter's teardown says about asynchronous chunk writes (zarr-python's event loop) that a failed
or interrupted write left pending."""


def quiet_abandoned_writes() -> None:
    """After the one-line error (or the stop message) has been printed: keep the interpreter's teardown from
    printing a message per chunk write that the failed or interrupted write left pending.

    A Zarr write that fails part-way (a full disk, say) or is stopped by Ctrl-C leaves its other chunk writes
    queued on zarr-python's event loop. When the process exits the loop is closed under them, and asyncio logs
    "Task was destroyed but it is pending!" for each, and Python prints "Event loop is closed" tracebacks and
    "coroutine ... was never awaited" warnings: hundreds of lines after the error that says what happened.
    Their outputs were written to a temporary place and never published, so nothing is lost by not saying so;
    only those messages are dropped, anything else still reaches stderr.
    """
    logging.getLogger("asyncio").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message=r"coroutine .* was never awaited", category=RuntimeWarning)
    default = sys.unraisablehook
    if getattr(default, "quiets_abandoned_writes", False):  # installed by an earlier error in this process
        return

    def hook(unraisable) -> None:
        if any(words in str(unraisable.exc_value) for words in ABANDONED_WRITE_NOISE):
            return
        default(unraisable)

    hook.quiets_abandoned_writes = True
    sys.unraisablehook = hook


def setup_logging(verbosity: int = 0, *, json_lines: bool = False) -> None:
    """Log level from ``verbosity``: -1 (``-q``) warnings and no progress bars, 0 info, 1 (``-v``) debug."""
    global _quiet
    _quiet = verbosity < 0
    level = logging.WARNING - 10 * min(max(verbosity + 1, 0), 2)
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(_JsonFormatter())
    else:
        handler = RichHandler(console=_console, show_path=False, rich_tracebacks=False)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("jax", "absl", "distributed", "asyncio", "matplotlib", "rasterio", "urllib3"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


def bars_enabled() -> bool:
    """Progress bars only for a person at a terminal: not with ``-q``, not when stdout or stderr is redirected."""
    return not _quiet and _console.is_terminal and sys.stdout.isatty()


@contextmanager
def progress_bar(
    description: str, unit: str = "items", *, rate_scale: float | None = None, rate_unit: str = ""
) -> Iterator[ProgressCallback]:
    """A rich progress bar; yields the ``progress(done, total)`` callback to hand to library code.

    The bar shows done/total, the rate in ``unit``/s and the time left. The rate counts only the units done
    while the bar was up (a resumed run's first call reports the units already done: they are not counted).
    ``rate_scale`` converts units to a second rate shown beside it (for example km² per window).
    """
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]} " + unit),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=_console, transient=False, disable=not bars_enabled()) as bar:
        task = bar.add_task(description, total=None, count="...", rate="")
        first: list[tuple[float, int]] = []

        def update(done: int, total: int) -> None:
            now = time.perf_counter()
            if not first:
                first.append((now, done))
            began, base = first[0]
            elapsed = max(now - began, 1e-9)
            rate = f"{_number((done - base) / elapsed)} {unit}/s" if now > began else ""
            if rate and rate_scale:
                rate += f", {_number((done - base) * rate_scale / elapsed)} {rate_unit}/s"
            bar.update(task, completed=done, total=total, count=f"{done:,}/{total:,}", rate=rate)

        yield update


def _number(value: float) -> str:
    """A rate for people: no decimals from 100 up, two below (steps/s, km²/s)."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"
