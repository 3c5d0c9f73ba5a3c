"""Precision steps after the scan: multi-pass persistence, threshold choice on validation scenes, calibration.

Pure numpy and shapely, no I/O (house rule). Used by ``tools.accuracy`` and meant for users who detect
sites over several passes of the same area (docs/accuracy.md).

- **Persistence (k of n).** A real slope movement keeps moving, so it shows fringes in several pairs of the
  same area; atmospheric fringes (turbulent or stratified) are drawn anew for every pair. A site detected in
  one pass is kept when sites overlapping it (positive intersection area) were detected in at least ``k``
  passes in all, its own included (the experts' rule, paper section 5).
- **Threshold on validation scenes.** ``select_threshold`` picks, from a precision-recall sweep made on
  validation scenes, the threshold with the highest precision among those whose recall reaches a target.
- **Operating point on validation scenes.** ``choose_setting`` is the documented rule (docs/accuracy.md,
  "Raising precision"): among the rows of a (threshold x minimum size) sweep made on VAL, the highest
  precision at recall >= ``VAL_MIN_RECALL``, leaving out settings whose median site is larger than one
  window's footprint. ``fringescan calibrate`` and ``tools.accuracy`` both choose with it.
- **Calibration.** ``fit_platt`` fits Platt scaling ``p' = sigmoid(a * logit(p) + b)`` by Newton's method on
  validation windows. It is monotone, so at the site level it only renames thresholds: a threshold chosen
  on calibrated probabilities reads as a probability.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from scanner.config import require

_EPS = 1e-6
_RIDGE = 1e-6

VAL_MIN_RECALL = 0.92
"""The VAL recall a chosen setting must reach: a margin over the 0.9 target, because a setting chosen at the
edge of VAL's recall comes out a little lower on new areas."""
CALIBRATION_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
"""The thresholds ``fringescan calibrate`` sweeps by default (``--thresholds``)."""
CALIBRATION_MIN_CELLS = (1, 2, 3, 4, 5, 6, 7, 8)
"""The minimum site sizes (cells) ``fringescan calibrate`` sweeps by default (``--min-cells``)."""
CALIBRATION_MIN_SUPPORT = (0,)
"""The minimum supports ``fringescan calibrate`` sweeps by default (``--min-support``; 0 = no support rule)."""
MAX_MEDIAN_CELLS = 225  # 15 x 15 cells: the cells whose windows all contain one point
"""Settings whose median VAL site is larger than this (cells) are not sites a field team can visit."""


# ---------------------------------------------------------------------------------------------- persistence


def pass_support(passes: Sequence[Sequence[BaseGeometry]]) -> list[list[int]]:
    """For each site of each pass, in how many passes (its own included) an overlapping site was detected.

    ``passes[p]`` holds the site polygons of pass ``p`` (one interferogram of an area) in one common CRS.
    Overlap means a positive intersection area; touching edges do not count.
    """
    trees = [STRtree(list(sites)) if sites else None for sites in passes]
    support = []
    for p, sites in enumerate(passes):
        counts = []
        for site in sites:
            seen = 1
            for q, tree in enumerate(trees):
                if q != p and tree is not None and _overlaps_any(site, tree, passes[q]):
                    seen += 1
            counts.append(seen)
        support.append(counts)
    return support


def _overlaps_any(site: BaseGeometry, tree: STRtree, others: Sequence[BaseGeometry]) -> bool:
    return any(site.intersection(others[int(j)]).area > 0 for j in tree.query(site, predicate="intersects"))


def persistent_sites(passes: Sequence[Sequence[BaseGeometry]], k: int) -> list[list[int]]:
    """Indices, per pass, of the sites confirmed in at least ``k`` of the ``n = len(passes)`` passes."""
    require(
        isinstance(k, int) and 1 <= k <= max(len(passes), 1),
        "persistence k",
        expected=f"an integer 1 <= k <= n = {len(passes)} passes",
        found=k,
        fix="use k = 2 for two passes out of several",
    )
    return [[i for i, s in enumerate(counts) if s >= k] for counts in pass_support(passes)]


# ---------------------------------------------------------------------------------------------- thresholds


def select_threshold(
    thresholds: Sequence[float], recall: Sequence[float], precision: Sequence[float], min_recall: float
) -> float | None:
    """The threshold with the highest precision among those with ``recall >= min_recall`` (NaN rows skipped).

    Ties go to the higher recall, then to the lower threshold. None when no threshold reaches ``min_recall``.
    """
    t, r, p = (np.asarray(v, dtype=np.float64) for v in (thresholds, recall, precision))
    require(
        t.shape == r.shape == p.shape and t.ndim == 1,
        "precision-recall sweep",
        expected="three 1-D sequences of equal length",
        found=f"shapes {t.shape}, {r.shape}, {p.shape}",
        fix="pass one recall and one precision per threshold",
    )
    order = np.argsort(t, kind="stable")
    chosen = select_setting([float(x) for x in t[order]], r[order], p[order], min_recall)
    return None if chosen is None else float(chosen)


