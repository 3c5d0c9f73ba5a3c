"""scanner.io.store: schema, staging and atomic publish, tensorstore reads with fill, scannability checks."""

import json

import numpy as np
import pytest
import tensorstore as ts
import zarr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import InputError, ModelMismatchError, StoreError
from scanner.geo import GeoGrid, PixelWindow
from scanner.io.store import COMPRESSOR, MARKER, SceneWriter, Store, check_scannable
from scanner.pipeline.ingest import IngestConfig, IngestRequest, ingest_scene
from tests.rasters import UTM54_WKT, snapshot, utm_transform, write_raster


def _scene(store: Store, scene_id: str, grid: GeoGrid, phase: np.ndarray, chunk_px: int = 500) -> None:
    with store.staging(store.layout.scene(scene_id)) as tmp:
        writer = SceneWriter(tmp, grid, ["phase", "valid"], chunk_px)
        writer.write("phase", PixelWindow(0, 0, *grid.shape), phase)
        writer.write("valid", PixelWindow(0, 0, *grid.shape), np.isfinite(phase))
        writer.finish({"scene_id": scene_id, "grid": grid.to_attrs()})


def test_create_open_and_refusals(tmp_path):
    store = Store.create(tmp_path / "s")
    meta = json.loads((tmp_path / "s" / MARKER).read_text())
    assert meta["schema_version"] == 1 and meta["format"] == "fringescan-store"
    assert Store.open(tmp_path / "s").scene_ids() == [] and store.scene_ids() == []
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "data.txt").write_text("x")
    with pytest.raises(StoreError, match="expected a fringescan store"):
        Store.open(plain)
    with pytest.raises(StoreError, match="a folder that is not a fringescan output"):
        Store.create(plain)
    (tmp_path / "s" / MARKER).write_text(json.dumps({**meta, "schema_version": 99}))
    with pytest.raises(StoreError, match="found schema version 99"):
        Store.open(tmp_path / "s")


def test_staging_publishes_by_rename_and_rolls_back(tmp_path):
    store = Store.create(tmp_path / "s")
    with store.staging(store.layout.run_report("a")) as tmp:
        tmp.write_text("one")
    assert (tmp_path / "s/runs/a.json").read_text() == "one"
    before = snapshot(tmp_path / "s")
    with pytest.raises(RuntimeError), store.staging(store.layout.run_report("b")) as tmp:
        tmp.write_text("half")
        raise RuntimeError("boom")
    with pytest.raises(StoreError, match="--replace"), store.staging(store.layout.run_report("a")) as tmp:
        tmp.write_text("two")
    assert snapshot(tmp_path / "s") == before
    with store.staging(store.layout.run_report("a"), replace=True) as tmp:
        tmp.write_text("three")
    assert (tmp_path / "s/runs/a.json").read_text() == "three"
    assert list((tmp_path / "s/.staging").iterdir()) == []


def test_log_is_append_only_json_lines(tmp_path):
    store = Store.create(tmp_path / "s")
    store.log_event("ingest", scene_id="a", kind="wrapped")
    store.log_event("scan", scene_id="a")
    events = store.events()
    assert [e["event"] for e in events] == ["ingest", "scan"] and events[0]["kind"] == "wrapped"


@settings(max_examples=15, deadline=None)
@given(
    row=st.integers(-30, 80),
    col=st.integers(-30, 60),
    height=st.integers(1, 60),
    width=st.integers(1, 60),
    chunk=st.sampled_from([10, 20, 500]),
)
def test_read_window_equals_numpy_with_fill(tmp_path_factory, row, col, height, width, chunk):
    root = tmp_path_factory.mktemp("store")
    store = Store.create(root)
    grid = GeoGrid(height=70, width=50, transform=utm_transform(), crs_wkt=UTM54_WKT)
    phase = np.random.default_rng(abs(row) + 1000 * abs(col)).uniform(-3, 3, (70, 50)).astype(np.float32)
    phase[::7, ::5] = np.nan
    _scene(store, "a", grid, phase, chunk)
    scene = store.scene("a")
    padded = np.pad(phase, 100, constant_values=np.nan)
    expected = padded[row + 100 : row + 100 + height, col + 100 : col + 100 + width]
    window = PixelWindow(row, col, height, width)
    np.testing.assert_array_equal(scene.read("phase", window), expected)
    valid = np.pad(np.isfinite(phase), 100).astype(np.uint8)
    np.testing.assert_array_equal(
        scene.read("valid", window), valid[row + 100 : row + 100 + height, col + 100 : col + 100 + width]
    )
    both = scene.read_many(["phase", "valid"], window)
    np.testing.assert_array_equal(both["phase"], expected)
    np.testing.assert_array_equal(both["valid"], scene.read("valid", window))


