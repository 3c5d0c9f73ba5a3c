"""What a mosaic run must do: the passes (one per probability grid, identified by the SHA-256 of its values)
and the dirty chunks, compared with the manifest of the current version (pure).

A pass that is new, removed or re-scanned (other hash) marks the mosaic chunks its footprint touches as dirty;
a changed grid or rule marks every chunk. No change means no new version.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from scanner.mosaic.combine import CombineConfig, date_ordinal
from scanner.mosaic.grid import ChunkIndex, MosaicGrid


@dataclass(frozen=True, kw_only=True)
class PassInfo:
    """One probability grid as the mosaic sees it."""

    scene_id: str
    pass_sha256: str
    date: str
    """ISO date of the pass (its second acquisition)."""
    first_date: str | None = None
    checkpoint_sha256: str | None = None
    content_sha256: str | None = None
    footprint_lonlat: tuple[tuple[float, float], ...] = field(default=(), compare=False)

    def to_manifest(self) -> dict:
        return {k: v for k, v in asdict(self).items() if k not in ("scene_id", "footprint_lonlat")}


@dataclass(frozen=True)
class MosaicPlan:
    """What a run must do: the passes it is built from and the chunks to recompute."""

    passes: dict[str, PassInfo]
    added: tuple[str, ...]
    removed: tuple[str, ...]
    changed: tuple[str, ...]
    dirty: frozenset[ChunkIndex]
    full_rebuild: bool

    @property
    def unchanged(self) -> bool:
        return not self.dirty and not self.added and not self.removed and not self.changed


def prob_sha256(prob: np.ndarray) -> str:
    """Identity of a pass: SHA-256 of its probability grid (shape, dtype and little-endian bytes)."""
    arr = np.ascontiguousarray(prob, dtype="<f4")
    digest = hashlib.sha256(json.dumps(list(arr.shape)).encode())
    digest.update(arr.tobytes())
    return digest.hexdigest()


def select_passes(passes: Iterable[PassInfo], since: str | None) -> dict[str, PassInfo]:
    """Passes dated on or after ``since`` (all when None), by scene id."""
    floor = date_ordinal(since) if since else None
    return {p.scene_id: p for p in passes if floor is None or date_ordinal(p.date) >= floor}


def plan_run(
    grid: MosaicGrid,
    settings_key: str,
    wanted: dict[str, PassInfo],
    footprints: dict[str, set],
    previous: dict | None,
) -> MosaicPlan:
    """Compare the wanted passes with the previous version's manifest and list the dirty chunks.

    ``footprints`` maps every scene id (wanted or previously used) to the chunks it touches.
    """
    if previous is None or previous.get("settings_key") != settings_key:
        return MosaicPlan(wanted, tuple(sorted(wanted)), (), (), frozenset(grid.all_chunks()), True)
    before = previous["passes"]
    added = tuple(sorted(set(wanted) - set(before)))
    removed = tuple(sorted(set(before) - set(wanted)))
    changed = tuple(
        sorted(s for s in set(wanted) & set(before) if before[s]["pass_sha256"] != wanted[s].pass_sha256)
    )
    dirty: set[ChunkIndex] = set()
    for scene_id in (*added, *removed, *changed):
        dirty |= footprints.get(scene_id, set())
    return MosaicPlan(wanted, added, removed, changed, frozenset(dirty), False)


def settings_key(grid: MosaicGrid, combine: CombineConfig) -> str:
    """A change of grid or rule invalidates every chunk; this key detects it."""
    payload = json.dumps({"grid": asdict(grid), "combine": asdict(combine)}, sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]
