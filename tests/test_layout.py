"""Package boundaries, derived from the folders: every package declares its layer and imports flow one way.

Each package folder's ``__init__.py`` declares ``LAYER = n`` (read from the source, never imported):

    0  scanner/*.py            base: errors, config, geo, progress (shared value types)
    1  scanner/core/           pure numerics
    2  scanner/nn, io, eval, sim
    3  scanner/pipeline, mosaic, products
    4  scanner/cli/            verbs: parse, call the library, print
    5  train/                  datasets, training, evaluation
    6  tools/                  benchmarks, accuracy study, demo

A module may import modules of its own layer or below, never above; modules never form a cycle, and neither do
packages. A package that declares ``PURE = True`` touches no files (no file-format library, no os, pathlib,
shutil, tempfile or subprocess, no ``open()``); one that declares ``FORMAT_LIBRARIES = False`` reads and writes
files only through ``scanner.io``. No CLI verb imports another verb, and nothing below the CLI imports it
(train's own verbs in ``train/cli.py`` excepted).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP_PACKAGES = ("scanner", "train", "tools")
FORMAT_LIBRARIES = {"rasterio", "zarr", "tensorstore", "orbax", "pystac", "rio_cogeo", "PIL", "h5py"}
FILE_ACCESS = {"os", "shutil", "pathlib", "tempfile", "subprocess", "glob", "io", "socket"}


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    package: str
    """The package that declares this module's layer (``scanner`` for the base modules)."""
    layer: int
    pure: bool
    """No file access at all (``PURE = True``)."""
    format_free: bool
    """No file-format library (``FORMAT_LIBRARIES = False``, implied by ``PURE``)."""


def declared(init: Path, key: str) -> object | None:
    """The literal value of ``KEY = ...`` at the top of a package's ``__init__.py``, or None."""
    for node in ast.parse(init.read_text(), filename=str(init)).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == key for t in node.targets):
            return ast.literal_eval(node.value)
    return None


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def discover(root: Path = ROOT) -> dict[str, Module]:
    """Every module of scanner/, train/ and tools/ with the layer of its nearest package declaring one."""
    modules = {}
    for top in TOP_PACKAGES:
        for path in sorted((root / top).rglob("*.py")):
            if path.parent == root / "scanner":
                owner, layer, pure, format_free = "scanner", 0, False, False
            else:
                folder = path.parent
                while declared_layer(folder) is None and folder != root:
                    folder = folder.parent
                if folder == root:
                    raise AssertionError(f"{path.relative_to(root)}: no LAYER in any __init__.py above it")
                owner = module_name(folder / "__init__.py", root)
                layer = declared_layer(folder)
                pure = declared(folder / "__init__.py", "PURE") is True
                format_free = pure or declared(folder / "__init__.py", "FORMAT_LIBRARIES") is False
            name = module_name(path, root)
            modules[name] = Module(name, path, owner, layer, pure, format_free)
    return modules


def declared_layer(folder: Path) -> int | None:
    init = folder / "__init__.py"
    return declared(init, "LAYER") if init.is_file() else None