def test_cached_reads_see_a_replaced_scene(tmp_path):
    """Reads share one decoded-chunk cache per process; a scene replaced under the same id (a re-ingest)
    must read as its new content, never as the cached old chunks."""
    store = Store.create(tmp_path / "s")
    grid = GeoGrid(height=40, width=30, transform=utm_transform(), crs_wkt=UTM54_WKT)
    first = np.full((40, 30), 1.0, np.float32)
    _scene(store, "a", grid, first)
    np.testing.assert_array_equal(store.scene("a").read("phase"), first)
    with store.staging(store.layout.scene("a"), replace=True) as tmp:
        writer = SceneWriter(tmp, grid, ["phase", "valid"])
        writer.write("phase", PixelWindow(0, 0, 40, 30), first * 2)
        writer.write("valid", PixelWindow(0, 0, 40, 30), np.ones((40, 30), np.uint8))
        writer.finish({"scene_id": "a", "grid": grid.to_attrs()})
    np.testing.assert_array_equal(Store.open(tmp_path / "s").scene("a").read("phase"), first * 2)


def test_zarr_python_and_tensorstore_read_the_same(tmp_path):
    store = Store.create(tmp_path / "s")
    grid = GeoGrid(height=1030, width=620, transform=utm_transform(), crs_wkt=UTM54_WKT)
    phase = np.random.default_rng(0).uniform(-3, 3, grid.shape).astype(np.float32)
    phase[:, 600:] = np.nan
    _scene(store, "big", grid, phase)
    path = tmp_path / "s/scenes/big"
    by_zarr = zarr.open_array(str(path / "phase"), mode="r")[:]
    by_ts = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path / "phase")}}).result()
    np.testing.assert_array_equal(by_zarr, by_ts.read().result())
    np.testing.assert_array_equal(by_zarr, phase)
    assert zarr.open_array(str(path / "phase"), mode="r").chunks == (500, 500)
    assert (
        store.scene("big").grid == grid
        and store.scene("big").has("phase")
        and not store.scene("big").has("dem")
    )
    with pytest.raises(StoreError, match="only"):
        store.scene("big").read("dem")
    with pytest.raises(StoreError, match="ingested scene"):
        store.scene("nope")


def test_check_scannable_refuses_the_real_files(pyrate_dir, tmp_path):
    store = Store.create(tmp_path / "s")
    path = sorted(pyrate_dir.glob("*_unw.tif"))[0]
    ingest_scene(store, IngestRequest(phase=path, scene_id="real"))
    with pytest.raises(InputError, match=r"expected at least one 150 x 150 px window, found 60 x 100 px"):
        check_scannable(store.scene("real"), 28.0)


def test_check_scannable_refuses_another_pixel_size(tmp_path):
    store = Store.create(tmp_path / "s")
    coarse = Affine(150.0, 0, 500_000.0, 0, -150.0, 4_000_000.0)
    path = write_raster(tmp_path / "c.tif", np.zeros((160, 160), np.float32) + 0.5, transform=coarse)
    ingest_scene(store, IngestRequest(phase=path, scene_id="coarse"), IngestConfig(wavelength_m=0.236))
    scene = store.scene("coarse")
    assert scene.grid.shape == (160, 160)
    with pytest.raises(ModelMismatchError, match=r"expected 28 m \+/- 10%.*found 150.0 m"):
        check_scannable(scene, 28.0)
    check_scannable(scene, 150.0)


def _chunk_files(array_dir) -> set[str]:
    return {
        str(p.relative_to(array_dir)) for p in array_dir.rglob("*") if p.is_file() and p.name != "zarr.json"
    }


