"""Phase preprocessing: wrapping, the global error removal filter, 16-step quantization and slope.

Pure numerics, no I/O (numpy, with the filter's inner loops compiled in ``scanner.core.kernels``). ``preprocess`` is
the one function that turns stored rasters into model input; the training-set builder and the scanner both
call it, so a patch and a scanned window see the same pixels.

The global error removal filter (paper, section 2.2; Kusano et al. 2015) is implemented as a complex-domain
high-pass: the phase of the mean of ``exp(i*phase)`` over the valid pixels of a square box of full width
``filter_size_m`` is subtracted from the phase. The box sums use exact integer arithmetic (unit phasors scaled
by 2**16 and rounded, summed in int64 as running sums by ``scanner.core.kernels.filter_channels``), so a tile
carrying a halo of ``filter_reach_px`` gives bit-identical output to the whole scene, whatever the tile's
origin. The ``cos``/``sin`` channels come straight from the sums (``filtered_cos_sin``). ``scanner.core.prep_device``
is the same arithmetic in JAX, for preprocessing inside the scan kernel on an accelerator.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from scanner.config import require
from scanner.core import kernels
from scanner.core.palette import PHASE_RGB_INVALID, phase_rgb_table, quantize  # quantize: also phase.quantize

if TYPE_CHECKING:
    import dask.array as da

CHANNELS = ("phase_q", "phase_rgb", "cos", "sin", "coherence", "slope")
"""Model input channels ``preprocess`` can build, in any order and combination.

