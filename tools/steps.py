"""Resumable tool runs: each step is one ``fringescan`` verb run in this process, once.

``tools.accuracy`` and ``tools.zoo`` run long chains of verbs; a step leaves ``OUT/.done/<name>`` (its seconds)
when it succeeds and is skipped when that marker exists, so a stopped run resumes where it stopped.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from scanner.cli import main as fringescan


def run_step(out: Path, name: str, argv: list[str], tool: str) -> None:
    """Run ``fringescan argv`` unless ``OUT/.done/<name>`` exists; exit with its code (and ``tool``'s name) on
    failure."""
    marker = out / ".done" / name
    if marker.exists():
        return
    print(f"\n== {name}: fringescan {' '.join(argv)}", flush=True)
    start = time.perf_counter()
    code = fringescan(argv)
    if code != 0:
        print(f"{tool}: step '{name}' failed with exit code {code}", file=sys.stderr)
        sys.exit(code)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{time.perf_counter() - start:.1f}\n")
    print(f"   done in {time.perf_counter() - start:.1f} s", flush=True)
