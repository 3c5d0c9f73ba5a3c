"""The one exception hierarchy of fringescan.

Every message says what was expected, what was found and how to fix it, on one line; the CLI prints it as
``fringescan: error: <message>`` and exits with the class's ``exit_code``.
"""

from __future__ import annotations


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
