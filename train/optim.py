"""The one place the optax chain is built (Table 1: SGD, momentum 0.9, weight decay 5e-4, lr 0.01 x0.1 every
5,000 iterations). See ``train.config.OptimConfig`` for the two styles and configs/paper.py for the choice.
"""

from __future__ import annotations

from typing import Any

import jax
import optax

from train.config import OptimConfig


def learning_rate_schedule(config: OptimConfig) -> optax.Schedule:
    """Caffe's "step" policy: ``lr * factor ** floor(step / every)``."""
    return optax.exponential_decay(
        config.learning_rate,
        transition_steps=config.lr_decay_every,
        decay_rate=config.lr_decay_factor,
        staircase=True,
    )


def is_bias(path: tuple, _leaf: Any) -> bool:
    """Bias parameters are the leaves under a key named ``bias`` (Flax's naming; nnx.State or pure dicts)."""
    return any(str(getattr(key, "key", getattr(key, "name", key))) == "bias" for key in path)


def param_labels(params: Any) -> Any:
    """``"bias"`` or ``"weight"`` for each leaf of a parameter tree."""
    return jax.tree_util.tree_map_with_path(lambda p, leaf: "bias" if is_bias(p, leaf) else "weight", params)


def make_optimizer(config: OptimConfig) -> optax.GradientTransformation:
    """The optimizer for ``config.style`` (``caffe`` or ``optax``), as one optax transformation."""
    schedule = learning_rate_schedule(config)
    if config.style == "optax":
        return optax.chain(
            optax.add_decayed_weights(config.weight_decay), optax.sgd(schedule, momentum=config.momentum)
        )

    def caffe(lr_mult: float, decay: float) -> optax.GradientTransformation:
        # Caffe: v <- m v + lr * (g + decay * w); w <- w - v  (the learning rate lives inside the buffer)
        return optax.chain(
            optax.add_decayed_weights(decay),
            optax.scale_by_schedule(lambda step: lr_mult * schedule(step)),
            optax.trace(decay=config.momentum),
            optax.scale(-1.0),
        )

    return optax.multi_transform(
        {"weight": caffe(1.0, config.weight_decay), "bias": caffe(config.bias_lr_mult, 0.0)}, param_labels
    )
