"""Flax NNX networks: the paper's AlexNet and the scan-native AlexNet whose dense pass equals its windows.

Pure numerics: no file I/O, no logging setup, no global random state (modules take ``rngs: nnx.Rngs``).

Both networks map a batch of windows ``(B, 150, 150, C)`` float32 to logits ``(B, 2)``; class 1 is
"landslide candidate". ``C`` is ``ModelConfig.in_channels`` (one quantized-phase channel by default; the
channels themselves are built by ``scanner.core.phase.preprocess``).

``alexnet`` follows the Caffe AlexNet the paper trained (conv1 11x11/4 unpadded, conv2-5 SAME, max pools 3/2
unpadded, two fully connected layers with dropout): 832 MFLOP per 150 px window at the default widths.

``alexnet_scan`` uses only VALID convolutions and pools with a total stride of exactly 10 px and a receptive
field of exactly 150 px, and its fully connected layers are convolutions (fc1 a 2x2 conv, fc2/fc3 1x1). So
``dense`` over a tile of ``(10n + 140) x (10m + 140)`` px yields the ``n x m`` per-window logits of the
windows starting at ``(10i, 10j)`` in one pass. In the dense pass it applies two XLA-CPU tricks measured in
BENCHMARKS.md, both exact: stride-1 convolutions pad one pixel on the high side and crop (same numbers, ~3x
faster than VALID), and 1x1 convolutions are matrix multiplies over the channel axis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
from flax import nnx

from scanner.config import require
from scanner.geo import STRIDE_PX, WINDOW_PX

MODEL_NAMES = ("alexnet", "alexnet_scan")
NUM_CLASSES = 2
_DIMS = ("NHWC", "HWIO", "NHWC")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Which network and how wide. ``conv_widths`` are the output channels of the five convolutions."""

    name: str = "alexnet"
    in_channels: int = 1
    conv_widths: tuple[int, ...] = (96, 256, 384, 384, 256)
    fc_width: int = 4096
    dropout: float = 0.5
    lrn: bool = False
    groups: bool = False
    ceil_pool: bool = False
    caffe_init: bool = False

    def __post_init__(self) -> None:
        require(
            self.name in MODEL_NAMES,
            "model.name",
            expected=f"one of {MODEL_NAMES}",
            found=self.name,
            fix="set model.name to alexnet or alexnet_scan",
        )
        require(
            self.in_channels >= 1,
            "model.in_channels",
            expected=">= 1",
            found=self.in_channels,
            fix="match the number of preprocess.channels",
        )
        require(
            len(self.conv_widths) == 5 and all(w >= 1 for w in self.conv_widths),
            "model.conv_widths",
            expected="five positive widths",
            found=self.conv_widths,
            fix="e.g. (96, 256, 384, 384, 256)",
        )
        require(self.fc_width >= 1, "model.fc_width", expected=">= 1", found=self.fc_width, fix="e.g. 1024")
        require(
            0.0 <= self.dropout < 1.0,
            "model.dropout",
            expected="0 <= rate < 1",
            found=self.dropout,
            fix="e.g. 0.5",
        )
        grouped = (self.conv_widths[0], self.conv_widths[2], self.conv_widths[3], self.conv_widths[4])
        require(
            not self.groups or all(w % 2 == 0 for w in grouped),
            "model.groups",
            expected="even conv widths when grouped convolutions are on",
            found=self.conv_widths,
            fix="use even widths or groups=False",
        )
        require(
            not (
                self.name == "alexnet_scan" and (self.lrn or self.groups or self.ceil_pool or self.caffe_init)
            ),
            "model.lrn/groups/ceil_pool/caffe_init",
            expected="False for alexnet_scan (they are options of the paper's alexnet)",
            found=(self.lrn, self.groups, self.ceil_pool, self.caffe_init),
            fix="set model.lrn=false model.groups=false model.ceil_pool=false model.caffe_init=false",
        )


