"""Experiment configuration: one frozen dataclass composing the model, preprocessing, optimizer, training and
dataset settings. ``configs/<name>.py`` returns one from ``get_config()``; ``--set a.b=value`` overrides it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from scanner.config import require
from scanner.core.detect import OperatingPoint
from scanner.core.phase import PreprocessConfig
from scanner.nn.model import ModelConfig

OPTIM_STYLES = ("caffe", "optax")
OTHERS_RULES = ("centre_distance", "label_free")


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """SGD with momentum and a step learning-rate schedule (the paper's Table 1 by default).

    ``style``: ``"caffe"`` folds the learning rate into the momentum buffer (``v = m v + lr g; w -= v``) and
    gives biases ``bias_lr_mult`` times the learning rate and no weight decay, as Caffe's AlexNet solver
    does; ``"optax"`` is ``optax.sgd`` (``v = m v + g; w -= lr v``) with weight decay on every parameter.
    """

    learning_rate: float = 0.01
    momentum: float = 0.9
    weight_decay: float = 0.0005
    lr_decay_factor: float = 0.1
    lr_decay_every: int = 5000
    style: str = "caffe"
    bias_lr_mult: float = 2.0

    def __post_init__(self) -> None:
        require(
            self.learning_rate > 0,
            "optim.learning_rate",
            expected="> 0",
            found=self.learning_rate,
            fix="e.g. 0.01",
        )
        require(
            0 <= self.momentum < 1, "optim.momentum", expected="0 <= m < 1", found=self.momentum, fix="0.9"
        )
        require(
            self.weight_decay >= 0,
            "optim.weight_decay",
            expected=">= 0",
            found=self.weight_decay,
            fix="0.0005",
        )
        require(
            0 < self.lr_decay_factor <= 1,
            "optim.lr_decay_factor",
            expected="0 < f <= 1",
            found=self.lr_decay_factor,
            fix="0.1",
        )
        require(
            self.lr_decay_every >= 1,
            "optim.lr_decay_every",
            expected=">= 1",
            found=self.lr_decay_every,
            fix="5000",
        )
        require(
            self.style in OPTIM_STYLES,
            "optim.style",
            expected=f"one of {OPTIM_STYLES}",
            found=self.style,
            fix="caffe (the paper's solver) or optax",
        )


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Table 3's padding: random rotation in [0, max_rotation_deg), flips and shifts, applied per sample.

    ``others``: whether "others" (class 0) are transformed too. Table 3 pads the landslide candidates by
    rotation, flip and shift and samples the others, so configs/paper.py sets False (others are fed as their
    untransformed centre crop). The default, True, transforms every sample, as every model trained before this
    flag existed (configs/demo.py and the zoo's recipes) was trained, so their recipes reproduce unchanged.
    ``train.augment.required_margin_px`` gives the stored margin this augmentation needs.
    """

    rotate: bool = True
    max_rotation_deg: float = 180.0
    flip: bool = True
    max_shift_px: int = 10
    others: bool = True

    def __post_init__(self) -> None:
        require(
            0 <= self.max_rotation_deg <= 360,
            "augment.max_rotation_deg",
            expected="0..360",
            found=self.max_rotation_deg,
            fix="180 as in the paper",
        )
        require(
            0 <= self.max_shift_px <= 64,
            "augment.max_shift_px",
            expected="0..64",
            found=self.max_shift_px,
            fix="10 as in the paper",
        )


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """How long and on what. ``samples_per_class``: the rare class is padded (and the common one sampled) to
    this many samples per class and epoch (Table 3); None uses the larger class's count.
    ``samples_per_class_b``: the same for a model trained on Dataset B (Table 3 pads A to 40,000 and B to
    45,000 per class); None uses ``samples_per_class``. ``for_subset`` resolves it."""

    steps: int = 30000
    batch_size: int = 50
    seed: int = 0
    samples_per_class: int | None = None
    samples_per_class_b: int | None = None
    checkpoint_every: int = 1000
    log_every: int = 10
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        require(self.steps >= 1, "train.steps", expected=">= 1", found=self.steps, fix="e.g. 30000")
        require(self.batch_size >= 1, "train.batch_size", expected=">= 1", found=self.batch_size, fix="50")
        require(
            self.samples_per_class is None or self.samples_per_class >= 1,
            "train.samples_per_class",
            expected="None or >= 1",
            found=self.samples_per_class,
            fix="e.g. 40000",
        )
        require(
            self.samples_per_class_b is None or self.samples_per_class_b >= 1,
            "train.samples_per_class_b",
            expected="None or >= 1",
            found=self.samples_per_class_b,
            fix="e.g. 45000 (Table 3's Dataset B)",
        )
        require(
            self.checkpoint_every >= 1 and self.log_every >= 1,
            "train.checkpoint_every/log_every",
            expected=">= 1",
            found=(self.checkpoint_every, self.log_every),
            fix="e.g. 1000 and 10",
        )


@dataclass(frozen=True, kw_only=True)
class DatasetConfig:
    """How ``fringescan dataset`` samples patches from a store.

    ``margin_px``: extra pixels stored around each 150 px patch so shifts and rotations see real data
    (``train.augment.required_margin_px``: 41 for Table 3's rotation and +-10 px shift; 32, the default, leaves
    the corners of some rotated windows 0). ``others_per_scene``: random non-candidate patches per scene.
    ``others_rule``: which random windows may be "others". ``"centre_distance"`` (the default, every model
    before issue 17): the window's centre lies more than ``exclusion_px`` from every label's centroid, positive
    or negative (a large label can still reach into such a window). ``"label_free"`` (configs/paper.py): the
    150 px window holds no pixel of any label's polygon (or point) grown by ``label_buffer_px``.
    ``n_folds``: folds, assigned per scene.
    ``subset_a_fraction``: share of scenes in Dataset A (A is a subset of B; its folds nest in B's).
    """

    margin_px: int = 32
    others_per_scene: int = 200
    exclusion_px: int = 150
    others_rule: str = "centre_distance"
    label_buffer_px: float = 10.0
    min_valid_fraction: float = 0.75
    n_folds: int = 5
    subset_a_fraction: float = 0.85
    slope_threshold_deg: float = 15.0
    seed: int = 0

    def __post_init__(self) -> None:
        require(self.margin_px >= 0, "dataset.margin_px", expected=">= 0", found=self.margin_px, fix="32")
        require(
            self.others_per_scene >= 0,
            "dataset.others_per_scene",
            expected=">= 0",
            found=self.others_per_scene,
            fix="e.g. 200",
        )
        require(
            self.others_rule in OTHERS_RULES,
            "dataset.others_rule",
            expected=f"one of {OTHERS_RULES}",
            found=self.others_rule,
            fix="label_free (Table 3 as written) or centre_distance",
        )
        require(
            self.label_buffer_px >= 0,
            "dataset.label_buffer_px",
            expected=">= 0",
            found=self.label_buffer_px,
            fix="e.g. 10 (one 10 px cell)",
        )
        require(
            self.n_folds >= 2, "dataset.n_folds", expected=">= 2", found=self.n_folds, fix="5 as in the paper"
        )
        require(
            0 < self.subset_a_fraction <= 1,
            "dataset.subset_a_fraction",
            expected="0 < f <= 1",
            found=self.subset_a_fraction,
            fix="107/127 = 0.84 as in the paper",
        )
        require(
            0 < self.min_valid_fraction <= 1,
            "dataset.min_valid_fraction",
            expected="0 < f <= 1",
            found=self.min_valid_fraction,
            fix="0.75",
        )


@dataclass(frozen=True, kw_only=True)
class ExperimentConfig:
    """Everything one training run needs; saved as JSON next to every checkpoint. ``detect`` is the
    operating point (threshold, smallest site in cells) recorded in the checkpoint for ``fringescan detect``."""

    model: ModelConfig = field(default_factory=ModelConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    dataset: DatasetConfig = field(default_factory=DatasetConfig)
    detect: OperatingPoint = field(default_factory=OperatingPoint)

    def __post_init__(self) -> None:
        require(
            self.model.in_channels == self.preprocess.n_planes,
            "model.in_channels",
            expected=f"the planes of preprocess.channels = {self.preprocess.n_planes} (phase_rgb counts 3)",
            found=self.model.in_channels,
            fix="set model.in_channels to the number of input planes",
        )


def for_subset(config: ExperimentConfig, subset: str) -> ExperimentConfig:
    """``config`` as it trains on Dataset ``subset``: for B, ``train.samples_per_class_b`` (when set) becomes
    ``train.samples_per_class`` (Table 3: A padded to 40,000 per class, B to 45,000)."""
    per_class_b = config.train.samples_per_class_b
    if subset != "B" or per_class_b is None:
        return config
    return dataclasses.replace(config, train=dataclasses.replace(config.train, samples_per_class=per_class_b))
