"""Shared test setup.

Four virtual CPU devices are forced before JAX starts, so sharded code paths are exercised on the CPU; tests
that compare with a single device build a one-device mesh explicitly.
"""

import os

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")
os.environ.setdefault("JAX_PLATFORMS", "cpu")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pyrate-cropA"


@pytest.fixture(scope="session")
def pyrate_dir() -> Path:
    """The real GAMMA sample interferograms (../shared/data/pyrate-cropA); CI lays shared/ beside the clone."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"real sample data missing: expected {SHARED_DATA} (shared/ beside the checkout)")
    return SHARED_DATA
