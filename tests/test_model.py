"""Model shapes, configuration checks, FLOP counts and the dense == per-window exactness of alexnet_scan."""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import UsageError
from scanner.nn.model import (  # the formulations under test
    _DIMS,
    CAFFE_INIT,
    AlexNet,
    AlexNetScan,
    ModelConfig,
    _conv_by_blocks,
    _max_pool,
    alexnet_feature_side,
    build_model,
    count_params,
    dense_tile_px,
    flops_per_window,
    input_block,
    local_response_norm,
    pool_side,
)

NARROW = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 24, 24, 16), fc_width=32)


def _windows(tile: jax.Array, n: int, m: int) -> jax.Array:
    """Cut the (10i, 10j) windows of a tile with numpy-style slicing: the reference the dense pass must equal."""
    return jnp.stack(
        [tile[:, 10 * i : 10 * i + 150, 10 * j : 10 * j + 150] for i in range(n) for j in range(m)], axis=1
    )


@pytest.mark.parametrize("name,cls", [("alexnet", AlexNet), ("alexnet_scan", AlexNetScan)])
@pytest.mark.parametrize("channels", [1, 3])
def test_window_logits_shape(name: str, cls: type, channels: int) -> None:
    config = ModelConfig(name=name, in_channels=channels, fc_width=64)
    model = build_model(config, rngs=nnx.Rngs(0))
    assert isinstance(model, cls)
    model.eval()
    logits = model(jnp.ones((3, 150, 150, channels), jnp.float32))
    assert logits.shape == (3, 2)
    assert logits.dtype == jnp.float32
    assert bool(jnp.all(jnp.isfinite(logits)))


def test_alexnet_options_lrn_and_groups() -> None:
    plain = build_model(ModelConfig(name="alexnet", fc_width=32), rngs=nnx.Rngs(0))
    grouped = build_model(ModelConfig(name="alexnet", fc_width=32, lrn=True, groups=True), rngs=nnx.Rngs(0))
    assert grouped.conv2.kernel.shape == (5, 5, 48, 256)
    assert plain.conv2.kernel.shape == (5, 5, 96, 256)
    grouped.eval()
    assert grouped(jnp.ones((1, 150, 150, 1))).shape == (1, 2)


def test_local_response_norm_matches_formula() -> None:
    x = jax.random.normal(jax.random.key(0), (1, 2, 2, 7))
    y = local_response_norm(x, size=5, alpha=1e-1, beta=0.75, k=2.0)
    xs = np.asarray(x, np.float64)
    c = 3
    expected = xs[..., c] / (2.0 + 0.1 / 5 * np.sum(xs[..., 1:6] ** 2, axis=-1)) ** 0.75
    np.testing.assert_allclose(np.asarray(y[..., c]), expected, rtol=1e-5)


def test_dropout_active_only_in_training() -> None:
    model = build_model(NARROW, rngs=nnx.Rngs(0, dropout=1))
    x = jax.random.uniform(jax.random.key(2), (4, 150, 150, 1))
    model.eval()
    first, second = model(x), model(x)
    np.testing.assert_array_equal(np.asarray(first), np.asarray(second))
    model.train()
    assert not np.array_equal(np.asarray(model(x)), np.asarray(model(x)))


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 4), seed=st.integers(0, 2**31 - 1))
def test_dense_equals_per_window(n: int, m: int, seed: int) -> None:
    """The dense pass over a (10n+140) x (10m+140) tile equals the per-window logits (max abs diff <= 1e-5)."""
    model = build_model(NARROW, rngs=nnx.Rngs(seed))
    model.eval()
    tile = jax.random.uniform(jax.random.key(seed), (2, dense_tile_px(n), dense_tile_px(m), 1), jnp.float32)
    dense = model.dense(tile)
    assert dense.shape == (2, n, m, 2)
    windows = _windows(tile, n, m).reshape(2 * n * m, 150, 150, 1)
    per_window = model(windows).reshape(2, n, m, 2)
    assert float(jnp.max(jnp.abs(dense - per_window))) <= 1e-5


def test_dense_equals_per_window_default_widths() -> None:
    config = ModelConfig(name="alexnet_scan", fc_width=1024)
    model = build_model(config, rngs=nnx.Rngs(3))
    model.eval()
    tile = jax.random.uniform(jax.random.key(4), (1, dense_tile_px(3), dense_tile_px(2), 1), jnp.float32)
    per_window = model(_windows(tile, 3, 2).reshape(6, 150, 150, 1)).reshape(1, 3, 2, 2)
    assert float(jnp.max(jnp.abs(model.dense(tile) - per_window))) <= 1e-5


