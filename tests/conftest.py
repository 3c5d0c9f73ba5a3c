"""Shared test setup.

Four virtual CPU devices are forced before JAX starts, so sharded code paths are exercised on the CPU; tests
that compare with a single device build a one-device mesh explicitly.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

PYRATE_DATA = Path(__file__).resolve().parent / "data" / "pyrate-cropA"


@pytest.fixture(scope="session")
def pyrate_dir() -> Path:
    """The real GAMMA sample interferograms, kept in the repository (tests/data/README.md: source, licence)."""
    if not PYRATE_DATA.is_dir():
        pytest.fail(f"real sample data missing: expected {PYRATE_DATA} (part of the repository)")
    return PYRATE_DATA
