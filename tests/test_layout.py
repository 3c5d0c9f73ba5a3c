"""Package boundaries: imports flow tools -> train -> scanner, never back; I/O libraries stay at the edges."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IO_LIBRARIES = {"rasterio", "zarr", "tensorstore", "orbax"}
PURE_MODULES = [
    "geo",
    "phase",
    "kernels",
    "prep_device",
    "synthetic",
    "model",
    "infer",
    "detect",
    "tiling",
    "evaluation",
    "calibrate",
]


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize(
    "path", sorted((ROOT / "scanner").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_scanner_never_imports_train_or_tools(path):
    assert not imported_roots(path) & {"train", "tools"}


@pytest.mark.parametrize(
    "path", sorted((ROOT / "train").rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT))
)
def test_train_never_imports_tools(path):
    assert "tools" not in imported_roots(path)


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_modules_do_no_file_io(name):
    path = ROOT / "scanner" / f"{name}.py"
    if not path.exists():
        pytest.fail(f"{path} is listed as a pure module but does not exist")
    assert not imported_roots(path) & IO_LIBRARIES
