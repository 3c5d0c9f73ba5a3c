"""A full, read-only or forbidden disk under the store or ``--out``: every writing verb stops with the one-line
``fringescan: error:`` (exit 7, ``ResourceError``; exit 3 for a path of the wrong kind), no traceback, and the
store is unchanged, file by file.

The disks are real: a tiny tmpfs filled to a chosen number of free bytes (ENOSPC at the lock, inside the
chunk writes, at publication), the same tmpfs remounted read-only (EROFS), and a run as user ``nobody`` for
EACCES (root ignores file modes). Tests that cannot mount skip with the reason.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from disks import tmpfs
from mosaic_fixtures import LATTICE_X0, LATTICE_Y0
from rasters import snapshot
from scan_helpers import add_scene, make_checkpoint, scene_arrays
from shapely.geometry import Point, mapping

from scanner.cli import main
from scanner.errors import InputError, ResourceError, StoreError, os_error
from scanner.io.site_layers import site_layers, to_wgs84
from scanner.io.store import Store
from scanner.pipeline.history import build_history, save_history

REPO = Path(__file__).resolve().parents[1]
DISK_BYTES = 2 * 1024 * 1024


# ------------------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ready(tmp_path_factory) -> dict:
    """A store with scene ``a`` scanned, detected and in the history, and scene ``b`` only ingested (so
    ``scan`` and ``mosaic`` have work to do); its checkpoint, a label file and a site id for ``review``."""
    root = tmp_path_factory.mktemp("ready")
    store = Store.create(root / "store")
    add_scene(store, "a", *scene_arrays(160, 160, 0), origin=(LATTICE_X0 + 2800, LATTICE_Y0 - 2800))
    checkpoint = make_checkpoint(root / "ckpt")
    assert main(["scan", "--store", str(store.root), "--model", str(checkpoint)]) == 0
    out = str(root / "sites.geojson")
    assert main(["detect", "--store", str(store.root), "--threshold", "0.3", "--out", out]) == 0
    add_scene(store, "b", *scene_arrays(160, 160, 1), origin=(LATTICE_X0 + 5600, LATTICE_Y0 - 2800))
    history = build_history(site_layers(store.root))
    save_history(store.root, history)
    labels = root / "labels.geojson"
    scene = store.scene("a")
    centre = to_wgs84(Point(scene.grid.transform * (80, 80)), scene.grid.crs_wkt)
    point = {"type": "Feature", "geometry": mapping(centre), "properties": {}}
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [point]}))  # one inside scene a
    grid = root / "grid.py"  # a grid over the test lattice (an empty mosaic version is refused)
    grid.write_text(
        "from scanner.mosaic.grid import grid_for_bounds\n\n\ndef get_config():\n"
        "    return grid_for_bounds(name='test', crs='EPSG:6668', west=140.09, south=37.30, east=140.60,"
        " north=37.77, cell_size=0.0025, chunk=32)\n"
    )
    return {
        "store": store.root,
        "checkpoint": checkpoint,
        "labels": labels,
        "grid": grid,
        "site": history["sites"][0]["site_id"],
    }


@pytest.fixture
def disk(tmp_path) -> Path:
    """A 2 MiB tmpfs at ``tmp_path/disk``, unmounted afterwards; skips where mounting is not permitted."""
    with tmpfs(tmp_path / "disk", str(DISK_BYTES)) as mount:
        yield mount


def fill(disk: Path, free_bytes: int) -> None:
    """Fill ``disk`` until the kernel refuses, then give back ``free_bytes`` (a multiple of the page)."""
    fd = os.open(disk / "filler", os.O_WRONLY | os.O_CREAT, 0o644)
    block = b"\0" * 65536
    try:
        while True:
            try:
                if os.write(fd, block) < len(block):
                    break
            except OSError as error:
                assert error.errno == errno.ENOSPC
                block = block[: len(block) // 2]
                if not block:
                    break
        if free_bytes:
            os.ftruncate(fd, os.fstat(fd).st_size - free_bytes)
    finally:
        os.close(fd)


def read_only(disk: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(disk)], check=True, capture_output=True)


def verb_argv(verb: str, ready: dict, store: Path, out: Path) -> list[str]:
    """The command line of ``verb`` on ``store``, writing any output file under ``out``."""
    pyrate = sorted((REPO / "tests" / "data" / "pyrate-cropA").glob("*_unw.tif"))[0]
    config = str(REPO / "configs" / "phase_only.py")
    return {
        "ingest": ["ingest", str(pyrate), "--kind", "unwrapped", "--store", str(store)],
        "scan": ["scan", "--store", str(store), "--model", str(ready["checkpoint"])],
        "detect": ["detect", "--store", str(store), "--scene", "a", "--threshold", "0.2", "--out", f"{out}/s.json"],
        "mosaic": ["mosaic", "--store", str(store), "--grid", str(ready["grid"])],
        "review": ["review", "--store", str(store), "--site", ready["site"], "--confirmed"],
        "review-export": ["review", "--store", str(store), "--export-labels", f"{out}/labels.geojson"],
        "export": ["export", "--store", str(store), "--scene", "a", "--out", f"{out}/a.tif"],
        "dataset": [
            "dataset", "--store", str(store), "--labels", str(ready["labels"]), "--config", config, "--out",
            f"{out}/ds",
        ],
    }[verb]  # fmt: skip


def run_cli(argv: list[str], capfd) -> tuple[int, str]:
    """``scanner.cli.main`` in this process; its exit code and everything written to stderr (fd 2 too)."""
    capfd.readouterr()
    code = main(argv)
    return code, capfd.readouterr().err


def assert_one_line_error(code: int, err: str, expected_code: int) -> str:
    lines = [line for line in err.splitlines() if line.startswith("fringescan: error:")]
    assert code == expected_code, err
    assert "Traceback" not in err, err
    assert len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err
    return lines[0]


def published(snap: dict[str, str], verb: str) -> dict[str, str]:
    """The store's files minus a scan's resumable staging (``.staging/scan-<id>-<key>/``): by design a
    refused scan keeps its finished tiles there so the re-run resumes (docs/operations.md); nothing in
    ``.staging`` is ever read as a result."""
    return {k: v for k, v in snap.items() if not (verb == "scan" and k.startswith(".staging/scan-"))}


# ------------------------------------------------------------------------------------------- ENOSPC

STORE_VERBS = ("ingest", "scan", "detect", "mosaic", "review")
FULL_CASES = [(verb, 0) for verb in STORE_VERBS] + [
    ("ingest", 16384),  # lock and staging fit; the chunk writes (tensorstore) do not
    ("scan", 4096),  # the scan's staging grid is created, its tile writes fail
    ("detect", 4096),  # the lock fits; the site layer does not
    ("mosaic", 65536),  # the lock and some chunks fit; the version is never published
    ("review", 4096),  # the lock fits; the feedback file does not
]


@pytest.mark.parametrize(("verb", "free_bytes"), FULL_CASES)
def test_full_disk_under_the_store(ready, disk, capfd, verb, free_bytes):
    store = disk / "store"
    shutil.copytree(ready["store"], store)
    fill(disk, free_bytes)
    before = snapshot(store)
    code, err = run_cli(verb_argv(verb, ready, store, disk), capfd)
    line = assert_one_line_error(code, err, ResourceError.exit_code)
    # the OS refused a write (ENOSPC), or the free-disk check refused before writing anything
    assert (
        "expected free space on the disk, found a full disk (ENOSPC" in line
        or " free on the file system" in line
    )
    assert str(store) in line
    assert published(snapshot(store), verb) == published(before, verb)


OUT_VERBS = ("detect", "export", "dataset", "review-export")


@pytest.mark.parametrize("verb", OUT_VERBS)
def test_full_disk_under_out(ready, disk, tmp_path, capfd, verb):
    """The store is on a good disk, ``--out`` on a full one: nothing appears under ``--out``."""
    store = tmp_path / "store"
    shutil.copytree(ready["store"], store)
    out = disk / "out"
    out.mkdir()
    fill(disk, 0)
    before = snapshot(store)
    code, err = run_cli(verb_argv(verb, ready, store, out), capfd)
    line = assert_one_line_error(code, err, ResourceError.exit_code)
    assert "found a full disk (ENOSPC" in line and str(out) in line
    assert list(out.iterdir()) == []
    if verb != "detect":  # detect publishes the store's site layers before its --out summary
        assert snapshot(store) == before


# ------------------------------------------------------------------------------------------- EROFS


@pytest.mark.parametrize("verb", STORE_VERBS)
def test_read_only_store(ready, disk, capfd, verb):
    store = disk / "store"
    shutil.copytree(ready["store"], store)
    read_only(disk)
    before = snapshot(store)
    code, err = run_cli(verb_argv(verb, ready, store, disk), capfd)
    line = assert_one_line_error(code, err, ResourceError.exit_code)
    assert "expected a writable file system, found a read-only one (EROFS" in line
    assert snapshot(store) == before


@pytest.mark.parametrize("verb", OUT_VERBS)
def test_read_only_out(ready, disk, tmp_path, capfd, verb):
    store = tmp_path / "store"
    shutil.copytree(ready["store"], store)
    (disk / "out").mkdir()
    read_only(disk)
    code, err = run_cli(verb_argv(verb, ready, store, disk / "out"), capfd)
    line = assert_one_line_error(code, err, ResourceError.exit_code)
    assert "(EROFS" in line and str(disk / "out") in line
    assert list((disk / "out").iterdir()) == []


# ------------------------------------------------------------------------------------------- EACCES, paths


def as_nobody(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    """``python -m scanner.cli ARGV`` as user nobody (root ignores file modes, so EACCES needs another user);
    ``home`` is made writable for numba's cache (the source tree is not writable for nobody)."""
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run a command as user nobody")
    home.mkdir(exist_ok=True)
    home.chmod(0o777)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    return subprocess.run(
        [*nobody, sys.executable, "-m", "scanner.cli", *argv],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "HOME": str(home), "JAX_PLATFORMS": "cpu"},
    )


