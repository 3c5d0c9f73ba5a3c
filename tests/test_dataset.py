"""Training-set builder: candidates centred on labels in another CRS, stratified others, patches equal to the
scanner's preprocessing, folds per scene without leakage, A nested in B; patches streamed to disk and read back
by rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer
from shapely.geometry import Polygon, box

from scanner.core.phase import PreprocessConfig, preprocess
from scanner.geo import GeoGrid, PixelWindow
from scanner.io.store import SceneWriter, Store
from train.config import DatasetConfig
from train.dataset import (
    _far_from,
    assign_folds,
    label_free_windows,
    sample_others,
    select_samples,
    subset_a,
    window_sums,
    window_valid_fraction,
)
from train.dataset_store import build_dataset, label_mask, load_dataset, take_rows

EPSG = 32654
SIZE = 400
CENTRES = {
    "s0": (120, 150),
    "s1": (260, 250),
    "s2": (200, 200),
    "s3": (130, 280),
}  # (row, col), one label each
PREPROCESS = PreprocessConfig(filter_size_m=560.0)


def _grid(k: int) -> GeoGrid:
    return GeoGrid(
        SIZE, SIZE, Affine(28.0, 0, 400_000.0 + 2800 * k, 0, -28.0, 4_000_000.0), CRS.from_epsg(EPSG).to_wkt()
    )


def write_labelled_store(root: Path) -> Path:
    """The tiny store of ``CENTRES`` under ``root/store`` and its point labels; returns the labels' path."""
    store = Store.create(root / "store")
    features = []
    for k, (scene_id, (row, col)) in enumerate(CENTRES.items()):
        _write_scene(store, scene_id, k)
        x, y = _grid(k).transform @ (col + 0.5, row + 0.5)
        features.append(
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]}, "properties": {}}
        )
    labels = {
        "type": "FeatureCollection",
        "features": features,
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{EPSG}"}},
    }
    path = root / "labels.geojson"
    path.write_text(json.dumps(labels))
    return path


