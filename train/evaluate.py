"""Patch-level evaluation exactly as the paper's section 2.5, with Table 6's class-balance normalization.

**Counts.** A patch is called a landslide candidate when its class-1 probability is >= the threshold. Raw
TP/FN/FP/TN are counted, then normalized as in Table 6: each class's counts are scaled so that each class
holds (total test patches / 2) samples (TP, FN by ``total / 2 / n_candidates``; FP, TN by
``total / 2 / n_others``). Recall, precision and BEP are computed on the normalized counts; recall is the same
either way, precision is what a balanced test set would show. Raw counts are reported beside them.

**BEP.** The threshold is swept from 0.00 to 1.00 in steps of 0.01. With d(t) = recall(t) - precision(t),
the BEP is the mean of the precisions at the two consecutive thresholds where d changes sign (recall falls
and precision rises with the threshold). Rules for the edge cases:

- thresholds where nothing is called a candidate have no precision (0/0) and are skipped;
- a tie (d = 0 at a threshold) gives the BEP as the precision there (both "points" coincide);
- with several crossings the first (lowest threshold) one is used;
- no crossing (recall stays above, or below, precision over the whole sweep, or fewer than two thresholds
  with a precision) gives BEP = NaN and ``bep_rule = "no crossing"``; the report says so.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

THRESHOLDS = np.round(np.arange(0, 101) * 0.01, 2)


@dataclass(frozen=True)
class Counts:
    """Confusion counts at one threshold (floats when normalized)."""

    tp: float
    fn: float
    fp: float
    tn: float

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn > 0 else math.nan

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp > 0 else math.nan


def raw_counts(prob: np.ndarray, labels: np.ndarray, threshold: float) -> Counts:
    called = prob >= threshold
    positive = labels == 1
    return Counts(
        tp=float(np.sum(called & positive)),
        fn=float(np.sum(~called & positive)),
        fp=float(np.sum(called & ~positive)),
        tn=float(np.sum(~called & ~positive)),
    )


def normalize(counts: Counts) -> Counts:
    """Table 6's normalization: each class scaled to (total / number of classes) samples."""
    n_pos, n_neg = counts.tp + counts.fn, counts.fp + counts.tn
    half = (n_pos + n_neg) / 2.0
    pos_scale = half / n_pos if n_pos else 0.0
    neg_scale = half / n_neg if n_neg else 0.0
    return Counts(
        tp=counts.tp * pos_scale, fn=counts.fn * pos_scale, fp=counts.fp * neg_scale, tn=counts.tn * neg_scale
    )


def break_even_point(recall: np.ndarray, precision: np.ndarray) -> tuple[float, int | None, str]:
    """BEP from per-threshold recall and precision (module docstring): (bep, index of first point, rule)."""
    defined = [k for k in range(len(recall)) if np.isfinite(precision[k]) and np.isfinite(recall[k])]
    diffs = [(k, recall[k] - precision[k]) for k in defined]
    if not diffs:  # e.g. a test fold without candidates: recall is undefined at every threshold
        return math.nan, None, "no crossing"
    for (k, d), (k_next, d_next) in zip(diffs, diffs[1:] + [(None, None)], strict=True):
        if d == 0:
            return float(precision[k]), k, "tie"
        if d_next is not None and d_next != 0 and (d > 0) != (d_next > 0):
            return float((precision[k] + precision[k_next]) / 2.0), k, "crossing"
    return math.nan, None, "no crossing"


@dataclass(frozen=True)
class Evaluation:
    """Sweep results: per-threshold normalized recall/precision and the raw counts, plus the BEP."""

    thresholds: np.ndarray
    recall: np.ndarray
    precision: np.ndarray
    raw: list[Counts]
    normalized: list[Counts]
    bep: float
    bep_threshold: float | None
    bep_rule: str
    n_candidates: int
    n_others: int

    def at(self, threshold: float) -> dict:
        """Recall, precision and both kinds of counts at one threshold (e.g. 0.5)."""
        k = int(round(threshold * 100))
        return {
            "threshold": float(self.thresholds[k]),
            "recall": float(self.recall[k]),
            "precision": float(self.precision[k]),
            "raw": asdict(self.raw[k]),
            "normalized": asdict(self.normalized[k]),
        }

    def to_dict(self) -> dict:
        """The JSON form: undefined rates (NaN: no candidate, or nothing called) are None."""
        at = self.at(0.5)
        return {
            "bep": _num(self.bep),
            "bep_threshold": self.bep_threshold,
            "bep_rule": self.bep_rule,
            "n_candidates": self.n_candidates,
            "n_others": self.n_others,
            "at_0.5": {**at, "recall": _num(at["recall"]), "precision": _num(at["precision"])},
            "curve": [
                {"threshold": float(t), "recall": _num(r), "precision": _num(p)}
                for t, r, p in zip(self.thresholds, self.recall, self.precision, strict=True)
            ],
        }


def _num(value: float) -> float | None:
    return None if not np.isfinite(value) else float(value)


def evaluate_probabilities(prob: np.ndarray, labels: np.ndarray) -> Evaluation:
    """Sweep thresholds over class-1 probabilities ``prob`` of patches with 0/1 ``labels``."""
    prob = np.asarray(prob, np.float64)
    labels = np.asarray(labels)
    raw = [raw_counts(prob, labels, t) for t in THRESHOLDS]
    normalized = [normalize(c) for c in raw]
    recall = np.array([c.recall for c in normalized])
    precision = np.array([c.precision for c in normalized])
    bep, k, rule = break_even_point(recall, precision)
    return Evaluation(
        thresholds=THRESHOLDS,
        recall=recall,
        precision=precision,
        raw=raw,
        normalized=normalized,
        bep=bep,
        bep_threshold=None if k is None else float(THRESHOLDS[k]),
        bep_rule=rule,
        n_candidates=int(np.sum(labels == 1)),
        n_others=int(np.sum(labels != 1)),
    )


