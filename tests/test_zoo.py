"""The shipped model zoo: every model loads with verified parameters and its card agrees with its checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main as fringescan
from scanner.errors import FringescanError, UsageError
from scanner.io.checkpoint import load_checkpoint, read_meta
from scanner.io.store import Store
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


def _ingest_one(region: Path, store: Path, scene_id: str, product: bool = False) -> None:
    """Ingest the single scene of a synthetic region under ``scene_id`` (its LiCSAR folder when ``product``)."""
    from scanner.sim.files import ingest_argv, read_region

    (scene,) = read_region(region)["scenes"]
    if product:
        assert fringescan(["ingest", str(region / scene["licsar"]["folder"]), "--store", str(store)]) == 0
        return
    argv = ingest_argv(region, scene, store)
    argv[argv.index("--id") + 1] = scene_id
    assert fringescan(argv) == 0


def test_scan_without_model_uses_the_zoo_per_scene_and_refuses_what_no_model_fits(tmp_path, capsys) -> None:
    """A store mixing L band at 28 m, Sentinel-1 at 28 m, a LiCSAR product on its 0.001 deg grid and a C-band
    scene at 50 m: ``scan`` without ``--model`` scores the first two with the zoo model that fits each (recorded
    in its grid) and refuses the other two with the reason (exit 5): no shipped model fits LiCSAR's grid
    (docs/accuracy.md, "The model zoo") or 50 m."""
    from scanner.io.probgrid import read_prob

    store = tmp_path / "store"
    small = ["--scenes", "1", "--size", "300", "--seed", "7"]
    regions = {
        "lband": [],
        "cband": ["--config", "sim_sentinel1"],
        "licsar": ["--config", "sim_sentinel1_licsar", "--product", "licsar"],
        "cband50": ["--config", "sim_sentinel1", "--set", "pixel_size_m=50"],
    }
    for name, extra in regions.items():
        assert fringescan(["-q", "synth", "--out", str(tmp_path / name), *small, *extra]) == 0
        _ingest_one(tmp_path / name, store, name, product=name == "licsar")
    (licsar_id,) = set(Store.open(store).scene_ids()) - set(regions)
    capsys.readouterr()
    assert fringescan(["scan", "--store", str(store)]) == 5
    captured = capsys.readouterr()
    refusals = [line for line in captured.err.splitlines() if line.startswith("fringescan: error:")]
    assert len(refusals) == 2, refusals
    assert {f"scene {s} not scanned" for s in ("cband50", licsar_id)} == {
        r.split(":")[2].strip() for r in refusals
    }
    assert all("fringe" in r or "pixel" in r for r in refusals), refusals
    expected = {"lband": DEFAULT_MODEL, "cband": "cband-28m"}
    for scene_id, model in expected.items():
        assert f"model: {model} (zoo) for {scene_id}\n" in captured.out, captured.out
        _, attrs = read_prob(store, scene_id)
        assert attrs["model"]["zoo_model"] == model, (scene_id, attrs["model"])
    for refused in ("cband50", licsar_id):
        with pytest.raises(FringescanError):
            read_prob(store, refused)


def test_accuracy_doc_carries_the_zoo_table_of_the_shipped_cards() -> None:
    """docs/accuracy.md's zoo table is the one the cards render (python -m tools.zoo.table), so a rebuilt or
    added model cannot leave the docs behind."""
    from tools.zoo.table import zoo_markdown

    doc = (Path(__file__).parents[1] / "docs" / "accuracy.md").read_text()
    start, end = doc.index("<!-- zoo-table -->\n"), doc.index("\n<!-- /zoo-table -->")
    assert doc[start + len("<!-- zoo-table -->\n") : end] == zoo_markdown()
    assert set(zoo_models()) == {line.split("`")[1] for line in zoo_markdown().splitlines()[2:]}
