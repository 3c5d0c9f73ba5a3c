"""tools/bench: no benchmark imports another, and the modules that must load before JAX starts do not start it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_layout import EDGES, MODULES

ROOT = Path(__file__).resolve().parents[1]


def test_no_benchmark_imports_another():
    benchmarks = {
        name for name in MODULES if name.startswith("tools.bench.") and name != "tools.bench.common"
    }
    assert benchmarks, "no benchmark modules found under tools/bench"
    assert {a: sorted(EDGES[a] & benchmarks) for a in sorted(benchmarks) if EDGES[a] & benchmarks} == {}


@pytest.mark.parametrize("module", ["tools.bench.common", "tools.bench.train"])
def test_importing_does_not_start_jax(module):
    # tools.bench.train --devices sets XLA_FLAGS before JAX starts; nightly's spawned Dask workers re-import
    # the main module, so common's imports count in that benchmark's cluster start-up time.
    code = f"import sys, {module}; heavy = {{'jax', 'torch', 'rasterio', 'zarr'}} & set(sys.modules); print(heavy)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "set()"