def markdown_report(title: str, evaluation: Evaluation) -> str:
    """A short Markdown report: BEP and the counts at threshold 0.5, normalized and raw."""
    at = evaluation.at(0.5)
    norm, raw = at["normalized"], at["raw"]
    bep = "n/a (no crossing)" if math.isnan(evaluation.bep) else f"{100 * evaluation.bep:.1f}%"
    lines = [
        f"# {title}",
        "",
        f"Test patches: {evaluation.n_candidates} landslide candidates, {evaluation.n_others} others. "
        "Counts normalized per Table 6 (each class scaled to total/2); raw counts in brackets.",
        "",
        "| metric | value |",
        "|---|---|",
        f"| BEP | {bep} ({evaluation.bep_rule}, from threshold {evaluation.bep_threshold}) |",
        f"| recall @0.5 | {_pct(at['recall'])} |",
        f"| precision @0.5 | {_pct(at['precision'])} |",
        f"| TP @0.5 | {norm['tp']:.1f} [{raw['tp']:.0f}] |",
        f"| FN @0.5 | {norm['fn']:.1f} [{raw['fn']:.0f}] |",
        f"| FP @0.5 | {norm['fp']:.1f} [{raw['fp']:.0f}] |",
        f"| TN @0.5 | {norm['tn']:.1f} [{raw['tn']:.0f}] |",
    ]
    return "\n".join(lines) + "\n"


def _pct(value: float) -> str:
    return "n/a" if not np.isfinite(value) else f"{100 * value:.1f}%"


def fold_indices(evaluations: list[Evaluation]) -> dict[str, list[float]]:
    """Table 6's per-fold indices of one case: recall and precision at threshold 0.5, and the BEP."""
    ats = [e.at(0.5) for e in evaluations]
    return {
        "recall": [a["recall"] for a in ats],
        "precision": [a["precision"] for a in ats],
        "bep": [e.bep for e in evaluations],
    }


def case_averages(evaluations: list[Evaluation]) -> dict[str, float]:
    """Table 6's "Average" column: the mean over folds of each index, skipping folds where it is undefined
    (NaN); NaN when no fold defines it."""
    return {
        name: float(np.nanmean(values)) if np.any(np.isfinite(values)) else math.nan
        for name, values in fold_indices(evaluations).items()
    }


def table6_markdown(rows: dict[str, list[Evaluation]]) -> str:
    """Table 6-style cross-validation table: per case, per fold TP/FN/FP (normalized), recall, precision, BEP."""
    n_folds = max(len(v) for v in rows.values())
    head = "| case | index | " + " | ".join(f"cv{k + 1}" for k in range(n_folds)) + " | average |"
    lines = [head, "|" + "---|" * (n_folds + 3)]
    for case, evaluations in rows.items():
        ats = [e.at(0.5) for e in evaluations]
        for index in ("tp", "fn", "fp"):
            cells = [f"{a['normalized'][index]:.1f} [{a['raw'][index]:.0f}]" for a in ats]
            lines.append(f"| {case} | {index.upper()} | " + " | ".join(cells) + " | — |")
        averages = case_averages(evaluations)
        for key, values in fold_indices(evaluations).items():
            name = "BEP" if key == "bep" else key.capitalize()
            cells = " | ".join(_pct(v) for v in values)
            lines.append(f"| {case} | {name} | {cells} | {_pct(averages[key])} |")
    return "\n".join(lines) + "\n"


def table6_dict(rows: dict[str, list[Evaluation]]) -> dict:
    """The JSON twin of ``table6_markdown``: per case, each fold's full evaluation and the averages."""
    return {
        case: {
            "folds": [e.to_dict() for e in evaluations],
            "average": {k: _num(v) for k, v in case_averages(evaluations).items()},
        }
        for case, evaluations in rows.items()
    }


def predict_probabilities(model, windows: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """Class-1 (candidate) softmax probabilities of ``(N, 150, 150, C)`` windows, in fixed-shape batches."""
    import jax
    from flax import nnx

    graphdef, state = nnx.split(model)

    @jax.jit
    def probs(state, x):
        return jax.nn.softmax(nnx.merge(graphdef, state)(x), axis=-1)[:, 1]

    out = np.zeros(len(windows), np.float32)
    for start in range(0, len(windows), batch_size):
        chunk = windows[start : start + batch_size]
        padded = np.zeros((batch_size, *chunk.shape[1:]), np.float32)
        padded[: len(chunk)] = chunk
        out[start : start + len(chunk)] = np.asarray(probs(state, padded))[: len(chunk)]
    return out


def plot_pr_curve(evaluation: Evaluation, title: str):
    """A matplotlib Figure of the precision-recall sweep with the BEP marked (the caller saves it)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5, 4))
    axes = figure.add_subplot()
    axes.plot(evaluation.recall, evaluation.precision, marker=".", label="threshold sweep (0.01 steps)")
    if np.isfinite(evaluation.bep):
        axes.plot([evaluation.bep], [evaluation.bep], "o", color="red", label=f"BEP {evaluation.bep:.3f}")
    axes.plot([0, 1], [0, 1], ":", color="grey")
    axes.set(
        xlabel="recall", ylabel="precision (class-balanced)", title=title, xlim=(0, 1.02), ylim=(0, 1.02)
    )
    axes.legend(loc="lower left")
    return figure
