"""Compiled inner loops (numba) of the host preprocessing and of ingest: one pass, no large temporaries.

``scanner.core.phase`` is the API; this module holds the loops numpy cannot express without many passes over
memory. ``filter_channels`` runs the global error removal filter's box sums as running sums, streamed row
by row (a column accumulator per input column, then a running sum along the row), and writes the model's
``cos``, ``sin``, ``coherence`` and ``slope`` channels of that row straight into the output. ``block_counts``
counts usable pixels per 10 x 10 cell for the nodata rule, ``block_means`` averages the slope per cell
for detection, and ``horn_gradient`` is the DEM gradient of ingest's slope and layover/shadow masks.

Exactness: the sums are exact integers of fixed-point unit phasors (``rint(cos * 2**16)`` of usable pixels),
accumulated in int64, so a pixel's result depends only on the pixels in its box, whatever the tile. The
float steps are the same IEEE operations, in the same order, as the numpy formulas they replace (float32
division and products, ``hypot`` as ``sqrt`` of the float64 sum of squares as glibc computes ``hypotf``),
and numba is not allowed to contract or reorder them (no ``fastmath``). Tests compare every kernel with a
plain numpy reference.

Compiled code is cached next to this file (``cache=True``); ``nogil=True`` lets the scan's worker threads
preprocess tiles side by side.
"""

from __future__ import annotations

import numba
import numpy as np

PHASOR_SCALE = 1 << 16
"""Fixed-point scale of the unit phasors summed by the filter (phase resolution ~1.5e-5 rad per pixel)."""

SLOT_COS, SLOT_SIN, SLOT_COHERENCE, SLOT_SLOPE = range(4)
"""Index into ``filter_channels``'s ``slots``: which output channel gets which quantity (-1: none)."""

SLOPE_SCALE_DEG = np.float32(90.0)
"""The slope channel is slope in degrees divided by this (0..1 for 0..90 degrees)."""

_SCALE = np.float32(PHASOR_SCALE)
_FLOAT32_MAX = np.float32(np.finfo(np.float32).max)


@numba.njit(nogil=True, cache=True, inline="always")
def _fixed(value: float, usable: bool) -> int:
    """The fixed-point phasor component of one pixel (0 when unusable)."""
    return np.int64(np.rint(value * _SCALE)) if usable else np.int64(0)


@numba.njit(nogil=True, cache=True)
def _add_row(
    acc: np.ndarray, cos: np.ndarray, sin: np.ndarray, usable: np.ndarray, row: int, sign: int
) -> None:
    """Add (``sign`` 1) or remove (-1) input row ``row``'s phasors to the column accumulators ``acc (2, W)``."""
    for j in range(cos.shape[1]):
        u = usable[row, j]
        acc[0, j] += sign * _fixed(cos[row, j], u)
        acc[1, j] += sign * _fixed(sin[row, j], u)


@numba.njit(nogil=True, cache=True)
def _row_sums(acc: np.ndarray, reach: int, crop: int, row: np.ndarray) -> None:
    """Box sums along one row: ``row[:, j]`` = sum of ``acc[:, crop + j - reach : crop + j + reach + 1]``
    (columns outside the array count 0)."""
    width, out_width = acc.shape[1], row.shape[1]
    re, im = 0, 0
    for k in range(max(0, crop - reach), min(width, crop + reach + 1)):
        re += acc[0, k]
        im += acc[1, k]
    row[0, 0], row[1, 0] = re, im
    for j in range(1, out_width):
        add, sub = crop + j + reach, crop + j - reach - 1
        if add < width:
            re += acc[0, add]
            im += acc[1, add]
        if sub >= 0:
            re -= acc[0, sub]
            im -= acc[1, sub]
        row[0, j], row[1, j] = re, im


@numba.njit(nogil=True, cache=True)
def _unit(sums: np.ndarray, trig: np.ndarray) -> None:
    """``trig (2, w)`` = (re, im) / |(re, im)| in float32 from integer ``sums (2, w)``; an empty box (0, 0)
    gives (1, 0): it removes nothing, as ``arctan2(0, 0) = 0`` does."""
    one = np.float32(1.0)
    for j in range(sums.shape[1]):
        re, im = np.float32(sums[0, j]), np.float32(sums[1, j])
        x, y = np.float64(re), np.float64(im)
        norm = np.float32(np.sqrt(x * x + y * y))
        if norm == 0:
            re, norm = one, one
        trig[0, j] = re / norm
        trig[1, j] = im / norm


