"""The training verbs end to end on a tiny store: dataset -> train -> evaluate, and the mismatch refusal."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import zarr
from test_dataset import write_labelled_store

from scanner.cli import main

CONFIG = """
from scanner.nn.model import ModelConfig
from scanner.core.phase import PreprocessConfig
from train.config import DatasetConfig, ExperimentConfig, TrainConfig


def get_config():
    return ExperimentConfig(
        model=ModelConfig(name="alexnet_scan", conv_widths=(4, 8, 8, 8, 8), fc_width=16),
        preprocess=PreprocessConfig(filter_size_m=560.0),
        train=TrainConfig(steps=3, batch_size=8, checkpoint_every=2),
        dataset=DatasetConfig(margin_px=10, others_per_scene=6, n_folds=2, exclusion_px=100),
    )
"""


def test_dataset_train_evaluate_and_refusal(tmp_path: Path, capsys) -> None:
    write_labelled_store(tmp_path)
    config = tmp_path / "tiny.py"
    config.write_text(CONFIG)

    assert (
        main(
            [
                "dataset",
                "--store",
                str(tmp_path / "store"),
                "--labels",
                str(tmp_path / "labels.geojson"),
                "--config",
                str(config),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out  # a summary for people (--json for the report), and the default --out
    assert "windows from 4 scenes" in printed and f"dataset -> {tmp_path / 'store-dataset'}" in printed
    (tmp_path / "store-dataset").rename(tmp_path / "ds")
    assert (
        main(
            [
                "train",
                "--config",
                str(config),
                "--dataset",
                str(tmp_path / "ds"),
                "--out",
                str(tmp_path / "ckpt"),
                "--fold",
                "0",
                "--set",
                "train.steps=2",
                "--set",
                "train.samples_per_class_b=9",
            ]
        )
        == 0
    )
    meta = json.loads((tmp_path / "ckpt" / "fringescan-model.json").read_text())
    assert meta["train_config"]["held_out_fold"] == 0
    assert meta["train_config"]["experiment"]["values"]["train"]["steps"] == 2
    assert meta["train_config"]["experiment"]["values"]["train"]["samples_per_class"] == 9  # --subset B
    assert (
        main(
            [
                "evaluate",
                "--model",
                str(tmp_path / "ckpt"),
                "--dataset",
                str(tmp_path / "ds"),
                "--fold",
                "0",
                "--out",
                str(tmp_path / "eval"),
            ]
        )
        == 0
    )
    report = json.loads((tmp_path / "eval" / "report.json").read_text())
    assert len(report["curve"]) == 101 and (tmp_path / "eval" / "pr_curve.png").is_file()
    assert "BEP" in (tmp_path / "eval" / "report.md").read_text()

    _existing_outputs_need_overwrite(tmp_path, config, capsys)

    group = zarr.open_group(str(tmp_path / "ds"), mode="r+", zarr_format=3)
    attrs = dict(group.attrs["fringescan"])
    group.attrs["fringescan"] = {**attrs, "wavelength_m": 0.0555}  # a C-band dataset
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "ckpt"), "--dataset", str(tmp_path / "ds")]) == 5
    assert "4.25x the fringes" in capsys.readouterr().err


def _tree_digest(root: Path) -> str:
    return hashlib.sha256(
        b"".join(str(p).encode() + (p.read_bytes() if p.is_file() else b"") for p in sorted(root.rglob("*")))
    ).hexdigest()


def _existing_outputs_need_overwrite(tmp_path: Path, config: Path, capsys) -> None:
    """dataset, train and evaluate refuse their existing outputs (unchanged), replace them with --overwrite,
    and never write over another kind (the store)."""
    ds, ckpt, store = tmp_path / "ds", tmp_path / "ckpt", tmp_path / "store"
    dataset = [
        "dataset",
        "--store",
        str(store),
        "--labels",
        str(tmp_path / "labels.geojson"),
        "--config",
        str(config),
    ]
    train = ["train", "--config", str(config), "--dataset", str(ds), "--set", "train.steps=2"]
    evaluate = ["evaluate", "--model", str(ckpt), "--dataset", str(ds), "--out", str(tmp_path / "eval")]
    before = {p: _tree_digest(p) for p in (ds, ckpt, store, tmp_path / "eval")}
    capsys.readouterr()
    for argv in ([*dataset, "--out", str(ds)], [*train, "--out", str(ckpt)], evaluate):
        assert main(argv) == 4, argv
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "already there; fix: pass --overwrite" in err
    for argv in ([*dataset, "--out", str(store), "--overwrite"], [*train, "--out", str(ds), "--overwrite"]):
        assert main(argv) == 4, argv
        assert "fringescan never replaces" in capsys.readouterr().err
    assert {p: _tree_digest(p) for p in before} == before
    created = json.loads((ckpt / "fringescan-model.json").read_text())["created"]
    assert main([*dataset, "--out", str(ds), "--overwrite"]) == 0
    assert main([*train, "--out", str(ckpt), "--overwrite", "--workdir", str(tmp_path / "w2")]) == 0
    assert main([*evaluate, "--overwrite"]) == 0
    assert json.loads((ckpt / "fringescan-model.json").read_text())["created"] >= created
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # nothing left beside
    assert _tree_digest(store) == before[store]
