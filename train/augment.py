"""Table 3's padding on the device: random rotation, flips and shifts, jitted and seeded; class balancing.

``augment_batch(key, patches, config)`` cuts one 150 px window from each stored patch (150 + 2*margin px)
after a random rotation by theta in [0, 180) degrees about the patch centre, a vertical, horizontal or both
flip (or none), and a shift of up to +-10 px in x and y. Sampling is nearest-neighbour, so quantized phase
levels stay levels (no blending of wrapped phase). Pixels from outside the stored patch are 0, the value
``preprocess`` gives invalid pixels. With theta = 0, no flip and no shift the output is exactly the centre crop.

``balanced_indices`` pads the rare class (and samples the common one) to N per class per epoch, as Table 3
does; the same numbers of both classes are drawn.
"""

from __future__ import annotations

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from scanner.errors import InputError, problem
from scanner.geo import WINDOW_PX
from train.config import AugmentConfig

FLIP_NONE, FLIP_VERTICAL, FLIP_HORIZONTAL, FLIP_BOTH = 0, 1, 2, 3


def window_coordinates(patch_px: int, theta_rad: jax.Array, flip: jax.Array, shift: jax.Array) -> jax.Array:
    """Source (y, x) coordinates in a ``patch_px`` patch of each pixel of the output window: ``(2, 150, 150)``."""
    half = (WINDOW_PX - 1) / 2.0
    centre = (patch_px - 1) / 2.0
    u, v = jnp.meshgrid(
        jnp.arange(WINDOW_PX, dtype=jnp.float32) - half,
        jnp.arange(WINDOW_PX, dtype=jnp.float32) - half,
        indexing="ij",
    )
    u = jnp.where((flip == FLIP_VERTICAL) | (flip == FLIP_BOTH), -u, u)
    v = jnp.where((flip == FLIP_HORIZONTAL) | (flip == FLIP_BOTH), -v, v)
    cos, sin = jnp.cos(theta_rad), jnp.sin(theta_rad)
    y = cos * u - sin * v + centre + shift[0]
    x = sin * u + cos * v + centre + shift[1]
    return jnp.stack([y, x])


def transform_patch(patch: jax.Array, theta_rad: jax.Array, flip: jax.Array, shift: jax.Array) -> jax.Array:
    """One ``(P, P, C)`` patch -> its transformed ``(150, 150, C)`` window (nearest neighbour, 0 outside)."""
    coords = window_coordinates(patch.shape[0], theta_rad, flip, shift)
    index = jnp.round(coords).astype(jnp.int32)
    inside = jnp.all((index >= 0) & (index < patch.shape[0]), axis=0)
    clipped = jnp.clip(index, 0, patch.shape[0] - 1)
    gathered = patch[clipped[0], clipped[1]]
    return jnp.where(inside[..., None], gathered, jnp.zeros((), patch.dtype))


def random_transforms(
    key: jax.Array, n: int, config: AugmentConfig
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Per-sample (theta in radians, flip code 0..3, integer shift (y, x)) drawn from ``key``."""
    k_rot, k_flip, k_shift = jax.random.split(key, 3)
    max_theta = jnp.deg2rad(config.max_rotation_deg) if config.rotate else 0.0
    theta = jax.random.uniform(k_rot, (n,), minval=0.0, maxval=1.0) * max_theta
    flip = jax.random.randint(k_flip, (n,), 0, 4) if config.flip else jnp.zeros((n,), jnp.int32)
    shift = jax.random.randint(k_shift, (n, 2), -config.max_shift_px, config.max_shift_px + 1)
    return theta, flip, shift.astype(jnp.float32)


@partial(jax.jit, static_argnames=("config",))
def augment_batch(key: jax.Array, patches: jax.Array, config: AugmentConfig) -> jax.Array:
    """Random Table 3 transforms of a batch of stored patches ``(B, P, P, C)`` -> windows ``(B, 150, 150, C)``."""
    theta, flip, shift = random_transforms(key, patches.shape[0], config)
    return jax.vmap(transform_patch)(patches, theta, flip, shift)


def centre_crop(patches: jax.Array) -> jax.Array:
    """The untransformed 150 px windows of stored patches (evaluation input)."""
    margin = (patches.shape[1] - WINDOW_PX) // 2
    return patches[:, margin : margin + WINDOW_PX, margin : margin + WINDOW_PX, :]


def balanced_indices(
    labels: np.ndarray, samples_per_class: int | None, rng: np.random.Generator
) -> np.ndarray:
    """One epoch of sample indices with exactly N of each class, shuffled.

    A class with fewer than N samples contributes all of them as many whole times as fit, then a random
    subset (each copy gets its own augmentation); a class with more is subsampled without replacement.
    N = ``samples_per_class`` or, when None, the largest class's size.
    """
    classes = [np.flatnonzero(labels == c) for c in (0, 1)]
    if any(len(members) == 0 for members in classes):
        raise InputError(
            problem(
                "training labels",
                expected="at least one sample of each class",
                found=f"{len(classes[0])} others and {len(classes[1])} candidates",
                fix="label at least one candidate and sample others (fringescan dataset)",
            )
        )
    n = samples_per_class or max(len(members) for members in classes)
    picked = [_take(members, n, rng) for members in classes]
    epoch = np.concatenate(picked)
    return epoch[rng.permutation(len(epoch))]


def _take(members: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    whole, rest = divmod(n, len(members))
    return np.concatenate([np.tile(members, whole), rng.choice(members, size=rest, replace=False)])
