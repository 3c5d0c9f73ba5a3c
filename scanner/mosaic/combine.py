"""Combining passes per mosaic cell (max, mean or latest within a window of pass dates) and the pyramid's
downsampling step (pure).

The combining rule is anchored on pass dates, never on the wall clock: for each cell the *anchor* is the latest
pass date observing it, and only passes dated within ``window_days`` before the anchor count. Recomputing a
chunk always starts from the full set of passes, so a pass contributes exactly once however often it runs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from scanner.config import require
from scanner.errors import InputError, problem

RULES = ("max", "mean", "latest")


RULES = ("max", "mean", "latest")
RESAMPLINGS = ("nearest", "average", "max", "bilinear")


RESAMPLINGS = ("nearest", "average", "max", "bilinear")
BAND_NAMES = ("prob", "passes", "passes_above", "last_date")


@dataclass(frozen=True, kw_only=True)
class CombineConfig:
    """How passes are combined per mosaic cell.

    ``rule``: ``max`` (default: a hazard map keeps the strongest evidence), ``mean`` or ``latest`` (the most
    recent pass, ties by the larger value). Only passes dated within ``window_days`` before the cell's latest
    pass date count (``None``: every pass). ``threshold`` defines "passes above threshold". ``resampling`` is
    the rasterio.warp method used to bring probability cells onto the mosaic grid.
    """

    rule: str = "max"
    window_days: int | None = None
    threshold: float = 0.5
    resampling: str = "nearest"

    def __post_init__(self) -> None:
        require(
            self.rule in RULES,
            "combine rule",
            expected=f"one of {RULES}",
            found=self.rule,
            fix="pass --rule max, mean or latest",
        )
        require(
            self.window_days is None or self.window_days >= 0,
            "combine window",
            expected=">= 0 days",
            found=self.window_days,
            fix="pass --window-days 0 or more",
        )
        require(
            0.0 <= self.threshold <= 1.0,
            "threshold",
            expected="a probability in [0, 1]",
            found=self.threshold,
            fix="pass --threshold between 0 and 1",
        )
        require(
            self.resampling in RESAMPLINGS,
            "resampling",
            expected=f"one of {RESAMPLINGS}",
            found=self.resampling,
            fix="pick nearest unless you know why not",
        )


def date_ordinal(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date (``YYYY-MM-DD``, any time part ignored)."""
    try:
        day = dt.date.fromisoformat(str(iso)[:10])
    except ValueError as error:
        raise InputError(
            problem(
                "pass date",
                expected="an ISO date YYYY-MM-DD",
                found=repr(iso),
                fix="re-ingest the scene with its acquisition dates",
            )
        ) from error
    return (day - dt.date(1970, 1, 1)).days


def ordinal_to_yyyymmdd(days: np.ndarray) -> np.ndarray:
    """int32 YYYYMMDD for day ordinals (days since 1970-01-01); negative ordinals (no pass) become 0."""
    out = np.zeros(days.shape, dtype=np.int32)
    valid = days >= 0
    if valid.any():
        as_dates = (np.datetime64("1970-01-01") + days[valid].astype("timedelta64[D]")).astype(
            "datetime64[D]"
        )
        years = as_dates.astype("datetime64[Y]").astype(int) + 1970
        months = as_dates.astype("datetime64[M]").astype(int) % 12 + 1
        mday = (as_dates - as_dates.astype("datetime64[M]")).astype(int) + 1
        out[valid] = years * 10000 + months * 100 + mday
    return out


def combine_passes(probs: np.ndarray, days: np.ndarray, config: CombineConfig) -> dict[str, np.ndarray]:
    """Combine ``probs (K, y, x)`` of K passes dated ``days (K,)`` (day ordinals) into the four mosaic bands.

    NaN means the pass did not observe the cell. Returns ``prob`` (float32, NaN where no pass), ``passes`` and
    ``passes_above`` (uint16, counted within the window) and ``last_date`` (int32 YYYYMMDD, 0 = never).
    """
    k, height, width = probs.shape
    if k == 0:
        return empty_bands(height, width)
    observed = np.isfinite(probs)
    day = np.asarray(days, dtype=np.int64)[:, None, None]
    anchor = np.where(observed, day, -1).max(axis=0)
    window = np.iinfo(np.int64).max // 2 if config.window_days is None else config.window_days
    counted = observed & (day >= anchor[None] - window)
    n = counted.sum(axis=0)
    values = np.where(counted, probs, 0.0).astype(np.float64)
    if config.rule == "max":
        combined = np.where(counted, probs, -np.inf).max(axis=0)
    elif config.rule == "mean":
        combined = values.sum(axis=0) / np.maximum(n, 1)
    else:
        latest = counted & (day == anchor[None])
        combined = np.where(latest, probs, -np.inf).max(axis=0)
    return {
        "prob": np.where(n > 0, combined, np.nan).astype(np.float32),
        "passes": n.astype(np.uint16),
        "passes_above": (counted & (np.nan_to_num(probs, nan=-1.0) >= config.threshold))
        .sum(0)
        .astype(np.uint16),
        "last_date": ordinal_to_yyyymmdd(anchor),
    }


def empty_bands(height: int, width: int) -> dict[str, np.ndarray]:
    return {
        "prob": np.full((height, width), np.nan, np.float32),
        "passes": np.zeros((height, width), np.uint16),
        "passes_above": np.zeros((height, width), np.uint16),
        "last_date": np.zeros((height, width), np.int32),
    }


def downsample(band: str, block: np.ndarray) -> np.ndarray:
    """One pyramid step (2 x 2 cells -> 1): max for every band (probability: the strongest evidence wins;
    counts and dates: the most observed, the latest), NaN-aware for ``prob``."""
    height, width = block.shape
    fill = np.nan if band == "prob" else 0
    padded = np.full((height + height % 2, width + width % 2), fill, dtype=block.dtype)
    padded[:height, :width] = block
    quads = padded.reshape(padded.shape[0] // 2, 2, padded.shape[1] // 2, 2)
    if band != "prob":
        return quads.max(axis=(1, 3))
    finite = np.isfinite(quads).any(axis=(1, 3))
    best = np.where(np.isfinite(quads), quads, -np.inf).max(axis=(1, 3))
    return np.where(finite, best, np.nan).astype(np.float32)
