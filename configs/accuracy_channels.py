"""Variant (a) of docs/accuracy.md: configs/phase_only.py with extra input channels.

Phase as cos/sin (continuous, no 16-step quantization) plus the ingested coherence and slope. Same model,
optimizer, schedule and operating point (0.5, 2 cells) as configs/phase_only.py; only conv1's input depth changes (4 channels instead of 1), so the
dense cost per window rises by conv1's share only (see docs/accuracy.md for the measured MFLOP/window).
"""

import dataclasses
import runpy
from pathlib import Path

from scanner.core.phase import PreprocessConfig
from train.config import ExperimentConfig


def get_config() -> ExperimentConfig:
    base = runpy.run_path(str(Path(__file__).with_name("phase_only.py")))["get_config"]()
    return dataclasses.replace(
        base,
        model=dataclasses.replace(base.model, in_channels=4),
        preprocess=PreprocessConfig(
            filter_size_m=2000.0, quantize_levels=16, channels=("cos", "sin", "coherence", "slope")
        ),
    )