def imports(path: Path, known: dict[str, Module], root: Path = ROOT) -> set[str]:
    """Project modules ``path`` imports anywhere in it (function-level imports included)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
    this = module_name(path, root)
    # "from scanner.mosaic import zarr_io" names the submodule; the package itself adds nothing then
    return {
        n for n in found if n != this and not (known[n].path.name == "__init__.py" and _only_via(n, found))
    }


def _only_via(package: str, found: set[str]) -> bool:
    return any(other.startswith(package + ".") for other in found)


def library_roots(path: Path) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def graph(modules: dict[str, Module], root: Path = ROOT) -> dict[str, set[str]]:
    return {name: imports(m.path, modules, root) for name, m in modules.items()}


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(edges.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def upward_imports(modules: dict[str, Module], edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{a} (layer {modules[a].layer}) imports {b} (layer {modules[b].layer})"
        for a, targets in sorted(edges.items())
        for b in sorted(targets)
        if modules[b].layer > modules[a].layer
    ]


def package_edges(modules: dict[str, Module], edges: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for a, targets in edges.items():
        for b in targets:
            pa, pb = modules[a].package, modules[b].package
            if pa != pb:
                out.setdefault(pa, set()).add(pb)
    return out


def cli_verbs(modules: dict[str, Module]) -> set[str]:
    """CLI modules that register a verb (a top-level ``register`` function)."""
    verbs = set()
    for name, m in modules.items():
        if name.startswith(("scanner.cli.", "train.cli")):
            tree = ast.parse(m.path.read_text())
            if any(isinstance(n, ast.FunctionDef) and n.name == "register" for n in tree.body):
                verbs.add(name)
    return verbs


# ---------------------------------------------------------------------------------------------- the tests

MODULES = discover()
EDGES = graph(MODULES)


def test_every_package_folder_declares_its_layer():
    for top in TOP_PACKAGES:
        for folder in sorted(p.parent for p in (ROOT / top).rglob("*.py")):
            if folder == ROOT / "scanner" or folder.name == "__pycache__":
                continue
            init = folder / "__init__.py"
            assert init.is_file(), f"{folder.relative_to(ROOT)} is a folder of modules without __init__.py"
    for name, m in MODULES.items():
        assert isinstance(m.layer, int), f"{name}: LAYER must be an int literal, found {m.layer!r}"


def test_no_module_imports_a_higher_layer():
    assert upward_imports(MODULES, EDGES) == []


def test_no_import_cycles_between_modules():
    assert cycles(EDGES) == []


def test_no_import_cycles_between_packages():
    assert cycles(package_edges(MODULES, EDGES)) == []


def format_offenders(modules: dict[str, Module]) -> dict[str, list[str]]:
    found = {
        name: sorted(library_roots(m.path) & FORMAT_LIBRARIES) for name, m in modules.items() if m.format_free
    }
    return {name: libs for name, libs in found.items() if libs}


def file_access(modules: dict[str, Module]) -> dict[str, list[str]]:
    found = {
        name: sorted(library_roots(m.path) & FILE_ACCESS) + (["open()"] if calls_open(m.path) else [])
        for name, m in modules.items()
        if m.pure
    }
    return {name: what for name, what in found.items() if what}


def test_format_free_packages_import_no_file_format_library():
    assert format_offenders(MODULES) == {}


def test_pure_packages_touch_no_files():
    assert file_access(MODULES) == {}


def calls_open(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open"
        for node in ast.walk(tree)
    )


def test_no_verb_imports_another_verb():
    verbs = cli_verbs(MODULES)
    assert {a: sorted(EDGES[a] & verbs) for a in sorted(verbs) if EDGES[a] & verbs} == {}


def test_only_the_command_line_imports_the_cli():
    allowed = {name for name in MODULES if name.startswith(("scanner.cli", "train.cli", "tools"))}
    offenders = sorted(
        a
        for a, targets in EDGES.items()
        if a not in allowed and any(b.startswith("scanner.cli") for b in targets)
    )
    assert offenders == []


# ---------------------------------------------------------------------------------------------- the checker


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for top in TOP_PACKAGES:
        (tmp_path / top).mkdir(exist_ok=True)
    return tmp_path


@pytest.fixture
def small_tree(tmp_path):
    return _tree(
        tmp_path,
        {
            "scanner/__init__.py": "",
            "scanner/errors.py": "",
            "scanner/core/__init__.py": "LAYER = 1\nPURE = True\n",
            "scanner/core/phase.py": "from scanner.errors import x\n",
            "scanner/pipeline/__init__.py": "LAYER = 3\n",
            "scanner/pipeline/scan.py": "from scanner.core import phase\n",
            "train/__init__.py": "LAYER = 5\n",
            "tools/__init__.py": "LAYER = 6\n",
        },
    )


def check(root: Path) -> tuple[list[str], list[list[str]]]:
    modules = discover(root)
    edges = graph(modules, root)
    return upward_imports(modules, edges), cycles(edges)


def test_checker_passes_a_clean_tree(small_tree):
    assert check(small_tree) == ([], [])


def test_checker_finds_an_upward_import_inside_a_function(small_tree):
    (small_tree / "scanner/core/phase.py").write_text("def f():\n    from scanner.pipeline.scan import g\n")
    assert check(small_tree)[0] == ["scanner.core.phase (layer 1) imports scanner.pipeline.scan (layer 3)"]


def test_checker_finds_a_cycle_within_a_layer(small_tree):
    (small_tree / "scanner/core/tiling.py").write_text("from scanner.core import phase\n")
    (small_tree / "scanner/core/phase.py").write_text("from scanner.core.tiling import plan\n")
    assert check(small_tree)[1] == [["scanner.core.phase", "scanner.core.tiling"]]


def test_checker_needs_a_layer_for_every_package(small_tree):
    (small_tree / "scanner/extra").mkdir()
    (small_tree / "scanner/extra/__init__.py").write_text("")
    (small_tree / "scanner/extra/thing.py").write_text("")
    with pytest.raises(AssertionError, match="no LAYER"):
        discover(small_tree)


def test_checker_finds_file_access_in_a_pure_package(small_tree):
    (small_tree / "scanner/core/phase.py").write_text(
        "from pathlib import Path\ndef f():\n    return open('x')\n"
    )
    (small_tree / "scanner/pipeline/scan.py").write_text("import zarr\n")
    (small_tree / "scanner/pipeline/__init__.py").write_text("LAYER = 3\nFORMAT_LIBRARIES = False\n")
    modules = discover(small_tree)
    assert file_access(modules) == {"scanner.core.phase": ["pathlib", "open()"]}
    assert format_offenders(modules) == {"scanner.pipeline.scan": ["zarr"]}
