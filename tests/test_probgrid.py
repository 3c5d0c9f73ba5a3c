"""scanner.io.probgrid: staging, publishing and reading ``prob/<scene_id>``, and its readers stay jax-free."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import numpy as np
import pytest
import zarr
from affine import Affine
from pyproj import CRS

from scanner.errors import InputError
from scanner.geo import GeoGrid
from scanner.io.probgrid import (
    has_prob,
    prepare_staging,
    prob_grid,
    prob_path,
    publish_grid,
    published_key,
    read_prob,
    scanned_scene_ids,
)

CELLS = GeoGrid(
    height=4,
    width=6,
    transform=Affine(280.0, 0, 500_000.0, 0, -280.0, 4_000_000.0),
    crs_wkt=CRS.from_epsg(32654).to_wkt(),
)


def _publish(root, scene_id: str, values: np.ndarray, key: str) -> None:
    staging = root / ".staging" / f"scan-{scene_id}-{key}"
    prepare_staging(staging, values.shape, {"scene_id": scene_id, "grid": CELLS.to_attrs(), "run_key": key})
    (staging / "done" / "t0").write_text("{}")
    zarr.open_group(staging / "grid", mode="r+")["prob"][...] = values
    publish_grid(root, scene_id, staging)


def test_publish_read_and_replace(tmp_path):
    first = np.arange(24, dtype=np.float32).reshape(4, 6) / 24
    _publish(tmp_path, "b", first, "k1")
    _publish(tmp_path, "a", np.full((4, 6), np.nan, np.float32), "k0")
    assert (
        scanned_scene_ids(tmp_path) == ["a", "b"] and has_prob(tmp_path, "b") and not has_prob(tmp_path, "c")
    )
    prob, attrs = read_prob(tmp_path, "b")
    np.testing.assert_array_equal(prob, first)
    assert prob.dtype == np.float32 and prob_grid(attrs) == CELLS and published_key(tmp_path, "b") == "k1"
    _publish(tmp_path, "b", 1 - first, "k2")
    np.testing.assert_array_equal(read_prob(tmp_path, "b")[0], 1 - first)
    assert published_key(tmp_path, "b") == "k2" and published_key(tmp_path, "c") is None
    assert list((tmp_path / ".staging").iterdir()) == []


def test_missing_and_inconsistent_grids_are_input_errors(tmp_path):
    assert scanned_scene_ids(tmp_path) == []
    with pytest.raises(InputError, match="fringescan scan"):
        read_prob(tmp_path, "x")
    _publish(tmp_path, "x", np.zeros((4, 6), np.float32), "k")
    group = zarr.open_group(prob_path(tmp_path, "x"), mode="r+")
    group.attrs["fringescan"] = {"scene_id": "x", "grid": {**CELLS.to_attrs(), "height": 5}}
    with pytest.raises(InputError, match=r"shape \(5, 6\)"):
        read_prob(tmp_path, "x")
    del group.attrs["fringescan"]
    with pytest.raises(InputError, match="attrs"):
        read_prob(tmp_path, "x")


def test_grid_readers_do_not_import_jax():
    code = (
        "import sys; import scanner.io.probgrid, scanner.pipeline.sites, scanner.mosaic.zarr_io, scanner.pipeline.nightly, "
        "scanner.products.stac, scanner.pipeline.history; print('jax' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "False"


class _Killed(BaseException):
    """Stands for SIGKILL: nothing after the write that raises it runs."""


@pytest.mark.parametrize("writes", [1, 2, 3])
def test_staging_killed_after_any_metadata_write_resumes_to_a_whole_grid(tmp_path, monkeypatch, writes):
    """A scan killed part-way through staging, then resumed, publishes a grid with its attributes."""
    real_set = zarr.storage.LocalStore.set
    done = []

    async def set_then_die(self, key, value):
        await real_set(self, key, value)
        done.append(key)
        if len(done) == writes:
            raise _Killed(key)

    staging = tmp_path / ".staging" / "scan-s-k"
    attrs = {"scene_id": "s", "grid": CELLS.to_attrs(), "run_key": "k"}
    with monkeypatch.context() as patch:
        patch.setattr(zarr.storage.LocalStore, "set", set_then_die)
        with contextlib.suppress(_Killed):
            prepare_staging(staging, (4, 6), attrs)
    assert done, "no metadata write was seen"
    prepare_staging(staging, (4, 6), attrs)
    publish_grid(tmp_path, "s", staging)
    prob, read_attrs = read_prob(tmp_path, "s")
    assert read_attrs == attrs and prob.shape == (4, 6) and np.isnan(prob).all()