@settings(max_examples=12, deadline=None)
@given(
    height=st.integers(1, 45),
    width=st.integers(1, 45),
    chunk=st.sampled_from([10, 20, 30]),
    seed=st.integers(0, 2**16),
)
def test_scene_writer_stores_what_zarr_python_stores(tmp_path_factory, height, width, chunk, seed):
    """SceneWriter writes chunks through tensorstore: the same chunk files and the same values, read by
    zarr-python and by tensorstore, as zarr-python writes with the store's codec and write_empty_chunks (a
    chunk holding only the fill value is written too, so a missing chunk file is always damage)."""
    root = tmp_path_factory.mktemp("w")
    rng = np.random.default_rng(seed)
    grid = GeoGrid(height=height, width=width, transform=utm_transform(), crs_wkt=UTM54_WKT)
    phase = rng.uniform(-3, 3, grid.shape).astype(np.float32)
    phase[rng.random(grid.shape) < 0.3] = np.nan
    phase[:chunk, :chunk] = np.nan  # a chunk of fill values only
    data = {"phase": phase, "valid": np.isfinite(phase), "dem": rng.normal(500, 80, grid.shape)}
    reference = zarr.create_group(str(root / "ref"), zarr_format=3)
    writer = SceneWriter(root / "ts", grid, list(data), chunk)
    for row in range(0, height, chunk):
        for col in range(0, width, chunk):
            window = PixelWindow(row, col, min(chunk, height - row), min(chunk, width - col))
            for name, values in data.items():
                writer.write(name, window, values[window.slices()])
    writer.finish({"scene_id": "x"})
    for name, values in data.items():
        dtype = {"phase": "float32", "valid": "uint8", "dem": "float32"}[name]
        fill = 0 if dtype == "uint8" else float("nan")
        array = reference.create_array(
            name,
            shape=grid.shape,
            dtype=dtype,
            chunks=(chunk, chunk),
            fill_value=fill,
            dimension_names=("y", "x"),
            compressors=COMPRESSOR,
            config={"write_empty_chunks": True},
        )
        array[:] = values.astype(dtype)
        path = root / "ts" / name
        assert (path / "zarr.json").read_text() == (root / "ref" / name / "zarr.json").read_text()
        assert _chunk_files(path) == _chunk_files(root / "ref" / name)
        by_zarr = zarr.open_array(str(path), mode="r")[:]
        by_ts = ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}}).result()
        np.testing.assert_array_equal(by_zarr, array[:])
        np.testing.assert_array_equal(by_ts.read().result(), array[:])
    assert dict(zarr.open_group(str(root / "ts"), mode="r").attrs)["fringescan"] == {
        "scene_id": "x",
        "chunks_written": "all",
    }


def test_scene_writer_bounds_writes_in_flight_and_copies_the_source(tmp_path):
    grid = GeoGrid(height=60, width=60, transform=utm_transform(), crs_wkt=UTM54_WKT)
    writer = SceneWriter(tmp_path / "s", grid, ["phase"], 10, max_pending=3)
    buffer = np.empty((10, 10), np.float32)
    for index, (row, col) in enumerate((r, c) for r in range(0, 60, 10) for c in range(0, 60, 10)):
        buffer[:] = index  # one buffer reused for every chunk, as ingest's caller may
        writer.write("phase", PixelWindow(row, col, 10, 10), buffer)
        assert writer.in_flight <= 3
    writer.finish({})
    assert writer.in_flight == 0
    expected = np.repeat(np.repeat(np.arange(36, dtype=np.float32).reshape(6, 6), 10, 0), 10, 1)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "s/phase"), mode="r")[:], expected)


def test_a_failed_chunk_write_raises_and_publishes_nothing(tmp_path):
    """A chunk that cannot be written (here: a file where the chunk directory must go) fails the scene with a
    StoreError naming the array; the staging directory is removed and the store is unchanged."""
    store = Store.create(tmp_path / "s")
    grid = GeoGrid(height=40, width=30, transform=utm_transform(), crs_wkt=UTM54_WKT)
    before = snapshot(tmp_path / "s")
    with (
        pytest.raises(StoreError) as caught,
        store.staging(store.layout.scene("a")) as tmp,
        SceneWriter(tmp, grid, ["phase", "valid"], 20) as writer,
    ):
        (tmp / "phase" / "c").write_text("in the way")
        for row in (0, 20):
            writer.write("phase", PixelWindow(row, 0, 20, 30), np.ones((20, 30), np.float32))
            writer.write("valid", PixelWindow(row, 0, 20, 30), np.ones((20, 30), np.uint8))
        writer.finish({"scene_id": "a", "grid": grid.to_attrs()})
    message = str(caught.value)
    assert "'phase'" in message and "expected" in message and "found" in message and "fix:" in message
    assert len(message.splitlines()) == 1
    assert snapshot(tmp_path / "s") == before and not store.has_scene("a")
