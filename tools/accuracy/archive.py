"""The synthetic archive through fringescan's own verbs, each run once: regions, stores, datasets and scans.

Every step leaves a marker ``OUT/.done/<name>`` (its seconds) and is skipped when the marker exists, so a
stopped run resumes where it stopped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from scanner.io.writers import write_bytes
from scanner.sim.files import ingest_argv, read_region
from tools.accuracy.plan import SEEDS, Plan, Variant, sets
from tools.steps import run_step


def step(out: Path, name: str, argv: list[str]) -> None:
    """Run one ``fringescan`` verb in this process once (marker file ``OUT/.done/<name>``)."""
    run_step(out, name, argv, "accuracy")


def write_atomic(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` (folders created) so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, data.encode() if isinstance(data, str) else data)


def region_scenes(region: Path) -> list[dict]:
    """The scene records of a synthetic region's region.json."""
    return read_region(region)["scenes"]


def synth_and_ingest(plan: Plan, split: str, overrides: Sequence[str] = ()) -> tuple[Path, Path]:
    """The region of ``split`` and its ingested store (``overrides``: more ``synth --set`` values)."""
    region, store = plan.out / f"{split}-region", plan.out / f"{split}-store"
    n = plan.scenes[split]
    step(
        plan.out,
        f"synth-{split}",
        [
            "synth",
            "--out",
            str(region),
            "--seed",
            str(SEEDS[split]),
            "--size",
            str(plan.size),
            "--set",
            f"scenes={n}",
            "--set",
            f"areas={max(1, n // 4)}",
            *sets(overrides),
        ],
    )
    for scene in region_scenes(region):
        step(plan.out, f"ingest-{split}-{scene['scene_id']}", ingest_argv(region, scene, store))
    return region, store


def scan_to(
    plan: Plan,
    name: str,
    store: Path,
    model: Path,
    scene_ids: Sequence[str] | None = None,
    *,
    path: str = "dense",
) -> None:
    """``fringescan scan --path PATH`` of ``store`` (or only ``scene_ids``) with ``model``, as step ``name``."""
    argv = ["scan", "--store", str(store), "--model", str(model), "--path", path]
    for s in scene_ids or ():
        argv += ["--scene", s]
    step(plan.out, name, argv)


def build_dataset(plan: Plan, name: str, variant: Variant, region: Path, store: Path, dataset: Path) -> None:
    """``fringescan dataset`` of ``region``'s scenes in ``store`` with the variant's config, as step ``name``."""
    step(
        plan.out,
        name,
        [
            "dataset",
            "--store",
            str(store),
            "--labels",
            str(region / "labels.geojson"),
            "--out",
            str(dataset),
            "--config",
            variant.config,
            *sets(variant.overrides),
        ],
    )
