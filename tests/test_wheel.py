"""fringescan as a user installs it: a wheel built from this checkout, installed into a fresh venv outside it.

The wheel must carry everything a run needs that is not code: the configs and grids (addressable by name), the
shipped model zoo and the viewer's assets. The fresh venv borrows the test environment's third-party packages
through a ``.pth`` line (``.pth`` files of that folder, among them the editable install of this checkout, are not
processed), so ``scanner`` can only come from the wheel; every command runs from a folder outside the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from scanner.sim.files import ingest_argv, read_region

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "scanner", "train", "configs")


def copy_sources(dest: Path) -> Path:
    """The files the build needs, without caches or the checkout's other folders."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    dest.mkdir(parents=True)
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, dest / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, dest / name)
    return dest


def run(argv: list[str], cwd: Path) -> str:
    done = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{argv} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bin folder of a fresh venv holding only the wheel (third-party packages borrowed by .pth)."""
    base = tmp_path_factory.mktemp("wheel")
    src = copy_sources(base / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", str(src), "-w",
         str(base / "dist")], cwd=base)  # fmt: skip
    (wheel,) = (base / "dist").glob("fringescan-*.whl")
    venv = base / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base)
    python = venv / "bin" / "python"
    purelib = Path(
        run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], base).strip()
    )
    (purelib / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index",
         str(wheel)], cwd=base)  # fmt: skip
    return venv / "bin"


def test_the_package_comes_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    where = run(
        [str(installed / "python"), "-c", "import scanner, configs; print(scanner.__file__)"], tmp_path
    )
    assert Path(where.strip()).is_relative_to(installed.parent), where
    assert not Path(where.strip()).is_relative_to(ROOT)
    models = run([str(installed / "fringescan"), "models"], tmp_path)
    assert str(installed.parent) in models and "lband-28m (default)" in models
    assert "dataset" in run(
        [str(installed / "fringescan"), "--help"], tmp_path
    )  # train's verbs (entry point)


def test_synth_ingest_scan_detect_mosaic_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    fringescan = str(installed / "fringescan")
    run([fringescan, "synth", "--out", "region", "--scenes", "1", "--size", "360", "--seed", "5"], tmp_path)
    (scene,) = read_region(tmp_path / "region")["scenes"]
    run([fringescan, *ingest_argv("region", scene, "store")], tmp_path)
    scanned = run([fringescan, "scan", "--store", "store"], tmp_path)  # the shipped default model
    assert "lband-28m" in scanned
    run([fringescan, "detect", "--store", "store", "--out", "sites.geojson"], tmp_path)
    assert (tmp_path / "sites.geojson").is_file()
    mosaic = run([fringescan, "mosaic", "--store", "store", "--grid", "demo"], tmp_path)  # a grid by name
    assert "mosaic v000001" in mosaic
    assert (tmp_path / "store" / "mosaic").is_dir()
