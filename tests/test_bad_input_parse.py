"""Label files, config and grid files and ``--set`` values a user got wrong: the one-line ``fringescan:
error:`` with exit 3 (input) or 2 (usage) through the real CLI, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.config import load_config
from scanner.errors import InputError, UsageError
from scanner.io.store import Store

REPO = Path(__file__).resolve().parents[1]


def one_line(capsys, code: int, expected_code: int) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("fringescan: error:")]
    assert code == expected_code, err
    assert "Traceback" not in err and len(lines) == 1 and err.strip().splitlines()[-1] == lines[0], err
    return lines[0]


@pytest.fixture
def empty_store(tmp_path) -> Path:
    return Store.create(tmp_path / "store").root


def dataset(store: Path, labels: Path, out: Path, *extra: str) -> list[str]:
    config = str(REPO / "configs" / "phase_only.py")
    return [
        "dataset",
        "--store",
        str(store),
        "--labels",
        str(labels),
        "--config",
        config,
        "--out",
        str(out),
        *extra,
    ]


# ------------------------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("[1, 2, 3]", "found <class 'list'>"),
        ('{"type": "Feature", "geometry": null, "properties": {}}', "found 'Feature'"),
        ('"labels"', "found <class 'str'>"),
        ("{", "JSONDecodeError"),
        ('{"type": "FeatureCollection", "features": 7}', "a list of features"),
        ('{"type": "FeatureCollection", "features": [7]}', "no geometry"),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry":'
            ' {"type": "Polygon", "coordinates": [[[0, 0], ["NAN", 0], [1, 1], [0, 0]]]}}]}',
            "coordinates that are not all finite numbers",
        ),
        (
            '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry":'
            ' {"type": "Point", "coordinates": [NaN, 36.0]}}]}',
            "coordinates that are not all finite numbers",
        ),
    ],
)
def test_labels_that_are_not_geojson(tmp_path, capsys, text, found):
    """``read_labels`` and ``fringescan dataset`` on valid JSON that is not a FeatureCollection, and worse."""
    from scan_helpers import add_scene, scene_arrays

    from scanner.io.labels import read_labels

    labels = tmp_path / "labels.geojson"
    labels.write_text(text)
    with pytest.raises(InputError, match="labels|label feature"):
        read_labels(labels)
    store = Store.create(tmp_path / "store")
    add_scene(store, "a", *scene_arrays(160, 160, 0))
    line = one_line(capsys, main(dataset(store.root, labels, tmp_path / "ds")), InputError.exit_code)
    assert found in line and str(labels) in line
    assert not (tmp_path / "ds").exists()


# ------------------------------------------------------------------------------------------- --set


@pytest.mark.parametrize(
    ("override", "found"),
    [
        ("train.steps=abc", "--set train.steps: expected a value of type int, found 'abc'"),
        ("train.steps=2.5", "expected a value of type int, found '2.5'"),
        ("train.augment.flip=yes", "expected a value of type bool, found 'yes'"),
        ("optim.learning_rate=fast", "expected a value of type float, found 'fast'"),
        ("train.samples_per_class=many", "expected a value of type int | None"),
        ("model.conv_widths=wide", "tuple[int, ...]"),
        ("train=5", "one value inside train"),
        ("train.steps.x=1", "has no keys below it"),
        ("train.stepz=1", "expected one of ["),
    ],
)
def test_set_value_of_the_wrong_type(empty_store, tmp_path, capsys, override, found):
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    code = main(dataset(empty_store, labels, tmp_path / "ds", "--set", override))
    line = one_line(capsys, code, UsageError.exit_code)
    assert found in line


def test_set_values_that_fit_are_typed():
    """JSON numbers and booleans, null for optional fields, lists for tuples, bare text for strings."""
    from scanner.config import apply_overrides

    config = load_config(
        REPO / "configs" / "phase_only.py",
        ["train.steps=5.0", "optim.learning_rate=1", "train.samples_per_class=null", "optim.style=optax"],
    )
    assert config.train.steps == 5 and type(config.train.steps) is int
    assert config.optim.learning_rate == 1.0 and type(config.optim.learning_rate) is float
    assert config.train.samples_per_class is None and config.optim.style == "optax"
    config = apply_overrides(config, ["model.conv_widths=[8, 8, 8, 8, 8]", "train.augment.flip=false"])
    assert config.model.conv_widths == (8, 8, 8, 8, 8) and config.train.augment.flip is False


def test_mosaic_set_of_the_wrong_type(empty_store, capsys):
    grid = str(REPO / "configs" / "grids" / "demo.py")
    code = main(["mosaic", "--store", str(empty_store), "--grid", grid, "--set", "height=tall"])
    assert "--set height: expected a value of type int, found 'tall'" in one_line(capsys, code, 2)


# ------------------------------------------------------------------------------------------- config files

BROKEN = {
    "syntax": ("def get_config(:\n    return 1\n", "SyntaxError", 1),
    "indent": ("def get_config():\nreturn 1\n", "SyntaxError", 2),
    "name": ("X = 1\nY = undefined_name\n", "NameError at line 2", 2),
    "import": ("import not_a_module_of_fringescan\n", "ModuleNotFoundError at line 1", 1),
    "get_config raises": ("def get_config():\n    return 1 / 0\n", "ZeroDivisionError at line 2", 2),
    "bad value": (
        "from train.config import TrainConfig\n\ndef get_config():\n    return TrainConfig(steps='abc')\n",
        "TypeError",
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_training_config_file_errors(empty_store, tmp_path, capsys, case):
    text, found, line_number = BROKEN[case]
    config = tmp_path / "broken.py"
    config.write_text(text)
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    argv = ["dataset", "--store", str(empty_store), "--labels", str(labels), "--config", str(config)]
    line = one_line(capsys, main([*argv, "--out", str(tmp_path / "ds")]), UsageError.exit_code)
    assert f"config file {config}" in line and found in line
    if line_number:
        assert f"line {line_number}" in line


@pytest.mark.parametrize("case", ["syntax", "name"])
def test_grid_file_errors(empty_store, tmp_path, capsys, case):
    text, found, line_number = BROKEN[case]
    grid = tmp_path / "grid.py"
    grid.write_text(text)
    code = main(["mosaic", "--store", str(empty_store), "--grid", str(grid)])
    line = one_line(capsys, code, UsageError.exit_code)
    assert f"config file {grid}" in line and found in line and f"line {line_number}" in line
    assert sorted(p.name for p in empty_store.iterdir()) == [".staging", "fringescan-store.json", "scenes"]