@pytest.fixture
def public_dir():
    """A directory under /tmp that user nobody can reach (pytest's tmp_path is root-only); removed after."""
    place = Path(tempfile.mkdtemp(prefix="fringescan-eacces-", dir="/tmp"))
    place.chmod(0o755)
    yield place
    shutil.rmtree(place)


def test_permission_denied_out(ready, public_dir):
    """As user nobody, ``--out`` in a directory only root may write."""
    store, out = public_dir / "store", public_dir / "out"
    shutil.copytree(ready["store"], store)
    out.mkdir(mode=0o755)
    done = as_nobody(
        ["export", "--store", str(store), "--scene", "a", "--out", str(out / "a.tif")], public_dir / "home"
    )
    line = assert_one_line_error(done.returncode, done.stderr, ResourceError.exit_code)
    assert "permission denied (EACCES" in line and str(out / "a.tif") in line
    assert list(out.iterdir()) == []


def test_permission_denied_input(public_dir):
    """As user nobody, an interferogram only root may read: exit 7 (not "a corrupt file", which nightly
    would quarantine), and no store is left behind."""
    phase = public_dir / "in.tif"
    shutil.copy(sorted((REPO / "tests" / "data" / "pyrate-cropA").glob("*_unw.tif"))[0], phase)
    phase.chmod(0o600)
    stores = public_dir / "stores"
    stores.mkdir(mode=0o777)
    stores.chmod(0o777)
    done = as_nobody(
        ["ingest", str(phase), "--kind", "unwrapped", "--store", str(stores / "s")], public_dir / "home"
    )
    line = assert_one_line_error(done.returncode, done.stderr, ResourceError.exit_code)
    assert "(EACCES" in line and str(phase) in line
    assert list(stores.iterdir()) == []


