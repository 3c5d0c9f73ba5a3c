"""Phase-only recipe (the default before issue 8; docs/accuracy.md's "demo" variant): the scan-native AlexNet,
narrowed so it trains in about 3 minutes on a 2-core CPU, on the 16-step quantized phase alone. Use it for
stores without coherence or a DEM (configs/demo.py, the default, needs both).

    fringescan synth --out region --seed 0
    fringescan ingest ... --store store            # see docs/ingest.md
    fringescan dataset --store store --labels region/labels.geojson --out ds --config configs/phase_only.py
    fringescan train --config configs/phase_only.py --dataset ds --out ckpt
    fringescan evaluate --model ckpt --dataset ds_other_seed

Dense cost 0.78 MFLOP per window (the scanner's budget is 35; 23 MFLOP per 150 px training window). Same
optimizer semantics as configs/paper.py (Caffe; see its docstring), with a shorter step schedule.
"""

from scanner.core.detect import OperatingPoint
from scanner.core.phase import PreprocessConfig
from scanner.nn.model import ModelConfig
from train.config import DatasetConfig, ExperimentConfig, OptimConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        model=ModelConfig(name="alexnet_scan", conv_widths=(32, 64, 96, 96, 64), fc_width=256, dropout=0.5),
        preprocess=PreprocessConfig(filter_size_m=2000.0, quantize_levels=16, channels=("phase_q",)),
        optim=OptimConfig(
            learning_rate=0.01,
            momentum=0.9,
            weight_decay=0.0005,
            lr_decay_factor=0.1,
            lr_decay_every=600,
            style="caffe",
        ),
        train=TrainConfig(steps=1500, batch_size=50, samples_per_class=None, checkpoint_every=250),
        dataset=DatasetConfig(n_folds=5, subset_a_fraction=0.85, others_per_scene=150, margin_px=32),
        detect=OperatingPoint(threshold=0.5, min_cells=2),
    )
