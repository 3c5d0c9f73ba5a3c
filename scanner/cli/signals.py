"""SIGTERM and SIGINT stop a verb cleanly (a helper of the command line, not a verb).

After ``stop_on_signals()`` (until the function it returns is called) the first SIGTERM or SIGINT raises :class:`Stopped` (a ``KeyboardInterrupt``) in
the main thread, so the verb unwinds like any exception: staging context managers delete what was being
built, a scan waits for the tiles in flight and keeps them for its resume, and the store lock is released.
``fringescan`` then exits with ``128 + signal number`` (143 for SIGTERM, 130 for SIGINT), as a shell reports a
process killed by that signal. A second signal stops the process at once (the kernel still releases the store
lock, and the next writer sweeps what was left in ``.staging/``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger(__name__)

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Stopped(KeyboardInterrupt):
    """The run was asked to stop by ``signum``."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def exit_code(interrupt: KeyboardInterrupt) -> int:
    """128 + the signal's number (a plain KeyboardInterrupt counts as SIGINT)."""
    return 128 + int(getattr(interrupt, "signum", signal.SIGINT))


def stop_on_signals() -> Callable[[], None]:
    """Turn the first SIGTERM/SIGINT into ``Stopped`` (main thread only); returns what restores the handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    stopping: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping:  # asked again while cleaning up: stop now, as the signal's default action does
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        stopping.append(signum)
        log.warning(
            "%s: stopping cleanly (send it again to stop at once)",
            signal.Signals(signum).name,
            extra={"fields": {"event": "signal", "signal": signal.Signals(signum).name}},
        )
        raise Stopped(signum)

    previous = {signum: signal.signal(signum, handler) for signum in SIGNALS}

    def restore() -> None:
        for signum, action in previous.items():
            signal.signal(signum, action)

    return restore
