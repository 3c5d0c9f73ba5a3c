"""The paper's recipe (Table 1): AlexNet, SGD momentum 0.9, weight decay 0.0005, lr 0.01 x0.1 every 5,000
iterations, batch 50, 30,000 iterations; and Table 3 as written:

- the landslide candidates are padded to N per class by random rotation in [0, 180) degrees, flips and shifts
  of +-10 px; N = 40,000 for Dataset A (``train.samples_per_class``) and 45,000 for Dataset B
  (``train.samples_per_class_b``; ``fringescan train --subset B``, the default, and ``crossval``'s B models
  use it);
- the others are sampled, not padded: fed as their untransformed centre crop (``train.augment.others=False``;
  ``--set train.augment.others=true`` transforms them too);
- the stored margin is ``required_margin_px`` of the augmentation (41 px: a window rotated by 45 degrees and
  shifted 10 px reaches sqrt(2) x 74.5 + 10 = 115.4 px from the centre), so no corner is ever filled with 0;
- an "other" is a window that holds no pixel of any label (polygon or point, candidate or negative) grown by
  ``dataset.label_buffer_px`` = 10 px (``dataset.others_rule="label_free"``), not merely one whose centre is
  150 px from every label's centroid.

    fringescan dataset --config configs/paper.py --store STORE --labels LABELS --out DATASET
    fringescan train --config configs/paper.py --dataset DATASET --out CKPT [--subset A|B] [--fold k]

On a lent GPU, ``python3 -m tools.table1_gpu`` trains this recipe's full schedule (docs/accuracy.md, "Full
Table 1 schedule on a GPU"): about 2 minutes per model on an H200.

Cost: about 30,000 x 50 = 1.5 M samples of the 585 MFLOP-per-window AlexNet (about 1.8 GFLOP per training
sample with the backward pass). On the idle 2-core CPU it trains at about 28 samples/s through
``train.loop.train`` (``python -m tools.bench_train``, docs/training.md, "CPU training speed"; fewer FLOPs than
the earlier 832 MFLOP network of this file, which ran at 48 on a loaded machine, but LRN and grouped convolutions
run less efficiently in XLA on the CPU): about 15 hours per model, and more than a week for a 5-fold, 3-case
cross-validation there.

**Network and input: Caffe's bvlc_alexnet on the paper's 16 colours.** The paper shows the experts and the CNN
the phase in 16 colour steps (its Fig. 4), so the input is ``phase_rgb``: the 16 quantized levels through the
cyclic table of ``scanner.core.palette`` (matplotlib's ``hsv`` sampled at k/16: red at -pi, through yellow,
green, cyan, blue and magenta back to red, so level 15 sits next to level 0 in colour as in phase), three
planes in [0, 1]; invalid pixels are the quicklook's nodata grey (0.502, 0.502, 0.502), which is none of the 16
saturated colours. (One grey channel, level / 15, would put black next to white at +-pi and write invalid
pixels as level 0.) The network is bvlc_alexnet: LRN after conv1 and conv2 (size 5, alpha 1e-4, beta 0.75),
conv2/4/5 in two groups, max pools that round up (Caffe's ceil mode) and Caffe's fillers (Gaussian weights,
std 0.01, fc6/fc7 0.005; biases 0.1 on conv2, conv4, conv5, fc6, fc7 and 0 elsewhere).

The 150 px window is fed natively, not resized to 227: the paper's windows are 150 px, a resize would invent
pixels between the colour steps (and blend colours that are no level), and cost 2.3x the FLOPs. So the sides are
150 -> conv1 35 -> pool1 17 -> conv2 17 -> pool2 8 -> conv3-5 8 -> pool5 4 (ceil mode; rounding down gives 3),
fc6 sees 4 x 4 x 256 = 4,096 inputs instead of bvlc_alexnet's 6 x 6 x 256 = 9,216, and the network has
35,904,898 parameters (bvlc_alexnet at 227 px with 2 classes: 56,876,418; with 1,000 classes: 60,965,224).
584.9 MFLOP per window (832.4 for the earlier grey, ungrouped, floor-pooled network; 29.95 M parameters
there). Models and datasets of that earlier recipe are not comparable with this one (docs/training.md).

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
from train.augment import required_margin_px
from train.config import AugmentConfig, DatasetConfig, ExperimentConfig, OptimConfig, TrainConfig


def get_config() -> ExperimentConfig:
    augment = AugmentConfig(rotate=True, max_rotation_deg=180.0, flip=True, max_shift_px=10, others=False)
    return ExperimentConfig(
        model=ModelConfig(
            name="alexnet",
            in_channels=3,
            fc_width=4096,
            dropout=0.5,
            lrn=True,
            groups=True,
            ceil_pool=True,
            caffe_init=True,
        ),
        preprocess=PreprocessConfig(filter_size_m=2000.0, quantize_levels=16, channels=("phase_rgb",)),
        optim=OptimConfig(
            learning_rate=0.01,
            momentum=0.9,
            weight_decay=0.0005,
            lr_decay_factor=0.1,
            lr_decay_every=5000,
            style="caffe",
            bias_lr_mult=2.0,
        ),
        train=TrainConfig(
            steps=30000,
            batch_size=50,
            samples_per_class=40000,
            samples_per_class_b=45000,
            checkpoint_every=1000,
            augment=augment,
        ),
        dataset=DatasetConfig(
            n_folds=5,
            subset_a_fraction=107 / 127,
            others_per_scene=400,
            margin_px=required_margin_px(augment),
            others_rule="label_free",
            label_buffer_px=10.0,
        ),
    )
