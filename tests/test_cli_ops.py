"""`fringescan nightly`, `review` and `status`: exit codes, one-line errors, what they print and write."""

from __future__ import annotations

import json

import pytest
from scan_helpers import make_checkpoint
from test_history import _feature
from test_nightly import GRID, SIZE_PX, write_pass

from scanner.cli import main
from scanner.core.tiling import complete_range
from scanner.io.store import Store
from scanner.pipeline.history import build_history, load_feedback, save_history
from scanner.pipeline.nightly import EXIT_DONE, EXIT_NOTHING


@pytest.fixture
def store_with_sites(tmp_path):
    root = tmp_path / "store"
    Store.create(root)
    layers = {
        "s1": {"features": [_feature("AAA", "s1", 140.0), _feature("BBB", "s1", 141.0)]},
        "s2": {"features": [_feature("AAB", "s2", 140.001)]},
    }
    save_history(root, build_history(layers))
    return root


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("fringescan: error:") and "\n" not in err, err
    return err


def test_review_records_verdicts_and_status_hides_rejected(store_with_sites, capsys):
    root = str(store_with_sites)
    assert main(["review", "--store", root, "--site", "AAB", "--confirmed", "--note", "visited"]) == 0
    assert "site AAA: confirmed (visited)" in capsys.readouterr().out
    assert main(["review", "--store", root, "--site", "BBB", "--rejected"]) == 0
    assert set(load_feedback(store_with_sites)) == {"AAA", "BBB"}
    capsys.readouterr()
    assert main(["status", "--store", root, "--sites"]) == 0
    out = capsys.readouterr().out
    assert "2 in history, 1 reported" in out and "AAA: 2 passes" in out and "BBB" not in out
    assert main(["status", "--store", root, "--sites", "--min-detections", "3"]) == 0
    assert "0 reported" in capsys.readouterr().out


def test_review_exports_training_labels(store_with_sites, tmp_path, capsys):
    root = str(store_with_sites)
    main(["review", "--store", root, "--site", "AAA", "--confirmed"])
    main(["review", "--store", root, "--site", "BBB", "--rejected", "--note", "road cut"])
    out = tmp_path / "labels.geojson"
    assert main(["review", "--store", root, "--export-labels", str(out)]) == 0
    labels = json.loads(out.read_text())
    assert [(f["properties"]["site_id"], f["properties"]["class"]) for f in labels["features"]] == [
        ("AAA", "confirmed"),
        ("BBB", "rejected"),
    ]
    assert labels["features"][1]["properties"]["note"] == "road cut"


def test_review_unsure_is_reported_but_not_a_label(store_with_sites, tmp_path, capsys):
    root = str(store_with_sites)
    assert main(["review", "--store", root, "--site", "AAA", "--confirmed"]) == 0
    assert main(["review", "--store", root, "--site", "BBB", "--unsure", "--note", "look again"]) == 0
    assert "site BBB: unsure (look again)" in capsys.readouterr().out
    assert load_feedback(store_with_sites)["BBB"]["verdict"] == "unsure"
    assert main(["status", "--store", root, "--sites"]) == 0
    assert "2 in history, 2 reported" in capsys.readouterr().out
    out = tmp_path / "labels.geojson"
    assert main(["review", "--store", root, "--export-labels", str(out)]) == 0
    labels = json.loads(out.read_text())
    assert [f["properties"]["site_id"] for f in labels["features"]] == ["AAA"]


def test_review_errors_are_one_line(store_with_sites, capsys):
    root = str(store_with_sites)
    assert main(["review", "--store", root, "--site", "nope", "--confirmed"]) == 2
    assert "no such site" in _one_line_error(capsys)
    assert main(["review", "--store", root, "--site", "AAA"]) == 2
    assert "--confirmed, --rejected or --unsure" in _one_line_error(capsys)


def test_status_of_a_directory_that_is_not_a_store(tmp_path, capsys):
    assert main(["status", "--store", str(tmp_path)]) == 4
    assert "expected a fringescan store" in _one_line_error(capsys)


def test_nightly_argument_errors(tmp_path, capsys):
    argv = [
        "nightly",
        "--inbox",
        str(tmp_path / "missing"),
        "--store",
        str(tmp_path / "s"),
        "--model",
        str(tmp_path / "m"),
        "--grid",
        str(GRID),
    ]
    assert main([*argv, "--workers", "-1"]) == 2
    assert "--workers" in _one_line_error(capsys)
    assert main([*argv, "--workers", "2", "--scheduler", "tcp://127.0.0.1:8786"]) == 2
    assert "one of them" in _one_line_error(capsys)
    assert main(argv) == 3
    assert "checkpoint" in _one_line_error(capsys)


def test_nightly_then_status(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write_pass(inbox, "p1")
    argv = [
        "nightly",
        "--inbox",
        str(inbox),
        "--store",
        str(tmp_path / "store"),
        "--model",
        str(ckpt),
        "--grid",
        str(GRID),
    ]
    assert main(argv) == EXIT_DONE
    out = capsys.readouterr().out
    assert (
        "processed p1 -> scene p1" in out
        and f"windows scanned: {len(complete_range(SIZE_PX)) ** 2}" in out
        and "throughput" in out
    )
    assert main(argv) == EXIT_NOTHING
    assert "nothing done" in capsys.readouterr().out  # the report of a quiet night: stdout and the log only
    assert main(["status", "--store", str(tmp_path / "store")]) == 0
    out = capsys.readouterr().out
    assert "1 scenes (1 scanned)" in out and "done (exit 0)" in out and "current v000001" in out, out
    assert main(["status", "--store", str(tmp_path / "store"), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert [r["outcome"] for r in status["runs"]] == ["done"]  # the quiet night left the store unchanged


def test_nightly_log_json_lines_carry_stage_events(tmp_path, capsys):
    ckpt = make_checkpoint(tmp_path / "ckpt")
    (tmp_path / "inbox").mkdir()
    argv = [
        "--log-json",
        "nightly",
        "--inbox",
        str(tmp_path / "inbox"),
        "--store",
        str(tmp_path / "store"),
        "--model",
        str(ckpt),
        "--grid",
        str(GRID),
        "--json",
    ]
    assert main(argv) == EXIT_NOTHING
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.err.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "stage" and e.get("stage") == "discover" for e in lines)
    assert json.loads(captured.out)["outcome"] == "nothing_done"
