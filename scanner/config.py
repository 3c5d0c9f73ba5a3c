"""Typed configuration: frozen dataclasses hold the schema, ``configs/<name>.py`` returns values.

A config file is plain Python exposing ``get_config()``; a syntax error, or code in it that fails, is a
``UsageError`` naming the file and line. Command-line overrides use ``--set a.b=value``; the value is read as
JSON when it parses (numbers, booleans, null, lists), else as a string, and must fit the field's annotated type
(``int``, ``float``, ``bool``, ``str``, ``X | None``, tuples): ``--set train.steps=abc`` is a ``UsageError``
naming key, type and value. Unknown keys fail and list the valid ones. The resolved config is saved as JSON
next to every output.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json
import os
import runpy
import traceback
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scanner.errors import FringescanError, UsageError, problem

CONFIG_FAMILIES = {"experiment": "configs", "grid": "configs.grids"}
"""Where shipped configs of each family live (packages of the ``configs/`` folder, installed with fringescan)."""


def shipped_configs(family: str = "experiment") -> dict[str, Path]:
    """The configs shipped with fringescan in ``family`` ("experiment" or "grid"), by name."""
    folder = importlib.resources.files(CONFIG_FAMILIES[family])
    return {
        entry.name.removesuffix(".py"): Path(str(entry))
        for entry in folder.iterdir()
        if entry.name.endswith(".py") and not entry.name.startswith("_")
    }


def resolve_config(name_or_path: str | Path, family: str = "experiment") -> Path:
    """A config file: a bare name (``demo``, ``japan``) is a shipped config of ``family``, anything else a path."""
    text = str(name_or_path)
    is_name = "/" not in text and not text.endswith(".py")
    if is_name and not Path(text).is_file():
        shipped = shipped_configs(family)
        if text in shipped:
            return shipped[text]
        raise UsageError(
            problem(
                f"{family} config {text!r}",
                expected=f"a shipped name ({', '.join(sorted(shipped))}) or a path to a .py file",
                found="neither",
                fix=f"pass one of those names or a path such as {CONFIG_FAMILIES[family].replace('.', '/')}/NAME.py",
            )
        )
    return Path(text)


def load_config(
    path: str | Path, overrides: Sequence[str] = (), family: str = "experiment", expect: type | None = None
) -> Any:
    """Run ``get_config()`` from a config file (a shipped name or a path), check it returned an ``expect``
    instance when given, and apply ``a.b=value`` overrides."""
    path = resolve_config(path, family)
    if not path.is_file():
        raise UsageError(
            problem(
                "config file",
                expected=f"an existing .py config file or a shipped name ({', '.join(sorted(shipped_configs(family)))})",
                found=f"no file at {path}",
                fix="pass a name such as demo or a path such as configs/demo.py",
            )
        )
    namespace = _run_config_file(path)
    if "get_config" not in namespace:
        raise UsageError(
            problem(
                f"config file {path}",
                expected="a get_config() function",
                found="none",
                fix="define get_config() returning the config dataclass",
            )
        )
    try:
        config = namespace["get_config"]()
    except FringescanError:
        raise
    except Exception as error:  # the file's own code failed: name its line, not a traceback
        raise _config_code_error(path, error) from error
    if expect is not None and not isinstance(config, expect):
        raise UsageError(
            problem(
                f"config file {path}",
                expected=f"get_config() returning a {expect.__name__}",
                found=type(config).__name__,
                fix=f"pass a {family} config (shipped: {', '.join(sorted(shipped_configs(family)))})",
            )
        )
    return apply_overrides(config, overrides)


def _run_config_file(path: Path) -> dict:
    """The namespace of the Python file at ``path``; a syntax error or a failure while it runs is a
    UsageError naming the file and line."""
    try:
        return runpy.run_path(str(path))
    except SyntaxError as error:
        found = f"SyntaxError: {error.msg} at line {error.lineno}"
        if error.text and error.text.strip():
            found += f": {error.text.strip()[:80]!r}"
        raise UsageError(
            problem(
                f"config file {path}",
                expected="a valid Python file defining get_config()",
                found=found,
                fix=f"correct line {error.lineno} of {path.name} (compare with configs/demo.py)",
            )
        ) from error
    except FringescanError:
        raise
    except Exception as error:
        raise _config_code_error(path, error) from error


def _config_code_error(path: Path, error: Exception) -> UsageError:
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == path]
    line = frames[-1].lineno if frames else None
    where = f" at line {line}" if line else ""
    message = " ".join(str(error).split())[:200]
    return UsageError(
        problem(
            f"config file {path}",
            expected="Python code that runs and whose get_config() returns a config",
            found=f"{type(error).__name__}{where}: {message}",
            fix=f"correct {path.name}{where} (compare with configs/demo.py)",
        )
    )


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
        config = _replace_path(config, key.strip().split("."), raw, key.strip())
    return config


def _parse_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _replace_path(obj: Any, keys: list[str], raw: str, key: str) -> Any:
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise UsageError(
            problem(
                f"--set {key}",
                expected="a key naming a config value",
                found=f"{type(obj).__name__} has no keys below it",
                fix="drop the last part of the key",
            )
        )
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
        value = _replace_path(getattr(obj, head), keys[1:], raw, key)
    else:
        value = _typed_value(raw, _field_type(obj, head), getattr(obj, head), key)
    return dataclasses.replace(obj, **{head: value})


def _field_type(obj: Any, name: str) -> Any:
    """The annotated type of field ``name`` of dataclass ``obj`` (None when it cannot be resolved)."""
    try:
        return typing.get_type_hints(type(obj)).get(name)
    except Exception:  # an annotation naming something not importable here: no type check
        return None


_NO_VALUE = object()


def _typed_value(raw: str, hint: Any, current: Any, key: str) -> Any:
    """The ``--set`` text ``raw`` as a value of type ``hint``: JSON when it parses, else the text; a value
    that does not fit the field's type is a UsageError naming key, type and value."""
    if dataclasses.is_dataclass(current) or (isinstance(hint, type) and dataclasses.is_dataclass(hint)):
        names = [f.name for f in dataclasses.fields(current or hint)]
        raise UsageError(
            problem(
                f"--set {key}",
                expected=f"one value inside {key}, one of {names}",
                found=f"a whole {type(current).__name__} set to {raw!r}",
                fix=f"set its fields one by one, e.g. --set {key}.{names[0]}=VALUE",
            )
        )
    if hint is None:  # unresolvable annotation: the config's own validation decides
        value = _parse_value(raw)
        return tuple(value) if isinstance(current, tuple) and isinstance(value, list) else value
    value = _coerce(_parse_value(raw), raw, hint)
    if value is _NO_VALUE:
        name = hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")
        raise UsageError(
            problem(
                f"--set {key}",
                expected=f"a value of type {name}",
                found=repr(raw),
                fix=f"e.g. --set {key}={json.dumps(current, default=str)}",
            )
        )
    return value


