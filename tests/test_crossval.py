"""``fringescan crossval`` end to end on a tiny store: dataset -> k folds x (A, B) trainings -> Table 6 report,
checked against the per-fold reports, the dataset's folds and the checkpoints' metadata."""

from __future__ import annotations

import contextlib
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_dataset import write_labelled_store

from scanner.cli import main
from train.dataset import select_samples
from train.dataset_store import load_dataset

CONFIG = """
from scanner.nn.model import ModelConfig
from scanner.core.phase import PreprocessConfig
from train.config import DatasetConfig, ExperimentConfig, TrainConfig


def get_config():
    return ExperimentConfig(
        model=ModelConfig(name="alexnet_scan", conv_widths=(4, 8, 8, 8, 8), fc_width=16),
        preprocess=PreprocessConfig(filter_size_m=560.0),
        train=TrainConfig(
            steps=3, batch_size=8, checkpoint_every=2, samples_per_class=20, samples_per_class_b=30
        ),
        dataset=DatasetConfig(
            margin_px=10, others_per_scene=6, n_folds=2, exclusion_px=100, subset_a_fraction=0.5
        ),
    )
"""
CASES = {"A on A'": ("A", "A"), "A on B'": ("A", "B"), "B on B'": ("B", "B")}


@pytest.fixture(scope="module")
def crossval_run(tmp_path_factory) -> tuple[Path, Path]:
    """A 4-scene store, its 2-fold dataset (A = one scene per fold) and one crossval run (2 steps)."""
    root = tmp_path_factory.mktemp("cv")
    write_labelled_store(root)
    config = root / "tiny.py"
    config.write_text(CONFIG)
    dataset_args = ["--store", str(root / "store"), "--labels", str(root / "labels.geojson")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["dataset", *dataset_args, "--out", str(root / "ds"), "--config", str(config), "--json"])
    assert code == 0 and json.loads(printed.getvalue())["n_scenes"] == 4  # --json: the report on stdout
    args = ["--dataset", str(root / "ds"), "--config", str(config)]
    assert main(["crossval", *args, "--folds", "2", "--set", "train.steps=2"]) == 0
    return root / "ds", root / "ds-crossval"  # crossval's default --out: DATASET-crossval beside it


def _table_rows(markdown: str) -> dict[tuple[str, str], list[str]]:
    rows = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) > 2 and cells[0] in CASES:
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def _pct(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def test_crossval_folds_match_dataset_and_checkpoints(crossval_run) -> None:
    ds_path, out = crossval_run
    dataset = load_dataset(ds_path)
    arrays = dataset.arrays
    table = json.loads((out / "table6.json").read_text())
    assert list(table) == list(CASES)
    for fold in range(2):
        for subset in ("A", "B"):
            meta = json.loads((out / f"cv{fold + 1}-{subset}" / "fringescan-model.json").read_text())
            train_index = select_samples(
                arrays["scene_index"], arrays["fold"], arrays["in_a"], subset=subset, fold=fold, part="train"
            )
            assert meta["train_config"]["subset"] == subset
            assert meta["train_config"]["held_out_fold"] == fold
            assert meta["train_config"]["n_train_samples"] == len(train_index)
            per_class = meta["train_config"]["experiment"]["values"]["train"]["samples_per_class"]
            assert per_class == {"A": 20, "B": 30}[subset]  # Table 3: B pads to its own N
            assert not np.any(arrays["fold"][train_index] == fold)  # the held-out fold never trains
        for case, (_, data_subset) in CASES.items():
            test_index = select_samples(
                arrays["scene_index"],
                arrays["fold"],
                arrays["in_a"],
                subset=data_subset,
                fold=fold,
                part="test",
            )
            entry = table[case]["folds"][fold]
            assert entry["n_candidates"] == int(np.sum(dataset.labels[test_index] == 1))
            assert entry["n_others"] == int(np.sum(dataset.labels[test_index] != 1))
            report = json.loads(
                (out / f"cv{fold + 1}-{case[0]}-on-{data_subset}" / "report.json").read_text()
            )
            assert report["title"] == f"cv{fold + 1} {case}"
            same = json.dumps({k: v for k, v in report.items() if k != "title"}, sort_keys=True)
            assert same == json.dumps(entry, sort_keys=True)  # via JSON text: NaN never equals NaN
        # A's test fold is a strict subset of B's here (one of two scenes per fold)
        a_on_a, a_on_b = table["A on A'"]["folds"][fold], table["A on B'"]["folds"][fold]
        assert 0 < a_on_a["n_candidates"] + a_on_a["n_others"] < a_on_b["n_candidates"] + a_on_b["n_others"]
        assert a_on_b["n_candidates"] == table["B on B'"]["folds"][fold]["n_candidates"]


def test_table6_markdown_matches_per_fold_json(crossval_run) -> None:
    _, out = crossval_run
    table = json.loads((out / "table6.json").read_text())
    rows = _table_rows((out / "table6.md").read_text())
    assert {case for case, _ in rows} == set(CASES)
    assert {index for _, index in rows} == {"TP", "FN", "FP", "Recall", "Precision", "BEP"}
    for case, body in table.items():
        folds = body["folds"]
        for index in ("tp", "fn", "fp"):
            cells = rows[(case, index.upper())]
            assert cells[-1] == "—" and len(cells) == len(folds) + 1
            for cell, fold in zip(cells, folds, strict=False):
                at = fold["at_0.5"]
                assert re.fullmatch(r"[0-9.]+ \[[0-9]+\]", cell)
                assert cell == f"{at['normalized'][index]:.1f} [{at['raw'][index]:.0f}]"
                # normalized = raw scaled so each class holds half the test patches
                total = fold["n_candidates"] + fold["n_others"]
                n_class = fold["n_candidates"] if index in ("tp", "fn") else fold["n_others"]
                assert at["normalized"][index] == pytest.approx(at["raw"][index] * total / 2 / n_class)
        per_fold = {
            "recall": [f["at_0.5"]["recall"] for f in folds],
            "precision": [f["at_0.5"]["precision"] for f in folds],
            "bep": [f["bep"] for f in folds],
        }
        for key, name in (("recall", "Recall"), ("precision", "Precision"), ("bep", "BEP")):
            values = [v for v in per_fold[key] if v is not None and math.isfinite(v)]
            expected = sum(values) / len(values) if values else None
            average = body["average"][key]
            assert average == (None if expected is None else pytest.approx(expected))
            assert rows[(case, name)] == [_pct(v) for v in per_fold[key]] + [_pct(average)]


def test_crossval_refuses_wrong_fold_count(crossval_run, capsys) -> None:
    ds_path, out = crossval_run
    capsys.readouterr()
    code = main(["crossval", "--dataset", str(ds_path), "--out", str(out / "again"), "--folds", "5"])
    assert code != 0
    assert "--folds" in capsys.readouterr().err
    assert not (out / "again").exists()
