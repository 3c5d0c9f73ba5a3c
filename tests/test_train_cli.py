"""The training verbs end to end on a tiny store: dataset -> train -> evaluate, and the mismatch refusal."""

from __future__ import annotations

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
                "--out",
                str(tmp_path / "ds"),
                "--config",
                str(config),
            ]
        )
        == 0
    )
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
            ]
        )
        == 0
    )
    meta = json.loads((tmp_path / "ckpt" / "fringescan-model.json").read_text())
    assert meta["train_config"]["held_out_fold"] == 0
    assert meta["train_config"]["experiment"]["values"]["train"]["steps"] == 2
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

    group = zarr.open_group(str(tmp_path / "ds"), mode="r+", zarr_format=3)
    attrs = dict(group.attrs["fringescan"])
    group.attrs["fringescan"] = {**attrs, "wavelength_m": 0.0555}  # a C-band dataset
    capsys.readouterr()
    assert main(["evaluate", "--model", str(tmp_path / "ckpt"), "--dataset", str(tmp_path / "ds")]) == 5
    assert "4.25x the fringes" in capsys.readouterr().err
