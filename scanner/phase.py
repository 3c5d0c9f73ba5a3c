"""Phase preprocessing: wrapping, the global error removal filter, 16-step quantization and slope.

Pure numpy functions, no I/O. ``preprocess`` is the one function that turns stored rasters into model input;
the training-set builder and the scanner both call it, so a patch and a scanned window see the same pixels.

The global error removal filter (paper, section 2.2; Kusano et al. 2015) is implemented as a complex-domain
high-pass: the phase of the mean of ``exp(i*phase)`` over the valid pixels of a square box of full width
``filter_size_m`` is subtracted from the phase. The box sums use exact integer arithmetic (unit phasors scaled
by 2**16 and rounded, real and imaginary parts packed into one int64), so a tile carrying a halo of
``filter_reach_px`` gives bit-identical output to the whole scene, whatever the tile's origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scanner.config import require

PHASOR_SCALE = 1 << 16
"""Fixed-point scale of the unit phasors summed by the filter (phase resolution ~1.5e-5 rad per pixel)."""

_PACK_SHIFT = 32
"""Bits of the packed int64 given to the imaginary part (the real part takes the other 32)."""

_PACKED_MAX_WIDTH_PX = 181
"""Widest box whose sums fit 32 signed bits each (181**2 * 2**16 < 2**31); wider boxes sum the parts apart."""

CHANNELS = ("phase_q", "cos", "sin", "coherence", "slope")
"""Model input channels ``preprocess`` can build, in any order and combination."""


def wrap(phase: np.ndarray) -> np.ndarray:
    """Wrap radians into [-pi, pi) of the input's float dtype (float32 input stays float32)."""
    dtype = phase.dtype if np.issubdtype(phase.dtype, np.floating) else np.float64
    wrapped = (np.mod(phase.astype(np.float64) + np.pi, 2 * np.pi) - np.pi).astype(dtype)
    pi = dtype.type(np.pi)
    return np.where(wrapped >= pi, -pi, wrapped).astype(dtype)


def filter_width_px(filter_size_m: float, pixel_size_m: float) -> int:
    """Full box width in pixels for a filter of ``filter_size_m``: the nearest odd number, at least 3."""
    require(
        filter_size_m > 0 and pixel_size_m > 0,
        "filter size and pixel size",
        expected="positive metres",
        found=(filter_size_m, pixel_size_m),
        fix="set preprocess.filter_size_m to e.g. 2000",
    )
    width = int(round(filter_size_m / pixel_size_m))
    return max(3, width if width % 2 == 1 else width + 1)


def filter_reach_px(width_px: int) -> int:
    """How far the filter looks beyond a pixel: the halo a tile needs for exact tiled results."""
    return width_px // 2


def _box_sum_axis(values: np.ndarray, reach: int, axis: int) -> np.ndarray:
    """Sum of int64 ``values`` over ``[i - reach, i + reach]`` along ``axis``; outside the array counts 0."""
    moved = np.moveaxis(values, axis, 0)
    n = moved.shape[0]
    padded = np.empty((n + 2 * reach + 1, *moved.shape[1:]), dtype=np.int64)
    padded[: reach + 1] = 0
    np.cumsum(moved, axis=0, dtype=np.int64, out=padded[reach + 1 : reach + 1 + n])
    padded[reach + 1 + n :] = padded[reach + n]
    return np.moveaxis(padded[2 * reach + 1 :] - padded[:n], 0, axis)


def _box_sum(values: np.ndarray, reach: int) -> np.ndarray:
    """Sum of ``values`` (int64) over the (2*reach+1)^2 box around each pixel; outside the array counts 0."""
    return _box_sum_axis(_box_sum_axis(values, reach, 0), reach, 1)


