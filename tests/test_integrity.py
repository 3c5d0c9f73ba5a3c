"""Nothing lost (issue 14): what is read is verified (scene chunks, checkpoints), sizes are checked before
anything is written, an empty mosaic is never published, and labels that miss every scene are refused.

Every refusal is checked end to end through ``fringescan VERB`` (one line, its exit code, no traceback) and,
where a store is involved, with the store's files hashed before and after."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from disks import tmpfs
from scan_helpers import make_checkpoint

from scanner.cli import main
from scanner.errors import ResourceError, StoreError
from scanner.io.store import Store
from scanner.pipeline.ingest import IngestConfig, IngestRequest, ingest_scene
from tests.rasters import GAMMA_TAGS, snapshot, utm_transform, write_raster

SIDE_PX = 300


def _published(root: Path) -> dict[str, str]:
    """The store's files, without the scan's resumable staging and the lock (kept or removed by design)."""
    return {k: v for k, v in snapshot(root).items() if not k.startswith((".staging", ".lock"))}


def _one_line_error(text: str, *needles: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith("fringescan: error:")]
    assert len(lines) == 1, text
    assert "Traceback" not in text, text
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory) -> tuple[Path, Path]:
    """A store with one scene ingested from a GeoTIFF in 100 px chunks (3 x 3), and a narrow checkpoint."""
    root = tmp_path_factory.mktemp("integrity")
    rng = np.random.default_rng(0)
    phase = rng.uniform(-np.pi, np.pi, (SIDE_PX, SIDE_PX)).astype(np.float32)
    phase[:100, :100] = np.nan  # chunk (0, 0) of `valid` holds only its fill value, 0: stored all the same
    tif = write_raster(root / "a.tif", phase, tags=GAMMA_TAGS)
    store = Store.create(root / "store")
    ingest_scene(store, IngestRequest(phase=tif, scene_id="a"), IngestConfig(chunk_px=100))
    return store.root, make_checkpoint(root / "ckpt")


def _copy(tmp_path: Path, ingested: tuple[Path, Path]) -> tuple[Path, Path]:
    store, checkpoint = ingested
    shutil.copytree(store, tmp_path / "store")
    return tmp_path / "store", checkpoint


def _scan(store: Path, checkpoint: Path) -> int:
    return main(["scan", "--store", str(store), "--model", str(checkpoint), "--tile-cells", "10"])


# ---------------------------------------------------------------------------------------------- scene chunks


def test_ingest_stores_every_chunk_and_records_it(ingested):
    store, _ = ingested
    scene = Store.open(store).scene("a")
    assert scene.attrs["chunks_written"] == "all"
    for name in ("phase", "valid"):
        assert sorted(
            p.relative_to(scene.path / name).as_posix()
            for p in (scene.path / name / "c").rglob("*")
            if p.is_file()
        ) == [f"c/{i}/{j}" for i in range(3) for j in range(3)]


def test_a_deleted_chunk_is_an_error_naming_scene_array_and_chunk(tmp_path, ingested, capsys):
    """Finding 1: one deleted chunk of `valid` made `scan` exit 0 with a third of the cells NaN."""
    store, checkpoint = _copy(tmp_path, ingested)
    (store / "scenes" / "a" / "valid" / "c" / "1" / "2").unlink()
    before = snapshot(store)
    assert _scan(store, checkpoint) == StoreError.exit_code
    _one_line_error(capsys.readouterr().err, "scene a array 'valid' chunk (1, 2)", "re-ingest")
    assert snapshot(store) == before
    with pytest.raises(StoreError, match=r"chunk \(1, 2\)"):
        Store.open(store).scene("a").read("valid")


@pytest.mark.parametrize("damage", ["truncate", "flip"])
def test_a_corrupt_chunk_is_a_one_line_error(tmp_path, ingested, capsys, damage):
    store, checkpoint = _copy(tmp_path, ingested)
    chunk = store / "scenes" / "a" / "phase" / "c" / "2" / "1"
    data = bytearray(chunk.read_bytes())
    if damage == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x04  # zstd's content checksum catches a flipped bit
    chunk.write_bytes(bytes(data))
    before = _published(store)
    assert _scan(store, checkpoint) == StoreError.exit_code
    _one_line_error(capsys.readouterr().err, "scene a array 'phase' chunk (2, 1)", "corrupt")
    assert _published(store) == before


def test_scenes_written_before_the_record_still_read(tmp_path, ingested):
    """Backward compatible: a scene without ``chunks_written`` reads a missing chunk as its fill value."""
    import zarr

    store, _ = _copy(tmp_path, ingested)
    group = zarr.open_group(str(store / "scenes" / "a"), mode="r+", zarr_format=3)
    attrs = dict(group.attrs["fringescan"])
    del attrs["chunks_written"]
    group.attrs["fringescan"] = attrs
    (store / "scenes" / "a" / "valid" / "c" / "1" / "2").unlink()
    valid = Store.open(store).scene("a").read("valid")
    assert (valid[100:200, 200:300] == 0).all()


# ---------------------------------------------------------------------------------------------- checkpoints


def _damage_checkpoint(checkpoint: Path, how: str) -> None:
    params = checkpoint / "params"
    biggest = max((p for p in params.rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    if how == "no params":
        shutil.rmtree(params)
    elif how == "in_channels":
        meta = json.loads((checkpoint / "fringescan-model.json").read_text())
        meta["model_config"]["in_channels"] = 3
        (checkpoint / "fringescan-model.json").write_text(json.dumps(meta))
    elif how == "truncated":
        biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
    else:
        data = bytearray(biggest.read_bytes())
        data[len(data) // 2] ^= 0x10
        biggest.write_bytes(bytes(data))


@pytest.mark.parametrize(
    ("how", "needle"),
    [
        ("no params", "no params/ directory"),
        ("in_channels", "['conv1']['kernel']"),
        ("truncated", "corrupt or truncated"),
        ("bit flip", "sha256"),
    ],
)
def test_a_damaged_checkpoint_is_refused_even_when_already_scanned(tmp_path, ingested, capsys, how, needle):
    """Finding 2: a checkpoint without params/ on a scanned store gave exit 0 "already scanned"; edited,
    truncated or altered params gave tracebacks."""
    store, checkpoint = _copy(tmp_path, ingested)
    shutil.copytree(checkpoint, tmp_path / "ckpt")
    checkpoint = tmp_path / "ckpt"
    assert _scan(store, checkpoint) == 0
    capsys.readouterr()
    _damage_checkpoint(checkpoint, how)
    before = _published(store)
    assert _scan(store, checkpoint) == 3
    out = capsys.readouterr()
    assert "already scanned" not in out.out
    _one_line_error(out.err, str(checkpoint), needle)
    assert _published(store) == before


# ---------------------------------------------------------------------------------------------- mosaic


def _grid_config(
    path: Path, *, west: float, south: float, east: float, north: float, cell: float, crs: str
) -> Path:
    path.write_text(
        "from scanner.mosaic.grid import grid_for_bounds\n\n\n"
        "def get_config():\n"
        f"    return grid_for_bounds(name={path.stem!r}, crs={crs!r}, west={west}, south={south}, east={east}, "
        f"north={north}, cell_size={cell}, chunk=64)\n"
    )
    return path


@pytest.fixture
def lattice_store(tmp_path) -> Path:
    from mosaic_fixtures import add_lattice_scene, make_store

    root = make_store(tmp_path / "store")
    add_lattice_scene(root, "A", 10, 10, 60, 60, second_date="2026-02-01")
    add_lattice_scene(root, "B", 40, 40, 60, 60, second_date="2026-02-13")
    Store.open(root)  # as any verb leaves it (with .staging/)
    return root


def test_a_grid_no_pass_touches_publishes_nothing(tmp_path, lattice_store, capsys):
    """Finding 3: such a grid published an empty version as CURRENT ("4 new passes ... 11 merged sites")."""
    far = _grid_config(
        tmp_path / "far.py", west=100, south=10, east=101, north=11, cell=0.0025, crs="EPSG:6668"
    )
    before = snapshot(lattice_store)
    assert main(["mosaic", "--store", str(lattice_store), "--grid", str(far)]) == 3
    _one_line_error(
        capsys.readouterr().err, "mosaic grid far", "2 pass(es), none inside", "the first, A, covers"
    )
    assert snapshot(lattice_store) == before and not (lattice_store / "mosaic").exists()


def test_since_that_leaves_no_pass_publishes_nothing(tmp_path, lattice_store, capsys):
    grid = _grid_config(
        tmp_path / "test.py", west=140.09, south=37.30, east=140.60, north=37.77, cell=0.0025, crs="EPSG:6668"
    )
    assert main(["mosaic", "--store", str(lattice_store), "--grid", str(grid)]) == 0
    before = snapshot(lattice_store)
    assert main(["mosaic", "--store", str(lattice_store), "--grid", str(grid), "--since", "2030-01-01"]) == 3
    _one_line_error(capsys.readouterr().err, "no pass dated on or after --since 2030-01-01")
    assert snapshot(lattice_store) == before


def test_a_huge_grid_is_refused_at_once(tmp_path, lattice_store, capsys):
    """Finding 4: a 10^7 x 10^7 grid ran until killed."""
    import time

    huge = _grid_config(
        tmp_path / "huge.py", west=0, south=0, east=1e7, north=1e7, cell=1.0, crs="EPSG:32654"
    )
    before = snapshot(lattice_store)
    start = time.perf_counter()
    assert main(["mosaic", "--store", str(lattice_store), "--grid", str(huge)]) == 2
    assert time.perf_counter() - start < 5
    _one_line_error(
        capsys.readouterr().err, "10,000,000 x 10,000,000 cells", "FRINGESCAN_MAX_GRID_CELLS", "extent"
    )
    assert snapshot(lattice_store) == before


def test_nightly_reports_the_mosaic_refusal_and_publishes_nothing(tmp_path, ingested):
    """Finding 3, nightly: the mosaic step's refusal fails the run's passes (exit 10, the reason in the report),
    publishes no version and leaves the passes out of the ledger, so a run with the right grid retries them."""
    from test_nightly import write_pass

    from scanner.pipeline.nightly import EXIT_PARTIAL, NightlyConfig, load_ledger, run_nightly

    _, checkpoint = ingested
    (tmp_path / "inbox").mkdir()
    write_pass(tmp_path / "inbox", "p1")
    far = _grid_config(
        tmp_path / "far.py", west=100, south=10, east=101, north=11, cell=0.0025, crs="EPSG:6668"
    )
    config = NightlyConfig(inbox=tmp_path / "inbox", store=tmp_path / "store", model=checkpoint, grid=far)
    report = run_nightly(config)
    assert report["exit_code"] == EXIT_PARTIAL and not report["passes"]["processed"]
    [failed] = report["passes"]["failed"]
    assert failed["reason"].startswith("mosaic step: mosaic grid far: expected at least one pass")
    assert "mosaic not published" in report["figures"]["mosaic"]["summary"]
    assert not (tmp_path / "store" / "mosaic").exists() and not load_ledger(tmp_path / "store")["passes"]


def test_nightly_refuses_a_huge_grid_before_touching_anything(tmp_path, ingested):
    from scanner.errors import UsageError
    from scanner.pipeline.nightly import NightlyConfig, run_nightly

    huge = _grid_config(
        tmp_path / "huge.py", west=0, south=0, east=1e7, north=1e7, cell=1.0, crs="EPSG:32654"
    )
    (tmp_path / "inbox").mkdir()
    config = NightlyConfig(inbox=tmp_path / "inbox", store=tmp_path / "store", model=ingested[1], grid=huge)
    with pytest.raises(UsageError, match="FRINGESCAN_MAX_GRID_CELLS"):
        run_nightly(config)
    assert not (tmp_path / "store").exists()


# ---------------------------------------------------------------------------------------------- ingest sizes


def test_a_raster_declaring_a_huge_size_is_refused_from_its_header(tmp_path, capsys):
    """Finding 4: a GeoTIFF declaring 200,000 x 200,000 px ran for a minute and wrote 263 MB."""
    import time

    import rasterio

    path = tmp_path / "huge.tif"
    profile = {
        "driver": "GTiff",
        "height": 200_000,
        "width": 200_000,
        "count": 1,
        "dtype": "float32",
        "crs": "EPSG:32654",
        "transform": utm_transform(),
        "tiled": True,
        "blockxsize": 4096,
        "blockysize": 4096,
        "sparse_ok": True,
        "BIGTIFF": "YES",
    }
    with rasterio.open(path, "w", **profile):
        pass  # nothing written: every block is sparse
    assert path.stat().st_size < 1_000_000
    store = Store.create(tmp_path / "store")
    before = snapshot(store.root)
    start = time.perf_counter()
    assert main(["ingest", str(path), "--store", str(store.root)]) == 3
    assert time.perf_counter() - start < 1.0
    _one_line_error(
        capsys.readouterr().err, "200,000 x 200,000 = 40,000,000,000 px declared", "FRINGESCAN_MAX_RASTER_PX"
    )
    assert snapshot(store.root) == before


def test_the_raster_limit_is_set_by_its_environment_variable(tmp_path, monkeypatch, capsys):
    from scanner.errors import InputError

    tif = write_raster(tmp_path / "a.tif", np.zeros((200, 200), np.float32), tags=GAMMA_TAGS)
    store = Store.create(tmp_path / "store")
    monkeypatch.setenv("FRINGESCAN_MAX_RASTER_PX", "39999")
    with pytest.raises(InputError, match=r"at most 39,999 px \(FRINGESCAN_MAX_RASTER_PX\)"):
        ingest_scene(store, IngestRequest(phase=tif, scene_id="a"))
    monkeypatch.setenv("FRINGESCAN_MAX_RASTER_PX", "many")
    assert main(["ingest", str(tif), "--store", str(store.root)]) == 2
    _one_line_error(capsys.readouterr().err, "FRINGESCAN_MAX_RASTER_PX", "'many'")
    monkeypatch.setenv("FRINGESCAN_MAX_RASTER_PX", "40000")
    assert ingest_scene(store, IngestRequest(phase=tif, scene_id="a")).status == "ingested"


@pytest.fixture
def tiny_disk(tmp_path):
    """A 2 MiB tmpfs (tests/disks.py)."""
    with tmpfs(tmp_path / "tiny", "2m") as mount:
        yield mount


def test_ingest_refuses_a_scene_larger_than_the_free_disk(tmp_path, tiny_disk, capsys):
    tif = write_raster(tmp_path / "a.tif", np.ones((1000, 1000), np.float32), tags=GAMMA_TAGS)
    store = Store.create(tiny_disk / "store")
    before = snapshot(store.root)
    assert main(["ingest", str(tif), "--store", str(store.root)]) == ResourceError.exit_code
    _one_line_error(capsys.readouterr().err, "ingest of scene a (1,000 x 1,000 px, 2 arrays)", "5.0 MB free")
    assert snapshot(store.root) == before


# ---------------------------------------------------------------------------------------------- labels


def _labels(path: Path, lonlats: list[tuple[float, float]], **properties) -> Path:
    features = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(p)}, "properties": properties}
        for p in lonlats
    ]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def _scene_lonlat(store: Path, row: int, col: int) -> tuple[float, float]:
    from shapely.geometry import Point

    from scanner.io.site_layers import to_wgs84

    grid = Store.open(store).scene("a").grid
    point = to_wgs84(Point(grid.transform * (col + 0.5, row + 0.5)), grid.crs_wkt)
    return point.x, point.y


def test_dataset_refuses_labels_outside_every_scene(tmp_path, ingested, capsys):
    """Finding 5: labels outside every scene gave exit 0 and a training set of 0 candidates."""
    store, _ = _copy(tmp_path, ingested)
    labels = _labels(tmp_path / "labels.geojson", [(0.0, 0.0), (10.0, 10.0)])
    before = snapshot(store)
    argv = ["dataset", "--store", str(store), "--labels", str(labels), "--out", str(tmp_path / "ds")]
    argv += ["--config", "configs/paper.py", "--set", "dataset.others_per_scene=4"]
    assert main(argv) == 3
    _one_line_error(capsys.readouterr().err, str(labels), "2 positive label(s) of 2, none inside any scene")
    assert snapshot(store) == before and not (tmp_path / "ds").exists()
    inside = _labels(tmp_path / "inside.geojson", [_scene_lonlat(store, 200, 200)])
    argv[4] = str(inside)
    assert main(argv) == 0
    capsys.readouterr()
    # mining with labels for another region would add the real landslides as hard negatives: refused
    from scanner.errors import InputError
    from train.dataset_store import load_dataset, mine_hard_negatives

    with pytest.raises(InputError, match="none inside any of the 1 scenes"):
        mine_hard_negatives(store, labels, load_dataset(tmp_path / "ds"), tmp_path / "mined", lambda _: None)
    assert not (tmp_path / "mined").exists()


def test_evaluate_scan_refuses_labels_outside_the_scanned_scenes(tmp_path, ingested, capsys):
    store, checkpoint = _copy(tmp_path, ingested)
    assert _scan(store, checkpoint) == 0
    labels = _labels(tmp_path / "labels.geojson", [(0.0, 0.0)])
    before = snapshot(store)
    argv = [
        "evaluate-scan",
        "--store",
        str(store),
        "--labels",
        str(labels),
        "--out",
        str(tmp_path / "r.json"),
    ]
    assert main(argv) == 3
    _one_line_error(capsys.readouterr().err, "1 positive label(s), none inside the scanned footprints of a")
    assert snapshot(store) == before and not (tmp_path / "r.json").exists()
    negative_only = _labels(
        tmp_path / "negative.geojson", [_scene_lonlat(store, 150, 150)], **{"class": "other"}
    )
    argv[4] = str(negative_only)
    assert main(argv) == 3
    capsys.readouterr()
    argv[4] = str(_labels(tmp_path / "inside.geojson", [_scene_lonlat(store, 150, 150)]))
    assert main(argv) == 0
    capsys.readouterr()
