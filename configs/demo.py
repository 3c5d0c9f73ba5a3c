"""The default recipe: docs/accuracy.md's chosen variant "cos/sin + coherence + slope + hard-negative mining".

configs/phase_only.py's scan-native model, optimizer and 1500-step schedule with phase as cos/sin plus the
ingested coherence and slope (``in_channels=4``), and the operating point chosen on the VAL region:

- ``detect.threshold = 0.97`` and ``detect.min_cells = 4``: ``scanner.eval.calibrate.select_setting`` on VAL
  (highest VAL precision at VAL recall >= 0.92; docs/accuracy.md, "Raising precision"). On the held-out
  HOLDOUT region this gave site-level recall 93.4%, precision 81.6% (docs/accuracy.md, "The default and the
  acceptance check"). ``fringescan train`` records them in the checkpoint, ``scan`` copies them into each
  probability grid and ``detect`` / ``evaluate-scan`` use them unless --threshold / --min-area-m2 are given.
- The model is trained twice, with one round of hard-negative mining between (``fringescan mine``); the
  operating point above belongs to the mined model, not to the first one.

Scenes need coherence and a DEM (``fringescan ingest --coherence ... --dem ...``); for stores without them use
configs/phase_only.py.

    fringescan dataset --store store --labels labels.geojson --out ds --config configs/demo.py
    fringescan train --config configs/demo.py --dataset ds --out first
    fringescan mine --model first --store store --labels labels.geojson --dataset ds --out ds-mined
    fringescan train --config configs/demo.py --dataset ds-mined --out model
"""

import dataclasses
import runpy
from pathlib import Path

from scanner.core.detect import OperatingPoint
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
        detect=OperatingPoint(threshold=0.97, min_cells=4),
    )
