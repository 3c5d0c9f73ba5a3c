"""Table 3's padding on the device: random rotation, flips and shifts, jitted and seeded; class balancing.

``augment_batch(key, patches, config)`` cuts one 150 px window from each stored patch (150 + 2*margin px)
after a random rotation by theta in [0, 180) degrees about the patch centre, a vertical, horizontal or both
flip (or none), and a shift of up to +-10 px in x and y. Sampling is nearest-neighbour, so quantized phase
levels stay levels (no blending of wrapped phase). Pixels from outside the stored patch are 0, the value
``preprocess`` gives invalid pixels. With theta = 0, no flip and no shift the output is exactly the centre crop.

``augment_windows`` is the training step's transform: with ``config.others`` False, class 0 ("others") gets
the identity transform (its centre crop) while the candidates keep the same random draws. The step computes it
in two parts, ``window_pixels`` (the flat source pixel of every output pixel, a function of the key and labels)
and ``gather_blocks`` (the windows read at those pixels), in the block order the model's conv1 reads
(``window_offsets``; ``unblock`` restores ``(B, 150, 150, C)``). ``required_margin_px`` is the smallest stored
margin for which no output pixel of any transform falls outside the stored patch.

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


def window_offsets(block: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets (u, v) from the window centre of the 150 x 150 output pixels, in block order:
    two ``(n, n, block, block)`` arrays (``n = 150 / block``) whose element ``(i, j, r, c)`` is output pixel
    ``(i * block + r, j * block + c)``. Block 1 is plain row-major order."""
    n = WINDOW_PX // block
    side = np.arange(WINDOW_PX, dtype=np.float32).reshape(n, block) - np.float32((WINDOW_PX - 1) / 2.0)
    shape = (n, n, block, block)
    return np.broadcast_to(side[:, None, :, None], shape), np.broadcast_to(side[None, :, None, :], shape)


def window_coordinates(
    patch_px: int, theta_rad: jax.Array, flip: jax.Array, shift: jax.Array, block: int = 1
) -> jax.Array:
    """Source (y, x) coordinates in a ``patch_px`` patch of each output pixel, in ``window_offsets`` order:
    ``(2, n, n, block, block)``."""
    u, v = (jnp.asarray(offsets) for offsets in window_offsets(block))
    centre = (patch_px - 1) / 2.0
    u = jnp.where((flip == FLIP_VERTICAL) | (flip == FLIP_BOTH), -u, u)
    v = jnp.where((flip == FLIP_HORIZONTAL) | (flip == FLIP_BOTH), -v, v)
    cos, sin = jnp.cos(theta_rad), jnp.sin(theta_rad)
    y = cos * u - sin * v + centre + shift[0]
    x = sin * u + cos * v + centre + shift[1]
    return jnp.stack([y, x])


def source_pixels(
    patch_px: int, theta_rad: jax.Array, flip: jax.Array, shift: jax.Array, block: int = 1
) -> jax.Array:
    """Flat index ``y * P + x`` of the stored-patch pixel each output pixel takes (nearest neighbour), or
    ``P * P`` where it falls outside the patch (read as 0): int32 ``(n, n, block, block)``."""
    index = jnp.round(window_coordinates(patch_px, theta_rad, flip, shift, block)).astype(jnp.int32)
    inside = jnp.all((index >= 0) & (index < patch_px), axis=0)
    return jnp.where(inside, index[0] * patch_px + index[1], patch_px * patch_px)


def gather_blocks(patches: jax.Array, pixels: jax.Array, rows: jax.Array | None = None) -> jax.Array:
    """Stored patches ``(N, P, P, C)`` gathered at ``source_pixels`` ``(B, n, n, b, b)``: the windows in block
    order, ``(B, n, n, b, b, C)`` (``unblock`` gives ``(B, 150, 150, C)``). Window ``i`` reads patch
    ``rows[i]`` (``rows`` None: patch ``i``, ``N == B``), so a batch is gathered straight from the whole set."""
    count, side = patches.shape[0], patches.shape[1] * patches.shape[2]
    rows = jnp.arange(count) if rows is None else rows
    inside = pixels < side
    taken = patches.reshape(count, side, -1)[
        rows.reshape(-1, *(1,) * (pixels.ndim - 1)), jnp.where(inside, pixels, 0)
    ]
    return jnp.where(inside[..., None], taken, jnp.zeros((), patches.dtype))


def unblock(blocks: jax.Array) -> jax.Array:
    """Windows in block order ``(B, n, n, b, b, C)`` -> ``(B, 150, 150, C)``. A consumer that cuts them into
    the same blocks again (``AlexNetScan``'s conv1) reads the blocks without a copy: XLA folds the transposes."""
    count, n, _, b, _, channels = blocks.shape
    return blocks.transpose(0, 1, 3, 2, 4, 5).reshape(count, n * b, n * b, channels)


def gather_windows(patches: jax.Array, pixels: jax.Array) -> jax.Array:
    """Stored patches ``(B, P, P, C)`` gathered at ``source_pixels`` -> windows ``(B, 150, 150, C)``."""
    return unblock(gather_blocks(patches, pixels))


def transform_patch(patch: jax.Array, theta_rad: jax.Array, flip: jax.Array, shift: jax.Array) -> jax.Array:
    """One ``(P, P, C)`` patch -> its transformed ``(150, 150, C)`` window (nearest neighbour, 0 outside)."""
    return gather_windows(patch[None], source_pixels(patch.shape[0], theta_rad, flip, shift)[None])[0]


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


def window_pixels(
    key: jax.Array, labels: jax.Array, patch_px: int, config: AugmentConfig, block: int = 1
) -> jax.Array:
    """The ``source_pixels`` of ``class_transforms`` for a batch: int32 ``(B, n, n, block, block)``."""
    theta, flip, shift = class_transforms(key, labels, config)
    return jax.vmap(partial(source_pixels, patch_px, block=block))(theta, flip, shift)


def augment_windows(
    key: jax.Array, patches: jax.Array, labels: jax.Array, config: AugmentConfig, block: int = 1
) -> jax.Array:
    """The training step's augmentation: ``class_transforms`` applied to stored patches ``(B, P, P, C)``.
    ``block`` is the order in which the windows are gathered (``window_offsets``); the result is the same."""
    return gather_windows(patches, window_pixels(key, labels, patches.shape[1], config, block))


@partial(jax.jit, static_argnames=("config",))
def augment_batch(key: jax.Array, patches: jax.Array, config: AugmentConfig) -> jax.Array:
    """Random Table 3 transforms of a batch of stored patches ``(B, P, P, C)`` -> windows ``(B, 150, 150, C)``."""
    theta, flip, shift = random_transforms(key, patches.shape[0], config)
    return gather_windows(patches, jax.vmap(partial(source_pixels, patches.shape[1]))(theta, flip, shift))


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
