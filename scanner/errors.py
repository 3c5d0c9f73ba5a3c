"""The one exception hierarchy of fringescan.

Every message says what was expected, what was found and how to fix it, on one line; the CLI prints it as
``fringescan: error: <message>`` and exits with the class's ``exit_code``.
"""

from __future__ import annotations

import errno
import os


class FringescanError(Exception):
    """Root of every error fringescan raises on purpose."""

    exit_code = 1


class UsageError(FringescanError):
    """Bad command-line arguments or configuration values."""

    exit_code = 2


class InputError(FringescanError):
    """An input file or array is unreadable, of the wrong type or unusable (no CRS, too small, ...)."""

    exit_code = 3


class StoreError(FringescanError):
    """The store is missing, of an unknown schema version, locked, or would be overwritten."""

    exit_code = 4


class ModelMismatchError(FringescanError):
    """A checkpoint does not fit the data it is asked to scan (pixel size, wavelength, preprocessing)."""

    exit_code = 5


class NumericalError(FringescanError):
    """NaN or inf where a finite number is required (for example a diverging training run)."""

    exit_code = 6


def problem(what: str, *, expected: str, found: str, fix: str) -> str:
    """Format the house one-line message: ``what: expected X, found Y; fix: Z``."""
    return f"{what}: expected {expected}, found {found}; fix: {fix}"


class ResourceError(FringescanError):
    """The disk or file system refused: full, read-only, no permission, or too many open files."""

    exit_code = 7


_FULL = {"ENOSPC", "EDQUOT"}
_READ_ONLY = {"EROFS"}
_PERMISSION = {"EACCES", "EPERM"}
_WRONG_PATH = {"ENOENT", "ENOTDIR", "EISDIR", "ENAMETOOLONG", "ELOOP", "EEXIST", "ENOTEMPTY"}
_TEXT_ERRNOS = ("ENOSPC", "EDQUOT", "EROFS", "EACCES", "EIO")
"""Errnos told apart by their message (``os.strerror``) in errors of libraries that do not keep the OSError
(tensorstore raises ValueError "... No space left on device ...")."""


def os_error(error: BaseException, *, doing: str = "") -> FringescanError | None:
    """The one-line ``FringescanError`` for an ``OSError``, or for any error caused by one or quoting one's
    message (tensorstore, zarr, orbax); None when ``error`` has nothing to do with the file system.

    Full, read-only, permission and other file-system refusals are ``ResourceError`` (exit 7); a path of the
    wrong kind (missing, a directory where a file is expected, ...) is an ``InputError`` (exit 3).
    ``doing`` names what was being done (``"fringescan scan"``); the path comes from the error.
    """
    found = _find_os_error(error)
    if found is None:
        return None
    name, path, detail = found
    what = ": ".join(part for part in (doing, path) if part) or "a file operation"
    if name in _WRONG_PATH:
        return InputError(
            problem(what, expected="an existing path of the right kind", found=detail, fix="check the path")
        )
    expected, found_text, fix = _REFUSALS.get(name, _OTHER_REFUSAL)
    return ResourceError(problem(what, expected=expected, found=f"{found_text} ({detail})", fix=fix))


_UNPUBLISHED = "nothing half-written was published"
_REFUSALS = {
    **dict.fromkeys(
        _FULL,
        (
            "free space on the disk",
            "a full disk",
            f"free space there (or pass a path on another disk) and re-run; {_UNPUBLISHED}",
        ),
    ),
    **dict.fromkeys(
        _READ_ONLY,
        (
            "a writable file system",
            "a read-only one",
            f"remount it read-write (or pass a path on a writable disk) and re-run; {_UNPUBLISHED}",
        ),
    ),
    **dict.fromkeys(
        _PERMISSION,
        (
            "permission to read and write there",
            "permission denied",
            "fix the owner or mode (chown, chmod) or run as the user who owns the store",
        ),
    ),
}
_OTHER_REFUSAL = ("a working disk", "the file system refused", "check the disk (dmesg, df, mount) and re-run")


def _find_os_error(error: BaseException) -> tuple[str, str, str] | None:
    """(errno name, path, 'errno name: message') of the first OSError among ``error`` and its explicit causes
    (``raise ... from``), or of an errno message quoted in one of them. Implicit context is not followed: an
    error raised while handling an OSError (a bug in an ``except`` block) keeps its traceback."""
    chain, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        chain.append(current)
        current = current.__cause__
    for link in chain:
        if isinstance(link, OSError) and link.errno in errno.errorcode:
            name = errno.errorcode[link.errno]
            path = " -> ".join(str(p) for p in (link.filename, link.filename2) if p is not None)
            return name, path, f"{name}: {link.strerror or os.strerror(link.errno)}"
    for link in chain:
        message = str(link)
        for name in _TEXT_ERRNOS:
            code = getattr(errno, name, None)
            if code is not None and os.strerror(code) in message:
                first = " ".join(message.split())[:200]
                return name, "", f"{name}: {first}"
    return None
