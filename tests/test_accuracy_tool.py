"""The accuracy tool's site-level counting (``tools.accuracy.counting``): size, persistence and matching on tiny
grids with known answers; and its step schedule scaling (``tools.accuracy.plan``)."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from pyproj import CRS
from shapely.geometry import box

from scanner.io.site_layers import to_wgs84
from tools.accuracy.counting import SceneProb, choose, count
from tools.accuracy.plan import steps_overrides

WKT = CRS.from_epsg(32654).to_wkt()
CELL = Affine(280.0, 0.0, 400_000.0, 0.0, -280.0, 4_000_000.0)


def cells_box(r0: int, c0: int, r1: int, c1: int):
    """WGS84 polygon of cells [r0, r1) x [c0, c1)."""
    x0, y0 = CELL * (c0, r0)
    x1, y1 = CELL * (c1, r1)
    return to_wgs84(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), WKT)


def scene(name: str, area: str, blocks: list[tuple[int, int, int, int]], expected: list) -> object:
    prob = np.full((20, 20), 0.1, np.float32)
    prob[0, :] = np.nan
    for r0, c0, r1, c1 in blocks:
        prob[r0:r1, c0:c1] = 0.9
    return SceneProb(name, area, prob, CELL, WKT, 280.0 * 280.0, None, expected, [])


@pytest.fixture
def scenes():
    landslide = cells_box(3, 3, 6, 6)
    fp = (15, 15, 16, 17)  # a 2-cell false positive in pass 1 only
    one_off = (10, 2, 11, 3)  # a 1-cell false positive: the paper's size filter removes it
    return [
        scene("p1", "a", [(2, 2, 7, 7), fp, one_off], [landslide]),
        scene("p2", "a", [(3, 3, 8, 8)], [landslide]),
        scene("p3", "a", [], []),
        scene("q1", "b", [(2, 2, 4, 4)], [cells_box(12, 12, 14, 14)]),  # another area: a miss and an FP
    ]


def test_counts_with_and_without_size_filters(scenes):
    c = count(scenes, 0.5, min_cells=1)
    assert (c.tp, c.fn, c.fp) == (2, 1, 3)
    c = count(scenes, 0.5, min_cells=2)
    assert (c.tp, c.fn, c.fp) == (2, 1, 2)
    c = count(scenes, 0.5, min_cells=5)
    assert (c.tp, c.fn, c.fp) == (2, 1, 0)
    c = count(scenes, 0.95, min_cells=1)
    assert (c.tp, c.fn, c.fp) == (0, 3, 0)


def test_persistence_keeps_what_two_passes_of_an_area_share(scenes):
    c = count(scenes, 0.5, min_cells=2, k=2)
    # p1/p2 confirm each other; p1's FP and area b's single pass (k capped at its 1 pass) behave as expected.
    assert (c.tp, c.fn, c.fp) == (2, 1, 1)
    c = count(scenes, 0.5, min_cells=2, k=3)
    assert (c.tp, c.fn, c.fp) == (0, 3, 1)


def test_choose_takes_the_best_val_precision_at_recall_0_92_among_site_sized_settings():
    rows = [
        {"threshold": 0.5, "min_cells": 2, "median_cells": 12, "recall": 0.95, "precision": 0.2},
        {"threshold": 0.5, "min_cells": 20, "median_cells": 40, "recall": 0.92, "precision": 0.6},
        {"threshold": 0.9, "min_cells": 20, "median_cells": 30, "recall": 0.91, "precision": 0.9},
        {"threshold": 0.01, "min_cells": 150, "median_cells": 600, "recall": 0.97, "precision": 0.95},
    ]
    assert choose(rows) == rows[1]  # row 2 misses the recall margin, row 3 is no site (a region)


def test_step_schedule_scaling():
    assert steps_overrides(300) == [
        "--set",
        "train.steps=300",
        "--set",
        "optim.lr_decay_every=120",
        "--set",
        "train.checkpoint_every=75",
    ]


def test_curves_tool_draws_and_tabulates_split_and_unsplit_on_a_known_grid(tmp_path, capsys):
    """``tools.accuracy.curves`` on scan_helpers.blob_store: two labelled blobs that merge through a 0.7 bridge
    at thresholds <= 0.7; point matching finds neither unsplit, both split; overlap finds both either way."""
    from scan_helpers import blob_store

    from tools.accuracy.curves import THRESHOLDS, main

    store, labels = blob_store(tmp_path)
    out = tmp_path / "img" / "curves.png"
    argv = ["--store", str(store.root), "--labels", str(labels), "--out", str(out), "--min-cells", "1"]
    assert main([*argv, "--match", "both", "--by-motion"]) == 0
    text = capsys.readouterr().out
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    overlap, point = text.split("### matching: ")[1:]
    assert overlap.startswith("polygon overlap") and point.startswith("site point within 300 m")
    # threshold | TP/FN/FP, recall, precision split | the same unsplit
    assert "| 0.6 | 2/0/0 | 1.00 | 1.00 | 2/0/0 | 1.00 | 1.00 |" in overlap
    assert "| 0.6 | 2/0/0 | 1.00 | 1.00 | 0/2/1 | 0.00 | 0.00 |" in point
    assert "| 0.8 | 2/0/0 | 1.00 | 1.00 | 2/0/0 | 1.00 | 1.00 |" in point
    assert "| 0.99 | 0/2/0 | 0.00 | n/a | 0/2/0 | 0.00 | n/a |" in point  # no site: precision undefined
    assert sum(line.startswith("| 0.") for line in point.splitlines()) >= len(THRESHOLDS)
    # At the operating point (0.5, 2 cells): label A moves 0.34 fringes, B 1.27; both 0.28 km2.
    assert (
        "| 0.25-0.5 | 1 | 1 | 1.00 | 0 | 0.00 |" in point and "| 1-1.5 | 1 | 1 | 1.00 | 0 | 0.00 |" in point
    )
    assert "| 0.16-0.3 | 2 | 2 | 1.00 | 0 | 0.00 |" in point
    assert "| 0.16-0.3 | 2 | 2 | 1.00 | 2 | 1.00 |" in overlap


def _paper_cv_result() -> dict:
    """A tools.accuracy.paper_cv result with known counts: per fold 1 TP and, in fold 2, 1 FN; FPs 0..4."""
    folds = [{"tp": 1, "fn": int(k == 1), "fp": k} for k in range(5)]
    table7 = {f"{case}-{filt}": folds for case in "123" for filt in (0, 1)}
    average = {"recall": 0.9, "precision": 0.5, "bep": 0.7}
    run = {
        "title": "paper AlexNet (configs/paper.py)",
        "config": "configs/paper.py",
        "steps": 300,
        "batch": 50,
        "scan_path": "window",
        "schedule": "Table 1's first 300",
        "table6": {case: average for case in ("A on A'", "A on B'", "B on B'")},
        "table7": table7,
        "seconds": {"dataset": 60.0, "crossval": 540.0},
    }
    archive = {"seed": 8101, "bodies_per_100km2": 3.0, "size_px": 600, "interferograms": 32, "areas": 8}
    return {
        "command": "python -m tools.accuracy.paper_cv --out OUT",
        "date": "2026-12-03",
        "archive": {**archive, "bodies": 70, "visible": 60},
        "runs": {"paper": run},
    }


def test_paper_cv_section_pools_the_folds_and_states_the_schedule():
    from tools.accuracy.paper_cv import paper_cv_markdown

    text = paper_cv_markdown(_paper_cv_result())
    # 5 TP, 1 FN, 0+1+2+3+4 = 10 FP pooled: recall 5/6, precision 5/15
    assert "| 1 (CNN-A on Dataset A') | no | 5 / 1 / 10, 83.3 / 33.3 | 100 / 3.1 |" in text
    assert (
        "| Table 1's first 300 | 300 x 50 | 1.00% | window | 10 |" in text
    )  # 15,000 of 1.5 M samples; 600 s
    assert "| A on B' | 90.0 / 50.0 / 70.0 | 83.5 / 99.7 / 96.3 |" in text


def test_paper_cv_section_of_the_doc_is_the_committed_json_rendered():
    """docs/accuracy.md's paper-cv section is exactly what the committed JSON renders (or 'not run yet')."""
    from tools.accuracy.paper_cv import MARKERS, committed_section
    from tools.accuracy.plan import ROOT

    doc = (ROOT / "docs" / "accuracy.md").read_text()
    start, end = doc.index(MARKERS[0]) + len(MARKERS[0]), doc.index(MARKERS[1])
    assert doc[start:end] == committed_section()


