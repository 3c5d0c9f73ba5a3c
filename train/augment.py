"""Table 3's padding on the device: random rotation, flips and shifts, jitted and seeded; class balancing.

``augment_batch(key, patches, config)`` cuts one 150 px window from each stored patch (150 + 2*margin px)
after a random rotation by theta in [0, 180) degrees about the patch centre, a vertical, horizontal or both
flip (or none), and a shift of up to +-10 px in x and y. Sampling is nearest-neighbour, so quantized phase
levels stay levels (no blending of wrapped phase). Pixels from outside the stored patch are 0, the value
``preprocess`` gives invalid pixels. With theta = 0, no flip and no shift the output is exactly the centre crop.

``augment_windows`` is the training step's form: with ``config.others`` False, class 0 ("others") gets the
identity transform (its centre crop) while the candidates keep the same random draws. ``required_margin_px``
is the smallest stored margin for which no output pixel of any transform falls outside the stored patch.

``balanced_indices`` pads the rare class (and samples the common one) to N per class per epoch, as Table 3
does; the same numbers of both classes are drawn.
"""

from __future__ import annotations

import math
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


def rotation_reach(config: AugmentConfig) -> float:
    """Largest ``|cos t| + |sin t|`` over the rotations ``config`` draws (t in [0, max_rotation_deg]): how far,
    in units of the window's half side, a rotated window's corner reaches along y or x."""
    if not config.rotate or config.max_rotation_deg == 0:
        return 1.0
    top = config.max_rotation_deg
    angles = [0.0, top, *(45.0 + 90.0 * k for k in range(4) if 45.0 + 90.0 * k <= top)]
    return max(abs(math.cos(math.radians(a))) + abs(math.sin(math.radians(a))) for a in angles)


def required_margin_px(config: AugmentConfig) -> int:
    """Smallest stored margin (px on each side of the 150 px window) for which every output pixel of every
    transform ``config`` draws comes from inside the stored patch, nearest-neighbour rounding included.

    An output pixel sits at most ``h = 74.5`` px from the window centre along y and x; rotated, at most
    ``h * rotation_reach`` (``sqrt(2) h`` once 45 degrees can be drawn), plus the shift. Its rounded source
    index stays inside ``[0, 149 + 2 m]`` when that reach is at most ``74.5 + m + 0.5``, so
    ``m >= reach - 75``; 0.001 px of slack covers float32 rounding. Table 3 (180 degrees, +-10 px): 41.
    """
    half = (WINDOW_PX - 1) / 2.0
    reach = half * rotation_reach(config) + config.max_shift_px
    return max(0, math.ceil(reach - (half + 0.5) + 1e-3))


def margin_shortfall(patch_px: int, config: AugmentConfig) -> str | None:
    """None when ``patch_px`` patches hold every pixel ``config``'s transforms read, else what is missing."""
    margin, needed = (patch_px - WINDOW_PX) // 2, required_margin_px(config)
    if margin >= needed:
        return None
    return (
        f"stored margin {margin} px is below the {needed} px that rotation up to {config.max_rotation_deg:g} deg"
        f" and shifts of +-{config.max_shift_px} px need: the corners of some transformed windows are 0"
        " (invalid); rebuild the dataset with --set dataset.margin_px="
        f"{needed} for none"
    )


def class_transforms(
    key: jax.Array, labels: jax.Array, config: AugmentConfig
) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``random_transforms`` for a batch with 0/1 ``labels``; with ``config.others`` False, class 0 gets the
    identity (theta 0, no flip, no shift). The candidates' draws do not depend on the flag."""
    theta, flip, shift = random_transforms(key, labels.shape[0], config)
    if config.others:
        return theta, flip, shift
    keep = labels != 0
    return (
        jnp.where(keep, theta, 0.0),
        jnp.where(keep, flip, FLIP_NONE),
        jnp.where(keep[:, None], shift, 0.0),
    )


def augment_windows(
    key: jax.Array, patches: jax.Array, labels: jax.Array, config: AugmentConfig
) -> jax.Array:
    """The training step's augmentation: ``class_transforms`` applied to stored patches ``(B, P, P, C)``."""
    theta, flip, shift = class_transforms(key, labels, config)
    return jax.vmap(transform_patch)(patches, theta, flip, shift)


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