@numba.njit(nogil=True, cache=True, inline="always")
def _finite(value: float) -> float:
    """``np.nan_to_num`` of one float32: NaN -> 0, +-inf -> +-float32 max."""
    clipped = min(max(value, -_FLOAT32_MAX), _FLOAT32_MAX)
    return np.float32(0.0) if np.isnan(value) else clipped


@numba.njit(nogil=True, cache=True)
def filter_channels(
    cos: np.ndarray,
    sin: np.ndarray,
    usable: np.ndarray,
    reach: int,
    crop: int,
    coherence: np.ndarray,
    slope: np.ndarray,
    slots: np.ndarray,
    out: np.ndarray,
    sums: np.ndarray,
) -> None:
    """Filtered ``cos``/``sin`` and the ``coherence``/``slope`` channels of a read window, in one pass.

    ``cos``, ``sin``: float32 ``(H, W)`` of the phase (any value where unusable); ``usable``: bool ``(H, W)``;
    ``reach``: the filter's half width in px, or -1 for no filter (the channels are then the phase's own
    cos and sin); ``crop``: the halo dropped on every side. ``coherence``, ``slope``: float32 ``(H, W)``
    (any shape when their slot is -1). ``slots``: int64 ``[cos, sin, coherence, slope]``, the channel of
    ``out`` (float32 ``(H - 2 crop, W - 2 crop, C)``) each goes to, -1 for none; channels not named are left
    alone. Unusable pixels are 0 in every written channel. ``sums``: int64 ``(2, H - 2 crop, W - 2 crop)``
    receives the box sums (re, im) of the fixed-point phasors, or has shape ``(0, 0, 0)``.
    """
    height, width = cos.shape
    out_height, out_width = height - 2 * crop, width - 2 * crop
    acc = np.zeros((2, width), np.int64)
    row = np.zeros((2, out_width), np.int64)
    trig = np.empty((2, out_width), np.float32)
    rows = np.empty((4, out_width), np.float32)
    trig[0, :] = 1.0  # no filter: nothing removed
    trig[1, :] = 0.0
    if reach >= 0:
        for k in range(max(0, crop - reach - 1), min(height, crop + reach)):  # row 0 then adds and drops one
            _add_row(acc, cos, sin, usable, k, 1)
    for i in range(out_height):
        r = crop + i
        if reach >= 0:
            if r + reach < height:
                _add_row(acc, cos, sin, usable, r + reach, 1)
            if r - reach - 1 >= 0:
                _add_row(acc, cos, sin, usable, r - reach - 1, -1)
            _row_sums(acc, reach, crop, row)
            if sums.shape[0] > 0:
                sums[:, i, :] = row
            _unit(row, trig)
        if out.shape[0] > 0:
            _channel_rows(cos, sin, usable, coherence, slope, slots, trig, r, crop, rows)
            _interleave(rows, slots, out[i])


@numba.njit(nogil=True, cache=True)
def _channel_rows(
    cos: np.ndarray,
    sin: np.ndarray,
    usable: np.ndarray,
    coherence: np.ndarray,
    slope: np.ndarray,
    slots: np.ndarray,
    trig: np.ndarray,
    r: int,
    crop: int,
    rows: np.ndarray,
) -> None:
    """``rows[slot, :]``: each wanted quantity of input row ``r`` (without the halo), 0 where unusable.

    ``cos(phase - l)`` = cos·cos l + sin·sin l, ``sin(phase - l)`` = sin·cos l − cos·sin l; the extras are
    made finite and the slope scaled. Each quantity is its own branch-free loop over contiguous memory."""
    zero = np.float32(0.0)
    width = rows.shape[1]
    c, s, u = cos[r, crop : crop + width], sin[r, crop : crop + width], usable[r, crop : crop + width]
    if slots[SLOT_COS] >= 0:
        for j in range(width):
            value = c[j] * trig[0, j] + s[j] * trig[1, j]
            rows[SLOT_COS, j] = value if u[j] else zero
    if slots[SLOT_SIN] >= 0:
        for j in range(width):
            value = s[j] * trig[0, j] - c[j] * trig[1, j]
            rows[SLOT_SIN, j] = value if u[j] else zero
    if slots[SLOT_COHERENCE] >= 0:
        src = coherence[r, crop : crop + width]
        for j in range(width):
            rows[SLOT_COHERENCE, j] = _finite(src[j]) if u[j] else zero
    if slots[SLOT_SLOPE] >= 0:
        src = slope[r, crop : crop + width]
        for j in range(width):
            rows[SLOT_SLOPE, j] = _finite(src[j]) / SLOPE_SCALE_DEG if u[j] else zero