def test_receptive_field_is_exactly_150() -> None:
    """Changing a pixel just outside window (0, 0) leaves its logits unchanged; just inside changes them."""
    model = build_model(NARROW, rngs=nnx.Rngs(5))
    model.eval()
    tile = jax.random.uniform(jax.random.key(6), (1, 160, 160, 1))
    base = model.dense(tile)[0, 0, 0]
    outside = model.dense(tile.at[0, 150, 150, 0].add(5.0))[0, 0, 0]
    inside = model.dense(tile.at[0, 149, 149, 0].add(5.0))[0, 0, 0]
    np.testing.assert_array_equal(np.asarray(base), np.asarray(outside))
    assert not np.array_equal(np.asarray(base), np.asarray(inside))


def test_flops_per_window() -> None:
    assert flops_per_window(ModelConfig(name="alexnet"), dense=False) == 832_389_312
    assert flops_per_window(ModelConfig(name="alexnet_scan"), dense=True) == 49_458_176
    assert flops_per_window(ModelConfig(name="alexnet_scan", fc_width=1024), dense=True) < 35_000_000
    # the hand count of the first layer: 29x29 outputs x 96 channels x 10x10 taps x 2
    narrow1 = ModelConfig(name="alexnet_scan", conv_widths=(1, 1, 1, 1, 1), fc_width=1)
    assert flops_per_window(narrow1, dense=False) == 2 * (
        29 * 29 * 100 + 10 * 10 * 25 + 36 * 9 + 16 * 9 + 4 * 9 + 4 + 1 + 2
    )
    with pytest.raises(UsageError, match="dense pass"):
        flops_per_window(ModelConfig(name="alexnet"), dense=True)


@pytest.mark.parametrize(
    "bad",
    [
        {"name": "vgg"},
        {"in_channels": 0},
        {"conv_widths": (1, 2)},
        {"dropout": 1.0},
        {"name": "alexnet_scan", "lrn": True},
        {"name": "alexnet_scan", "ceil_pool": True},
        {"name": "alexnet_scan", "caffe_init": True},
    ],
)
def test_config_validation(bad: dict) -> None:
    with pytest.raises(UsageError, match="expected"):
        ModelConfig(**bad)


# bvlc_alexnet (BVLC/caffe models/bvlc_alexnet/train_val.prototxt): (name, kind, out, kernel, stride, pad, group)
BVLC_ALEXNET = [
    ("conv1", "conv", 96, 11, 4, 0, 1),
    ("pool1", "pool", None, 3, 2, 0, 1),
    ("conv2", "conv", 256, 5, 1, 2, 2),
    ("pool2", "pool", None, 3, 2, 0, 1),
    ("conv3", "conv", 384, 3, 1, 1, 1),
    ("conv4", "conv", 384, 3, 1, 1, 2),
    ("conv5", "conv", 256, 3, 1, 1, 2),
    ("pool5", "pool", None, 3, 2, 0, 1),
    ("fc6", "fc", 4096, None, None, None, 1),
    ("fc7", "fc", 4096, None, None, None, 1),
    ("fc8", "fc", None, None, None, None, 1),
]


