"""Builders for scan tests: a real store with synthetic scenes, and a checkpoint of a narrow alexnet_scan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
from affine import Affine
from flax import nnx
from pyproj import CRS

from scanner.core.phase import PreprocessConfig
from scanner.geo import GeoGrid, PixelWindow
from scanner.io.checkpoint import ModelMeta, save_checkpoint
from scanner.io.store import SceneWriter, Store
from scanner.nn.model import ModelConfig, build_model

PIXEL_M = 28.0
WAVELENGTH_M = 0.236
UTM54 = CRS.from_epsg(32654).to_wkt()
NARROW = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 16, 16, 16), fc_width=32, dropout=0.0)


def scene_arrays(height: int, width: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Wrapped phase with smooth ramps and fringe rings plus noise, and a valid mask with a nodata block."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    phase = 0.01 * x + 0.02 * y + rng.normal(0, 0.4, (height, width))
    for _ in range(3):
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(10, 40)
        phase += 6 * np.pi * np.exp(-((y - cy) ** 2 + (x - cx) ** 2) / (2 * r * r))
    phase = (np.mod(phase + np.pi, 2 * np.pi) - np.pi).astype(np.float32)
    valid = np.ones((height, width), np.uint8)
    valid[: height // 5, width // 2 : width // 2 + width // 4] = 0
    phase[valid == 0] = np.nan
    return phase, valid


def add_scene(
    store: Store,
    scene_id: str,
    phase: np.ndarray,
    valid: np.ndarray,
    *,
    pixel_m: float = PIXEL_M,
    wavelength_m: float = WAVELENGTH_M,
    slope: np.ndarray | None = None,
    origin: tuple[float, float] = (500_000.0, 4_000_000.0),
    dates: tuple[str, str] = ("2020-01-01", "2020-02-01"),
) -> None:
    """Publish one scene group into ``store`` with the store's own writer."""
    height, width = phase.shape
    grid = GeoGrid(height, width, Affine(pixel_m, 0, origin[0], 0, -pixel_m, origin[1]), UTM54)
    names = ["phase", "valid"] + (["slope"] if slope is not None else [])
    with store.staging(store.layout.scene(scene_id)) as tmp:
        writer = SceneWriter(tmp, grid, names)
        whole = PixelWindow(0, 0, height, width)
        writer.write("phase", whole, phase)
        writer.write("valid", whole, valid)
        if slope is not None:
            writer.write("slope", whole, slope)
        writer.finish(
            {
                "scene_id": scene_id,
                "kind": "wrapped",
                "grid": grid.to_attrs(),
                "wavelength_m": wavelength_m,
                "first_date": dates[0],
                "second_date": dates[1],
                "content_sha256": f"test-{scene_id}-{height}x{width}",
                "ingested": dt.datetime.now(dt.UTC).isoformat(),
            }
        )


def make_store(root: Path, scenes: dict[str, tuple[int, int]], seed: int = 0) -> Store:
    """A store holding synthetic scenes ``{scene_id: (height, width)}``."""
    store = Store.create(root)
    for k, (scene_id, (height, width)) in enumerate(scenes.items()):
        add_scene(store, scene_id, *scene_arrays(height, width, seed + k))
    return store


def make_checkpoint(
    path: Path,
    *,
    config: ModelConfig = NARROW,
    seed: int = 0,
    pixel_m: float = PIXEL_M,
    filter_size_m: float | None = 1000.0,
) -> Path:
    """A checkpoint of a randomly initialised model saved with scanner.io.checkpoint."""
    model = build_model(config, rngs=nnx.Rngs(seed))
    meta = ModelMeta(
        model_config=config,
        preprocess=PreprocessConfig(filter_size_m=filter_size_m),
        pixel_size_m=pixel_m,
        wavelength_m=WAVELENGTH_M,
    )
    save_checkpoint(path, model, meta)
    return path


BLOB_CELLS = {"A": (15, 5), "B": (15, 14), "C": (25, 25)}
"""Centre cells (row, col) of the known grid's three 3 x 3 blobs of 0.95; a 0.7 bridge joins A and B."""


def blob_prob() -> np.ndarray:
    """A 30 x 30 cell grid (280 m cells) of 0.1 with blobs A and B (9 cells of 0.95 each) joined by a bridge
    of 0.7 (row 15, cols 7-12), and blob C apart. Above 0.7 A and B are two components; at or below it they
    are one, whose probability-weighted centre lies on the bridge, 1260 m from each blob's centre, and which
    splits at the 0.7 saddle (prominence 0.25)."""
    prob = np.full((30, 30), 0.1, np.float32)
    for row, col in BLOB_CELLS.values():
        prob[row - 1 : row + 2, col - 1 : col + 2] = 0.95
    prob[15, 7:13] = 0.7
    return prob


def blob_store(root: Path) -> tuple[Store, Path]:
    """A store with scene ``s`` (300 x 300 px of 28 m) whose grid is :func:`blob_prob` (no operating point
    recorded: the default 0.5 and 2 cells), and labels: 300 m discs on A and B (visible in ``s``, with
    ``fringescan synth``'s ``area_m2`` and ``los_peak_m`` 0.04 m and 0.15 m: 0.34 and 1.27 L-band fringes)
    and on C (visible in no scene)."""
    import json

    import zarr
    from shapely.geometry import Point, mapping

    from scanner.io.probgrid import prepare_staging, publish_grid
    from scanner.io.site_layers import to_wgs84

    store = Store.create(root / "store")
    add_scene(store, "s", *scene_arrays(300, 300, seed=3))
    grid = store.scene("s").grid
    cells = grid.cell_grid()
    staging = store.root / ".staging" / "scan-s-blobs"
    attrs = {
        "scene_id": "s",
        "grid": cells.to_attrs(),
        "model": {"name": "alexnet_scan", "checkpoint_sha256": "b"},
    }
    prepare_staging(staging, cells.shape, attrs)
    zarr.open_group(staging / "grid", mode="r+")["prob"][...] = blob_prob()
    publish_grid(store.root, "s", staging)
    features = []
    for name, peak in (("A", 0.04), ("B", 0.15), ("C", 0.3)):
        row, col = BLOB_CELLS[name]
        disc = Point(cells.transform * (col + 0.5, row + 0.5)).buffer(300.0, quad_segs=32)
        properties = {
            "body_id": name,
            "area_m2": round(disc.area, 1),
            "scenes": [{"scene_id": "s", "los_peak_m": peak, "visible": name != "C"}],
            "visible_scene_ids": ["s"] if name != "C" else [],
        }
        geometry = mapping(to_wgs84(disc, grid.crs_wkt))
        features.append({"type": "Feature", "id": name, "geometry": geometry, "properties": properties})
    labels = root / "blob-labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return store, labels
