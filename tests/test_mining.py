"""Hard-negative mining: the false-positive windows of a probability grid (train.mining) and the mined dataset
(train.dataset_store.mine_hard_negatives) on tiny grids and stores with known answers."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS, Transformer
from shapely.geometry import box

from scanner.core.phase import PreprocessConfig
from scanner.geo import GeoGrid, PixelWindow
from scanner.io.store import SceneWriter, Store
from train.config import DatasetConfig
from train.dataset_store import build_dataset, extract_patches, load_dataset, mine_hard_negatives
from train.mining import hard_negative_windows

CELL = Affine(280.0, 0.0, 400_000.0, 0.0, -280.0, 4_000_000.0)
CELL_AREA = 280.0 * 280.0
EPSG = 32654
SIZE = 400


def cells_box(r0: int, c0: int, r1: int, c1: int):
    """Polygon (grid CRS) of cells [r0, r1) x [c0, c1)."""
    x0, y0 = CELL * (c0, r0)
    x1, y1 = CELL * (c1, r1)
    return box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def grid_with(blocks: dict[tuple[int, int, int, int], float]) -> np.ndarray:
    prob = np.full((40, 40), 0.1, np.float32)
    prob[0, :] = np.nan
    for (r0, c0, r1, c1), value in blocks.items():
        prob[r0:r1, c0:c1] = value
    return prob


def test_windows_are_the_peaks_of_false_components_only() -> None:
    prob = grid_with(
        {
            (3, 3, 6, 6): 0.9,  # on the label: a true detection
            (20, 20, 22, 22): 0.8,  # a false 4-cell component
            (30, 5, 31, 8): 0.7,  # a false 3-cell component
            (35, 35, 36, 36): 0.99,  # one cell: the size filter removes it
            (12, 3, 14, 4): 0.95,  # off the label but within exclusion_px of its centre
        }
    )
    prob[21, 21] = 0.85  # the peak of the 4-cell component
    label = cells_box(4, 4, 5, 5)
    centre = np.array([[45.0, 45.0]])  # scene pixel (row, col) of the label centre
    rows, cols = hard_negative_windows(prob, CELL, [label], centre, cell_area_m2=CELL_AREA, exclusion_px=100)
    assert list(zip(rows.tolist(), cols.tolist(), strict=True)) == [(215, 215), (305, 55)]
    rows, cols = hard_negative_windows(
        prob, CELL, [label], centre, cell_area_m2=CELL_AREA, exclusion_px=100, max_windows=1
    )
    assert (rows.tolist(), cols.tolist()) == ([215], [215])
    rows, _ = hard_negative_windows(prob, CELL, [label], centre, cell_area_m2=CELL_AREA, exclusion_px=50)
    assert len(rows) == 3  # the component near the centre counts once it is outside the exclusion
    rows, _ = hard_negative_windows(
        prob, CELL, [], np.zeros((0, 2)), cell_area_m2=CELL_AREA, exclusion_px=100
    )
    assert len(rows) == 4  # with no labels every multi-cell component is false


def test_nothing_above_threshold_gives_no_windows() -> None:
    rows, cols = hard_negative_windows(
        grid_with({}), CELL, [], np.zeros((0, 2)), cell_area_m2=CELL_AREA, exclusion_px=100
    )
    assert rows.size == cols.size == 0


def _scene_grid(k: int) -> GeoGrid:
    return GeoGrid(
        SIZE,
        SIZE,
        Affine(28.0, 0, 400_000.0 + 20_000 * k, 0, -28.0, 4_000_000.0),
        CRS.from_epsg(EPSG).to_wkt(),
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mine")
    store = Store.create(root / "store")
    to_wgs84 = Transformer.from_crs(EPSG, 4326, always_xy=True)
    features = []
    for k in range(2):
        rng = np.random.default_rng(k)
        grid = _scene_grid(k)
        phase = rng.uniform(-np.pi, np.pi, (SIZE, SIZE)).astype(np.float32)
        with store.staging(store.layout.scene(f"s{k}")) as tmp:
            writer = SceneWriter(tmp, grid, ["phase", "valid"])
            writer.write("phase", PixelWindow(0, 0, SIZE, SIZE), phase)
            writer.write("valid", PixelWindow(0, 0, SIZE, SIZE), np.ones((SIZE, SIZE), np.uint8))
            writer.finish(
                {"scene_id": f"s{k}", "kind": "wrapped", "grid": grid.to_attrs(), "wavelength_m": 0.236}
            )
        x, y = grid.transform * (100.5, 100.5)  # label centred on pixel (100, 100)
        ring = [
            to_wgs84.transform(x + dx, y + dy)
            for dx, dy in ((-300, -300), (300, -300), (300, 300), (-300, 300))
        ]
        features.append(
            {
                "type": "Feature",
                "geometry": {"type": "Polygon", "coordinates": [[*ring, ring[0]]]},
                "properties": {},
            }
        )
    (root / "labels.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    config = DatasetConfig(margin_px=4, others_per_scene=3, n_folds=2, subset_a_fraction=0.5, exclusion_px=80)
    build_dataset(
        root / "store", root / "labels.geojson", root / "ds", config, PreprocessConfig(filter_size_m=560.0)
    )
    return root


def test_mined_dataset_adds_the_windows_as_others_of_their_scene(base: Path) -> None:
    dataset = load_dataset(base / "ds")
    prob = np.full((40, 40), 0.1, np.float32)
    prob[8:12, 8:12] = 0.9  # covers the label (pixel 100, 100): not a hard negative
    prob[25:27, 30:33] = 0.8  # a false component
    prob[26, 31] = 0.95
    probs = {"s1": prob}
    n = mine_hard_negatives(base / "store", base / "labels.geojson", dataset, base / "mined", probs.get)
    assert n == 1
    mined = load_dataset(base / "mined")
    old = len(dataset.labels)
    for name, values in dataset.arrays.items():
        np.testing.assert_array_equal(mined.arrays[name][:old], values)
    a = {name: values[old:] for name, values in mined.arrays.items()}
    index = [s["scene_id"] for s in dataset.attrs["scenes"]].index("s1")
    entry = dataset.attrs["scenes"][index]
    assert (a["row"].tolist(), a["col"].tolist(), a["label"].tolist()) == ([265], [315], [0])
    assert (a["scene_index"][0], a["fold"][0], a["in_a"][0]) == (index, entry["fold"], entry["in_a"])
    scene = Store.open(base / "store").scene("s1")
    expected = extract_patches(scene, np.array([265]), np.array([315]), 4, dataset.preprocess_config())
    np.testing.assert_array_equal(a["patches"], expected)
    assert mined.attrs["report"]["hard_negatives"] == 1


def test_a_negative_label_is_mined_like_any_false_positive(base: Path, tmp_path: Path) -> None:
    """Only positives keep the model's firing out of the mined set: the same labels marked rejected do not."""
    dataset = load_dataset(base / "ds")
    prob = np.full((40, 40), 0.1, np.float32)
    prob[8:12, 8:12] = 0.9  # covers the label (pixel 100, 100)
    prob[10, 10] = 0.95  # its peak: the window at pixel (105, 105)
    prob[25:27, 30:33] = 0.8  # a false component
    labels = json.loads((base / "labels.geojson").read_text())
    for feature in labels["features"]:
        feature["properties"]["class"] = "rejected"
    (tmp_path / "negative.geojson").write_text(json.dumps(labels))
    n = mine_hard_negatives(
        base / "store", tmp_path / "negative.geojson", dataset, tmp_path / "m", {"s1": prob}.get
    )
    assert n == 2
    mined = load_dataset(tmp_path / "m").arrays
    assert (105, 105) in zip(mined["row"][-2:].tolist(), mined["col"][-2:].tolist(), strict=True)


