"""Probability grids on disk (I/O module, jax-free): ``STORE/prob/<scene_id>``, staged, published, read.

A probability grid is a Zarr v3 group with one float32 array ``prob`` of 10 px cells (NaN = no window) and
``attrs["fringescan"]`` (docs/contracts.md). ``scanner.pipeline.scan`` stages it in ``.staging/scan-<scene_id>-<run_key>/
grid`` (``prepare_staging``), writes tiles into it with tensorstore and publishes it with ``publish_grid``;
detection, the mosaic, STAC, export and nightly read it with ``read_prob``. Nothing here imports jax, so
readers of the grid stay light.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import tensorstore as ts
import zarr

from scanner.errors import InputError, problem
from scanner.geo import GeoGrid
from scanner.io.layout import StoreLayout
from scanner.io.readers import read_json
from scanner.io.writers import publish_directory

PROB_CHUNK_CELLS = 256


def prob_path(store_root: str | Path, scene_id: str) -> Path:
    """Where the published grid of ``scene_id`` lives."""
    return StoreLayout(store_root).prob(scene_id)


def has_prob(store_root: str | Path, scene_id: str) -> bool:
    """Whether ``scene_id`` has a published probability grid."""
    return (prob_path(store_root, scene_id) / "zarr.json").is_file()


def scanned_scene_ids(store_root: str | Path) -> list[str]:
    """Scenes with a published probability grid, sorted."""
    folder = StoreLayout(store_root).probs
    return sorted(p.name for p in folder.iterdir() if (p / "zarr.json").is_file()) if folder.is_dir() else []


def prob_attrs(store_root: str | Path, scene_id: str) -> dict:
    """``attrs["fringescan"]`` of the published grid of ``scene_id``, read from its metadata alone (no array
    read; empty when there is no grid)."""
    meta = prob_path(store_root, scene_id) / "zarr.json"
    if not meta.is_file():
        return {}
    return read_json(meta, {}).get("attributes", {}).get("fringescan", {})


def published_key(store_root: str | Path, scene_id: str) -> str | None:
    """``run_key`` of the published grid of ``scene_id`` (None when there is none)."""
    return prob_attrs(store_root, scene_id).get("run_key")


def read_prob(store_root: str | Path, scene_id: str) -> tuple[np.ndarray, dict]:
    """The published probability grid of ``scene_id`` (float32, cells) and its ``attrs["fringescan"]``.

    InputError when there is none, when the group lacks ``prob`` or its attributes, or when the array's shape
    is not the shape of the cell grid its attributes describe.
    """
    path = prob_path(store_root, scene_id)
    if not (path / "zarr.json").is_file():
        raise InputError(
            problem(
                f"probability grid of scene {scene_id!r}",
                expected=f"a grid at {path}",
                found="none",
                fix=f"run `fringescan scan --store {store_root} --scene {scene_id}`",
            )
        )
    try:
        group = zarr.open_group(path, mode="r")
        attrs = dict(group.attrs["fringescan"])
        prob = np.asarray(group["prob"][...], dtype=np.float32)
    except (KeyError, FileNotFoundError) as error:
        raise InputError(
            problem(
                f"probability grid prob/{scene_id}",
                expected="a Zarr group with array 'prob' and attrs['fringescan']",
                found=f"missing {error}",
                fix="re-run `fringescan scan` for this scene",
            )
        ) from error
    grid = prob_grid(attrs)
    if prob.shape != grid.shape:
        raise InputError(
            problem(
                f"probability grid prob/{scene_id}",
                expected=f"shape {grid.shape}",
                found=str(prob.shape),
                fix="re-run `fringescan scan` for this scene",
            )
        )
    return prob, attrs


def prob_grid(attrs: dict) -> GeoGrid:
    """The cell grid (CRS, transform, shape) of a probability grid, from its ``attrs["fringescan"]``."""
    return GeoGrid.from_attrs(attrs["grid"])


def staged_array(staging: Path) -> Path:
    """The ``prob`` array of the grid staged in ``staging`` (tile writes go here)."""
    return staging / "grid" / "prob"


def done_markers(staging: Path) -> Path:
    """The folder of per-tile done-markers of a staged grid (one small JSON file per finished tile)."""
    return staging / "done"


def open_staged_array(staging: Path) -> ts.TensorStore:
    """A tensorstore handle on the staged ``prob`` array, for tile writes (``array[rows, cols].write(...)``)."""
    spec = {"driver": "zarr3", "kvstore": {"driver": "file", "path": str(staged_array(staging))}}
    return ts.open(spec, open=True).result()


def mark_done(staging: Path, tile_id: str, record: dict) -> None:
    """Record that tile ``tile_id`` is written (after its cells are): a resumed scan skips it."""
    (done_markers(staging) / tile_id).write_text(json.dumps(record))


def done_tiles(staging: Path) -> set[str]:
    """The ids of the tiles a staged grid records as written."""
    folder = done_markers(staging)
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def prepare_staging(
    staging: Path, shape: tuple[int, int], attrs: dict, chunk_cells: int = PROB_CHUNK_CELLS
) -> None:
    """Create the staged group ``staging/grid`` (once; a resumed run keeps what is there) and ``staging/done``.

    The group's metadata (group, array, ``attrs["fringescan"]``) is written in ``staging/grid.new`` and renamed
    onto ``staging/grid`` only when complete, so a run killed half-way through never leaves a grid without its
    attributes for a resumed run to fill and publish. The scanner passes its tile size as ``chunk_cells``: each
    tile then writes whole chunks, with no read-modify-write of a chunk shared with other tiles."""
    done_markers(staging).mkdir(parents=True, exist_ok=True)
    if (staging / "grid").is_dir():
        return
    fresh = staging / "grid.new"
    shutil.rmtree(fresh, ignore_errors=True)
    group = zarr.open_group(fresh, mode="w", zarr_format=3, attributes={"fringescan": attrs})
    chunks = (min(chunk_cells, shape[0]), min(chunk_cells, shape[1]))
    group.create_array("prob", shape=shape, chunks=chunks, dtype="float32", fill_value=np.nan)
    os.rename(fresh, staging / "grid")


def publish_grid(store_root: str | Path, scene_id: str, staging: Path) -> Path:
    """Rename the staged group onto ``prob/<scene_id>`` (an old grid is moved aside, then removed), then
    delete the staging folder (its done-markers)."""
    final = publish_directory(
        staging / "grid", prob_path(store_root, scene_id), replace=True, aside=StoreLayout(store_root).staging
    )
    shutil.rmtree(staging, ignore_errors=True)
    return final