def _phasor_box_sums(phase: np.ndarray, usable: np.ndarray, reach: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact box sums (re, im) of the fixed-point unit phasors of the usable pixels.

    For boxes up to ``_PACKED_MAX_WIDTH_PX`` both parts ride in one int64 (``re * 2**32 + im``): box sums are
    linear and exact modulo 2**64, so one pass serves both and unpacking gives each part's exact sum. Wider
    boxes sum the parts separately; both paths give the same integers.
    """
    scale = np.where(usable, np.float32(PHASOR_SCALE), np.float32(0))
    re = np.rint(np.cos(phase) * scale).astype(np.int64)
    im = np.rint(np.sin(phase) * scale).astype(np.int64)
    if 2 * reach + 1 > _PACKED_MAX_WIDTH_PX:
        return _box_sum(re, reach), _box_sum(im, reach)
    packed = _box_sum((re << _PACK_SHIFT) + im, reach)
    half = np.int64(1 << (_PACK_SHIFT - 1))
    im_sum = ((packed + half) & np.int64((1 << _PACK_SHIFT) - 1)) - half
    return (packed - im_sum) >> _PACK_SHIFT, im_sum


def global_filter(phase: np.ndarray, valid: np.ndarray, *, width_px: int) -> np.ndarray:
    """Remove fringes larger than ``width_px``: phase minus the phase of its local complex mean.

    Invalid pixels (``valid == 0`` or non-finite phase) carry no weight and come back as NaN. The result is
    float32 in [-pi, pi). Deterministic per pixel (float32 trigonometry, integer box sums), hence exact under
    tiling with a halo of ``filter_reach_px(width_px)``.
    """
    require(
        width_px >= 3 and width_px % 2 == 1,
        "global filter width",
        expected="an odd number of pixels >= 3",
        found=width_px,
        fix="build it with filter_width_px(filter_size_m, pixel_size_m)",
    )
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0).astype(np.float32)
    re_sum, im_sum = _phasor_box_sums(safe, usable, filter_reach_px(width_px))
    low = np.arctan2(im_sum.astype(np.float32), re_sum.astype(np.float32))
    out = wrap(safe - low)
    out[~usable] = np.float32(np.nan)
    return out


def quantize(phase: np.ndarray, levels: int = 16) -> np.ndarray:
    """Quantize wrapped phase into ``levels`` equal steps over [-pi, pi): uint8 in 0..levels-1 (NaN -> 0)."""
    unit = (np.nan_to_num(phase.astype(np.float64), nan=-np.pi) + np.pi) / (2 * np.pi)
    return np.clip(np.floor(unit * levels), 0, levels - 1).astype(np.uint8)


def levels_to_unit(levels: np.ndarray, n_levels: int = 16) -> np.ndarray:
    """Scale quantization levels 0..n-1 to float32 in [0, 1] (the model's default input)."""
    return (levels.astype(np.float32) / np.float32(n_levels - 1)).astype(np.float32)


def slope_deg(dem: np.ndarray, pixel_x_m: float, pixel_y_m: float) -> np.ndarray:
    """Slope in degrees by Horn's (1981) 3x3 method; edges use replicated borders; NaN propagates."""
    z = np.pad(dem.astype(np.float64), 1, mode="edge")
    a, b, c = z[:-2, :-2], z[:-2, 1:-1], z[:-2, 2:]
    d, f = z[1:-1, :-2], z[1:-1, 2:]
    g, h, i = z[2:, :-2], z[2:, 1:-1], z[2:, 2:]
    dz_dx = ((c + 2 * f + i) - (a + 2 * d + g)) / (8 * pixel_x_m)
    dz_dy = ((g + 2 * h + i) - (a + 2 * b + c)) / (8 * pixel_y_m)
    return np.degrees(np.arctan(np.hypot(dz_dx, dz_dy))).astype(np.float32)


def block_px(pixel_size_m: float, block_m: float = 1000.0) -> int:
    """Pixels per side of the mean-slope mesh block (1 km by default, as in the paper's section 2.3)."""
    return max(1, int(round(block_m / pixel_size_m)))


SLOPE_CLASS_FLAT, SLOPE_CLASS_SLOPE, SLOPE_CLASS_NODATA = 0, 1, 255


def slope_class_blocks(slope: np.ndarray, block: int, threshold_deg: float = 15.0) -> np.ndarray:
    """Mean-slope class per ``block x block`` mesh cell aligned to the grid origin.

    1 = slope (mean >= ``threshold_deg``), 0 = flat, 255 = no finite slope in the block. Shape
    ``ceil(H/block) x ceil(W/block)``; partial blocks at the edges average what they hold.
    """
    height, width = slope.shape
    nby, nbx = -(-height // block), -(-width // block)
    padded = np.full((nby * block, nbx * block), np.nan, dtype=np.float64)
    padded[:height, :width] = slope
    cells = padded.reshape(nby, block, nbx, block)
    finite = np.isfinite(cells)
    count = finite.sum(axis=(1, 3))
    total = np.where(finite, cells, 0.0).sum(axis=(1, 3))
    mean = np.divide(total, count, out=np.zeros_like(total), where=count > 0)
    classes = np.where(mean >= threshold_deg, SLOPE_CLASS_SLOPE, SLOPE_CLASS_FLAT).astype(np.uint8)
    return np.where(count > 0, classes, SLOPE_CLASS_NODATA).astype(np.uint8)


def expand_blocks(blocks: np.ndarray, block: int, shape: tuple[int, int]) -> np.ndarray:
    """Per-pixel view of a per-block array (nearest block), cropped to ``shape``."""
    return np.repeat(np.repeat(blocks, block, axis=0), block, axis=1)[: shape[0], : shape[1]]


@dataclass(frozen=True, kw_only=True)
class PreprocessConfig:
    """How stored rasters become model input.

    ``filter_size_m``: full width of the global error removal filter (paper: 2000 m chosen from 500, 1000,
    2000, 3000); None turns it off. ``quantize_levels``: colour steps over [-pi, pi) (paper: 16); None keeps
    the continuous phase scaled to [0, 1] in the ``phase_q`` channel. ``channels``: any of ``CHANNELS``.
    """

    filter_size_m: float | None = 2000.0
    quantize_levels: int | None = 16
    channels: tuple[str, ...] = ("phase_q",)

    def __post_init__(self) -> None:
        require(
            self.filter_size_m is None or self.filter_size_m > 0,
            "preprocess.filter_size_m",
            expected="None or a positive size in metres",
            found=self.filter_size_m,
            fix="use e.g. 2000",
        )
        require(
            self.quantize_levels is None or 2 <= self.quantize_levels <= 256,
            "preprocess.quantize_levels",
            expected="None or 2..256",
            found=self.quantize_levels,
            fix="use 16 as in the paper",
        )
        require(
            len(self.channels) > 0 and all(c in CHANNELS for c in self.channels),
            "preprocess.channels",
            expected=f"a non-empty subset of {CHANNELS}",
            found=self.channels,
            fix="pick from the list",
        )

    def reach_px(self, pixel_size_m: float) -> int:
        """Halo a tile needs for the filter at this pixel size (0 when the filter is off)."""
        if self.filter_size_m is None:
            return 0
        return filter_reach_px(filter_width_px(self.filter_size_m, pixel_size_m))


def preprocess(
    phase: np.ndarray,
    valid: np.ndarray,
    pixel_size_m: float,
    config: PreprocessConfig,
    extras: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """Stored rasters -> model input ``(y, x, C)`` float32; invalid pixels are 0 in every channel.

    ``extras`` supplies ``coherence`` (0..1) and ``slope`` (degrees) when those channels are asked for.
    """
    extras = extras or {}
    usable = (valid != 0) & np.isfinite(phase)
    if config.filter_size_m is not None:
        phase = global_filter(phase, usable, width_px=filter_width_px(config.filter_size_m, pixel_size_m))
    if config.quantize_levels is not None:
        phase_q = levels_to_unit(quantize(phase, config.quantize_levels), config.quantize_levels)
    else:
        phase_q = ((np.nan_to_num(phase, nan=-np.pi) + np.pi) / (2 * np.pi)).astype(np.float32)
    makers = {
        "phase_q": lambda: phase_q,
        "cos": lambda: np.cos(np.nan_to_num(phase)).astype(np.float32),
        "sin": lambda: np.sin(np.nan_to_num(phase)).astype(np.float32),
        "coherence": lambda: np.nan_to_num(_extra(extras, "coherence")).astype(np.float32),
        "slope": lambda: (np.nan_to_num(_extra(extras, "slope")) / 90.0).astype(np.float32),
    }
    stacked = np.stack([makers[name]() for name in config.channels], axis=-1)
    return np.where(usable[..., None], stacked, np.float32(0)).astype(np.float32)


def _extra(extras: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    require(
        name in extras,
        f"input channel {name!r}",
        expected=f"a stored {name} raster",
        found="none in this scene",
        fix=f"ingest the scene with --{name if name != 'slope' else 'dem'}",
    )
    return extras[name]
