"""The scan kernel: dense == per-window, multi-device == single device, padded batches, bfloat16 cost."""

import jax
import numpy as np
import pytest
from flax import nnx
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import UsageError
from scanner.nn.infer import InferConfig, Predictor, make_mesh
from scanner.nn.model import ModelConfig, build_model

SCAN = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 16, 16, 16), fc_width=32, dropout=0.0)
PAPER = ModelConfig(name="alexnet", conv_widths=(8, 16, 16, 16, 16), fc_width=32, dropout=0.0)


@pytest.fixture(scope="module")
def scan_model():
    return build_model(SCAN, rngs=nnx.Rngs(1))


def tile(n, m, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 16, (10 * n + 140, 10 * m + 140, 1)).astype(np.float32) / 15


def reference(model, x, n, m):
    """Each window cut with numpy and scored alone through the model's __call__."""
    windows = np.stack([x[10 * i : 10 * i + 150, 10 * j : 10 * j + 150] for i in range(n) for j in range(m)])
    return np.asarray(jax.nn.softmax(model(windows), axis=-1)[:, 1]).reshape(n, m)


@pytest.fixture(scope="module")
def predictors(scan_model):
    return {
        path: Predictor(scan_model, InferConfig(path=path, tile_cells=6, batch_size=8))
        for path in ("dense", "window")
    }


@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), m=st.integers(1, 6), seed=st.integers(0, 1000))
def test_dense_equals_per_window(scan_model, predictors, n, m, seed):
    x = tile(n, m, seed)
    dense = predictors["dense"].predict_tile(x, n, m)
    window = predictors["window"].predict_tile(x, n, m)
    assert dense.shape == (n, m)
    assert np.abs(dense - window).max() <= 1e-5
    assert np.abs(window - reference(scan_model, x, n, m)).max() <= 1e-5


@pytest.mark.parametrize("path", ["dense", "window"])
def test_four_devices_equal_one_device(scan_model, path):
    assert len(jax.devices()) == 4
    x = tile(9, 7, seed=5)
    config = InferConfig(path=path, tile_cells=9, batch_size=12)
    four = Predictor(scan_model, config, mesh=make_mesh()).predict_tile(x, 9, 7)
    one = Predictor(scan_model, config, mesh=make_mesh(jax.devices()[:1])).predict_tile(x, 9, 7)
    assert Predictor(scan_model, config).n_devices == 4
    np.testing.assert_allclose(four, one, rtol=0, atol=1e-6)


def test_paper_alexnet_per_window_and_padded_last_batch():
    model = build_model(PAPER, rngs=nnx.Rngs(2))
    x = tile(3, 5, seed=7)
    predictor = Predictor(model, InferConfig(path="window", tile_cells=5, batch_size=4))
    assert predictor.batch_size == 4
    got = predictor.predict_tile(x, 3, 5)  # 15 windows: 4 batches, the last padded by 1
    np.testing.assert_allclose(got, reference(model, x, 3, 5), atol=1e-5)
    assert predictor._fn._cache_size() == 1
    predictor.predict_tile(tile(2, 2), 2, 2)  # a smaller (edge) tile is padded: no recompilation
    assert predictor._fn._cache_size() == 1


def test_dense_refused_for_the_paper_alexnet():
    model = build_model(PAPER, rngs=nnx.Rngs(2))
    with pytest.raises(UsageError, match="alexnet_scan"):
        Predictor(model, InferConfig(path="dense"))


def test_bfloat16_cost_is_small(scan_model, predictors):
    x = tile(6, 6, seed=11)
    bf16 = Predictor(scan_model, InferConfig(path="dense", tile_cells=6, dtype="bfloat16")).predict_tile(
        x, 6, 6
    )
    fp32 = predictors["dense"].predict_tile(x, 6, 6)
    diff = np.abs(bf16 - fp32).max()
    assert 0 < diff < 0.02