def _write_scene(store: Store, scene_id: str, k: int) -> None:
    rng = np.random.default_rng(k)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    phase = np.angle(np.exp(1j * (0.02 * xx + rng.normal(0, 0.3, (SIZE, SIZE))))).astype(np.float32)
    row, col = CENTRES[scene_id]
    bowl = ((yy - row) ** 2 + (xx - col) ** 2) < 30**2
    phase = np.where(
        bowl, np.angle(np.exp(1j * (phase + 0.05 * ((yy - row) ** 2 + (xx - col) ** 2) ** 0.5))), phase
    ).astype(np.float32)
    valid = np.ones((SIZE, SIZE), np.uint8)
    valid[:, -20:] = 0
    slope = np.where(xx < SIZE // 2, 30.0, 3.0).astype(np.float32)  # left half steep
    grid = _grid(k)
    with store.staging(store.layout.scene(scene_id)) as tmp:
        writer = SceneWriter(tmp, grid, ["phase", "valid", "slope"])
        whole = PixelWindow(0, 0, SIZE, SIZE)
        for name, data in (("phase", phase), ("valid", valid), ("slope", slope)):
            writer.write(name, whole, data)
        writer.finish(
            {
                "scene_id": scene_id,
                "kind": "wrapped",
                "grid": grid.to_attrs(),
                "wavelength_m": 0.236,
                "first_date": f"2008-0{k + 1}-01",
                "second_date": f"2009-0{k + 1}-01",
            }
        )


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("ds")
    store = Store.create(root / "store")
    for k, scene_id in enumerate(CENTRES):
        _write_scene(store, scene_id, k)
    to_wgs84 = Transformer.from_crs(EPSG, 4326, always_xy=True)
    features = []
    for k, (scene_id, (row, col)) in enumerate(CENTRES.items()):
        x, y = _grid(k).transform * (col + 0.5, row + 0.5)
        ring = [
            to_wgs84.transform(x + dx, y + dy)
            for dx, dy in ((-200, -200), (200, -200), (200, 200), (-200, 200), (-200, -200))
        ]
        features.append(
            {
                "type": "Feature",
                "id": scene_id,
                "geometry": {"type": "Polygon", "coordinates": [ring]},
                "properties": {"visible_scene_ids": [scene_id]},
            }
        )
    (root / "labels.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    config = DatasetConfig(
        margin_px=10, others_per_scene=12, n_folds=2, subset_a_fraction=0.5, exclusion_px=100
    )
    report = build_dataset(root / "store", root / "labels.geojson", root / "dataset", config, PREPROCESS)
    return root, report


def test_candidates_centred_on_labels_in_another_crs(built) -> None:
    root, report = built
    ds = load_dataset(root / "dataset")
    assert report["n_candidates"] == 4 and report["n_others"] == 4 * 12
    scenes = [s["scene_id"] for s in ds.attrs["scenes"]]
    for i in np.flatnonzero(ds.labels == 1):
        row, col = CENTRES[scenes[ds.arrays["scene_index"][i]]]
        assert (ds.arrays["row"][i], ds.arrays["col"][i]) == (row, col)
    assert ds.patches.shape[1:] == (170, 170, 1)


def test_patches_equal_scanner_preprocessing(built) -> None:
    """A stored patch equals the same pixels of the whole scene preprocessed at once (what the scanner sees)."""
    root, _ = built
    ds = load_dataset(root / "dataset")
    store = Store.open(root / "store")
    for i in (0, 5, 20):
        scene = store.scene(ds.attrs["scenes"][ds.arrays["scene_index"][i]]["scene_id"])
        whole = preprocess(scene.read("phase"), scene.read("valid"), 28.0, PREPROCESS)
        row, col = int(ds.arrays["row"][i]), int(ds.arrays["col"][i])
        padded = np.pad(whole, ((200, 200), (200, 200), (0, 0)))
        expected = padded[200 + row - 85 : 200 + row + 85, 200 + col - 85 : 200 + col + 85]
        np.testing.assert_array_equal(ds.patches[i], expected)


def test_slope_stratification_report(built) -> None:
    _, report = built
    assert report["scene_slope_area_ratio"] == pytest.approx(0.5, abs=0.08)
    assert abs(report["others_slope_ratio"] - report["scene_slope_area_ratio"]) <= 1 / 12 + 1e-9


def test_no_fold_leakage_and_a_nested_in_b(built) -> None:
    root, _ = built
    ds = load_dataset(root / "dataset")
    a = ds.arrays
    assert 0 < a["in_a"].sum() < len(a["in_a"])
    for fold in range(2):
        for subset in ("A", "B"):
            train = select_samples(
                a["scene_index"], a["fold"], a["in_a"], subset=subset, fold=fold, part="train"
            )
            test = select_samples(
                a["scene_index"], a["fold"], a["in_a"], subset=subset, fold=fold, part="test"
            )
            assert not set(a["scene_index"][train]) & set(a["scene_index"][test])
        test_a = select_samples(a["scene_index"], a["fold"], a["in_a"], subset="A", fold=fold, part="test")
        test_b = select_samples(a["scene_index"], a["fold"], a["in_a"], subset="B", fold=fold, part="test")
        assert set(test_a) <= set(test_b)
        train_a = select_samples(a["scene_index"], a["fold"], a["in_a"], subset="A", fold=fold, part="train")
        assert not set(a["scene_index"][train_a]) & set(a["scene_index"][test_b])  # "A on B'" is clean


@settings(max_examples=30, deadline=None)
@given(
    n_scenes=st.integers(2, 40),
    n_folds=st.integers(2, 6),
    fraction=st.floats(0.1, 1.0),
    seed=st.integers(0, 50),
)
def test_folds_balanced_and_a_keeps_b_folds(n_scenes: int, n_folds: int, fraction: float, seed: int) -> None:
    scenes = [f"scene{i:03d}" for i in range(n_scenes)]
    folds = assign_folds(scenes, n_folds, seed)
    sizes = np.bincount(list(folds.values()), minlength=n_folds)
    assert sizes.max() - sizes.min() <= 1
    a = subset_a(folds, fraction, seed)
    assert a <= set(scenes)
    assert folds == assign_folds(list(reversed(scenes)), n_folds, seed)  # order-independent


def test_others_keep_distance_and_ratio() -> None:
    valid = np.ones((300, 300), np.uint8)
    fraction = window_valid_fraction(valid)
    slope_class = np.zeros((300, 300), np.uint8)
    slope_class[:, :150] = 1
    centres = np.array([[150.0, 150.0]])
    others = sample_others(
        fraction,
        slope_class,
        centres,
        20,
        slope_ratio=0.25,
        exclusion_px=40,
        min_valid_fraction=0.75,
        rng=np.random.default_rng(0),
    )
    assert len(others.rows) == 20 and np.sum(others.slope_class == 1) == 5
    assert np.all(np.hypot(others.rows - 150, others.cols - 150) > 40)
    assert np.all((others.rows >= 75) & (others.rows <= 225))  # whole window inside the scene


# ------------------------------------------------------------------------------------------- label-free others


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), height=st.integers(150, 166), width=st.integers(150, 166))
def test_window_sums_match_brute_force(seed: int, height: int, width: int) -> None:
    mask = np.random.default_rng(seed).random((height, width)) < 0.01
    sums = window_sums(mask)
    for row in range(height):
        for col in range(width):
            if 75 <= row <= height - 75 and 75 <= col <= width - 75:
                assert sums[row, col] == mask[row - 75 : row + 75, col - 75 : col + 75].sum()
            else:
                assert sums[row, col] == -1


# A tall thin label: rows 20..380, cols 300..340 of a 400 px scene, centroid at (200, 320).
TALL = [(300, 20), (340, 20), (340, 380), (300, 380)]  # (col, row) pixel corners


def _tall_label_store(root: Path) -> tuple[Store, Path]:
    store = Store.create(root / "store")
    _write_scene(store, "s0", 0)
    grid = _grid(0)
    ring = [grid.transform * corner for corner in TALL]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]},
        "properties": {},
    }
    labels = {
        "type": "FeatureCollection",
        "features": [feature],
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{EPSG}"}},
    }
    path = root / "labels.geojson"
    path.write_text(json.dumps(labels))
    return store, path


