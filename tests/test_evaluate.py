"""Recall, precision and BEP (paper section 2.5) with Table 6's normalization, on hand-computed examples."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from train.evaluate import (
    Counts,
    break_even_point,
    evaluate_probabilities,
    markdown_report,
    normalize,
    plot_pr_curve,
    table6_markdown,
)

POS = [0.9, 0.7, 0.6, 0.4]
NEG = [0.8, 0.5, 0.3, 0.2, 0.1, 0.05]


def _example():
    prob = np.array(POS + NEG)
    labels = np.array([1] * len(POS) + [0] * len(NEG))
    return evaluate_probabilities(prob, labels)


def test_bep_hand_computed_crossing() -> None:
    """4 candidates, 6 others; normalized: candidates x 5/4, others x 5/6.

    t = 0.50: TP 3 -> 3.75, FP 2 -> 1.667: recall 0.75 > precision 9/13.
    t = 0.51: TP 3 -> 3.75, FP 1 -> 0.833: recall 0.75 < precision 9/11.  BEP = (9/13 + 9/11) / 2.
    """
    evaluation = _example()
    assert evaluation.bep == pytest.approx((9 / 13 + 9 / 11) / 2, abs=1e-12)
    assert evaluation.bep_rule == "crossing" and evaluation.bep_threshold == 0.5
    at = evaluation.at(0.5)
    assert at["raw"] == {"tp": 3.0, "fn": 1.0, "fp": 2.0, "tn": 4.0}
    assert at["normalized"]["tp"] == pytest.approx(3.75) and at["normalized"]["fp"] == pytest.approx(5 / 3)
    assert at["recall"] == pytest.approx(0.75) and at["precision"] == pytest.approx(9 / 13)


def test_table6_normalization_reproduces_paper_cv1() -> None:
    """Table 6, case 1, cv1: 9 candidates and 1,000 others; 8 TP, 1 FN, 4 FP -> 448.4, 56.1, 2.0."""
    norm = normalize(Counts(tp=8, fn=1, fp=4, tn=996))
    assert round(norm.tp, 1) == 448.4 and round(norm.fn, 1) == 56.1 and round(norm.fp, 1) == 2.0


def test_tie_and_no_crossing() -> None:
    bep, k, rule = break_even_point(np.array([1.0, 0.8, 0.5]), np.array([0.5, 0.8, 0.9]))
    assert (bep, k, rule) == (0.8, 1, "tie")
    evaluation = evaluate_probabilities(np.array([0.5, 0.5]), np.array([1, 0]))
    assert math.isnan(evaluation.bep) and evaluation.bep_rule == "no crossing"


def test_a_test_fold_without_candidates_has_no_bep_and_still_evaluates() -> None:
    """A held-out fold can hold no candidate (a small archive): recall is undefined at every threshold, so the
    BEP is NaN with "no crossing", and the others' false positives are still counted."""
    evaluation = evaluate_probabilities(np.array([0.9, 0.2, 0.6]), np.array([0, 0, 0]))
    assert math.isnan(evaluation.bep) and evaluation.bep_rule == "no crossing"
    assert evaluation.at(0.5)["raw"]["fp"] == 2


def test_perfect_separation_gives_bep_one() -> None:
    evaluation = evaluate_probabilities(np.array([0.99, 0.95, 0.02, 0.01, 0.03]), np.array([1, 1, 0, 0, 0]))
    assert evaluation.bep == 1.0


def test_reports(tmp_path: Path) -> None:
    evaluation = _example()
    text = markdown_report("example", evaluation)
    assert "75.5%" in text and "[3]" in text
    table = table6_markdown({"A on A'": [evaluation, evaluation]})
    assert "cv2" in table and "75.5%" in table
    assert evaluation.to_dict()["curve"][0]["threshold"] == 0.0
    plot_pr_curve(evaluation, "example").savefig(tmp_path / "pr.png")
    assert (tmp_path / "pr.png").stat().st_size > 1000
