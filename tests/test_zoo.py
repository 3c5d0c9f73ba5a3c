"""The shipped model zoo: every model loads with verified parameters and its card agrees with its checkpoint."""

from __future__ import annotations

import json

import pytest

from scanner.cli import main as fringescan
from scanner.errors import FringescanError, UsageError
from scanner.io.checkpoint import load_checkpoint, read_meta
from scanner.io.zoo import DEFAULT_MODEL, resolve_model, zoo_models

CARD_FIELDS = {
    "sensor",
    "wavelength_m",
    "pixel_size_m",
    "channels",
    "reproduce",
    "operating_point",
    "held_out",
}


def test_the_default_model_is_shipped() -> None:
    assert DEFAULT_MODEL in zoo_models()
    assert resolve_model(None) == zoo_models()[DEFAULT_MODEL].path


@pytest.mark.parametrize("name", sorted(zoo_models()))
def test_each_card_agrees_with_its_checkpoint(name: str) -> None:
    entry = zoo_models()[name]
    assert set(entry.card) >= CARD_FIELDS, CARD_FIELDS - set(entry.card)
    _, meta = load_checkpoint(entry.path)  # raises when the parameters do not hash to params_sha256
    assert entry.card["params_sha256"] == meta.params_sha256
    assert entry.card["wavelength_m"] == meta.wavelength_m
    assert entry.card["pixel_size_m"] == meta.pixel_size_m
    assert tuple(entry.card["channels"]) == tuple(meta.preprocess.channels)
    point = entry.card["operating_point"]
    assert (point["threshold"], point["min_cells"]) == (
        meta.operating_point.threshold,
        meta.operating_point.min_cells,
    )


def test_names_and_paths_resolve(tmp_path) -> None:
    path = zoo_models()[DEFAULT_MODEL].path
    assert read_meta(resolve_model(str(path))) == read_meta(resolve_model(DEFAULT_MODEL))
    with pytest.raises(UsageError, match="fringescan models"):
        resolve_model("no-such-model")


def test_models_verb_lists_the_cards(capsys: pytest.CaptureFixture[str]) -> None:
    assert fringescan(["models", "--json"]) == 0
    cards = json.loads(capsys.readouterr().out)
    assert set(cards) == set(zoo_models())
    assert fringescan(["models"]) == 0
    assert f"{DEFAULT_MODEL} (default)" in capsys.readouterr().out


def test_scan_without_model_uses_the_zoo_per_scene_and_refuses_what_no_model_fits(tmp_path, capsys) -> None:
    """An L-band scene is scanned with lband-28m (recorded in its grid); a C-band scene, which no shipped
    model fits, is refused with the reason while the L-band one is still scanned (exit 5)."""
    from scanner.io.probgrid import read_prob
    from scanner.sim.files import ingest_argv, read_region

    store = tmp_path / "store"
    for name, extra in (("lband", []), ("cband", ["--set", "wavelength_m=0.0555"])):
        region = tmp_path / name
        synth = ["synth", "--out", str(region), "--scenes", "1", "--size", "300", "--seed", "7", *extra]
        assert fringescan(synth) == 0
        (scene,) = read_region(region)["scenes"]
        argv = ingest_argv(region, scene, store)
        argv[argv.index("--id") + 1] = name
        assert fringescan(argv) == 0
    capsys.readouterr()
    assert fringescan(["scan", "--store", str(store)]) == 5
    captured = capsys.readouterr()
    refusals = [line for line in captured.err.splitlines() if line.startswith("fringescan: error:")]
    assert len(refusals) == 1 and "scene cband not scanned" in refusals[0] and "4.2" in refusals[0]
    assert "lband-28m (zoo) for lband" in captured.out
    _, attrs = read_prob(store, "lband")
    assert attrs["model"]["zoo_model"] == DEFAULT_MODEL
    with pytest.raises(FringescanError):
        read_prob(store, "cband")