def test_label_mask_is_the_buffered_polygon(tmp_path) -> None:
    from scanner.io.labels import read_labels

    store, path = _tall_label_store(tmp_path)
    mask = label_mask(read_labels(path), store.scene("s0"), 10.0)
    assert mask.shape == (SIZE, SIZE) and mask.dtype == np.uint8
    assert mask[200, 320] == 1 and mask[200, 300] == 1 and mask[200, 339] == 1  # inside
    assert mask[200, 291] == 1 and mask[200, 348] == 1  # within 10 px of an edge
    assert mask[200, 288] == 0 and mask[200, 351] == 0 and mask[5, 320] == 0  # beyond 10 px (+1 touched)
    assert mask[395, 320] == 0


def test_label_free_rejects_a_window_the_centre_rule_accepts(tmp_path) -> None:
    """The window centred at (60, 220) is 172 px from the label's centroid (200, 320), so the centre rule takes
    it, but its columns [145, 295) reach the label grown by 10 px (cols 290..350)."""
    from scanner.io.labels import read_labels

    store, path = _tall_label_store(tmp_path)
    mask = label_mask(read_labels(path), store.scene("s0"), 10.0)
    free = label_free_windows(mask)
    far = _far_from(np.array([[200.0, 320.0]]), mask.shape, 150.0)
    assert far[60, 220] and not free[60, 220]
    assert free[200, 214] and not free[200, 216]  # cols [139, 289) clear; [141, 291) touch col 290
    assert not free[:75].any() and not free[:, -74:].any()  # windows leaving the scene


def test_label_free_others_touch_no_label(tmp_path) -> None:
    """Every random other of a dataset built with the label-free rule has a window disjoint from the label
    polygon grown by the buffer (checked with shapely, independent of the rasterisation)."""
    _, labels = _tall_label_store(tmp_path)
    config = DatasetConfig(
        margin_px=4, others_per_scene=40, n_folds=2, subset_a_fraction=0.5, others_rule="label_free"
    )
    build_dataset(tmp_path / "store", labels, tmp_path / "ds", config, PREPROCESS)
    ds = load_dataset(tmp_path / "ds")
    grown = Polygon(TALL).buffer(10.0)
    others = np.flatnonzero(ds.labels == 0)
    assert len(others) >= 20  # the flat stratum right of col 200 is mostly near the label
    for i in others:
        row, col = int(ds.arrays["row"][i]), int(ds.arrays["col"][i])
        assert box(col - 75, row - 75, col + 75, row + 75).intersection(grown).area == 0  # edges may touch
    assert ds.attrs["config"]["others_rule"] == "label_free"


def _build_peak_bytes(root: Path, scene_ids: list[str]) -> int:
    """Peak traced memory of building a dataset (60 others per scene) on a store of ``scene_ids`` only."""
    import tracemalloc

    labels = write_labelled_store(root)
    store = Store.create(root / "subset")
    for k, scene_id in enumerate(CENTRES):
        if scene_id in scene_ids:
            _write_scene(store, scene_id, k)
    config = DatasetConfig(
        margin_px=10, others_per_scene=60, n_folds=2, subset_a_fraction=0.5, exclusion_px=100
    )
    tracemalloc.start()
    try:
        build_dataset(root / "subset", labels, root / "ds", config, PREPROCESS)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_build_holds_a_bounded_number_of_patches(tmp_path: Path) -> None:
    """Patches go to disk scene by scene: four scenes peak no higher than two (the builder that held every patch
    until the end peaked at 2.4 times as high on four as on one), so a dataset's size is bounded by the disk,
    not by memory."""
    two = _build_peak_bytes(tmp_path / "two", ["s0", "s1"])
    four = _build_peak_bytes(tmp_path / "four", list(CENTRES))
    n_two, n_four = (len(load_dataset(tmp_path / k / "ds").labels) for k in ("two", "four"))
    assert n_four > 1.8 * n_two
    assert four < 1.25 * two


@settings(max_examples=40, deadline=None)
@given(
    rows=st.integers(1, 40),
    chunk=st.integers(1, 9),
    index=st.lists(st.integers(0, 10**6), min_size=0, max_size=60),
)
def test_take_rows_of_a_zarr_array_equals_numpy_fancy_indexing(
    rows: int, chunk: int, index: list[int]
) -> None:
    import zarr

    values = np.arange(rows * 6, dtype=np.float32).reshape(rows, 2, 3)
    array = zarr.create_array(
        zarr.storage.MemoryStore(), shape=values.shape, dtype=values.dtype, chunks=(chunk, 2, 3)
    )
    array[...] = values
    at = np.array([i % rows for i in index], np.int64)  # any order, repeats allowed
    np.testing.assert_array_equal(take_rows(array, at), values[at])
    out = np.full((len(at), 2, 3), -1.0, np.float32)
    assert take_rows(array, at, out) is out
    np.testing.assert_array_equal(out, values[at])
