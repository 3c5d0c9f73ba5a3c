"""Augmentation invariants (label preserved, rotation 0 = identity, flips, shifts) and class balancing."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.errors import InputError
from train.augment import (
    FLIP_BOTH,
    FLIP_HORIZONTAL,
    FLIP_NONE,
    FLIP_VERTICAL,
    augment_batch,
    augment_windows,
    balanced_indices,
    centre_crop,
    gather_blocks,
    margin_shortfall,
    required_margin_px,
    source_pixels,
    transform_patch,
    unblock,
    window_offsets,
    window_pixels,
)
from train.config import AugmentConfig

MARGIN = 12
P = 150 + 2 * MARGIN


def _patch(seed: int) -> jax.Array:
    return jax.random.randint(jax.random.key(seed), (P, P, 2), 0, 16).astype(jnp.float32) / 15.0


def _apply(patch, theta=0.0, flip=FLIP_NONE, shift=(0.0, 0.0)):
    return np.asarray(
        transform_patch(patch, jnp.float32(theta), jnp.int32(flip), jnp.array(shift, jnp.float32))
    )


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_rotation_zero_is_identity(seed: int) -> None:
    patch = _patch(seed)
    np.testing.assert_array_equal(_apply(patch), np.asarray(centre_crop(patch[None]))[0])


def test_flips_and_shift_match_numpy() -> None:
    patch = _patch(1)
    crop = np.asarray(patch)[MARGIN : MARGIN + 150, MARGIN : MARGIN + 150]
    np.testing.assert_array_equal(_apply(patch, flip=FLIP_VERTICAL), crop[::-1])
    np.testing.assert_array_equal(_apply(patch, flip=FLIP_HORIZONTAL), crop[:, ::-1])
    np.testing.assert_array_equal(_apply(patch, flip=FLIP_BOTH), crop[::-1, ::-1])
    shifted = np.asarray(patch)[MARGIN + 3 : MARGIN + 153, MARGIN - 5 : MARGIN + 145]
    np.testing.assert_array_equal(_apply(patch, shift=(3.0, -5.0)), shifted)


def test_rotation_90_is_rot90() -> None:
    patch = _patch(2)
    crop = np.asarray(patch)[MARGIN : MARGIN + 150, MARGIN : MARGIN + 150]
    rotated = _apply(patch, theta=np.pi / 2)
    assert any(np.array_equal(rotated, np.rot90(crop, k, axes=(0, 1))) for k in (1, 3))


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10_000))
def test_augmentation_keeps_levels_and_is_seeded(seed: int) -> None:
    patches = jnp.stack([_patch(seed), _patch(seed + 1)])
    a = augment_batch(jax.random.key(seed), patches, AugmentConfig())
    b = augment_batch(jax.random.key(seed), patches, AugmentConfig())
    assert a.shape == (2, 150, 150, 2)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    levels = np.unique(np.round(np.asarray(a) * 15, 4))
    assert set(levels) <= set(range(16))  # nearest neighbour: no blended phase levels


def test_augmentation_off_is_centre_crop() -> None:
    patches = jnp.stack([_patch(3), _patch(4)])
    config = AugmentConfig(rotate=False, flip=False, max_shift_px=0)
    np.testing.assert_array_equal(
        np.asarray(augment_batch(jax.random.key(0), patches, config)), np.asarray(centre_crop(patches))
    )


@settings(max_examples=25, deadline=None)
@given(n_pos=st.integers(1, 20), n_neg=st.integers(1, 60), n=st.integers(1, 100), seed=st.integers(0, 99))
def test_balanced_indices_pad_rare_class_and_keep_labels(n_pos: int, n_neg: int, n: int, seed: int) -> None:
    labels = np.array([1] * n_pos + [0] * n_neg)
    picked = balanced_indices(labels, n, np.random.default_rng(seed))
    assert len(picked) == 2 * n
    assert np.sum(labels[picked] == 1) == n and np.sum(labels[picked] == 0) == n
    counts = np.bincount(picked[labels[picked] == 1], minlength=len(labels))[:n_pos]
    assert counts.max() - counts.min() <= 1  # padding repeats every rare sample evenly
    if n <= n_neg:
        assert len(set(picked[labels[picked] == 0])) == n  # common class sampled without replacement


def test_balanced_indices_needs_both_classes() -> None:
    with pytest.raises(InputError, match="each class"):
        balanced_indices(np.zeros(5, int), 10, np.random.default_rng(0))


# ------------------------------------------------------------------------------------------- margins


def _all_inside(config: AugmentConfig, margin: int, theta_deg: float, flip: int, shift: tuple) -> bool:
    """Whether every output pixel comes from inside a patch of ``margin``: a patch of ones gives no 0."""
    ones = jnp.ones((150 + 2 * margin, 150 + 2 * margin, 1), jnp.float32)
    out = _apply(ones, np.deg2rad(theta_deg), flip, shift)
    return bool(np.all(out == 1.0))


EXTREMES = [
    (theta, flip, (dy, dx))
    for theta in (45.0, 135.0, 44.9, 90.0, 0.0)
    for flip in (FLIP_NONE, FLIP_VERTICAL, FLIP_HORIZONTAL, FLIP_BOTH)
    for dy in (-10.0, 10.0)
    for dx in (-10.0, 10.0)
]


def test_table3_margin_is_41_and_holds_every_extreme_transform() -> None:
    """sqrt(2) x 74.5 + 10 = 115.4 px from the centre: 41 px of margin hold it, 40 do not."""
    config = AugmentConfig()
    assert required_margin_px(config) == 41
    assert all(_all_inside(config, 41, *extreme) for extreme in EXTREMES)
    assert not _all_inside(config, 40, 45.0, FLIP_NONE, (10.0, 10.0))
    assert margin_shortfall(150 + 2 * 41, config) is None
    assert "41 px" in margin_shortfall(150 + 2 * 32, config)


def test_margin_without_rotation_is_the_shift() -> None:
    config = AugmentConfig(rotate=False, max_shift_px=7)
    assert required_margin_px(config) == 7
    assert _all_inside(config, 7, 0.0, FLIP_BOTH, (7.0, -7.0))
    assert not _all_inside(config, 6, 0.0, FLIP_NONE, (7.0, 0.0))


@settings(max_examples=30, deadline=None)
@given(
    max_rotation=st.floats(0.0, 180.0),
    max_shift=st.integers(0, 20),
    rotate=st.booleans(),
    u=st.floats(0.0, 1.0),
    flip=st.integers(0, 3),
    sy=st.floats(-1.0, 1.0),
    sx=st.floats(-1.0, 1.0),
)
def test_required_margin_holds_random_transforms(
    max_rotation: float, max_shift: int, rotate: bool, u: float, flip: int, sy: float, sx: float
) -> None:
    config = AugmentConfig(rotate=rotate, max_rotation_deg=max_rotation, max_shift_px=max_shift)
    theta = u * max_rotation if rotate else 0.0
    shift = (float(round(sy * max_shift)), float(round(sx * max_shift)))
    assert _all_inside(config, required_margin_px(config), theta, flip, shift)


# ------------------------------------------------------------------------------------------- per class


def test_others_not_augmented_get_their_centre_crop() -> None:
    """With ``others=False`` class 0 is its centre crop and class 1 gets the very draws it gets with True."""
    patches = jnp.stack([_patch(s) for s in range(6)])
    labels = jnp.array([0, 1, 0, 1, 1, 0], jnp.int32)
    key = jax.random.key(3)
    off = np.asarray(
        jax.jit(augment_windows, static_argnums=3)(key, patches, labels, AugmentConfig(others=False))
    )
    on = np.asarray(jax.jit(augment_windows, static_argnums=3)(key, patches, labels, AugmentConfig()))
    crops = np.asarray(centre_crop(patches))
    for i, label in enumerate(np.asarray(labels)):
        if label == 0:
            np.testing.assert_array_equal(off[i], crops[i])
            assert not np.array_equal(on[i], crops[i])
        else:
            np.testing.assert_array_equal(off[i], on[i])
    np.testing.assert_array_equal(on, np.asarray(augment_batch(key, patches, AugmentConfig())))


# ------------------------------------------------------------------------------------------- block order


@pytest.mark.parametrize("block", [1, 2, 5, 10])
def test_window_offsets_in_block_order_unblock_to_row_major(block: int) -> None:
    """Element (i, j, r, c) of the block-ordered grid is output pixel (i*block + r, j*block + c)."""
    plain_u, plain_v = window_offsets(1)
    u, v = window_offsets(block)
    n = 150 // block
    assert u.shape == (n, n, block, block)
    for plain, blocked in ((plain_u, u), (plain_v, v)):
        restored = np.asarray(unblock(jnp.asarray(blocked)[None, ..., None]))[0, ..., 0]
        np.testing.assert_array_equal(restored, plain.reshape(150, 150))
    assert plain_u[0, 0, 0, 0] == -74.5 and plain_v.reshape(150, 150)[0, 149] == 74.5


@settings(max_examples=6, deadline=None)
@given(seed=st.integers(0, 10_000), block=st.sampled_from([2, 5, 10]))
def test_block_order_gathers_the_same_windows(seed: int, block: int) -> None:
    """Gathering in block order and unblocking gives the row-major windows: exactly for the transforms with
    integer source coordinates (flips, shifts, quarter turns), and for any rotation up to nearest-neighbour ties
    (a source coordinate within float32 rounding of a half pixel may round either way, as XLA fuses the
    arithmetic differently)."""
    patches = jnp.stack([_patch(seed), _patch(seed + 1), _patch(seed + 2)])
    labels = jnp.array([0, 1, 1], jnp.int32)
    key = jax.random.key(seed)
    plain = np.asarray(augment_windows(key, patches, labels, AugmentConfig()))
    blocked = np.asarray(augment_windows(key, patches, labels, AugmentConfig(), block))
    assert blocked.shape == plain.shape == (3, 150, 150, 2)
    assert np.mean(np.any(blocked != plain, axis=-1)) < 1e-3
    exact = AugmentConfig(rotate=False)
    np.testing.assert_array_equal(
        np.asarray(augment_windows(key, patches, labels, exact, block)),
        np.asarray(augment_windows(key, patches, labels, exact)),
    )
    quarter = [source_pixels(P, jnp.float32(np.pi / 2), jnp.int32(f), jnp.zeros(2), block) for f in range(3)]
    plain_quarter = [source_pixels(P, jnp.float32(np.pi / 2), jnp.int32(f), jnp.zeros(2)) for f in range(3)]
    np.testing.assert_array_equal(
        np.asarray(unblock(gather_blocks(patches, jnp.stack(quarter)))),
        np.asarray(unblock(gather_blocks(patches, jnp.stack(plain_quarter)))),
    )


def test_source_pixels_point_outside_at_the_zero_pixel() -> None:
    """Pixels whose source falls outside the patch get index P*P and are gathered as 0."""
    small = 150 + 2 * 2
    pixels = source_pixels(small, jnp.float32(np.pi / 4), jnp.int32(FLIP_NONE), jnp.zeros(2))
    outside = np.asarray(pixels) == small * small
    assert 0 < outside.mean() < 0.5
    ones = jnp.ones((1, small, small, 1), jnp.float32)
    window = np.asarray(unblock(gather_blocks(ones, pixels[None])))[0, ..., 0]
    np.testing.assert_array_equal(window == 0.0, outside.reshape(150, 150))


def test_window_pixels_follow_the_per_class_draws() -> None:
    """``window_pixels`` is ``class_transforms``' source pixels: others without augmentation get the centre crop."""
    labels = jnp.array([0, 1], jnp.int32)
    pixels = np.asarray(window_pixels(jax.random.key(2), labels, P, AugmentConfig(others=False)))
    centre = np.asarray(source_pixels(P, jnp.float32(0.0), jnp.int32(FLIP_NONE), jnp.zeros(2)))
    np.testing.assert_array_equal(pixels[0], centre)
    assert not np.array_equal(pixels[1], centre)
