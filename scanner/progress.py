"""Progress reporting: the one callback type library code takes (the CLI turns it into a progress bar)."""

from __future__ import annotations

from collections.abc import Callable

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: the library calls it as units (tiles, windows, scenes, steps) complete."""