def _coerce(value: Any, raw: str, hint: Any) -> Any:
    """``value`` (JSON-parsed ``raw``) as type ``hint``, or ``_NO_VALUE`` when it does not fit."""
    if hint is Any:
        return value
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            coerced = _coerce(value, raw, arg)
            if coerced is not _NO_VALUE:
                return coerced
        return _NO_VALUE
    if origin is typing.Literal:
        return value if value in args else (raw if raw in args else _NO_VALUE)
    if origin is tuple:
        if not isinstance(value, list):
            return _NO_VALUE
        kinds = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(kinds) != len(value):
            return _NO_VALUE
        items = tuple(_coerce(v, json.dumps(v), k) for v, k in zip(value, kinds, strict=True))
        return _NO_VALUE if any(i is _NO_VALUE for i in items) else items
    return _scalar(value, raw, hint)


def _scalar(value: Any, raw: str, hint: Any) -> Any:
    if hint is bool:
        return value if isinstance(value, bool) else _NO_VALUE
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else _NO_VALUE
    if hint is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok else _NO_VALUE
    if hint is str:
        return value if isinstance(value, str) else raw
    if hint is type(None):
        return None if value is None else _NO_VALUE
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _NO_VALUE
    return value  # a type this check does not know: the config's own validation decides


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


# ---------------------------------------------------------------------------------------------- size limits

MAX_RASTER_PX = 2_000_000_000
"""Default largest phase raster ``ingest`` accepts, in declared pixels (height x width): 2 gigapixels, e.g.
44,700 x 44,700 px, 4x a 3 m ALOS-2 stripmap frame (23,000 px square) and 5x a 10 m Sentinel-1 IW frame."""

MAX_GRID_CELLS = 10_000_000_000
"""Default largest mosaic grid, in level-0 cells: 10^10, 75x the national Japan grid (12,800 x 10,400)."""

MAX_GRID_CHUNKS = 1_000_000
"""Default most level-0 chunks of a mosaic grid (a full rebuild plans every one): 1,900x Japan's 525."""

LIMIT_VARIABLES = {
    "max_raster_px": "FRINGESCAN_MAX_RASTER_PX",
    "max_grid_cells": "FRINGESCAN_MAX_GRID_CELLS",
    "max_grid_chunks": "FRINGESCAN_MAX_GRID_CHUNKS",
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class SizeLimits:
    """Sizes refused before anything is written (docs/operations.md, "Size limits"); each is overridden by
    its environment variable (``LIMIT_VARIABLES``), e.g. ``FRINGESCAN_MAX_RASTER_PX=5000000000``."""

    max_raster_px: int = MAX_RASTER_PX
    max_grid_cells: int = MAX_GRID_CELLS
    max_grid_chunks: int = MAX_GRID_CHUNKS

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SizeLimits:
        """The defaults with the environment's overrides (a value that is not a positive whole number is a
        UsageError naming the variable)."""
        environ = os.environ if environ is None else environ
        values = {}
        for name, variable in LIMIT_VARIABLES.items():
            raw = environ.get(variable)
            if raw is None:
                continue
            text = raw.strip().replace("_", "")
            if not text.isdigit() or int(text) <= 0:
                raise UsageError(
                    problem(
                        variable,
                        expected="a whole number > 0",
                        found=repr(raw),
                        fix=f"unset it (default {getattr(cls, name):,}) or set e.g. {variable}={getattr(cls, name)}",
                    )
                )
            values[name] = int(text)
        return cls(**values)

    @staticmethod
    def variable(name: str) -> str:
        return LIMIT_VARIABLES[name]
