"""Phase preprocessing: wrapping, the global error removal filter, 16-step quantization and slope.

Pure numpy functions, no I/O. ``preprocess`` is the one function that turns stored rasters into model input;
the training-set builder and the scanner both call it, so a patch and a scanned window see the same pixels.

The global error removal filter (paper, section 2.2; Kusano et al. 2015) is implemented as a complex-domain
high-pass: the phase of the mean of ``exp(i*phase)`` over the valid pixels of a square box of full width
``filter_size_m`` is subtracted from the phase. The box sums use exact integer arithmetic (unit phasors scaled
by 2**16 and rounded, summed in int32 per part), so a tile carrying a halo of ``filter_reach_px`` gives
bit-identical output to the whole scene, whatever the tile's origin. The ``cos``/``sin`` channels come
straight from the sums (``filtered_cos_sin``). ``scanner.prep_device`` is the same arithmetic in JAX, for
preprocessing inside the scan kernel on an accelerator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from scanner.config import require

PHASOR_SCALE = 1 << 16
"""Fixed-point scale of the unit phasors summed by the filter (phase resolution ~1.5e-5 rad per pixel)."""

_INT32_MAX_WIDTH_PX = 181
"""Widest box whose sums fit 32 signed bits (181**2 * 2**16 < 2**31): such boxes sum in int32, whose running
sums wrap around harmlessly (a difference of wrapped sums is exact when the true sum fits); wider boxes sum
in int64. Both give the same integers."""

CHANNELS = ("phase_q", "cos", "sin", "coherence", "slope")
"""Model input channels ``preprocess`` can build, in any order and combination."""


def wrap(phase: np.ndarray) -> np.ndarray:
    """Wrap radians into [-pi, pi) of the input's float dtype (float32 input stays float32).

    Computed in float64 as ``mod(phase + pi, 2 pi) - pi``; the result is rounded to the input dtype, and a
    value that rounds up to pi becomes -pi.
    """
    dtype = phase.dtype if np.issubdtype(phase.dtype, np.floating) else np.float64
    work = phase.astype(np.float64)  # always a fresh buffer: the steps below work in place
    work += np.pi
    _mod_2pi(work)
    work -= np.pi
    wrapped = work.astype(dtype, copy=False)
    wrapped[wrapped >= dtype.type(np.pi)] = -dtype.type(np.pi)
    return wrapped


def _mod_2pi(work: np.ndarray) -> None:
    """``np.mod(work, 2 pi)`` in place, bit for bit, with a fast path for ``work`` within ``[-pi, 4 pi)``.

    Phase differences of wrapped values (the filter's output) land there. In that range numpy's float mod
    (``fmod``, then ``+ 2 pi`` for a negative remainder) reduces to at most one exact subtraction or one
    addition of 2 pi, which two masked in-place ufuncs do several times faster than ``np.mod``.
    """
    two_pi = 2 * np.pi
    if work.size == 0 or not (np.min(work) >= -np.pi and np.max(work) < 2 * two_pi):
        np.mod(work, two_pi, out=work)
        return
    high = work >= two_pi
    np.add(work, two_pi, out=work, where=work < 0)
    np.subtract(work, two_pi, out=work, where=high)


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
    """Sum of integer ``values`` over ``[i - reach, i + reach]`` along ``axis``; outside the array counts 0.

    Overwrites ``values`` with the result (callers pass buffers they own; fewer large allocations matter more
    than the arithmetic here). Integer overflow of the running sum wraps around and cancels in the difference.
    """
    n = values.shape[axis]
    shape = list(values.shape)
    shape[axis] = n + 2 * reach + 1

    def along(part: slice) -> tuple[slice, ...]:
        return (slice(None),) * axis + (part,)

    padded = np.empty(shape, dtype=values.dtype)
    padded[along(slice(0, reach + 1))] = 0
    np.cumsum(values, axis=axis, dtype=values.dtype, out=padded[along(slice(reach + 1, reach + 1 + n))])
    padded[along(slice(reach + 1 + n, None))] = padded[along(slice(reach + n, reach + n + 1))]
    return np.subtract(padded[along(slice(2 * reach + 1, None))], padded[along(slice(0, n))], out=values)


def _box_sum(values: np.ndarray, reach: int, crop: int = 0) -> np.ndarray:
    """Sum of integer ``values`` (overwritten) over the (2*reach+1)^2 box around each pixel; outside counts 0.

    Only the pixels at least ``crop`` from every edge are returned (a view into ``values``).
    """
    height, width = values.shape
    down = _box_sum_axis(values, reach, 0)[crop : height - crop]
    return _box_sum_axis(down, reach, 1)[:, crop : width - crop]


@dataclass(frozen=True)
class _FilterSums:
    """What the filter knows about the pixels ``crop`` px in: the usable mask, the phase (0 where unusable),
    its float32 cos and sin, and the exact box sums (re, im) of the fixed-point unit phasors around it."""

    usable: np.ndarray
    phase: np.ndarray
    cos: np.ndarray
    sin: np.ndarray
    re: np.ndarray
    im: np.ndarray


def _filter_sums(phase: np.ndarray, valid: np.ndarray, width_px: int, crop: int) -> _FilterSums:
    require(
        width_px >= 3 and width_px % 2 == 1,
        "global filter width",
        expected="an odd number of pixels >= 3",
        found=width_px,
        fix="build it with filter_width_px(filter_size_m, pixel_size_m)",
    )
    usable = (valid != 0) & np.isfinite(phase)
    safe = np.where(usable, phase, 0).astype(np.float32, copy=False)
    scale = np.where(usable, np.float32(PHASOR_SCALE), np.float32(0))
    cos, sin = np.cos(safe), np.sin(safe)
    dtype = np.int32 if width_px <= _INT32_MAX_WIDTH_PX else np.int64
    sums = []
    for part in (cos, sin):
        fixed = part * scale
        np.rint(fixed, out=fixed)
        sums.append(_box_sum(fixed.astype(dtype), filter_reach_px(width_px), crop))
    return _FilterSums(*(_crop(a, crop) for a in (usable, safe, cos, sin)), *sums)


def global_filter(phase: np.ndarray, valid: np.ndarray, *, width_px: int, crop: int = 0) -> np.ndarray:
    """Remove fringes larger than ``width_px``: phase minus the phase of its local complex mean.

    Invalid pixels (``valid == 0`` or non-finite phase) carry no weight and come back as NaN. The result is
    float32 in [-pi, pi). Deterministic per pixel (float32 trigonometry, integer box sums), hence exact under
    tiling with a halo of ``filter_reach_px(width_px)``. ``crop`` > 0 returns only the pixels at least that far
    from every edge (what a tile keeps of its halo), equal to the same pixels of the uncropped result.
    """
    return _filtered_phase(_filter_sums(phase, valid, width_px, crop))


def _filtered_phase(sums: _FilterSums) -> np.ndarray:
    low = np.arctan2(sums.im.astype(np.float32), sums.re.astype(np.float32))
    np.subtract(sums.phase, low, out=low)
    out = wrap(low)
    out[~sums.usable] = np.float32(np.nan)
    return out


def filtered_cos_sin(
    phase: np.ndarray, valid: np.ndarray, *, width_px: int, crop: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of ``global_filter``'s output, straight from the phasor sums (no arctan2, no wrap).

    With ``(re, im)`` the box sum around a pixel and ``r = hypot(re, im)``, the removed phase ``l`` has
    ``cos l = re / r`` and ``sin l = im / r``, so ``cos(phase - l) = (cos phase * re + sin phase * im) / r`` and
    ``sin(phase - l) = (sin phase * re - cos phase * im) / r``; an empty box (r = 0) removes nothing, as
    ``arctan2(0, 0) = 0`` does. Equal to ``np.cos(global_filter(...))`` to float32 rounding (about 1e-7), exact
    under tiling like the filter, and NaN-free: unusable pixels hold the values of a phase of 0 (callers mask
    them).
    """
    return _filtered_cos_sin(_filter_sums(phase, valid, width_px, crop))


def _filtered_cos_sin(sums: _FilterSums) -> tuple[np.ndarray, np.ndarray]:
    re, im = sums.re.astype(np.float32), sums.im.astype(np.float32)
    norm = np.hypot(re, im)
    empty = norm == 0
    re[empty], norm[empty] = 1, 1
    re /= norm
    im /= norm
    cos = sums.cos * re
    cos += sums.sin * im
    sin = np.multiply(sums.sin, re, out=re)
    sin -= np.multiply(sums.cos, im, out=im)
    return cos, sin


def _crop(array: np.ndarray, crop: int) -> np.ndarray:
    """``array`` without its outer ``crop`` pixels on every side (a view)."""
    return array[crop : array.shape[0] - crop, crop : array.shape[1] - crop]


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
    *,
    crop: int = 0,
) -> np.ndarray:
    """Stored rasters -> model input ``(y, x, C)`` float32; invalid pixels are 0 in every channel.

    ``extras`` supplies ``coherence`` (0..1) and ``slope`` (degrees) when those channels are asked for.
    ``crop`` > 0 returns only the pixels at least that far from every edge, equal to the same pixels of the
    uncropped result: a tile reads its filter halo and keeps only what the model sees. Each channel is
    computed straight into its slice of the output (this runs on every scanned pixel, so it keeps large
    temporaries few).
    """
    extras = {name: _crop(array, crop) for name, array in (extras or {}).items()}
    usable = _crop((valid != 0) & np.isfinite(phase), crop)
    wanted = set(config.channels)
    with np.errstate(invalid="ignore", over="ignore"):  # non-finite phase: unusable, zeroed below
        if config.filter_size_m is not None:
            sums = _filter_sums(phase, valid, filter_width_px(config.filter_size_m, pixel_size_m), crop)
            filtered = _filtered_phase(sums) if "phase_q" in wanted else None
            trig = _filtered_cos_sin(sums) if wanted & {"cos", "sin"} else None
        else:
            filtered = _crop(phase, crop)
            trig = (np.cos(filtered), np.sin(filtered)) if wanted & {"cos", "sin"} else None
        out = np.empty((*usable.shape, len(config.channels)), dtype=np.float32)
        for k, name in enumerate(config.channels):
            if name in ("cos", "sin"):
                out[..., k] = trig[0 if name == "cos" else 1]
            else:
                _channel(name, filtered, config, extras, out[..., k])
    out[~usable] = 0
    return out


