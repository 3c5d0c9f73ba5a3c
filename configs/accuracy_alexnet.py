"""Variant (b) of docs/accuracy.md: the paper's AlexNet (configs/paper.py) on the demo dataset recipe.

configs/paper.py's model, preprocessing and optimizer; the dataset and step schedule of configs/phase_only.py
(``python -m tools.accuracy --alexnet-steps N`` scales the steps, and the lr drop with them). Patch level only:
the per-window AlexNet scans about 120 windows/s here (docs/scanning.md), too slow for whole test scenes.
"""

import dataclasses
import runpy
from pathlib import Path

from train.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    paper, demo = (
        runpy.run_path(str(Path(__file__).with_name(f)))["get_config"]()
        for f in ("paper.py", "phase_only.py")
    )
    return dataclasses.replace(paper, train=demo.train, dataset=demo.dataset)
