"""tools.zoo's pure parts: which preset a region is drawn with, and the robustness target on a card."""

from __future__ import annotations

from tools.zoo.__main__ import ROBUSTNESS_TARGET, preset_of, robustness
from tools.zoo.recipes import RECIPES, Recipe, Region


def figures(recall: float, precision: float) -> dict:
    return {"point_matching": {"site_recall": recall, "site_precision": precision}}


def test_regions_take_the_recipes_preset_unless_they_name_one():
    recipe = RECIPES["lband-28m"]
    assert preset_of(recipe, recipe.train) == "sim_randomised"
    assert preset_of(recipe, recipe.holdout) is None  # "home": the simulator's defaults
    assert preset_of(recipe, recipe.holdout_variant) == preset_of(recipe, recipe.val) == "sim_variant"
    assert all(preset_of(recipe, r) is None for r in recipe.val_extra)
    plain = Recipe(**{**recipe.__dict__, "synth_config": None})
    assert preset_of(plain, Region(1, 4, 1)) is None


def test_the_robustness_target_needs_both_generators():
    assert ROBUSTNESS_TARGET == {"site_recall": 0.9, "site_precision": 0.8}
    assert robustness(figures(0.95, 0.85), figures(0.91, 0.81))["met"]
    for home, variant in (((0.95, 0.85), (0.89, 0.9)), ((0.95, 0.79), (0.95, 0.95))):
        verdict = robustness(figures(*home), figures(*variant))
        assert not verdict["met"] and "NOT met" in verdict["summary"]


def test_the_default_models_seeds_are_disjoint_across_roles():
    recipe = RECIPES["lband-28m"]
    regions = [recipe.train, recipe.val, *recipe.val_extra, recipe.holdout, recipe.holdout_variant]
    assert len({r.seed for r in regions}) == len(regions)
    assert recipe.default and sum(r.default for r in RECIPES.values()) == 1


def test_val_only_stops_before_any_holdout_step(monkeypatch, tmp_path):
    """``--val-only`` runs the TRAIN and VAL steps and none of HOLDOUT's (the verbs themselves are recorded,
    not run: each is a ``fringescan`` verb with its own tests)."""
    import tools.zoo.__main__ as zoo

    ran = []
    monkeypatch.setattr(zoo, "step", lambda out, name, argv: ran.append(name))
    monkeypatch.setattr(
        zoo, "region_store", lambda out, recipe, role, region: (tmp_path / role, tmp_path / "l")
    )
    monkeypatch.setattr(zoo, "val_regions", lambda out, recipe: (tmp_path / "val", tmp_path / "l"))
    assert zoo.build(RECIPES["lband-28m"], tmp_path, val_only=True) is None
    assert ran == ["dataset", "train-first", "mine", "train", "val-scan", "calibrate"]


def test_val_only_and_install_are_refused_together(capsys):
    import pytest

    import tools.zoo.__main__ as zoo

    with pytest.raises(SystemExit) as stopped:
        zoo.main(["lband-28m", "--out", "unused", "--val-only", "--install"])
    assert stopped.value.code == 2 and "--install needs" in capsys.readouterr().err
