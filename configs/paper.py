"""The paper's recipe (Table 1): AlexNet, SGD momentum 0.9, weight decay 0.0005, lr 0.01 x0.1 every 5,000
iterations, batch 50, 30,000 iterations; Table 3's padding to N = 40,000 per class (Dataset A; use
``--set train.samples_per_class=45000`` for Dataset B).

    fringescan train --config configs/paper.py --dataset DATASET --out CKPT [--subset A|B] [--fold k]

Cost: about 30,000 x 50 = 1.5 M samples of the 832 MFLOP-per-window AlexNet (about 2.5 GFLOP per training
sample with the backward pass); about 9 hours per model on the 2-core CPU (measured about 48 samples/s,
`python -m tools.bench.train`, docs/training.md), so a 5-fold, 3-case cross-validation takes days there.

**Optimizer semantics: Caffe (``optim.style="caffe"``, the default here).** Table 1 reads like a Caffe
solver (step policy, gamma 0.1), and the paper trained AlexNet in Caffe, so we reproduce Caffe's update:
the learning rate is folded into the momentum buffer (``v = 0.9 v + lr (g + wd w); w -= v``), and biases
get twice the learning rate and no weight decay (``bias_lr_mult=2``, as in Caffe's AlexNet prototxt). With
optax's own semantics (``v = 0.9 v + g; w -= lr v``) the old buffer is rescaled instantly at each learning-rate
drop, whereas in Caffe it keeps its old-lr size for the ~10 iterations momentum takes to forget it; the two
differ only for a few iterations after each drop and in the bias treatment. ``--set optim.style=optax``
gives plain ``optax.sgd`` with weight decay on every parameter.
"""

from scanner.core.phase import PreprocessConfig
from scanner.nn.model import ModelConfig
from train.config import DatasetConfig, ExperimentConfig, OptimConfig, TrainConfig


def get_config() -> ExperimentConfig:
    return ExperimentConfig(
        model=ModelConfig(name="alexnet", fc_width=4096, dropout=0.5),
        preprocess=PreprocessConfig(filter_size_m=2000.0, quantize_levels=16, channels=("phase_q",)),
        optim=OptimConfig(
            learning_rate=0.01,
            momentum=0.9,
            weight_decay=0.0005,
            lr_decay_factor=0.1,
            lr_decay_every=5000,
            style="caffe",
            bias_lr_mult=2.0,
        ),
        train=TrainConfig(steps=30000, batch_size=50, samples_per_class=40000, checkpoint_every=1000),
        dataset=DatasetConfig(n_folds=5, subset_a_fraction=107 / 127, others_per_scene=400),
    )
