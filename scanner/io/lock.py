"""The store lock: one writer per store at a time.

A run that writes a store (``nightly``) first creates ``STORE/.lock`` with ``O_CREAT | O_EXCL`` and writes
into it, as JSON, who holds it: ``{"pid", "host", "started", "purpose"}``. A second run finds the file and
stops with a :class:`~scanner.errors.StoreError` naming the holder. The lock is removed on exit.

A lock left behind by a process that died (SIGKILL, power loss) is *stale*: when the holder's host is this
host and its pid is no longer alive (or is a zombie), the lock is taken over with a warning. The take-over
itself runs under ``fcntl.flock`` on ``STORE/.lock.guard``, so two runs that find the same stale lock cannot
both take it. A lock held on another host cannot be judged from here; the message says how to clear it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from scanner.errors import StoreError, problem
from scanner.io.layout import StoreLayout

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LockInfo:
    """Who holds a store lock."""

    pid: int
    host: str
    started: str
    purpose: str = "nightly"

    @classmethod
    def mine(cls, purpose: str) -> LockInfo:
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return cls(pid=os.getpid(), host=socket.gethostname(), started=now, purpose=purpose)


def pid_alive(pid: int) -> bool:
    """True when process ``pid`` exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    with contextlib.suppress(OSError):
        state = stat.read_text().rsplit(")", 1)[1].split()[0]
        return state not in ("Z", "X")
    return True


def read_lock(root: Path) -> LockInfo | None:
    """The lock's holder, or None when the store is not locked (an unreadable lock counts as held)."""
    path = StoreLayout(root).lock
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return LockInfo(
            pid=int(data["pid"]),
            host=str(data["host"]),
            started=str(data["started"]),
            purpose=str(data.get("purpose", "")),
        )
    except (ValueError, KeyError, TypeError):
        return LockInfo(pid=-1, host="?", started="?", purpose=f"unreadable lock file {text[:40]!r}")


def is_stale(info: LockInfo) -> bool:
    """A lock is stale when it was taken on this host by a process that is no longer alive."""
    return info.host == socket.gethostname() and info.pid != os.getpid() and not pid_alive(info.pid)


def _try_create(path: Path, info: LockInfo) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as handle:
        json.dump(asdict(info), handle)
        handle.flush()
        os.fsync(handle.fileno())
    return True


def _held_error(root: Path, holder: LockInfo) -> StoreError:
    if holder.host == socket.gethostname():
        fix = "wait for that run to finish (a lock of a dead process is taken over automatically)"
    else:
        fix = f"wait for it, or if no run is alive on {holder.host}, remove {StoreLayout(root).lock}"
    return StoreError(
        problem(
            f"store {root} is locked",
            expected="no other run writing this store",
            found=f"{holder.purpose} run pid {holder.pid} on {holder.host} since {holder.started}",
            fix=fix,
        )
    )


def acquire(root: str | Path, purpose: str = "nightly") -> LockInfo:
    """Take the store lock or raise StoreError; a stale lock is taken over with a warning."""
    root, layout = Path(root), StoreLayout(root)
    path, info = layout.lock, LockInfo.mine(purpose)
    if _try_create(path, info):
        return info
    with open(layout.lock_guard, "a") as guard:
        fcntl.flock(guard.fileno(), fcntl.LOCK_EX)
        holder = read_lock(root)
        if holder is not None and not is_stale(holder):
            raise _held_error(root, holder)
        if holder is not None:
            log.warning(
                "taking over the stale lock of %s run pid %d on %s (started %s): that process is gone",
                holder.purpose,
                holder.pid,
                holder.host,
                holder.started,
                extra={"fields": {"event": "stale_lock", "stale_pid": holder.pid}},
            )
            path.unlink(missing_ok=True)
        if not _try_create(path, info):
            raise _held_error(root, read_lock(root) or info)
    return info


def release(root: str | Path, info: LockInfo) -> None:
    """Remove the lock if (and only if) it is still ours."""
    path = StoreLayout(root).lock
    holder = read_lock(root)
    if holder is not None and holder.pid == info.pid and holder.host == info.host:
        path.unlink(missing_ok=True)


@contextlib.contextmanager
def store_lock(root: str | Path, purpose: str = "nightly") -> Iterator[LockInfo]:
    """``with store_lock(root):`` holds the store lock for the block."""
    info = acquire(root, purpose)
    try:
        yield info
    finally:
        release(root, info)
