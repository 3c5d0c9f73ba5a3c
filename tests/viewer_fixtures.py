"""Stores for the viewer and review-desk tests: lattice scenes with their wrapped phase, site layers, a site
history and a mosaic, published with the viewer's tiles (``scanner.products.tiles.write_viewer_tiles``)."""

from __future__ import annotations

from pathlib import Path

from mosaic_fixtures import add_lattice_scene, site_feature, write_sites
from scan_helpers import add_scene, scene_arrays

from scanner.io.store import Store
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.grid import MosaicGrid
from scanner.mosaic.run import run_mosaic
from scanner.pipeline.history import build_history, save_history


def add_pass(
    root: Path, scene_id: str, row0: int, col0: int, cells: tuple[int, int], date: str, seed: int
) -> None:
    """A probability grid on the shared lattice and the scene's wrapped phase over the same ground (10 px a cell)."""
    grid = add_lattice_scene(root, scene_id, row0, col0, *cells, second_date=date, seed=seed)
    phase, valid = scene_arrays(cells[0] * 10, cells[1] * 10, seed)
    add_scene(Store.open(root), scene_id, phase, valid, origin=(grid.transform.c, grid.transform.f))


def with_priority(feature: dict, priority: int) -> dict:
    return {**feature, "properties": {**feature["properties"], "priority": priority}}


def desk_store(root: Path, grid: MosaicGrid) -> Path:
    """Passes A (2026-02-01) and B (2026-02-13), 11 x 14 km each, overlapping; site s1 seen by both (as s1 and
    s1b), s2 by B only (priority 2), s3 by A only. The history knows all three (for ``record_feedback``)."""
    Store.create(root)
    add_pass(root, "A", 10, 10, (40, 50), "2026-02-01", 0)
    add_pass(root, "B", 30, 40, (40, 50), "2026-02-13", 1)
    layers = {
        "A": [
            site_feature("A", "s1", 434_000, 4_169_000, 500, prob_max=0.81),
            site_feature("A", "s3", 425_000, 4_174_000, 400, prob_max=0.66),
        ],
        "B": [
            site_feature("B", "s1b", 434_100, 4_169_000, 500, prob_max=0.93, second_date="2026-02-13"),
            with_priority(
                site_feature("B", "s2", 442_000, 4_163_000, 600, prob_max=0.7, second_date="2026-02-13"), 2
            ),
        ],
    }
    (root / "sites").mkdir(exist_ok=True)
    for scene_id, features in layers.items():
        write_sites(root, scene_id, features)
    save_history(root, build_history({s: {"features": f} for s, f in layers.items()}))
    run_mosaic(root, grid, CombineConfig())
    return root
