"""Typed configuration: config files, --set overrides, unknown keys, dict round trips."""

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from scanner.config import apply_overrides, config_from_dict, config_to_dict, load_config, require
from scanner.errors import UsageError


@dataclass(frozen=True, kw_only=True)
class Inner:
    rate: float = 0.01
    widths: tuple[int, ...] = (1, 2)

    def __post_init__(self):
        require(self.rate > 0, "inner.rate", expected="> 0", found=self.rate, fix="use a positive rate")


@dataclass(frozen=True, kw_only=True)
class Outer:
    name: str = "demo"
    inner: Inner = field(default_factory=Inner)


def test_overrides_reach_nested_fields_and_parse_json():
    config = apply_overrides(Outer(), ["inner.rate=0.5", "name=paper", "inner.widths=[3, 4]"])
    assert config == Outer(name="paper", inner=Inner(rate=0.5, widths=(3, 4)))


def test_unknown_key_lists_the_valid_ones():
    with pytest.raises(UsageError, match=r"expected one of \['rate', 'widths'\]"):
        apply_overrides(Outer(), ["inner.rte=1"])


def test_override_without_value_is_refused():
    with pytest.raises(UsageError, match="KEY=VALUE"):
        apply_overrides(Outer(), ["inner.rate"])


def test_validation_runs_on_override():
    with pytest.raises(UsageError, match="inner.rate: expected > 0, found -1"):
        apply_overrides(Outer(), ["inner.rate=-1"])


def test_dict_round_trip():
    config = Outer(name="x", inner=Inner(rate=0.2, widths=(5,)))
    assert config_from_dict(Outer, config_to_dict(config)["values"]) == config


def test_load_config_file(tmp_path):
    path = tmp_path / "cfg.py"
    path.write_text("def get_config():\n    return {'a': 1}\n")
    assert load_config(path) == {"a": 1}
    with pytest.raises(UsageError, match="no file at"):
        load_config(tmp_path / "missing.py")
    (tmp_path / "bad.py").write_text("x = 1\n")
    with pytest.raises(UsageError, match="get_config"):
        load_config(tmp_path / "bad.py")


def test_shipped_configs_load_by_name_or_path() -> None:
    from scanner.config import shipped_configs

    root = Path(__file__).resolve().parents[1] / "configs"
    assert {"demo", "paper", "phase_only"} <= set(shipped_configs())
    assert {"demo", "japan"} <= set(shipped_configs("grid"))
    assert load_config("demo") == load_config(root / "demo.py")
    assert load_config("japan", family="grid") == load_config(root / "grids" / "japan.py")
    with pytest.raises(UsageError, match="a shipped name"):
        load_config("no_such_config")
    with pytest.raises(UsageError, match="japan"):
        load_config("no_such_grid", family="grid")
