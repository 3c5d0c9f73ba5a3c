"""tools/table1_gpu: the model plan, schedule labels, the report, and (slow) the CPU quick run end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.config import load_config
from tools import table1_gpu
from train.config import ExperimentConfig, for_subset


def test_model_plan_covers_table6_cases() -> None:
    assert table1_gpu.MODELS[0] == "paper-B" and len(table1_gpu.MODELS) == 11
    assert table1_gpu.model_plan("paper-B") == ("B", None, [("B on TEST", "test", "B")])
    assert table1_gpu.model_plan("cv3-A") == ("A", 2, [("A on A'", "train", "A"), ("A on B'", "train", "B")])
    assert table1_gpu.model_plan("cv5-B") == ("B", 4, [("B on B'", "train", "B")])


def test_schedule_labels_and_table3_sizes() -> None:
    paper = load_config("paper", [], expect=ExperimentConfig)
    assert table1_gpu.schedule_label(paper).startswith("Table 1: 30,000 it. x batch 50")
    short = load_config("paper", ["train.steps=300"], expect=ExperimentConfig)
    assert table1_gpu.schedule_label(short).startswith("scaled: 300 it.")
    assert for_subset(paper, "A").train.samples_per_class == 40000
    assert for_subset(paper, "B").train.samples_per_class == 45000


def _record(model: str, schedule: str) -> dict:
    at = {"recall": 0.5, "precision": None, "raw": {"tp": 1.0, "fn": 1.0, "fp": 0.0, "tn": 9.0}}
    return {
        "model": model,
        "schedule": schedule,
        "samples_per_class": 45000,
        "device": "NVIDIA H200",
        "total_s": 130.0,
        "evaluations": {"B on TEST": {"bep": 0.75, "at_0.5": at}},
    }


def test_report_rows_carry_their_schedule(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / "cv1-B.json").write_text(json.dumps(_record("cv1-B", "scaled: 300 it.")))
    (results / "paper-B.json").write_text(json.dumps(_record("paper-B", "Table 1: 30,000 it.")))
    doc = tmp_path / "doc.md"
    doc.write_text(f"before\n{table1_gpu.BEGIN}\nold\n{table1_gpu.END}\nafter\n")
    table1_gpu.write_report(results, doc)
    text = doc.read_text()
    rows = [line for line in text.splitlines() if line.startswith("| paper-B") or line.startswith("| cv1-B")]
    assert rows[0].startswith("| paper-B | Table 1: 30,000 it. | 45,000 | B on TEST | 1 | 1 | 0 | 9 | 50.0%")
    assert rows[1].startswith("| cv1-B | scaled: 300 it.")  # MODELS order, not file order
    assert (
        "| n/a |" in rows[0] and "old" not in text and text.startswith("before") and text.endswith("after\n")
    )


@pytest.mark.slow
def test_quick_run_resumes_by_model_and_stops_before_its_budget(tmp_path: Path, capsys) -> None:
    work, results = tmp_path / "work", tmp_path / "results"
    argv = ["--quick", "--work", str(work), "--results", str(results)]
    assert table1_gpu.main([*argv, "--out", str(tmp_path / "out1")]) == 0
    assert sorted(p.name for p in (tmp_path / "out1").iterdir()) == ["cv1-A.json", "paper-B.json"]
    record = json.loads((results / "cv1-A.json").read_text())
    assert record["held_out_fold"] == 1 and record["steps"] == 2 and record["schedule"].startswith("scaled")
    assert set(record["evaluations"]) == {"A on A'", "A on B'"}
    assert table1_gpu.main([*argv, "--out", str(tmp_path / "out2")]) == 0  # everything done: nothing runs
    assert not (tmp_path / "out2").exists()
    capsys.readouterr()
    assert (
        table1_gpu.main([*argv, "--models", "cv1-B", "--budget-s", "1", "--out", str(tmp_path / "out3")]) == 0
    )
    assert "stopping before cv1-B" in capsys.readouterr().out
    assert not (results / "cv1-B.json").exists()