def test_out_is_a_directory(ready, tmp_path, capfd):
    """``--out`` naming an existing directory: refused before anything is written (the output rule of
    scanner.io.artifact, exit 4), the directory untouched."""
    (tmp_path / "a.tif").mkdir()
    (tmp_path / "a.tif" / "keep.txt").write_text("mine")
    argv = ["export", "--store", str(ready["store"]), "--scene", "a", "--out", str(tmp_path / "a.tif")]
    code, err = run_cli(argv, capfd)
    line = assert_one_line_error(code, err, StoreError.exit_code)
    assert "a folder that is not a fringescan output" in line and str(tmp_path / "a.tif") in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif"]
    assert [p.name for p in (tmp_path / "a.tif").iterdir()] == ["keep.txt"]


def test_out_below_a_file(ready, tmp_path, capfd):
    """``--out FILE/x.tif`` where FILE is a file: exit 3 naming the path, nothing written."""
    (tmp_path / "file").write_text("x")
    argv = [
        "export",
        "--store",
        str(ready["store"]),
        "--scene",
        "a",
        "--out",
        str(tmp_path / "file" / "a.tif"),
    ]
    code, err = run_cli(argv, capfd)
    line = assert_one_line_error(code, err, InputError.exit_code)
    assert str(tmp_path / "file") in line
    assert (tmp_path / "file").read_text() == "x"


# ------------------------------------------------------------------------------------------- translation


