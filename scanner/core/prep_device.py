"""Preprocessing on the accelerator: ``scanner.core.phase.preprocess`` written in JAX, for the dense scan kernel.

Pure numerics, no I/O. On a GPU the model scores a tile in a few milliseconds, and the host's numpy
preprocessing of the same tile becomes the bottleneck (docs/scanning.md, "Where preprocessing runs"). With
``--prep device`` the scan sends the tile's raw read window (phase, valid and the extra rasters the model
uses) to the device, and the jitted kernel preprocesses it right before the model.

The arithmetic follows ``scanner.core.phase`` step by step: float32 unit phasors of the usable pixels scaled by
``PHASOR_SCALE`` and rounded, exact integer box sums (int32 running sums; their wrap-around cancels in the
difference because a box sum itself fits 32 bits), then the channels. cos and sin come straight from the
sums (``scanner.core.phase.filtered_cos_sin``). So tiles stay exact: a pixel's value depends only on the pixels in
its box, computed the same way wherever the tile starts. The device's ``cos``, ``sin`` and ``arctan2`` are
not numpy's, so values differ from host preprocessing by float32 rounding (about 1e-7 for the cos/sin
channels; a ``phase_q`` pixel can change level when the filtered phase sits on a level edge). Training
patches come from the host path; ``tests/test_prep_device.py`` bounds the difference.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp

from scanner.config import require
from scanner.core.kernels import PHASOR_SCALE
from scanner.core.phase import PreprocessConfig, filter_width_px

_INT32_MAX_WIDTH_PX = 181
"""Widest box whose sums fit 32 signed bits (181**2 * 2**16 < 2**31). The device sums in int32 (fast on
accelerators; the running sums wrap around, and a difference of wrapped sums is exact when the true sum
fits), so wider filters are preprocessed on the host."""


@dataclass(frozen=True)
class DevicePrep:
    """What the kernel needs to preprocess raw tiles: the model's preprocess config at the scene's pixel size."""

    config: PreprocessConfig
    pixel_size_m: float

    def __post_init__(self) -> None:
        require(
            self.width_px is None or self.width_px <= _INT32_MAX_WIDTH_PX,
            "filter width for device preprocessing",
            expected=f"at most {_INT32_MAX_WIDTH_PX} px (int32 box sums)",
            found=self.width_px,
            fix="use --prep host for such a wide filter",
        )
        require(
            "phase_rgb" not in self.config.channels,
            "device preprocessing of the phase_rgb channel",
            expected="channels without phase_rgb (the device kernel builds one plane per channel)",
            found=self.config.channels,
            fix="use --prep host",
        )

    @property
    def width_px(self) -> int | None:
        if self.config.filter_size_m is None:
            return None
        return filter_width_px(self.config.filter_size_m, self.pixel_size_m)

    @property
    def reach_px(self) -> int:
        """Raw pixels the kernel crops from every side: the filter's reach (0 without the filter)."""
        return self.config.reach_px(self.pixel_size_m)

    @property
    def raw_names(self) -> tuple[str, ...]:
        """Planes of the raw tile, in order: phase, valid, then the extra rasters the channels use."""
        return self.config.rasters()