def _conv(conv: nnx.Conv, x: jax.Array, *, strides: int, padding, groups: int = 1) -> jax.Array:
    """Apply ``conv``'s parameters with an explicit padding (``'VALID'``, ``'SAME'`` or pairs)."""
    y = jax.lax.conv_general_dilated(
        x, conv.kernel[...], (strides, strides), padding, dimension_numbers=_DIMS, feature_group_count=groups
    )
    return y + conv.bias[...]


def _conv_valid_fast(conv: nnx.Conv, x: jax.Array) -> jax.Array:
    """A stride-1 VALID conv computed as a conv padded by one pixel on the high side, then cropped.

    Bit-identical to VALID (the extra row and column only feed the cropped outputs) and about 3x faster in
    XLA on the CPU for many-channel 3x3/5x5 kernels (BENCHMARKS.md).
    """
    y = _conv(conv, x, strides=1, padding=((0, 1), (0, 1)))
    return y[:, :-1, :-1, :]


def _conv_by_blocks(x: jax.Array, kernel: jax.Array, stride: int) -> jax.Array:
    """A VALID convolution whose stride divides the image, as one matrix multiply over space-to-depth blocks.

    The image is cut into ``stride x stride`` blocks (``(B, H/s, W/s, s*s*C)``); a ``k x k`` kernel at stride
    ``s`` covers ``t x t`` neighbouring blocks (``t = ceil(k / s)``; the kernel is zero-padded to ``t*s``), so
    one ``(B*H/s*W/s, s*s*C) @ (s*s*C, t*t*O)`` multiply gives every tap's contribution at every block and the
    output is the sum of ``t*t`` shifted slices of it. The same numbers as a VALID ``conv_general_dilated`` to
    float32 rounding (``test_conv_by_blocks_equals_the_convolution``), about 5x faster than XLA's CPU
    convolution for the scan model's conv1 (10x10/5 on 4 channels) forward and kernel gradient together
    (docs/training.md, "CPU training speed"). Needs ``H`` and ``W`` divisible by ``s``; 150 px windows at
    stride 5 are.
    """
    b, h, w, c = x.shape
    k, o = kernel.shape[0], kernel.shape[-1]
    taps = -(-k // stride)
    n, m = h // stride, w // stride
    require(
        h % stride == 0 and w % stride == 0 and n >= taps and m >= taps,
        "_conv_by_blocks input",
        expected=f"an image whose sides are multiples of the stride {stride} and at least {taps * stride} px",
        found=f"{h} x {w} px",
        fix="use _conv for this input",
    )
    blocks = x.reshape(b, n, stride, m, stride, c).transpose(0, 1, 3, 2, 4, 5).reshape(b, n, m, -1)
    padded = jnp.pad(kernel, ((0, taps * stride - k), (0, taps * stride - k), (0, 0), (0, 0)))
    taps_kernel = (
        padded.reshape(taps, stride, taps, stride, c, o)
        .transpose(1, 3, 4, 0, 2, 5)
        .reshape(-1, taps * taps * o)
    )
    return _block_taps(blocks, taps_kernel, taps)


@partial(jax.custom_vjp, nondiff_argnums=(2,))
def _block_taps(blocks: jax.Array, taps_kernel: jax.Array, taps: int) -> jax.Array:
    """``(B, n, m, K)`` blocks and a ``(K, taps*taps*O)`` kernel -> the ``(B, n-t+1, m-t+1, O)`` convolution:
    output ``(i, j)`` sums tap ``(dy, dx)``'s product at block ``(i+dy, j+dx)``."""
    b, n, m, depth = blocks.shape
    products = jnp.matmul(blocks.reshape(-1, depth), taps_kernel).reshape(b, n, m, taps * taps, -1)
    oh, ow = n - taps + 1, m - taps + 1
    out = None
    for t in range(taps * taps):
        dy, dx = divmod(t, taps)
        part = products[:, dy : dy + oh, dx : dx + ow, t]
        out = part if out is None else out + part
    return out


def _block_taps_forward(blocks: jax.Array, taps_kernel: jax.Array, taps: int) -> tuple[jax.Array, tuple]:
    return _block_taps(blocks, taps_kernel, taps), (blocks, taps_kernel)


def _block_taps_backward(taps: int, saved: tuple, grad: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Each tap's output gradient placed at its blocks (zero elsewhere), then two matrix multiplies. The
    barrier keeps XLA from fusing the placement into the kernel gradient's multiply, which is about 2x slower
    on the CPU than multiplying the materialised array."""
    blocks, taps_kernel = saved
    b, n, m, depth = blocks.shape
    oh, ow = grad.shape[1], grad.shape[2]
    placed = [
        jnp.pad(grad, ((0, 0), (dy, n - oh - dy), (dx, m - ow - dx), (0, 0)))
        for dy, dx in (divmod(t, taps) for t in range(taps * taps))
    ]
    placed = jax.lax.optimization_barrier(jnp.stack(placed, axis=3).reshape(b * n * m, -1))
    flat = blocks.reshape(-1, depth)
    d_kernel = jax.lax.dot_general(flat, placed, (((0,), (0,)), ((), ())))
    d_blocks = jnp.matmul(placed, taps_kernel.T).reshape(blocks.shape)
    return d_blocks, d_kernel


_block_taps.defvjp(_block_taps_forward, _block_taps_backward)


def _dense(linear: nnx.Linear, x: jax.Array) -> jax.Array:
    """A 1x1 convolution (or a plain fully connected layer) as one matrix multiply over the last axis."""
    return jnp.matmul(x, linear.kernel[...]) + linear.bias[...]


def _max_pool(x: jax.Array, window: int, stride: int, ceil: bool = False) -> jax.Array:
    """Max pool without padding; ``ceil`` rounds the output size up as Caffe does (``pool_side``), the last
    window hanging over the high edge and taking the max of what it covers."""
    pads = [(0, 0)] * 4
    if ceil:
        for axis in (1, 2):
            side = x.shape[axis]
            pads[axis] = (0, max(0, (pool_side(side, window, stride, True) - 1) * stride + window - side))
    return _max_pool_valid(jnp.pad(x, pads, constant_values=-jnp.inf), window, stride)


def _window_views(x: jax.Array, window: int, stride: int) -> list[jax.Array]:
    """The ``window**2`` strided views of ``x`` whose elementwise max is the VALID pool, in row-major order."""
    oh, ow = (x.shape[1] - window) // stride + 1, (x.shape[2] - window) // stride + 1
    return [
        x[:, i : i + stride * (oh - 1) + 1 : stride, j : j + stride * (ow - 1) + 1 : stride, :]
        for i in range(window)
        for j in range(window)
    ]


@partial(jax.custom_vjp, nondiff_argnums=(1, 2))
def _max_pool_valid(x: jax.Array, window: int, stride: int) -> jax.Array:
    """VALID max pool as a max over strided views: the same numbers as ``lax.reduce_window`` (max is exact),
    and the same gradient as its ``select_and_scatter`` (each window's gradient goes to its first maximum in
    row-major order), but about 9x faster in XLA on the CPU for the training step's pools (docs/training.md,
    "CPU training speed")."""
    views = _window_views(x, window, stride)
    out = views[0]
    for view in views[1:]:
        out = jnp.maximum(out, view)
    return out


def _max_pool_forward(x: jax.Array, window: int, stride: int) -> tuple[jax.Array, tuple]:
    out = _max_pool_valid(x, window, stride)
    return out, (x, out)


def _max_pool_backward(window: int, stride: int, saved: tuple, grad: jax.Array) -> tuple[jax.Array]:
    x, out = saved
    taken = jnp.zeros(out.shape, bool)
    dx = jnp.zeros_like(x)
    oh, ow = out.shape[1], out.shape[2]
    for k, view in enumerate(_window_views(x, window, stride)):
        first = (view == out) & ~taken
        taken = taken | first
        i, j = divmod(k, window)
        pads = (
            (0, 0, 0),
            (i, x.shape[1] - i - stride * (oh - 1) - 1, stride - 1),
            (j, x.shape[2] - j - stride * (ow - 1) - 1, stride - 1),
            (0, 0, 0),
        )
        dx = dx + jax.lax.pad(jnp.where(first, grad, 0.0).astype(x.dtype), jnp.zeros((), x.dtype), pads)
    return (dx,)


_max_pool_valid.defvjp(_max_pool_forward, _max_pool_backward)


def pool_side(side: int, window: int, stride: int, ceil: bool) -> int:
    """Output side of an unpadded max pool: rounded down (XLA/Flax) or up (Caffe's PoolingLayer, which also
    drops a last window that would start beyond the input)."""
    if not ceil:
        return (side - window) // stride + 1
    out = -(-(side - window) // stride) + 1
    return out - 1 if (out - 1) * stride >= side else out


def local_response_norm(
    x: jax.Array, *, size: int = 5, alpha: float = 1e-4, beta: float = 0.75, k: float = 1.0
) -> jax.Array:
    """Caffe's across-channel LRN: ``x / (k + alpha/size * sum_{size channels} x^2) ** beta``."""
    squared = jnp.square(x)
    half = size // 2
    summed = jax.lax.reduce_window(
        squared, 0.0, jax.lax.add, (1, 1, 1, size), (1, 1, 1, 1), ((0, 0), (0, 0), (0, 0), (half, half))
    )
    return x / jnp.power(k + (alpha / size) * summed, beta)


class AlexNet(nnx.Module):
    """The paper's AlexNet (Caffe layout) on 150 px windows; scanned window by window."""

    INPUT_BLOCK = 1
    """Windows are read in plain row-major order (``input_block``)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        c1, c2, c3, c4, c5 = config.conv_widths
        g = 2 if config.groups else 1
        self.groups = g
        self.lrn = config.lrn
        self.ceil_pool = config.ceil_pool
        init = _caffe_init if config.caffe_init else _flax_init
        self.conv1 = nnx.Conv(config.in_channels, c1, (11, 11), rngs=rngs, **init("conv1"))
        self.conv2 = nnx.Conv(c1, c2, (5, 5), feature_group_count=g, rngs=rngs, **init("conv2"))
        self.conv3 = nnx.Conv(c2, c3, (3, 3), rngs=rngs, **init("conv3"))
        self.conv4 = nnx.Conv(c3, c4, (3, 3), feature_group_count=g, rngs=rngs, **init("conv4"))
        self.conv5 = nnx.Conv(c4, c5, (3, 3), feature_group_count=g, rngs=rngs, **init("conv5"))
        side = alexnet_feature_side(ceil_pool=config.ceil_pool)
        self.fc1 = nnx.Linear(side * side * c5, config.fc_width, rngs=rngs, **init("fc6"))
        self.fc2 = nnx.Linear(config.fc_width, config.fc_width, rngs=rngs, **init("fc7"))
        self.fc3 = nnx.Linear(config.fc_width, NUM_CLASSES, rngs=rngs, **init("fc8"))
        self.drop1 = nnx.Dropout(config.dropout, rngs=rngs)
        self.drop2 = nnx.Dropout(config.dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.layers(x)["fc8"]

    def layers(self, x: jax.Array) -> dict[str, jax.Array]:
        """Every layer's output by its bvlc_alexnet name (conv1 ... pool5, fc6, fc7, fc8; after ReLU/LRN)."""
        relu, g, ceil = jax.nn.relu, self.groups, self.ceil_pool
        norm = local_response_norm if self.lrn else (lambda v: v)
        out = {}
        out["conv1"] = x = norm(relu(_conv(self.conv1, x, strides=4, padding="VALID")))
        out["pool1"] = x = _max_pool(x, 3, 2, ceil)
        out["conv2"] = x = norm(relu(_conv(self.conv2, x, strides=1, padding="SAME", groups=g)))
        out["pool2"] = x = _max_pool(x, 3, 2, ceil)
        out["conv3"] = x = relu(_conv(self.conv3, x, strides=1, padding="SAME"))
        out["conv4"] = x = relu(_conv(self.conv4, x, strides=1, padding="SAME", groups=g))
        out["conv5"] = x = relu(_conv(self.conv5, x, strides=1, padding="SAME", groups=g))
        out["pool5"] = x = _max_pool(x, 3, 2, ceil)
        x = x.reshape(x.shape[0], -1)
        out["fc6"] = x = self.drop1(relu(_dense(self.fc1, x)))
        out["fc7"] = x = self.drop2(relu(_dense(self.fc2, x)))
        out["fc8"] = _dense(self.fc3, x)
        return out


CAFFE_INIT = {
    "conv1": (0.01, 0.0),
    "conv2": (0.01, 0.1),
    "conv3": (0.01, 0.0),
    "conv4": (0.01, 0.1),
    "conv5": (0.01, 0.1),
    "fc6": (0.005, 0.1),
    "fc7": (0.005, 0.1),
    "fc8": (0.01, 0.0),
}
"""bvlc_alexnet's fillers (models/bvlc_alexnet/train_val.prototxt): weight Gaussian std, constant bias."""


def _caffe_init(layer: str) -> dict:
    std, bias = CAFFE_INIT[layer]
    return {
        "kernel_init": jax.nn.initializers.normal(stddev=std),
        "bias_init": jax.nn.initializers.constant(bias),
    }


def _flax_init(layer: str) -> dict:
    return {}


class AlexNetScan(nnx.Module):
    """Scan-native AlexNet: VALID only, total stride 10, receptive field 150; ``dense`` scans a whole tile.

    | layer | side after it (one window) |
    | conv1 10x10/5 | 29 | maxpool 3/2 | 14 | conv2 5x5 | 10 | maxpool 3/1 | 8 |
    | conv3 3x3 | 6 | conv4 3x3 | 4 | conv5 3x3 | 2 | fc1 (2x2 conv) | 1 | fc2 (1x1) | 1 | fc3 (1x1) | 1 |
    """

    INPUT_BLOCK = 5
    """conv1's stride: the window path cuts windows into 5 x 5 blocks (``_conv_by_blocks``; ``input_block``)."""

    def __init__(self, config: ModelConfig, *, rngs: nnx.Rngs) -> None:
        c1, c2, c3, c4, c5 = config.conv_widths
        self.conv1 = nnx.Conv(config.in_channels, c1, (10, 10), strides=5, padding="VALID", rngs=rngs)
        self.conv2 = nnx.Conv(c1, c2, (5, 5), padding="VALID", rngs=rngs)
        self.conv3 = nnx.Conv(c2, c3, (3, 3), padding="VALID", rngs=rngs)
        self.conv4 = nnx.Conv(c3, c4, (3, 3), padding="VALID", rngs=rngs)
        self.conv5 = nnx.Conv(c4, c5, (3, 3), padding="VALID", rngs=rngs)
        self.fc1 = nnx.Conv(c5, config.fc_width, (2, 2), padding="VALID", rngs=rngs)
        self.fc2 = nnx.Linear(config.fc_width, config.fc_width, rngs=rngs)
        self.fc3 = nnx.Linear(config.fc_width, NUM_CLASSES, rngs=rngs)
        self.drop1 = nnx.Dropout(config.dropout, rngs=rngs)
        self.drop2 = nnx.Dropout(config.dropout, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        """Windows ``(B, 150, 150, C)`` -> logits ``(B, 2)``: the dense pass with n = m = 1, with conv1 as a
        blocks matrix multiply (``_conv_by_blocks``; the training step's forward and kernel gradient)."""
        conv1 = _conv_by_blocks(x, self.conv1.kernel[...], self.INPUT_BLOCK) + self.conv1.bias[...]
        return self._after_conv1(conv1)[:, 0, 0, :]

    def dense(self, x: jax.Array) -> jax.Array:
        """Tile ``(B, 10n+140, 10m+140, C)`` -> logits ``(B, n, m, 2)`` of the windows at ``(10i, 10j)``."""
        return self._after_conv1(_conv(self.conv1, x, strides=5, padding="VALID"))

    def _after_conv1(self, x: jax.Array) -> jax.Array:
        relu = jax.nn.relu
        x = _max_pool(relu(x), 3, 2)
        x = _max_pool(relu(_conv_valid_fast(self.conv2, x)), 3, 1)
        x = relu(_conv_valid_fast(self.conv3, x))
        x = relu(_conv_valid_fast(self.conv4, x))
        x = relu(_conv_valid_fast(self.conv5, x))
        x = self.drop1(relu(_conv_valid_fast(self.fc1, x)))
        x = self.drop2(relu(_dense(self.fc2, x)))
        return _dense(self.fc3, x)


MODELS: dict[str, type[nnx.Module]] = {"alexnet": AlexNet, "alexnet_scan": AlexNetScan}


def build_model(config: ModelConfig, *, rngs: nnx.Rngs) -> nnx.Module:
    """The network ``config.name`` with fresh parameters drawn from ``rngs``."""
    return MODELS[config.name](config, rngs=rngs)


def input_block(config: ModelConfig) -> int:
    """The block side in which the model's window path reads its input (``train.augment.window_offsets``):
    training gathers its augmented windows in this order so that no copy reorders them."""
    return MODELS[config.name].INPUT_BLOCK


def alexnet_feature_side(window_px: int = WINDOW_PX, *, ceil_pool: bool = False) -> int:
    """Side of AlexNet's last feature map (pool5) for a window: 150 px -> 35 -> 17 -> 8 -> 3, or with Caffe's
    ceil-mode pools 35 -> 17 -> 8 -> 4 (227 px: 55 -> 27 -> 13 -> 6 either way)."""
    side = (window_px - 11) // 4 + 1
    for _ in range(3):
        side = pool_side(side, 3, 2, ceil_pool)
    return side


def dense_tile_px(n_windows: int) -> int:
    """Tile side that gives ``n_windows`` windows per axis in ``AlexNetScan.dense`` (``10n + 140``)."""
    return STRIDE_PX * n_windows + WINDOW_PX - STRIDE_PX


def _conv_flops(side: int, k: int, c_in: int, c_out: int, groups: int = 1) -> int:
    return 2 * side * side * k * k * (c_in // groups) * c_out


def flops_per_window(config: ModelConfig, dense: bool) -> int:
    """Analytic multiply-add FLOPs (2 per MAC, padding taps included) to score one window.

    ``dense=True`` (``alexnet_scan`` only) is the amortized cost per window of a large dense pass: every
    layer's output positions at stride ``s`` number ``(10 / s)^2`` per window.
    """
    c1, c2, c3, c4, c5 = config.conv_widths
    cin, fc = config.in_channels, config.fc_width
    heads = 2 * (fc * fc + fc * NUM_CLASSES)
    if config.name == "alexnet":
        require(
            not dense,
            "flops_per_window(dense=True)",
            expected="alexnet_scan",
            found=config.name,
            fix="the paper's alexnet has no dense pass; use dense=False",
        )
        g = 2 if config.groups else 1
        ceil = config.ceil_pool
        s1 = (WINDOW_PX - 11) // 4 + 1
        s2 = pool_side(s1, 3, 2, ceil)
        s3 = pool_side(s2, 3, 2, ceil)
        side = alexnet_feature_side(ceil_pool=ceil)
        convs = (
            _conv_flops(s1, 11, cin, c1)
            + _conv_flops(s2, 5, c1, c2, g)
            + _conv_flops(s3, 3, c2, c3)
            + _conv_flops(s3, 3, c3, c4, g)
            + _conv_flops(s3, 3, c4, c5, g)
        )
        return convs + 2 * side * side * c5 * fc + heads
    if dense:
        convs = (
            _conv_flops(2, 10, cin, c1)
            + _conv_flops(1, 5, c1, c2)
            + _conv_flops(1, 3, c2, c3)
            + _conv_flops(1, 3, c3, c4)
            + _conv_flops(1, 3, c4, c5)
        )
        return convs + _conv_flops(1, 2, c5, fc) + heads
    convs = (
        _conv_flops(29, 10, cin, c1)
        + _conv_flops(10, 5, c1, c2)
        + _conv_flops(6, 3, c2, c3)
        + _conv_flops(4, 3, c3, c4)
        + _conv_flops(2, 3, c4, c5)
    )
    return convs + _conv_flops(1, 2, c5, fc) + heads


def count_params(model: nnx.Module) -> int:
    """Number of trainable parameters."""
    return sum(math.prod(p.shape) for p in jax.tree.leaves(nnx.state(model, nnx.Param)))
