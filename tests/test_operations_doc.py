"""docs/operations.md's bad-input table names real tests: every ``tests/<file>.py::<name>`` it cites exists."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CITED = re.compile(r"`(test_\w+\.py)::(\w+)")


def bad_input_rows() -> list[str]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Bad input", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if re.match(r"\| \d+ \|", line)]


def test_the_table_has_forty_classes_or_more() -> None:
    rows = bad_input_rows()
    assert len(rows) >= 40
    numbers = [int(row.split("|")[1]) for row in rows]
    assert numbers == list(range(1, len(rows) + 1))


def test_every_cited_test_exists() -> None:
    cited = {match for row in bad_input_rows() for match in CITED.findall(row)}
    assert len(cited) >= 30
    for file, name in sorted(cited):
        path = ROOT / "tests" / file
        assert path.is_file(), file
        functions = {n.name for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.FunctionDef)}
        assert name in functions, f"{file}::{name} is cited in docs/operations.md but not defined"