@pytest.mark.parametrize(
    ("code", "cls", "words"),
    [
        (errno.ENOSPC, ResourceError, "a full disk"),
        (errno.EDQUOT, ResourceError, "a full disk"),
        (errno.EROFS, ResourceError, "read-only"),
        (errno.EACCES, ResourceError, "permission denied"),
        (errno.EPERM, ResourceError, "permission denied"),
        (errno.EIO, ResourceError, "the file system refused"),
        (errno.ENOENT, InputError, "ENOENT"),
        (errno.ENOTDIR, InputError, "ENOTDIR"),
        (errno.EISDIR, InputError, "EISDIR"),
    ],
)
def test_os_error_translation(code, cls, words):
    """Each errno becomes its class and one line naming the path; a library error quoting the errno's
    message (tensorstore) maps the same; anything else is not a disk refusal."""
    error = os_error(OSError(code, os.strerror(code), "/x/y"), doing="fringescan scan")
    assert type(error) is cls and words in str(error) and "/x/y" in str(error) and "\n" not in str(error)
    assert error.exit_code == cls.exit_code
    try:
        try:
            raise OSError(code, os.strerror(code), "/x/y")
        except OSError as cause:
            raise RuntimeError("wrapped") from cause
    except RuntimeError as wrapped:
        assert type(os_error(wrapped)) is cls
    quoted = ValueError(
        f'RESOURCE_EXHAUSTED: Error writing "/s/c/0": {os.strerror(errno.ENOSPC)} [OS error: 28]'
    )
    assert type(os_error(quoted)) is ResourceError and "ENOSPC" in str(os_error(quoted))
    assert os_error(ValueError("shapes differ")) is None
    assert os_error(KeyError("x")) is None
    try:  # a bug in an except block keeps its traceback: implicit context is not a cause
        try:
            raise OSError(code, os.strerror(code), "/x/y")
        except OSError:
            raise KeyError("bug")  # noqa: B904 (the point: no explicit cause)
    except KeyError as bug:
        assert os_error(bug) is None


def test_mosaic_whose_products_are_refused(ready, tmp_path, capfd):
    """The version publishes, then its quicklook meets a read-only mount: exit 7 saying the version is
    published and complete; once the disk takes writes again, a re-run adds the products and changes nothing
    else."""
    store = tmp_path / "store"
    shutil.copytree(ready["store"], store)
    with tmpfs(store / "mosaic" / "quicklook", "64k", read_only=True):
        code, err = run_cli(verb_argv("mosaic", ready, store, tmp_path), capfd)
    line = assert_one_line_error(code, err, ResourceError.exit_code)
    assert "mosaic v000001 is published and complete, its quicklook, STAC and viewer are not" in line
    assert "(EROFS" in line
    version = snapshot(store / "mosaic" / "versions")
    code, err = run_cli(verb_argv("mosaic", ready, store, tmp_path), capfd)
    assert code == 0, err
    assert snapshot(store / "mosaic" / "versions") == version
    assert (store / "viewer" / "index.html").is_file() and (store / "stac" / "catalog.json").is_file()


# ------------------------------------------------------------------------------------------- the whole process

ABANDONED_WRITE = """
import sys
import numpy as np
import zarr
from scanner.cli import _report
from scanner.errors import os_error

group = zarr.create_group(sys.argv[1], zarr_format=3)
array = group.create_array("patches", shape=(100, 128, 128), dtype="float32", chunks=(1, 128, 128))
try:
    array[...] = np.random.default_rng(0).random(array.shape, dtype=np.float32)  # 6.5 MB, incompressible
except Exception as error:
    sys.exit(_report(os_error(error, doing="writing"), error))
"""


def test_a_zarr_write_failing_part_way_ends_the_process_with_one_line(disk):
    """A Zarr write of 100 chunks onto a 2 MiB disk fails part-way and leaves most chunk writes queued on
    zarr-python's event loop. Reported through the CLI's error path, the process ends with the one line: its
    teardown used to add a "Task was destroyed but it is pending!" per queued write and "Event loop is
    closed" tracebacks (hundreds of lines on a real dataset)."""
    done = subprocess.run(
        [sys.executable, "-c", ABANDONED_WRITE, str(disk / "ds.zarr")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    line = assert_one_line_error(done.returncode, done.stderr, ResourceError.exit_code)
    assert "found a full disk (ENOSPC" in line
    assert done.stderr.strip().splitlines() == [line], done.stderr


@pytest.mark.parametrize(("verb", "free_bytes"), [("mosaic", 65536), ("scan", 4096)])
def test_a_full_disk_mid_write_is_one_line_to_the_processs_end(ready, disk, verb, free_bytes):
    """The in-process refusals above, in a real ``fringescan`` process to its exit: nothing after the line."""
    store = disk / "store"
    shutil.copytree(ready["store"], store)
    fill(disk, free_bytes)
    done = subprocess.run(
        [sys.executable, "-m", "scanner.cli", *verb_argv(verb, ready, store, disk)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "JAX_PLATFORMS": "cpu"},
    )
    line = assert_one_line_error(done.returncode, done.stderr, ResourceError.exit_code)
    assert done.stderr.strip().splitlines() == [line], done.stderr
