"""The model zoo shipped in the package (I/O module): ``scanner/zoo/<name>/``, one checkpoint and its card each.

A zoo model is an ordinary checkpoint directory (``fringescan-model.json`` + ``params/``, written by
``fringescan train``) with a ``card.json`` beside them: sensor, pixel spacing, channels, the command and seeds
that reproduce it, its operating point and its held-out figures (``format: fringescan-model-card``).
``--model NAME`` in ``scan`` and ``nightly`` takes a zoo name or a checkpoint path; without ``--model`` the
default model is used. ``fringescan models`` lists the zoo.
"""

from __future__ import annotations

import dataclasses
import importlib.resources
from pathlib import Path
from typing import Any

from scanner.errors import InputError, UsageError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, WAVELENGTH_TOLERANCE
from scanner.io.readers import parse_json_file
from scanner.sensors import fringe_density_ratio

CARD_NAME = "card.json"
DEFAULT_MODEL = "lband-28m"
"""The model scans use when no ``--model`` is given."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ZooModel:
    name: str
    path: Path
    card: dict[str, Any]


def zoo_dir() -> Path:
    """The folder of the shipped models (inside the installed package)."""
    return Path(str(importlib.resources.files("scanner") / "zoo"))


def read_card(path: Path) -> dict[str, Any]:
    """The card of the model at ``path`` (InputError when it is missing or not a model card)."""
    card = parse_json_file(
        path / CARD_NAME,
        what=f"model card {path / CARD_NAME}",
        expected="fringescan-model-card JSON",
        fix="reinstall fringescan (the zoo ships with the package)",
    )
    if not isinstance(card, dict) or card.get("format") != "fringescan-model-card":
        raise InputError(
            problem(
                f"model card {path / CARD_NAME}",
                expected='a JSON object with "format": "fringescan-model-card"',
                found=type(card).__name__ if not isinstance(card, dict) else repr(card.get("format")),
                fix="reinstall fringescan (the zoo ships with the package)",
            )
        )
    return card


def zoo_models() -> dict[str, ZooModel]:
    """Every shipped model by name."""
    root = zoo_dir()
    if not root.is_dir():
        return {}
    return {
        entry.name: ZooModel(name=entry.name, path=entry, card=read_card(entry))
        for entry in sorted(root.iterdir())
        if (entry / CARD_NAME).is_file()
    }


def resolve_model(name_or_path: str | Path | None) -> Path:
    """A checkpoint directory: ``None`` is the default model, a bare zoo name a shipped one, else a path."""
    text = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    if "/" in text or Path(text).exists():
        return Path(text)
    models = zoo_models()
    if text not in models:
        raise UsageError(
            problem(
                f"model {text!r}",
                expected=f"a zoo name ({', '.join(models) or 'none installed'}) or a checkpoint directory",
                found="neither",
                fix="run `fringescan models` for the zoo, or pass the directory written by `fringescan train`",
            )
        )
    return models[text].path


def in_zoo(checkpoint: str | Path) -> bool:
    """Whether ``checkpoint`` lies inside the shipped zoo (read-only: ``fringescan calibrate`` refuses it)."""
    return Path(checkpoint).resolve().is_relative_to(zoo_dir().resolve())


def write_card_point(path: Path, point: dict[str, Any], source: str) -> dict[str, Any] | None:
    """Update the card beside the checkpoint at ``path`` (when it has one): ``operating_point`` and
    ``operating_point_source`` (how it was chosen), replaced atomically. Returns the new card or None."""
    from scanner.io.writers import write_json

    if not (Path(path) / CARD_NAME).is_file():
        return None
    card = read_card(Path(path)) | {"operating_point": dict(point), "operating_point_source": source}
    write_json(Path(path) / CARD_NAME, card)
    return card


def zoo_name_of(checkpoint: str | Path) -> str | None:
    """The zoo name of a checkpoint directory, or None when it is not a shipped model."""
    path = Path(checkpoint).resolve()
    return path.name if path.parent == zoo_dir().resolve() and (path / CARD_NAME).is_file() else None


def fitting_models(pixel_size_m: float, wavelength_m: float) -> list[str]:
    """Names of the zoo models whose card's wavelength and pixel spacing fit a scene (the tolerances of
    ``scanner.io.checkpoint.check_compatible``: pixel size within 10%, fringe density within 10%)."""
    names = []
    for name, model in zoo_models().items():
        card_pixel, card_wave = model.card.get("pixel_size_m"), model.card.get("wavelength_m")
        if not isinstance(card_pixel, int | float) or not isinstance(card_wave, int | float):
            continue
        ratio = fringe_density_ratio(
            scene_wavelength_m=wavelength_m,
            scene_pixel_m=pixel_size_m,
            model_wavelength_m=card_wave,
            model_pixel_m=card_pixel,
        )
        pixel_ok = abs(pixel_size_m - card_pixel) / card_pixel <= PIXEL_SIZE_TOLERANCE
        if pixel_ok and abs(ratio - 1.0) <= WAVELENGTH_TOLERANCE:
            names.append(name)
    return names