def select_setting(
    settings: Sequence[object], recall: Sequence[float], precision: Sequence[float], min_recall: float
) -> object | None:
    """The setting (any value: a threshold, a (threshold, min cells) pair...) of highest precision among those
    with ``recall >= min_recall``; ties go to the higher recall, then to the earlier setting. NaN rows are
    skipped; None when no setting reaches ``min_recall``."""
    r, p = (np.asarray(v, dtype=np.float64) for v in (recall, precision))
    require(
        len(settings) == r.size == p.size and r.ndim == 1,
        "precision-recall sweep",
        expected="one recall and one precision per setting (1-D, equal lengths)",
        found=f"{len(settings)} settings, shapes {r.shape}, {p.shape}",
        fix="pass one recall and one precision per threshold or setting",
    )
    ok = np.flatnonzero(np.isfinite(r) & np.isfinite(p) & (r >= min_recall))
    if ok.size == 0:
        return None
    best = max(ok, key=lambda i: (p[i], r[i], -i))
    return settings[int(best)]


def choose_setting(
    rows: Sequence[dict],
    min_recall: float = VAL_MIN_RECALL,
    max_median_cells: float | None = MAX_MEDIAN_CELLS,
) -> dict | None:
    """The operating point chosen on a VAL sweep (docs/accuracy.md): the row of highest precision among those
    with ``recall >= min_recall`` (``select_setting``: ties to the higher recall, then the earlier row), rows
    whose ``median_cells`` exceeds ``max_median_cells`` left out (a row without one, or NaN, stays in).
    None when no row qualifies."""
    if max_median_cells is not None:
        rows = [r for r in rows if not r.get("median_cells", math.nan) > max_median_cells]
    return select_setting(rows, [r["recall"] for r in rows], [r["precision"] for r in rows], min_recall)


# ---------------------------------------------------------------------------------------------- calibration


def _logit(prob: np.ndarray) -> np.ndarray:
    q = np.clip(prob.astype(np.float64), _EPS, 1.0 - _EPS)
    return np.log(q) - np.log1p(-q)


def fit_platt(prob: np.ndarray, labels: np.ndarray, iterations: int = 50) -> tuple[float, float]:
    """Platt scaling ``(a, b)`` fitted by Newton's method (log loss, a tiny ridge) on validation windows.

    ``prob`` are the model's class-1 probabilities, ``labels`` 0/1. Returns ``(1, 0)``-like values for an
    already calibrated model; ``a < 1`` softens an over-confident one.
    """
    x = _logit(np.asarray(prob).ravel())
    y = np.asarray(labels, dtype=np.float64).ravel()
    require(
        x.size == y.size and x.size > 0 and set(np.unique(y)) <= {0.0, 1.0},
        "calibration data",
        expected="equal numbers of probabilities and 0/1 labels, not empty",
        found=f"{x.size} probabilities, {y.size} labels with values {np.unique(y)[:5]}",
        fix="pass the validation windows' probabilities and their labels",
    )
    design = np.stack([x, np.ones_like(x)], axis=1)
    w = np.zeros(2)
    loss = _log_loss(design, y, w)
    for _ in range(iterations):
        q = _sigmoid(design @ w)
        grad = design.T @ (q - y) + _RIDGE * w
        hess = design.T @ (design * (q * (1 - q))[:, None]) + _RIDGE * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-4 and _log_loss(design, y, w - scale * step) > loss:
            scale /= 2  # backtracking keeps every Newton step downhill
        w = w - scale * step
        new_loss = _log_loss(design, y, w)
        if loss - new_loss < 1e-12 * max(1.0, loss):
            break
        loss = new_loss
    return float(w[0]), float(w[1])


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))


def _log_loss(design: np.ndarray, y: np.ndarray, w: np.ndarray) -> float:
    z = design @ w
    return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.5 * _RIDGE * float(w @ w))


def apply_platt(prob: np.ndarray, a: float, b: float) -> np.ndarray:
    """Calibrated probabilities (float32); NaN stays NaN, so nodata cells stay nodata."""
    p = np.asarray(prob)
    z = np.clip(a * _logit(np.nan_to_num(p, nan=0.5)) + b, -30, 30)
    out = (1.0 / (1.0 + np.exp(-z))).astype(np.float32)
    return np.where(np.isnan(p), np.float32(np.nan), out)


def calibrated_threshold(threshold: float, a: float, b: float) -> float:
    """The raw-probability threshold that equals ``threshold`` on the calibrated scale (for ``a > 0``)."""
    require(
        a > 0, "Platt slope a", expected="> 0", found=a, fix="refit on validation windows of both classes"
    )
    z = (math.log(threshold) - math.log1p(-threshold) - b) / a
    return 1.0 / (1.0 + math.exp(-z))
