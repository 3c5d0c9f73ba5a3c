"""Training-set sampling (pure): folds per scene, Datasets A and B, candidate and slope-stratified "other"
patch positions. No I/O; ``train.dataset_store`` reads the scene store and writes the Zarr dataset.

Conventions: a patch position is the pixel ``(row, col)`` its 150 px window is centred on; the window is
rows ``[row - 75, row + 75)`` and likewise in x. A stored patch adds ``margin_px`` on every side for the
augmentation's shifts and rotations.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from scanner.core.phase import SLOPE_CLASS_FLAT, SLOPE_CLASS_NODATA, SLOPE_CLASS_SLOPE
from scanner.geo import WINDOW_PX

HALF = WINDOW_PX // 2
LABEL_OTHER, LABEL_CANDIDATE = 0, 1


def assign_folds(scene_ids: Sequence[str], n_folds: int, seed: int) -> dict[str, int]:
    """Fold of each scene (0..n_folds-1): shuffled, then dealt round-robin so fold sizes differ by <= 1.

    Folds are per scene, so no scene's windows are ever split between training and test.
    """
    order = sorted(scene_ids)
    rng = np.random.default_rng([seed, 1])
    shuffled = [order[i] for i in rng.permutation(len(order))]
    return {scene_id: i % n_folds for i, scene_id in enumerate(shuffled)}


def subset_a(folds: dict[str, int], fraction: float, seed: int) -> set[str]:
    """Dataset A's scenes: about ``fraction`` of each of B's folds, so A's fold k = B's fold k restricted to A.

    Every scene of A keeps its B fold, hence A's folds nest in B's and "model A on B'" is well defined.
    """
    rng = np.random.default_rng([seed, 2])
    chosen: set[str] = set()
    for fold in sorted(set(folds.values())):
        members = sorted(s for s, f in folds.items() if f == fold)
        keep = max(1, int(round(fraction * len(members))))
        chosen.update(members[i] for i in sorted(rng.permutation(len(members))[:keep]))
    return chosen


def window_sums(mask: np.ndarray) -> np.ndarray:
    """Count of nonzero ``mask`` pixels in the 150 px window centred on each pixel, from a summed-area table
    (-1 where the window leaves the array)."""
    height, width = mask.shape
    out = np.full(mask.shape, -1, np.int64)
    if height < WINDOW_PX or width < WINDOW_PX:
        return out
    table = np.zeros((height + 1, width + 1), np.int64)
    np.cumsum(np.cumsum(mask != 0, axis=0, dtype=np.int64), axis=1, out=table[1:, 1:])
    r0 = np.arange(HALF, height - HALF + 1)
    c0 = np.arange(HALF, width - HALF + 1)
    y0, y1 = (r0 - HALF)[:, None], (r0 + HALF)[:, None]
    x0, x1 = (c0 - HALF)[None, :], (c0 + HALF)[None, :]
    out[HALF : height - HALF + 1, HALF : width - HALF + 1] = (
        table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0]
    )
    return out


def window_valid_fraction(valid: np.ndarray) -> np.ndarray:
    """Valid fraction of the 150 px window centred on each pixel (0 where the window leaves the array)."""
    sums = window_sums(valid)
    return np.where(sums >= 0, sums / float(WINDOW_PX * WINDOW_PX), 0.0).astype(np.float32)


def label_free_windows(label_mask: np.ndarray) -> np.ndarray:
    """True where the 150 px window centred on the pixel lies in the array and holds no ``label_mask`` pixel
    (the rasterised, buffered labels): the centres ``others_rule = "label_free"`` allows for an "other"."""
    return window_sums(label_mask) == 0


def usable_candidates(centres: np.ndarray, fraction: np.ndarray, min_valid_fraction: float) -> np.ndarray:
    """Boolean per ``(row, col)`` centre: its window lies in the scene with enough valid pixels."""
    if len(centres) == 0:
        return np.zeros(0, bool)
    rows, cols = np.round(centres).astype(int).T
    inside = (rows >= 0) & (rows < fraction.shape[0]) & (cols >= 0) & (cols < fraction.shape[1])
    ok = np.zeros(len(centres), bool)
    ok[inside] = fraction[rows[inside], cols[inside]] >= min_valid_fraction
    return ok


def slope_area_ratio(slope_class: np.ndarray, valid: np.ndarray) -> float | None:
    """Slope share of the valid area with a known class (None when no pixel has a slope class)."""
    known = (valid != 0) & (slope_class != SLOPE_CLASS_NODATA)
    if not known.any():
        return None
    return float(np.mean(slope_class[known] == SLOPE_CLASS_SLOPE))


@dataclass(frozen=True)
class OtherSample:
    rows: np.ndarray
    cols: np.ndarray
    slope_class: np.ndarray


def sample_others(
    fraction: np.ndarray,
    slope_class: np.ndarray,
    label_centres: np.ndarray,
    n: int,
    *,
    slope_ratio: float | None,
    exclusion_px: float,
    min_valid_fraction: float,
    rng: np.random.Generator,
    label_free: np.ndarray | None = None,
) -> OtherSample:
    """``n`` random "other" centres away from every label, stratified so ``round(n * slope_ratio)`` are slope.

    A centre qualifies when its window is inside the scene with ``min_valid_fraction`` valid pixels and it
    lies more than ``exclusion_px`` from every label centre, positive or negative; or, when ``label_free``
    (``label_free_windows``) is given, where it is True instead of the distance rule. Without a slope ratio
    (no slope data) the centres are drawn from all qualifying pixels. Fewer than ``n`` come back when too few
    qualify.
    """
    ok = fraction >= min_valid_fraction
    ok &= _far_from(label_centres, ok.shape, exclusion_px) if label_free is None else label_free
    if slope_ratio is None:
        strata = [(ok, n)]
    else:
        n_slope = int(round(n * slope_ratio))
        strata = [
            (ok & (slope_class == SLOPE_CLASS_SLOPE), n_slope),
            (ok & (slope_class == SLOPE_CLASS_FLAT), n - n_slope),
        ]
    rows, cols = [], []
    for mask, count in strata:
        flat_index = np.flatnonzero(mask)
        picked = rng.choice(flat_index, size=min(count, len(flat_index)), replace=False)
        r, c = np.unravel_index(np.sort(picked), mask.shape)
        rows.append(r)
        cols.append(c)
    rows_all, cols_all = np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64)
    return OtherSample(rows=rows_all, cols=cols_all, slope_class=slope_class[rows_all, cols_all])


def _far_from(centres: np.ndarray, shape: tuple[int, int], distance_px: float) -> np.ndarray:
    far = np.ones(shape, bool)
    if len(centres) == 0:
        return far
    rr = np.arange(shape[0])[:, None]
    cc = np.arange(shape[1])[None, :]
    reach = int(np.ceil(distance_px))
    for row, col in np.round(centres).astype(int):
        y0, y1 = max(row - reach, 0), min(row + reach + 1, shape[0])
        x0, x1 = max(col - reach, 0), min(col + reach + 1, shape[1])
        if y0 >= y1 or x0 >= x1:
            continue
        near = (rr[y0:y1] - row) ** 2 + (cc[:, x0:x1] - col) ** 2 <= distance_px**2
        far[y0:y1, x0:x1] &= ~near
    return far


def select_samples(
    scene_of_sample: np.ndarray,
    folds: np.ndarray,
    in_a: np.ndarray,
    *,
    subset: str,
    fold: int | None,
    part: str,
) -> np.ndarray:
    """Indices of samples of Dataset ``subset`` ("A" or "B"): ``part`` "train" (folds != fold), "test"
    (fold == fold) or "all". Folds are per scene, so train and test never share a scene."""
    keep = np.ones(len(scene_of_sample), bool) if subset == "B" else in_a.astype(bool)
    if fold is not None and part == "train":
        keep &= folds != fold
    elif fold is not None and part == "test":
        keep &= folds == fold
    return np.flatnonzero(keep)
