"""Typed configuration: frozen dataclasses hold the schema, ``configs/<name>.py`` returns values.

A config file is plain Python exposing ``get_config()``. Command-line overrides use ``--set a.b=value``; the
value is read as JSON when it parses (numbers, booleans, lists), else as a string. Unknown keys fail and list
the valid ones. The resolved config is saved as JSON next to every output.
"""

from __future__ import annotations

import dataclasses
import json
import runpy
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scanner.errors import UsageError, problem


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> Any:
    """Run ``get_config()`` from the Python file at ``path`` and apply ``a.b=value`` overrides."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            problem(
                "config file",
                expected="an existing configs/<name>.py file",
                found=f"no file at {path}",
                fix="pass a path such as configs/demo.py",
            )
        )
    namespace = runpy.run_path(str(path))
    if "get_config" not in namespace:
        raise UsageError(
            problem(
                f"config file {path}",
                expected="a get_config() function",
                found="none",
                fix="define get_config() returning the config dataclass",
            )
        )
    return apply_overrides(namespace["get_config"](), overrides)


def apply_overrides(config: Any, overrides: Sequence[str]) -> Any:
    """Return ``config`` with each ``dotted.key=value`` override applied (dataclasses.replace, recursively)."""
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep:
            raise UsageError(
                problem(
                    "--set override",
                    expected="KEY=VALUE such as train.steps=100",
                    found=repr(item),
                    fix="add '=' and a value",
                )
            )
        config = _replace_path(config, key.strip().split("."), _parse_value(raw))
    return config


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def _replace_path(obj: Any, keys: list[str], value: Any) -> Any:
    names = [f.name for f in dataclasses.fields(obj)]
    head = keys[0]
    if head not in names:
        raise UsageError(
            problem(
                f"config key {head!r} of {type(obj).__name__}",
                expected=f"one of {names}",
                found=repr(head),
                fix="correct the --set key",
            )
        )
    if len(keys) > 1:
        value = _replace_path(getattr(obj, head), keys[1:], value)
    elif isinstance(getattr(obj, head), tuple) and isinstance(value, list):
        value = tuple(value)
    return dataclasses.replace(obj, **{head: value})


def config_to_dict(config: Any) -> dict:
    """JSON-ready dict of a (nested) config dataclass, with its type names for provenance."""
    return {"type": type(config).__name__, "values": dataclasses.asdict(config)}


def config_from_dict(cls: type, values: dict) -> Any:
    """Rebuild a (nested) frozen dataclass from ``dataclasses.asdict`` output; lists become tuples."""
    kwargs = {}
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if field.name not in values:
            continue
        value = values[field.name]
        field_type = hints.get(field.name)
        if isinstance(field_type, type) and dataclasses.is_dataclass(field_type) and isinstance(value, dict):
            value = config_from_dict(field_type, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[field.name] = value
    return cls(**kwargs)


def require(condition: bool, what: str, *, expected: str, found: Any, fix: str) -> None:
    """Validation helper for ``__post_init__``: raise a UsageError when ``condition`` is false."""
    if not condition:
        raise UsageError(problem(what, expected=expected, found=repr(found), fix=fix))