def _channel(
    name: str,
    phase: np.ndarray | None,
    config: PreprocessConfig,
    extras: Mapping[str, np.ndarray],
    out: np.ndarray,
) -> None:
    """A phase_q, coherence or slope channel into ``out`` (float32); unusable pixels are overwritten later."""
    if name == "phase_q":
        if config.quantize_levels is not None:
            out[...] = levels_to_unit(quantize(phase, config.quantize_levels), config.quantize_levels)
        else:
            out[...] = (np.nan_to_num(phase, nan=-np.pi) + np.pi) / (2 * np.pi)
    elif name == "coherence":
        out[...] = np.nan_to_num(_extra(extras, "coherence"))
    else:
        np.divide(np.nan_to_num(_extra(extras, "slope")), 90.0, out=out, casting="same_kind")


def row_bands(height: int, crop: int, bands: int, reach: int) -> list[tuple[slice, slice]]:
    """Split the rows ``[crop, height - crop)`` of a preprocessed array into ``bands`` parts.

    Returns ``(input_rows, keep_rows)`` per band: ``preprocess`` of the input rows (the band grown by the
    filter's ``reach``, clipped to the array), then ``keep_rows`` of its result, equals those rows of
    ``preprocess`` on the whole array (the filter is exact under tiling). Bands can run in parallel.
    """
    rows = height - 2 * crop
    edges = [crop + rows * k // bands for k in range(bands + 1)]
    out = []
    for start, stop in zip(edges[:-1], edges[1:], strict=True):
        if stop <= start:
            continue
        first, last = max(0, start - reach), min(height, stop + reach)
        out.append((slice(first, last), slice(start - first, stop - first)))
    return out


def _extra(extras: Mapping[str, np.ndarray], name: str) -> np.ndarray:
    require(
        name in extras,
        f"input channel {name!r}",
        expected=f"a stored {name} raster",
        found="none in this scene",
        fix=f"ingest the scene with --{name if name != 'slope' else 'dem'}",
    )
    return extras[name]