def preprocess_raw(raw: jax.Array, prep: DevicePrep) -> jax.Array:
    """Raw tile ``(H, W, len(raw_names))`` float32 -> model input ``(H - 2r, W - 2r, C)``, r = ``reach_px``.

    Equal to ``scanner.core.phase.preprocess(..., crop=r)`` on the same rasters, to float32 rounding.
    """
    planes = dict(zip(prep.raw_names, jnp.moveaxis(raw, -1, 0), strict=True))
    phase, r = planes["phase"], prep.reach_px
    usable = (planes["valid"] != 0) & jnp.isfinite(phase)
    safe = jnp.where(usable, phase, 0.0).astype(jnp.float32)
    crop = _cropper(r)
    wanted = set(prep.config.channels)
    if prep.width_px is not None:
        cos, sin = jnp.cos(safe), jnp.sin(safe)
        scale = jnp.where(usable, jnp.float32(PHASOR_SCALE), jnp.float32(0))
        re, im = (_box_sum(jnp.rint(part * scale).astype(jnp.int32), r) for part in (cos, sin))
        re, im = re.astype(jnp.float32), im.astype(jnp.float32)
        filtered = _filtered_phase(crop(safe), re, im) if "phase_q" in wanted else None
        trig = _filtered_cos_sin(crop(cos), crop(sin), re, im)
    else:
        filtered = crop(safe)
        trig = (jnp.cos(filtered), jnp.sin(filtered))
    makers = {
        "phase_q": lambda: _phase_q(filtered, prep.config.quantize_levels),
        "cos": lambda: trig[0],
        "sin": lambda: trig[1],
        "coherence": lambda: jnp.nan_to_num(crop(planes["coherence"])),
        "slope": lambda: jnp.nan_to_num(crop(planes["slope"])) / jnp.float32(90.0),
    }
    stacked = jnp.stack([makers[name]().astype(jnp.float32) for name in prep.config.channels], axis=-1)
    return jnp.where(crop(usable)[..., None], stacked, jnp.float32(0))


def _cropper(r: int):
    return lambda a: a[r : a.shape[0] - r, r : a.shape[1] - r]


def _box_sum(values: jax.Array, reach: int) -> jax.Array:
    """Exact box sums over ``(2 reach + 1)^2`` (outside counts 0), for the pixels ``reach`` in from each edge."""
    return _box_sum_axis(_box_sum_axis(values, reach, 0), reach, 1)


def _box_sum_axis(values: jax.Array, reach: int, axis: int) -> jax.Array:
    """Sums over ``[i - reach, i + reach]`` along ``axis`` for ``i`` in ``[reach, n - reach)``."""
    n = values.shape[axis]
    running = jnp.cumsum(values, axis=axis, dtype=values.dtype)
    zero = jnp.zeros_like(jax.lax.slice_in_dim(running, 0, 1, axis=axis))
    padded = jnp.concatenate([zero, running], axis=axis)  # padded[k] = sum of values[:k]
    high = jax.lax.slice_in_dim(padded, 2 * reach + 1, n + 1, axis=axis)
    low = jax.lax.slice_in_dim(padded, 0, n - 2 * reach, axis=axis)
    return high - low


def _filtered_phase(safe: jax.Array, re: jax.Array, im: jax.Array) -> jax.Array:
    """Phase minus the phase of the box sum, wrapped into [-pi, pi) (float32)."""
    x = safe - jnp.arctan2(im, re)
    two_pi = jnp.float32(2 * jnp.pi)
    x = jnp.where(x < -jnp.pi, x + two_pi, jnp.where(x >= jnp.pi, x - two_pi, x))
    return jnp.where(x >= jnp.float32(jnp.pi), -jnp.float32(jnp.pi), x)


def _filtered_cos_sin(cos: jax.Array, sin: jax.Array, re: jax.Array, im: jax.Array) -> tuple[jax.Array, ...]:
    """cos and sin of the filtered phase from the sums (``scanner.core.phase.filtered_cos_sin``)."""
    norm = jnp.hypot(re, im)
    empty = norm == 0
    re = jnp.where(empty, 1.0, re) / jnp.where(empty, 1.0, norm)
    im = jnp.where(empty, 0.0, im) / jnp.where(empty, 1.0, norm)
    return cos * re + sin * im, sin * re - cos * im


def _phase_q(phase: jax.Array, levels: int | None) -> jax.Array:
    """The ``phase_q`` channel: 16-level quantization scaled to [0, 1], or the phase scaled to [0, 1]."""
    unit = (jnp.nan_to_num(phase, nan=-jnp.pi) + jnp.pi) / (2 * jnp.pi)
    if levels is None:
        return unit
    steps = jnp.clip(jnp.floor(unit * levels), 0, levels - 1)
    return steps / jnp.float32(levels - 1)
