"""Table 1's optimizer: the learning-rate schedule and the Caffe vs optax update semantics."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from train.config import OptimConfig
from train.optim import learning_rate_schedule, make_optimizer, param_labels


@pytest.mark.parametrize("step,expected", [(0, 0.01), (4999, 0.01), (5000, 0.001), (29999, 0.01 * 0.1**5)])
def test_table1_learning_rate(step: int, expected: float) -> None:
    schedule = learning_rate_schedule(OptimConfig())
    assert float(schedule(step)) == pytest.approx(expected, rel=1e-6)


def _params() -> dict:
    return {"conv": {"kernel": jnp.array([1.0, -2.0]), "bias": jnp.array([0.5])}}


def _run(config: OptimConfig, grads: list[dict]) -> list[dict]:
    tx = make_optimizer(config)
    params = _params()
    state = tx.init(params)
    seen = []
    for grad in grads:
        updates, state = tx.update(grad, state, params)
        params = optax.apply_updates(params, updates)
        seen.append(params)
    return seen


def test_labels_mark_biases() -> None:
    assert param_labels(_params()) == {"conv": {"kernel": "weight", "bias": "bias"}}


def test_caffe_first_step_bias_rules() -> None:
    grad = {"conv": {"kernel": jnp.array([0.1, 0.2]), "bias": jnp.array([0.3])}}
    (params,) = _run(OptimConfig(), [grad])
    lr, wd = 0.01, 0.0005
    np.testing.assert_allclose(
        params["conv"]["kernel"], [1.0 - lr * (0.1 + wd * 1.0), -2.0 - lr * (0.2 - wd * 2.0)], rtol=1e-6
    )
    np.testing.assert_allclose(params["conv"]["bias"], [0.5 - 2 * lr * 0.3], rtol=1e-6)


def test_optax_style_decays_biases_too() -> None:
    grad = {"conv": {"kernel": jnp.array([0.1, 0.2]), "bias": jnp.array([0.3])}}
    (params,) = _run(OptimConfig(style="optax"), [grad])
    np.testing.assert_allclose(params["conv"]["bias"], [0.5 - 0.01 * (0.3 + 0.0005 * 0.5)], rtol=1e-6)


def test_caffe_keeps_old_lr_in_momentum_after_drop() -> None:
    """After a drop, Caffe's buffer still holds old-lr steps; optax rescales the whole buffer at once."""
    config = OptimConfig(lr_decay_every=2, weight_decay=0.0, learning_rate=0.1)
    grad = {"conv": {"kernel": jnp.array([1.0, 1.0]), "bias": jnp.array([0.0])}}
    caffe = _run(config, [grad] * 3)
    plain = _run(OptimConfig(**{**config.__dict__, "style": "optax"}), [grad] * 3)
    # hand computation, weight 0: v1 = 0.1, v2 = 0.9*0.1 + 0.1 = 0.19, v3 = 0.9*0.19 + 0.01 = 0.181 (Caffe)
    np.testing.assert_allclose(caffe[-1]["conv"]["kernel"][0], 1.0 - (0.1 + 0.19 + 0.181), rtol=1e-6)
    # optax: m1 = 1, m2 = 1.9, m3 = 2.71; steps 0.1*1 + 0.1*1.9 + 0.01*2.71
    np.testing.assert_allclose(plain[-1]["conv"]["kernel"][0], 1.0 - (0.1 + 0.19 + 0.0271), rtol=1e-6)
    # before the drop both are identical
    np.testing.assert_allclose(caffe[1]["conv"]["kernel"], plain[1]["conv"]["kernel"], rtol=1e-6)
