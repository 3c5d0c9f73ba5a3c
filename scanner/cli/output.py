"""Logging handlers and progress bars: the one place the CLI sets them up.

Library modules log with ``logging.getLogger(__name__)`` and report progress through a callback
``progress(done, total)``; the CLI turns that into a rich progress bar with rates.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from scanner.progress import ProgressCallback

_console = Console(stderr=True)


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


def setup_logging(verbosity: int = 0, *, json_lines: bool = False) -> None:
    level = logging.WARNING - 10 * min(verbosity + 1, 2)
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


@contextmanager
def progress_bar(
    description: str, unit: str = "items", *, rate_scale: float | None = None, rate_unit: str = ""
) -> Iterator[ProgressCallback]:
    """A rich progress bar; yields the ``progress(done, total)`` callback to hand to library code.

    ``rate_scale`` converts units to a second rate shown beside it (for example km² per window).
    """
    start = time.perf_counter()
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} " + unit),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    ]
    with Progress(*columns, console=_console, transient=False, disable=not _console.is_terminal) as bar:
        task = bar.add_task(description, total=None, rate="")

        def update(done: int, total: int) -> None:
            elapsed = max(time.perf_counter() - start, 1e-9)
            rate = f"{done / elapsed:,.0f} {unit}/s"
            if rate_scale:
                rate += f", {done * rate_scale / elapsed:,.2f} {rate_unit}/s"
            bar.update(task, completed=done, total=total, rate=rate)

        yield update