def test_paper_cv_replaces_only_its_section():
    from tools.accuracy.paper_cv import MARKERS, replace_section

    doc = f"head\n{MARKERS[0]}old{MARKERS[1]}\ntail\n"
    assert replace_section(doc, "new") == f"head\n{MARKERS[0]}new{MARKERS[1]}\ntail\n"


def test_accuracy_template_keeps_the_gpu_and_paper_cv_sections_of_the_doc():
    """``python -m tools.accuracy`` rewrites docs/accuracy.md from its template: the template holds the GPU
    section word for word (its results block filled from the doc) and the paper-cv markers, so neither is lost."""
    from tools.accuracy.paper_cv import MARKERS
    from tools.accuracy.plan import ROOT
    from tools.accuracy.report import TEMPLATE
    from tools.table1_gpu import BEGIN, END, current_block

    template, doc = TEMPLATE.read_text(), (ROOT / "docs" / "accuracy.md").read_text()
    assert f"{MARKERS[0]}{{paper_cv}}{MARKERS[1]}" in template
    head = "## Full Table 1 schedule on a GPU"
    t_section = template[template.index(head) : template.index("## Tables 3 and 4")]
    d_section = doc[doc.index(head) : doc.index("## Tables 3 and 4")]
    assert t_section.replace("{table1_gpu}", current_block()) == d_section
    assert d_section.index(BEGIN) < d_section.index(END)


def test_doc_blocks_read_and_replace_only_between_their_markers():
    from tools.doc_blocks import block, replace_block

    text = "a <!-- b --> keep <!-- e --> z <!-- b --> second <!-- e -->"
    assert block(text, "<!-- b -->", "<!-- e -->") == " keep "
    assert block(text, "<!-- x -->", "<!-- e -->") is None
    assert replace_block(text, "<!-- b -->", "<!-- e -->", "new") == (
        "a <!-- b -->new<!-- e --> z <!-- b --> second <!-- e -->"
    )
    with pytest.raises(ValueError):
        replace_block(text, "<!-- x -->", "<!-- e -->", "new")