``phase_rgb`` is three planes (the quantized phase through the cyclic colour table of
``scanner.core.palette``, as the paper's experts and CNN saw it); every other channel is one plane."""

CHANNEL_PLANES = {"phase_rgb": 3}
"""Planes of the channels that are more than one plane of model input (the others are one)."""

PHASE_CHANNELS = ("phase_q", "phase_rgb")
"""Channels made from the filtered phase itself."""


def channel_offsets(channels: tuple[str, ...]) -> dict[str, int]:
    """First plane of each channel in the model input (``phase_rgb`` takes three planes)."""
    offsets, at = {}, 0
    for name in channels:
        offsets[name] = at
        at += CHANNEL_PLANES.get(name, 1)
    return offsets


def count_planes(channels: tuple[str, ...]) -> int:
    """Planes of model input the channels make: ``model.in_channels`` must equal it."""
    return sum(CHANNEL_PLANES.get(name, 1) for name in channels)


EXTRA_RASTERS = ("coherence", "slope")
"""Channels that are stored rasters of their own (besides phase and valid)."""


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


@dataclass(frozen=True)
class _Phasors:
    """A read window's usable mask (valid and finite phase), its phase as float32 and that phase's cos and
    sin: what the compiled filter (``scanner.core.kernels.filter_channels``) reads. The kernel looks at cos and
    sin only where a pixel is usable."""

    usable: np.ndarray
    phase: np.ndarray
    cos: np.ndarray
    sin: np.ndarray

    @classmethod
    def of(cls, phase: np.ndarray, valid: np.ndarray) -> _Phasors:
        phase = phase.astype(np.float32, copy=False)
        usable = (valid != 0) & np.isfinite(phase)
        with np.errstate(invalid="ignore"):  # cos(inf): unusable, never read
            return cls(usable, phase, np.cos(phase), np.sin(phase))


_KERNEL_SLOTS = {
    "cos": kernels.SLOT_COS,
    "sin": kernels.SLOT_SIN,
    "coherence": kernels.SLOT_COHERENCE,
    "slope": kernels.SLOT_SLOPE,
}
_NONE_2D = np.zeros((0, 0), np.float32)
_NONE_3D = np.zeros((0, 0, 0), np.float32)
_NO_SUMS = np.zeros((0, 0, 0), np.int64)


def _run_filter(
    phasors: _Phasors,
    reach: int,
    crop: int,
    channels: tuple[str, ...] = (),
    extras: Mapping[str, np.ndarray] | None = None,
    out: np.ndarray = _NONE_3D,
    sums: np.ndarray = _NO_SUMS,
) -> None:
    """The compiled filter over a read window: ``channels`` (any of cos, sin, coherence, slope; others are
    left alone) into ``out``, the box sums into ``sums`` when it has room. ``reach`` -1: no filter."""
    slots = np.full(4, -1, np.int64)
    for name, k in channel_offsets(channels).items():
        if name in _KERNEL_SLOTS:
            slots[_KERNEL_SLOTS[name]] = k
    extra = {
        name: np.asarray(_extra(extras or {}, name), np.float32) if name in channels else _NONE_2D
        for name in EXTRA_RASTERS
    }
    kernels.filter_channels(
        phasors.cos,
        phasors.sin,
        phasors.usable,
        reach,
        crop,
        extra["coherence"],
        extra["slope"],
        slots,
        out,
        sums,
    )


def _check_width(width_px: int) -> None:
    require(
        width_px >= 3 and width_px % 2 == 1,
        "global filter width",
        expected="an odd number of pixels >= 3",
        found=width_px,
        fix="build it with filter_width_px(filter_size_m, pixel_size_m)",
    )


def _box_sums(phasors: _Phasors, width_px: int, crop: int) -> np.ndarray:
    """int64 ``(2, H - 2 crop, W - 2 crop)``: exact box sums (re, im) of the fixed-point unit phasors."""
    _check_width(width_px)
    height, width = phasors.usable.shape
    sums = np.empty((2, height - 2 * crop, width - 2 * crop), np.int64)
    _run_filter(phasors, filter_reach_px(width_px), crop, sums=sums)
    return sums


def global_filter(phase: np.ndarray, valid: np.ndarray, *, width_px: int, crop: int = 0) -> np.ndarray:
    """Remove fringes larger than ``width_px``: phase minus the phase of its local complex mean.

    Invalid pixels (``valid == 0`` or non-finite phase) carry no weight and come back as NaN. The result is
    float32 in [-pi, pi). Deterministic per pixel (float32 trigonometry, integer box sums), hence exact under
    tiling with a halo of ``filter_reach_px(width_px)``. ``crop`` > 0 returns only the pixels at least that far
    from every edge (what a tile keeps of its halo), equal to the same pixels of the uncropped result.
    """
    phasors = _Phasors.of(phase, valid)
    return _filtered_phase(phasors, _box_sums(phasors, width_px, crop), crop)


def _filtered_phase(phasors: _Phasors, sums: np.ndarray, crop: int) -> np.ndarray:
    usable = _crop(phasors.usable, crop)
    low = np.arctan2(sums[1].astype(np.float32), sums[0].astype(np.float32))
    np.subtract(np.where(usable, _crop(phasors.phase, crop), np.float32(0)), low, out=low)
    out = wrap(low)
    out[~usable] = np.float32(np.nan)
    return out


def global_filter_dask(phase: da.Array, valid: da.Array, *, width_px: int) -> da.Array:
    """``global_filter`` on dask arrays, block by block with ``map_overlap`` (halo = the filter's reach).

    Exactly equal to the untiled filter; each chunk must be at least the reach (``width_px // 2``) wide.
    """
    import dask.array as da  # noqa: F811 (only here: the rest of the module needs no dask)

    reach = filter_reach_px(width_px)
    return da.map_overlap(
        lambda p, v: global_filter(p, v, width_px=width_px),
        phase,
        valid,
        depth=reach,
        boundary="none",
        trim=True,
        dtype=np.float32,
        meta=np.array((), dtype=np.float32),
    )


def filtered_cos_sin(
    phase: np.ndarray, valid: np.ndarray, *, width_px: int, crop: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """cos and sin of ``global_filter``'s output, straight from the phasor sums (no arctan2, no wrap).

    With ``(re, im)`` the box sum around a pixel and ``r = hypot(re, im)``, the removed phase ``l`` has
    ``cos l = re / r`` and ``sin l = im / r``, so ``cos(phase - l) = (cos phase * re + sin phase * im) / r`` and
    ``sin(phase - l) = (sin phase * re - cos phase * im) / r``; an empty box (r = 0) removes nothing, as
    ``arctan2(0, 0) = 0`` does. Equal to ``np.cos(global_filter(...))`` to float32 rounding (about 1e-7), exact
    under tiling like the filter. Unusable pixels are 0.
    """
    _check_width(width_px)
    out = np.empty((phase.shape[0] - 2 * crop, phase.shape[1] - 2 * crop, 2), np.float32)
    _run_filter(_Phasors.of(phase, valid), filter_reach_px(width_px), crop, ("cos", "sin"), out=out)
    return out[..., 0], out[..., 1]


def _crop(array: np.ndarray, crop: int) -> np.ndarray:
    """``array`` without its outer ``crop`` pixels on every side (a view)."""
    return array[crop : array.shape[0] - crop, crop : array.shape[1] - crop]


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
    the continuous phase scaled to [0, 1] in the ``phase_q`` channel. ``channels``: any of ``CHANNELS``
    (``phase_rgb`` needs ``quantize_levels``: it colours the levels).
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
        require(
            "phase_rgb" not in self.channels or self.quantize_levels is not None,
            "preprocess.channels phase_rgb",
            expected="quantize_levels set (phase_rgb colours the quantized levels)",
            found=self.quantize_levels,
            fix="set preprocess.quantize_levels=16",
        )

    @property
    def n_planes(self) -> int:
        """Planes of model input these channels make (``phase_rgb`` counts three): ``model.in_channels``."""
        return count_planes(self.channels)

    def rasters(self) -> tuple[str, ...]:
        """Stored rasters these channels are made from: phase, valid, then the extras they use, in order."""
        return ("phase", "valid", *(name for name in EXTRA_RASTERS if name in self.channels))

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
    """Stored rasters -> model input ``(y, x, C)`` float32 (``C = config.n_planes``); invalid pixels are 0 in
    every channel but ``phase_rgb``, where they are ``scanner.core.palette.PHASE_RGB_INVALID``.

    ``extras`` supplies ``coherence`` (0..1) and ``slope`` (degrees) when those channels are asked for; they
    are taken as float32, NaN becomes 0 and +-inf the largest float32. ``crop`` > 0 returns only the pixels at
    least that far from every edge, equal to the same pixels of the uncropped result: a tile reads its filter
    halo and keeps only what the model sees. The filter and the cos, sin, coherence and slope channels are
    one compiled pass (``scanner.core.kernels.filter_channels``) writing straight into the output.
    """
    phasors = _Phasors.of(phase, valid)
    height, width = phasors.usable.shape
    out = np.empty((height - 2 * crop, width - 2 * crop, config.n_planes), dtype=np.float32)
    width_px = None if config.filter_size_m is None else filter_width_px(config.filter_size_m, pixel_size_m)
    reach = -1 if width_px is None else filter_reach_px(width_px)
    wants_phase = any(name in config.channels for name in PHASE_CHANNELS)
    sums = np.empty((2, *out.shape[:2]), np.int64) if wants_phase and width_px is not None else _NO_SUMS
    _run_filter(phasors, reach, crop, config.channels, extras, out, sums)
    if wants_phase:
        offsets = channel_offsets(config.channels)
        unusable = ~_crop(phasors.usable, crop)
        with np.errstate(invalid="ignore", over="ignore"):  # non-finite phase: unusable, zeroed below
            filtered = _crop(phase, crop) if width_px is None else _filtered_phase(phasors, sums, crop)
            if "phase_q" in offsets:
                k = offsets["phase_q"]
                out[..., k] = _phase_channel(filtered, config.quantize_levels)
                out[..., k][unusable] = 0
            if "phase_rgb" in offsets:
                k = offsets["phase_rgb"]
                out[..., k : k + 3] = phase_rgb(filtered, unusable, config.quantize_levels or 16)
    return out


def phase_rgb(phase: np.ndarray, unusable: np.ndarray, levels: int = 16) -> np.ndarray:
    """The ``phase_rgb`` planes ``(y, x, 3)`` float32: each of ``levels`` steps of wrapped phase as its colour
    of ``scanner.core.palette.phase_rgb_table`` (a cyclic table, so the step below +pi sits next to the step at
    -pi in colour too); ``unusable`` pixels get ``PHASE_RGB_INVALID``, a colour outside the table."""
    rgb = phase_rgb_table(levels)[quantize(phase, levels)]
    rgb[unusable] = PHASE_RGB_INVALID
    return rgb


def _phase_channel(phase: np.ndarray, levels: int | None) -> np.ndarray:
    """The ``phase_q`` channel: quantized to ``levels`` steps and scaled to [0, 1], or (None) the phase
    scaled from [-pi, pi) to [0, 1); NaN counts as -pi (callers zero unusable pixels)."""
    if levels is not None:
        return levels_to_unit(quantize(phase, levels), levels)
    return (np.nan_to_num(phase, nan=-np.pi) + np.pi) / (2 * np.pi)


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