def caffe_shapes_and_params(side: int, channels: int, classes: int) -> tuple[dict[str, tuple], int]:
    """Caffe's own arithmetic, written out independently of the model: convolutions round down, pools round
    up (``ceil((side - kernel) / stride) + 1``); every layer has a weight and a bias blob."""
    shapes, params, width, flat = {}, 0, channels, None
    for name, kind, out, kernel, stride, pad, group in BVLC_ALEXNET:
        if kind == "conv":
            side = (side + 2 * pad - kernel) // stride + 1
            params += kernel * kernel * (width // group) * out + out
            width = out
            shapes[name] = (side, side, width)
        elif kind == "pool":
            side = math.ceil((side - kernel) / stride) + 1
            shapes[name] = (side, side, width)
        else:
            out = out or classes
            fan_in = flat if flat is not None else side * side * width
            params += fan_in * out + out
            flat = out
            shapes[name] = (out,)
    return shapes, params


PAPER_ALEXNET = ModelConfig(
    name="alexnet", in_channels=3, lrn=True, groups=True, ceil_pool=True, caffe_init=True
)


def test_paper_alexnet_is_bvlc_alexnet_at_150_px() -> None:
    """configs/paper.py's network against bvlc_alexnet's layer table at the 150 px input it is fed natively."""
    # the reference arithmetic reproduces bvlc_alexnet itself: 227 px, 3 channels, 1000 classes
    shapes_227, params_227 = caffe_shapes_and_params(227, 3, 1000)
    assert params_227 == 60_965_224
    assert [shapes_227[k][0] for k in ("conv1", "pool1", "pool2", "pool5")] == [55, 27, 13, 6]
    assert caffe_shapes_and_params(227, 3, 2)[1] == 56_876_418
    shapes, params = caffe_shapes_and_params(150, 3, 2)
    assert [shapes[k][0] for k in ("conv1", "pool1", "conv2", "pool2", "conv5", "pool5")] == [
        35,
        17,
        17,
        8,
        8,
        4,
    ]
    assert params == 35_904_898

    from configs.paper import get_config

    assert get_config().model == PAPER_ALEXNET
    model = build_model(PAPER_ALEXNET, rngs=nnx.Rngs(0))
    model.eval()
    layers = model.layers(jnp.zeros((1, 150, 150, 3)))
    assert list(layers) == [name for name, *_ in BVLC_ALEXNET]
    assert {name: tuple(a.shape[1:]) for name, a in layers.items()} == shapes
    assert count_params(model) == params
    # rounding the pools down (Flax's VALID) loses pool5's last row and column at 150 px, not at 227
    assert alexnet_feature_side(150, ceil_pool=False) == 3 and alexnet_feature_side(150, ceil_pool=True) == 4
    assert alexnet_feature_side(227, ceil_pool=False) == alexnet_feature_side(227, ceil_pool=True) == 6


def test_caffe_initialisation_follows_the_prototxt_fillers() -> None:
    model = build_model(PAPER_ALEXNET, rngs=nnx.Rngs(3))
    modules = {"conv1": model.conv1, "conv2": model.conv2, "conv3": model.conv3, "conv4": model.conv4}
    modules |= {"conv5": model.conv5, "fc6": model.fc1, "fc7": model.fc2, "fc8": model.fc3}
    for name, module in modules.items():
        std, bias = CAFFE_INIT[name]
        kernel = np.asarray(module.kernel[...])
        assert abs(kernel.mean()) < 0.1 * std and abs(kernel.std() / std - 1) < 0.05, name
        np.testing.assert_array_equal(np.asarray(module.bias[...]), np.float32(bias))
    flax = build_model(ModelConfig(name="alexnet", fc_width=64), rngs=nnx.Rngs(3))  # the default: unchanged
    assert np.all(np.asarray(flax.conv2.bias[...]) == 0) and np.asarray(flax.conv1.kernel[...]).std() > 0.02


def test_ceil_mode_pool_keeps_the_last_partial_window() -> None:
    from scanner.nn.model import _max_pool, pool_side

    x = jnp.arange(8.0).reshape(1, 1, 8, 1) * jnp.ones((1, 8, 1, 1))
    assert _max_pool(x, 3, 2).shape[1:3] == (3, 3) and pool_side(8, 3, 2, False) == 3
    pooled = _max_pool(x, 3, 2, ceil=True)
    assert pooled.shape[1:3] == (4, 4) and pool_side(8, 3, 2, True) == 4
    np.testing.assert_array_equal(np.asarray(pooled[0, 0, :, 0]), [2.0, 4.0, 6.0, 7.0])  # last: max(x6, x7)


# ------------------------------------------------------------------------ the fast formulations (issue 17)


def _reference_pool(x: jax.Array, window: int, stride: int, ceil: bool) -> jax.Array:
    """The pool as it was: ``lax.reduce_window`` (its gradient is XLA's select_and_scatter)."""
    pads = [(0, 0)] * 4
    if ceil:
        for axis in (1, 2):
            side = x.shape[axis]
            pads[axis] = (0, max(0, (pool_side(side, window, stride, True) - 1) * stride + window - side))
    return jax.lax.reduce_window(
        x, -jnp.inf, jax.lax.max, (1, window, window, 1), (1, stride, stride, 1), pads
    )


@settings(max_examples=20, deadline=None)
@given(
    side=st.integers(3, 31),
    window=st.integers(2, 3),
    stride=st.integers(1, 2),
    ceil=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_max_pool_equals_reduce_window_values_and_gradient(side, window, stride, ceil, seed) -> None:
    """Values exactly, gradients to float32 rounding, on ReLU-like inputs full of ties (zeros and repeats):
    each window's gradient goes to its first maximum, as select_and_scatter sends it."""
    rng = np.random.default_rng(seed)
    x = jnp.asarray(np.maximum(rng.integers(-2, 3, (2, side, side, 3)), 0).astype(np.float32))
    out = _max_pool(x, window, stride, ceil)
    np.testing.assert_array_equal(np.asarray(out), np.asarray(_reference_pool(x, window, stride, ceil)))
    weights = jnp.asarray(rng.standard_normal(out.shape).astype(np.float32))
    grad = jax.grad(lambda v: jnp.sum(_max_pool(v, window, stride, ceil) * weights))(x)
    expected = jax.grad(lambda v: jnp.sum(_reference_pool(v, window, stride, ceil) * weights))(x)
    np.testing.assert_allclose(np.asarray(grad), np.asarray(expected), atol=1e-5)


# ------------------------------------------------------------------------------------------- conv1 by blocks


@settings(max_examples=12, deadline=None)
@given(
    kernel=st.integers(2, 11),
    stride=st.integers(1, 6),
    blocks=st.integers(0, 4),
    channels=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_conv_by_blocks_equals_the_convolution(kernel, stride, blocks, channels, seed) -> None:
    """The space-to-depth matrix multiply gives XLA's VALID convolution, its value and both gradients (kernel
    and input), to float32 rounding, for kernels that span any number of blocks (zero-padded taps)."""
    side = stride * (-(-kernel // stride) + blocks)
    keys = jax.random.split(jax.random.key(seed), 3)
    x = jax.random.normal(keys[0], (2, side, side, channels), jnp.float32)
    w = jax.random.normal(keys[1], (kernel, kernel, channels, 5), jnp.float32)

    def reference(v, k):
        return jax.lax.conv_general_dilated(v, k, (stride, stride), "VALID", dimension_numbers=_DIMS)

    out, expected = _conv_by_blocks(x, w, stride), reference(x, w)
    assert out.shape == expected.shape == (2, (side - kernel) // stride + 1, (side - kernel) // stride + 1, 5)
    np.testing.assert_allclose(np.asarray(out), np.asarray(expected), rtol=1e-5, atol=1e-4)
    weights = jax.random.normal(keys[2], out.shape, jnp.float32)
    grads = jax.grad(lambda v, k: jnp.sum(_conv_by_blocks(v, k, stride) * weights), argnums=(0, 1))(x, w)
    wanted = jax.grad(lambda v, k: jnp.sum(reference(v, k) * weights), argnums=(0, 1))(x, w)
    for got, want in zip(grads, wanted, strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-5, atol=1e-4)


def test_conv_by_blocks_refuses_sides_the_stride_does_not_divide() -> None:
    with pytest.raises(UsageError, match="multiples of the stride 5"):
        _conv_by_blocks(jnp.zeros((1, 152, 150, 1)), jnp.zeros((10, 10, 1, 4)), 5)


def test_window_path_reads_its_input_block_and_equals_the_dense_pass() -> None:
    """alexnet_scan's windows go through conv1 by 5 px blocks (its stride) and agree with the dense pass, whose
    conv1 is XLA's convolution; the paper's alexnet reads plain row-major windows."""
    assert input_block(NARROW) == 5 and input_block(ModelConfig()) == 1
    model = build_model(dataclasses.replace(NARROW, in_channels=3), rngs=nnx.Rngs(5))
    model.eval()
    x = jax.random.uniform(jax.random.key(6), (3, 150, 150, 3), jnp.float32)
    np.testing.assert_allclose(np.asarray(model(x)), np.asarray(model.dense(x)[:, 0, 0, :]), atol=1e-5)
    grads = nnx.grad(lambda m: jnp.sum(m(x) ** 2))(model)
    dense_grads = nnx.grad(lambda m: jnp.sum(m.dense(x)[:, 0, 0, :] ** 2))(model)
    for got, want in zip(jax.tree.leaves(grads), jax.tree.leaves(dense_grads), strict=True):
        np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-4, atol=1e-5)
