"""The store lock: one writer per store at a time, held by the operating system.

A run that writes a store holds ``fcntl.flock(LOCK_EX)`` on an open descriptor of ``STORE/.lock`` for its
whole run. The kernel drops that lock when the process ends, however it ends (return, exception, SIGTERM,
SIGKILL, out of memory), so a lock never outlives its run and there is nothing to take over: **only a held
flock means "locked"**. A second writer finds the flock held and stops with a :class:`~scanner.errors.StoreError`
(exit 4) naming the holder.

The file's content, JSON ``{"pid", "host", "started", "purpose"}`` of the holder, is information for that
message and for ``fringescan status``, written after the flock is taken. A missing, empty (a disk that was full
when it was written) or garbled record is never an error by itself: a free flock on such a file is simply
taken, and a held one is reported as held by a run whose record is unreadable.

The holder deletes the file on release while it still holds the flock, then closes the descriptor, so an
idle store has no ``.lock``. A run that opened the file just before it was deleted may then get the flock
of the deleted file; so after locking, a run checks that its descriptor still is the file at ``STORE/.lock``
and starts over if not.

``store_lock`` also sweeps what dead runs left in ``.staging/`` (``scanner.io.store.sweep_staging``): under
the lock no other writer is running, so nothing there is in use.

The flock works on local file systems and on NFSv4 (Linux maps it to a byte-range lock there).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import json
import logging
import os
import socket
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from scanner.errors import StoreError, problem
from scanner.io.layout import StoreLayout

log = logging.getLogger(__name__)

RETRY_S = 0.5
"""How long a writer retries a held lock before it gives up (``fringescan status`` probes it for an instant)."""


@dataclass(frozen=True)
class LockInfo:
    """Who holds a store lock (the record in ``STORE/.lock``)."""

    pid: int
    host: str
    started: str
    purpose: str = "nightly"

    @classmethod
    def mine(cls, purpose: str) -> LockInfo:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(pid=os.getpid(), host=socket.gethostname(), started=now, purpose=purpose)

    def describe(self) -> str:
        return f"{self.purpose} run pid {self.pid} on {self.host} since {self.started}"


@dataclass
class HeldLock:
    """A lock this process holds: the open descriptor whose flock it is, and the record written into it."""

    root: Path
    fd: int
    info: LockInfo


def parse_record(text: str) -> LockInfo | None:
    """The holder record in a lock file's text, or None when it is empty or not a record."""
    try:
        data = json.loads(text)
        return LockInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=str(data["started"]),
            purpose=str(data.get("purpose", "")),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _read_record(fd: int) -> tuple[LockInfo | None, str]:
    """The record of an open lock file and its raw text (at most 4 KiB)."""
    try:
        text = os.pread(fd, 4096, 0).decode("utf-8", errors="replace")
    except OSError:
        return None, ""
    return parse_record(text), text


def _try_flock(fd: int, operation: int) -> bool:
    """One non-blocking flock attempt, retried for ``RETRY_S``; False when another descriptor holds it."""
    deadline = time.monotonic() + RETRY_S
    while True:
        try:
            fcntl.flock(fd, operation | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)


def _same_file(fd: int, path: Path) -> bool:
    try:
        here, there = os.fstat(fd), os.stat(path)
    except FileNotFoundError:
        return False
    return (here.st_dev, here.st_ino) == (there.st_dev, there.st_ino)


def _held_error(root: Path, holder: LockInfo | None, text: str) -> StoreError:
    if holder is not None:
        found = holder.describe()
    else:
        found = f"a run holding the OS lock on {StoreLayout(root).lock} (its holder record {text[:40]!r} is unreadable)"
    return StoreError(
        problem(
            f"store {root} is locked",
            expected="no other run writing this store",
            found=found,
            fix="wait for that run to finish; its lock ends with it, even if it is killed",
        )
    )


def acquire(root: str | Path, purpose: str = "nightly") -> HeldLock:
    """Take the store lock or raise StoreError naming the holder. Release it with ``release``."""
    root = Path(root)
    path = StoreLayout(root).lock
    for _ in range(100):  # each round lost to a releasing run that deleted the file
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            if not _try_flock(fd, fcntl.LOCK_EX):
                raise _held_error(root, *_read_record(fd))
            if _same_file(fd, path):
                return _take(root, fd, purpose)
        except BaseException:
            os.close(fd)
            raise
        os.close(fd)
    raise StoreError(
        problem(
            f"store {root} lock",
            expected="the lock file to stay in place while it is taken",
            found=f"{path} replaced 100 times in a row",
            fix="check that nothing else deletes or renames files in the store",
        )
    )


def _take(root: Path, fd: int, purpose: str) -> HeldLock:
    """The flock is ours: note a previous holder that died, then write our record (information only)."""
    previous, _ = _read_record(fd)
    info = LockInfo.mine(purpose)
    if previous is not None:
        log.warning(
            "the lock of %s was left by a run that ended without releasing it; taking it",
            previous.describe(),
            extra={"fields": {"event": "stale_lock", "stale_pid": previous.pid}},
        )
    try:
        record = json.dumps(asdict(info)).encode()
        os.ftruncate(fd, 0)
        if os.pwrite(fd, record, 0) != len(record):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    except OSError as error:  # a full disk: the flock still holds; only the record is missing
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
        log.warning("store lock %s taken, but its holder record was not written: %s", root, error)
    return HeldLock(root=root, fd=fd, info=info)


def release(lock: HeldLock) -> None:
    """Delete the lock file (if it still is ours) while holding the flock, then drop the flock."""
    path = StoreLayout(lock.root).lock
    try:
        if _same_file(lock.fd, path):
            path.unlink(missing_ok=True)
    except OSError as error:  # the flock still ends below; a file left behind is no lock
        log.warning("could not delete the store lock file %s: %s", path, error)
    finally:
        os.close(lock.fd)


def read_lock(root: str | Path) -> LockInfo | None:
    """The holder of the store lock, or None when no run holds it (``fringescan status``).

    A held lock whose record is unreadable is reported with pid -1. Probing takes a shared flock for an
    instant; a writer starting in that instant retries (``RETRY_S``)."""
    path = StoreLayout(root).lock
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder, text = _read_record(fd)
            return holder or LockInfo(-1, "?", "?", f"unreadable lock record {text[:40]!r}")
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


@contextlib.contextmanager
def store_lock(root: str | Path, purpose: str = "nightly") -> Iterator[LockInfo]:
    """``with store_lock(root, "scan"):`` holds the store lock for the block, after sweeping what dead runs
    left in ``.staging/``."""
    from scanner.io.store import sweep_staging

    lock = acquire(root, purpose)
    try:
        sweep_staging(Path(root))
        yield lock.info
    finally:
        release(lock)