@numba.njit(nogil=True, cache=True)
def _interleave(rows: np.ndarray, slots: np.ndarray, out: np.ndarray) -> None:
    """``out[:, slots[p]] = rows[p]`` for every wanted slot ``p``: one pass over the output row."""
    if out.shape[1] == 4 and slots[0] == 0 and slots[1] == 1 and slots[2] == 2 and slots[3] == 3:
        for j in range(out.shape[0]):  # the default recipe's order: contiguous stores
            out[j, 0] = rows[0, j]
            out[j, 1] = rows[1, j]
            out[j, 2] = rows[2, j]
            out[j, 3] = rows[3, j]
        return
    for p in range(4):
        k = slots[p]
        if k >= 0:
            for j in range(out.shape[0]):
                out[j, k] = rows[p, j]


@numba.njit(nogil=True, cache=True)
def block_counts(mask: np.ndarray, block: int) -> np.ndarray:
    """int32 count of true pixels per ``block x block`` cell of ``mask`` (its sides multiples of ``block``)."""
    rows, cols = mask.shape[0] // block, mask.shape[1] // block
    counts = np.zeros((rows, cols), np.int32)
    for i in range(rows * block):
        for b in range(cols):
            total = 0
            for j in range(b * block, (b + 1) * block):
                total += mask[i, j]
            counts[i // block, b] += total
    return counts


@numba.njit(nogil=True, cache=True)
def block_means(values: np.ndarray, block: int, rows: int, cols: int) -> np.ndarray:
    """float32 ``(rows, cols)``: mean of the finite ``values`` in each ``block x block`` block (summed in
    float64), NaN where a block holds none; blocks past the array's edge average the part they hold."""
    total = np.zeros((rows, cols), np.float64)
    count = np.zeros((rows, cols), np.int64)
    height, width = min(values.shape[0], rows * block), min(values.shape[1], cols * block)
    for i in range(height):
        for b in range(cols):
            part, n = 0.0, 0
            for j in range(b * block, min(width, (b + 1) * block)):
                v = values[i, j]
                if np.isfinite(v):
                    part += v
                    n += 1
            total[i // block, b] += part
            count[i // block, b] += n
    out = np.full((rows, cols), np.nan, np.float32)
    for r in range(rows):
        for b in range(cols):
            if count[r, b] > 0:
                out[r, b] = total[r, b] / count[r, b]
    return out


@numba.njit(nogil=True, cache=True)
def _horn(z: np.ndarray, pixel_x_m: float, pixel_y_m: float, dz_de: np.ndarray, dz_dn: np.ndarray) -> None:
    step_x, step_y = 8 * pixel_x_m, 8 * pixel_y_m
    for y in range(dz_de.shape[0]):
        for x in range(dz_de.shape[1]):
            a, b, c = np.float64(z[y, x]), np.float64(z[y, x + 1]), np.float64(z[y, x + 2])
            d, f = np.float64(z[y + 1, x]), np.float64(z[y + 1, x + 2])
            g, h, i = np.float64(z[y + 2, x]), np.float64(z[y + 2, x + 1]), np.float64(z[y + 2, x + 2])
            dz_de[y, x] = ((c + 2 * f + i) - (a + 2 * d + g)) / step_x
            dz_dn[y, x] = ((a + 2 * b + c) - (g + 2 * h + i)) / step_y


def horn_gradient(z: np.ndarray, pixel_x_m: float, pixel_y_m: float) -> tuple[np.ndarray, np.ndarray]:
    """(dz/d east, dz/d north), float64, by Horn's 3x3 kernel on the interior of ``z`` (a float DEM with a
    1 px halo: the result is 2 px smaller on each axis); NaN propagates to the pixels whose kernel holds it.

    Ingest needs it twice per DEM chunk (slope, and the layover/shadow mask). Per pixel the same float64
    operations in the same order as the numpy formula ``((c + 2 f + i) - (a + 2 d + g)) / (8 dx)``, so equal
    bit for bit; ``hypot`` and ``arctan`` stay in numpy (``scanner.pipeline.ingest.slope_from_gradient``)."""
    shape = (max(z.shape[0] - 2, 0), max(z.shape[1] - 2, 0))
    dz_de, dz_dn = np.empty(shape, np.float64), np.empty(shape, np.float64)
    _horn(z, float(pixel_x_m), float(pixel_y_m), dz_de, dz_dn)
    return dz_de, dz_dn