def test_no_grid_no_windows(base: Path) -> None:
    dataset = load_dataset(base / "ds")
    n = mine_hard_negatives(base / "store", base / "labels.geojson", dataset, base / "same", lambda _: None)
    assert n == 0 and len(load_dataset(base / "same").labels) == len(dataset.labels)


def test_mine_verb_scans_and_adds_the_false_positives(base: Path, capsys) -> None:
    from flax import nnx
    from scan_helpers import NARROW

    from scanner.cli import main
    from scanner.io.checkpoint import ModelMeta, save_checkpoint
    from scanner.io.probgrid import read_prob
    from scanner.nn.model import build_model

    dataset = load_dataset(base / "ds")
    meta = ModelMeta(
        model_config=NARROW, preprocess=dataset.preprocess_config(), pixel_size_m=28.0, wavelength_m=0.236
    )
    save_checkpoint(base / "ckpt", build_model(NARROW, rngs=nnx.Rngs(3)), meta)
    args = [
        "--model",
        str(base / "ckpt"),
        "--store",
        str(base / "store"),
        "--labels",
        str(base / "labels.geojson"),
    ]
    assert main(["mine", *args, "--dataset", str(base / "ds"), "--out", str(base / "cli")]) == 0
    mined = load_dataset(base / "cli")
    n = mined.attrs["report"]["hard_negatives"]
    assert f"hard negatives: {n} windows added" in capsys.readouterr().out
    assert len(mined.labels) == len(dataset.labels) + n and not mined.labels[len(dataset.labels) :].any()
    probs = {s: read_prob(base / "store", s)[0] for s in ("s0", "s1")}  # the grids the verb scanned
    again = mine_hard_negatives(base / "store", base / "labels.geojson", dataset, base / "again", probs.get)
    assert again == n
