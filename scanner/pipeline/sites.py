"""Sites of scanned scenes: detection over a scene's probability grid into its site layer, the operating
point a grid records, and Table 7 over a store (jax-free). ``detect_scene`` is the one path from a grid to a
published site layer; ``fringescan detect`` and the nightly run both call it.

The site layer format and its I/O live in ``scanner.io.site_layers``; the detection numerics in
``scanner.core.detect``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from affine import Affine
from shapely.geometry import MultiPoint, box, shape
from shapely.geometry.base import BaseGeometry

from scanner.core import kernels
from scanner.core.detect import (
    DEFAULT_SPLIT_PROMINENCE,
    DetectConfig,
    OperatingPoint,
    detect,
    resolve_config,
)
from scanner.core.support import PairGrid, Support, site_support
from scanner.errors import InputError, problem
from scanner.eval.calibrate import (
    CALIBRATION_MIN_CELLS,
    CALIBRATION_MIN_SUPPORT,
    CALIBRATION_THRESHOLDS,
    VAL_MIN_RECALL,
    choose_setting,
)
from scanner.eval.matching import (
    MISS_CAUSES,
    OVERLAP,
    DetectionCounts,
    Match,
    MatchRule,
    match,
    miss_causes,
    reach,
    table7,
)
from scanner.geo import STRIDE_PX, WGS84, PixelWindow
from scanner.io.labels import Label, read_labels, reproject
from scanner.io.probgrid import prob_attrs, prob_grid, read_prob, scanned_scene_ids
from scanner.io.site_layers import (
    feature_collection,
    from_wgs84,
    reproject_geometry,
    site_features,
    to_wgs84,
    write_geojson,
)
from scanner.io.store import Scene, Store


def slope_cells(scene: Scene, cell_shape: tuple[int, int], band_cells: int = 50) -> np.ndarray | None:
    """Mean slope (degrees) of each 10 px cell, read in row bands; None when no DEM was ingested."""
    if not scene.has("slope"):
        return None
    out = np.full(cell_shape, np.nan, np.float32)
    width = scene.grid.width
    for r0 in range(0, cell_shape[0], band_cells):
        r1 = min(cell_shape[0], r0 + band_cells)
        band = scene.read("slope", PixelWindow(r0 * STRIDE_PX, 0, (r1 - r0) * STRIDE_PX, width))
        out[r0:r1] = kernels.block_means(band, STRIDE_PX, r1 - r0, cell_shape[1])
    return out


class PairIndex:
    """The scanned grids of a store as other pairs of each scene's ground, for site support
    (``scanner.core.support``). Each grid's extent is read from its attributes once; a grid's probabilities
    are read when a scene it overlaps first needs them, and kept (one float32 per 10 px cell)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._extents: dict[str, tuple[str, tuple[float, float, float, float]]] | None = None
        self._grids: dict[str, PairGrid] = {}

    def _extent_of(self) -> dict[str, tuple[str, tuple[float, float, float, float]]]:
        if self._extents is None:
            self._extents = {}
            for scene_id in scanned_scene_ids(self.store.root):
                cells = prob_grid(prob_attrs(self.store.root, scene_id))
                self._extents[scene_id] = (cells.crs_wkt, cells.bounds)
        return self._extents

    def grid(self, scene_id: str) -> PairGrid:
        if scene_id not in self._grids:
            prob, attrs = read_prob(self.store.root, scene_id)
            cells = prob_grid(attrs)
            self._grids[scene_id] = PairGrid(
                scene_id, prob, cells.transform, cells.crs_wkt, scene_dates(self.store, scene_id)
            )
        return self._grids[scene_id]

    def others(
        self, scene_id: str, crs_wkt: str, bounds: tuple[float, float, float, float]
    ) -> list[PairGrid]:
        """Every other scanned grid whose extent meets ``bounds`` (in ``crs_wkt``; grids in another CRS are
        all returned, and ``site_support`` transforms the points)."""
        left, bottom, right, top = bounds
        found = []
        for other, (other_crs, (l2, b2, r2, t2)) in self._extent_of().items():
            if other == scene_id:
                continue
            if other_crs == crs_wkt and (l2 >= right or r2 <= left or b2 >= top or t2 <= bottom):
                continue
            found.append(self.grid(other))
        return found


def scene_dates(store: Store, scene_id: str) -> frozenset[str]:
    """The acquisition dates of a scene's pair (ISO strings; empty when ingest recorded none)."""
    attrs = store.scene(scene_id).attrs
    return frozenset(d for d in (attrs.get("first_date"), attrs.get("second_date")) if d)


def scene_sites(
    store: Store, scene_id: str, config: DetectConfig, *, size_filtered: bool = True
) -> tuple[list[dict], dict]:
    """Detect the sites of one scanned scene: WGS84 features in priority order and the grid's attributes."""
    prob, attrs = read_prob(store.root, scene_id)
    return _grid_sites(store, scene_id, prob, attrs, config, size_filtered=size_filtered), attrs


def _grid_sites(
    store: Store,
    scene_id: str,
    prob: np.ndarray,
    attrs: dict,
    config: DetectConfig,
    *,
    size_filtered: bool,
    pairs: PairIndex | None = None,
) -> list[dict]:
    """The site features of one grid; with ``pairs``, each site also records its ``support`` and
    ``support_pairs`` and ``config.min_support`` drops the sites it does not keep."""
    scene = store.scene(scene_id)
    cell_grid = scene.grid.cell_grid()
    found, labels = detect(
        prob,
        config,
        scene.grid.cell_area_m2,
        slope_cells=slope_cells(scene, prob.shape),
        size_filtered=size_filtered,
    )
    support = None
    if pairs is not None:
        points = [cell_grid.transform @ (c.point_cell[1], c.point_cell[0]) for c in found]
        others = pairs.others(scene_id, cell_grid.crs_wkt, cell_grid.bounds) if found else []
        support = site_support(
            points, cell_grid.crs_wkt, scene_dates(store, scene_id), others, config.threshold
        )
        kept = [k for k, s in enumerate(support) if s.keeps(config.min_support)]
        found, support = [found[k] for k in kept], [support[k] for k in kept]
    features = site_features(
        found,
        labels,
        cell_grid.transform,
        cell_grid.crs_wkt,
        scene_id=scene_id,
        first_date=scene.attrs.get("first_date"),
        second_date=scene.attrs.get("second_date"),
        checkpoint_sha256=attrs.get("model", {}).get("checkpoint_sha256"),
    )
    if support is not None:
        for feature, s in zip(features, support, strict=True):
            feature["properties"].update(support=s.scoring, support_pairs=s.pairs)
    return features


@dataclass(frozen=True)
class SceneDetection:
    """What :func:`detect_scene` did for one scene: its sites, the settings used and where they came from."""

    scene_id: str
    features: list[dict]
    config: DetectConfig
    origin: str
    path: Path


def detect_scene(
    store: Store,
    scene_id: str,
    *,
    threshold: float | None = None,
    min_area_m2: float | None = None,
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE,
    min_support: int | None = None,
    pairs: PairIndex | None = None,
) -> SceneDetection:
    """The one detection path (``fringescan detect`` and ``nightly``): the operating point of the scene's grid
    (the model's, unless ``threshold`` / ``min_area_m2`` / ``min_support`` are given; :func:`operating_config`),
    detection (split at saddles of ``split_prominence``; None = whole components), each site's support from the
    store's other scanned pairs (``pairs``, built here when not given), and the site layer
    ``sites/<scene_id>.geojson`` published atomically."""
    prob, attrs = read_prob(store.root, scene_id)
    config, origin = resolve_config(
        attrs.get("operating_point"),
        store.scene(scene_id).grid.cell_area_m2,
        threshold,
        min_area_m2,
        split_prominence,
        min_support,
    )
    features = _grid_sites(
        store, scene_id, prob, attrs, config, size_filtered=True, pairs=pairs or PairIndex(store)
    )
    path = write_scene_sites(store, scene_id, features, config)
    return SceneDetection(scene_id, features, config, origin, path)


def scanned_scenes(store: Store, scene_ids: Sequence[str] | None = None) -> list[str]:
    """``scene_ids`` when given, else every scanned scene of the store; refuses a store with none."""
    ids = list(scene_ids) if scene_ids else scanned_scene_ids(store.root)
    if not ids:
        raise InputError(
            problem(
                f"store {store.root}",
                expected="at least one scanned scene",
                found="none",
                fix=f"run `fringescan scan --store {store.root} --model CKPT` first",
            )
        )
    return ids


def operating_config(
    store: Store,
    scene_id: str,
    *,
    threshold: float | None = None,
    min_area_m2: float | None = None,
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE,
    min_support: int | None = None,
) -> tuple[DetectConfig, str]:
    """(DetectConfig, where its values came from) for one scanned scene: explicit values win over the
    operating point its grid records (the model's), which wins over the defaults; ``split_prominence`` as
    given (None = no split)."""
    _, attrs = read_prob(store.root, scene_id)
    cell_area_m2 = store.scene(scene_id).grid.cell_area_m2
    return resolve_config(
        attrs.get("operating_point"), cell_area_m2, threshold, min_area_m2, split_prominence, min_support
    )


def write_scene_sites(store: Store, scene_id: str, features: list[dict], config: DetectConfig) -> Path:
    """Publish ``sites/<scene_id>.geojson`` in the store (atomic replace)."""
    collection = feature_collection(
        features,
        scene_id=scene_id,
        threshold=config.threshold,
        min_area_m2=config.min_area_m2,
        split_prominence=config.split_prominence,
    )
    return write_geojson(store.layout.site_layer(scene_id), collection)


# ---------------------------------------------------------------------------------------------- evaluation


def scanned_footprint(prob: np.ndarray, cell_transform: Affine, crs_wkt: str) -> BaseGeometry:
    """WGS84 box around the cells that got a probability (labels outside it are not counted)."""
    rows, cols = np.nonzero(np.isfinite(prob))
    if rows.size == 0:
        return box(0, 0, 0, 0)
    x0, y0 = cell_transform @ (cols.min(), rows.min())
    x1, y1 = cell_transform @ (cols.max() + 1, rows.max() + 1)
    return to_wgs84(box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), crs_wkt)


@dataclass(frozen=True)
class SceneLabels:
    """The positive labels of one scanned scene, in the CRS the matching rule reads (``crs``: WGS84 for
    overlap, the scene's metric CRS for the point rule): ``expected`` (visible in it), ``hidden`` (inside the
    scanned footprint but not visible: sites on them are neither TP nor FP) and the ``Label`` records of
    ``expected`` in the same order."""

    scene_id: str
    rule: MatchRule
    crs: str
    expected: list[BaseGeometry]
    hidden: list[BaseGeometry]
    records: list[Label]

    @property
    def n_inside(self) -> int:
        return len(self.expected) + len(self.hidden)

    def sites(self, features: Sequence[dict]) -> list[BaseGeometry]:
        """What the rule reads of each site feature (WGS84 site layer features): polygons under overlap, the
        site points (``centroid_lon/lat``) in ``crs`` under the point rule."""
        if self.rule.method == "overlap":
            return [shape(f["geometry"]) for f in features]
        lonlat = [(f["properties"]["centroid_lon"], f["properties"]["centroid_lat"]) for f in features]
        return list(from_wgs84(MultiPoint(lonlat), self.crs).geoms) if lonlat else []

    def match(self, features: Sequence[dict]) -> Match:
        return match(self.rule, self.expected, self.sites(features), self.hidden)

    def areas(self, features: Sequence[dict]) -> list[BaseGeometry]:
        """The polygons of site features (WGS84) in ``crs``."""
        return [from_wgs84(shape(f["geometry"]), self.crs) for f in features]

    def misses(
        self,
        kept: Sequence[dict],
        unfiltered: Sequence[dict],
        prob: np.ndarray,
        cell_transform: Affine,
        cell_crs: str,
    ) -> list[dict]:
        """Each expected label the ``kept`` sites do not find: its id, why (``scanner.eval.matching.
        miss_causes``: ``unfiltered`` are the sites before the size filter and the support rule;
        ``not_scanned`` when no scored cell touches its reach) and the highest probability of the scored cells
        touching its reach (NaN when none is scored)."""
        causes = miss_causes(
            self.rule, self.expected, self.match(kept), self.areas(kept), self.areas(unfiltered)
        )
        found = []
        for i, cause in causes.items():
            zone = reproject_geometry(reach(self.rule, self.expected[i]), self.crs, cell_crs)
            values = prob[touched_cells(zone, prob.shape, cell_transform)]
            scored = values[np.isfinite(values)]
            top = float(scored.max()) if scored.size else math.nan
            if not scored.size and cause == "below_threshold":
                cause = "not_scanned"
            found.append(
                {
                    "scene_id": self.scene_id,
                    "label": self.records[i].label_id,
                    "cause": cause,
                    "prob_max": top,
                }
            )
        return found


def touched_cells(zone: BaseGeometry, shape: tuple[int, int], cell_transform: Affine) -> np.ndarray:
    """Boolean grid of ``shape``: the cells whose square meets ``zone`` (in the cells' CRS, a north-up grid)."""
    touched = np.zeros(shape, bool)
    if zone.is_empty:
        return touched
    minx, miny, maxx, maxy = zone.bounds
    cols, rows = ~cell_transform * (np.array([minx, maxx, minx, maxx]), np.array([miny, miny, maxy, maxy]))
    r0, r1 = max(int(np.floor(rows.min())), 0), min(int(np.ceil(rows.max())), shape[0])
    c0, c1 = max(int(np.floor(cols.min())), 0), min(int(np.ceil(cols.max())), shape[1])
    if r0 >= r1 or c0 >= c1:
        return touched
    rr, cc = np.mgrid[r0:r1, c0:c1]
    x0, y0 = cell_transform * (cc, rr)
    x1, y1 = cell_transform * (cc + 1, rr + 1)
    boxes = shapely.box(np.minimum(x0, x1), np.minimum(y0, y1), np.maximum(x0, x1), np.maximum(y0, y1))
    touched[r0:r1, c0:c1] = shapely.intersects(boxes, zone)
    return touched


def scene_labels(
    labels: Sequence[Label], scene_id: str, prob: np.ndarray, attrs: dict, rule: MatchRule
) -> SceneLabels:
    """``labels`` (positive, WGS84) of one scanned scene as :class:`SceneLabels`; those outside the cells
    that got a probability are left out."""
    cells = prob_grid(attrs)
    footprint = scanned_footprint(prob, cells.transform, cells.crs_wkt)
    inside = [lab for lab in labels if lab.geometry.intersects(footprint)]
    crs = WGS84 if rule.method == "overlap" else cells.metric_crs_wkt
    inside = reproject(inside, crs)
    expected = [lab for lab in inside if lab.shows_in(scene_id)]
    hidden = [lab.geometry for lab in inside if not lab.shows_in(scene_id)]
    return SceneLabels(scene_id, rule, crs, [lab.geometry for lab in expected], hidden, expected)


def _no_labels_inside(labels_path: str | Path, labels: Sequence[Label], ids: Sequence[str], what: str):
    """The refusal of labels with no positive one inside the scanned scenes (recall would be undefined and
    every detection a false positive: the mark of labels for another region or CRS)."""
    return InputError(
        problem(
            f"labels {labels_path}",
            expected=f"at least one positive label inside the scanned part of the {what} scenes "
            "(recall needs expected sites)",
            found=f"{len(labels)} positive label(s), none inside the scanned footprints of "
            f"{', '.join(ids[:5])}{' ...' if len(ids) > 5 else ''}",
            fix="pass the labels of these scenes' region (in WGS84 unless the file's crs member says "
            f"otherwise), or {'evaluate' if what == 'evaluated' else 'calibrate'} on the scenes the labels "
            "lie on (--scene)",
        )
    )


def positive_labels(labels_path: str | Path) -> list[Label]:
    """The positive labels of a label file, in WGS84 (only positives are expected candidates)."""
    return reproject([lab for lab in read_labels(labels_path) if lab.positive], WGS84)


@dataclass(frozen=True)
class Evaluation:
    """Table 7 over scanned scenes (``evaluate_store``): ``totals`` and ``per_scene`` counts, each with and
    without the size filter, and ``misses``, one record per expected label the size-filtered sites did not find
    (``SceneLabels.misses``: scene, label id, cause, highest cell probability within reach)."""

    totals: dict[str, DetectionCounts]
    per_scene: dict[str, dict[str, DetectionCounts]]
    misses: list[dict]

    def miss_counts(self) -> dict[str, int]:
        """How many misses of each cause (``MISS_CAUSES`` order, every cause present)."""
        return {cause: sum(m["cause"] == cause for m in self.misses) for cause in MISS_CAUSES}

    def miss_summary(self) -> str:
        """The counts in words ("2 shared site, 0 point too far, ..."), or "" when nothing was missed."""
        if not self.misses:
            return ""
        return ", ".join(f"{n} {cause.replace('_', ' ')}" for cause, n in self.miss_counts().items())


def evaluate_store(
    store: Store,
    labels_path: str | Path,
    config: DetectConfig | Mapping[str, DetectConfig],
    scene_ids: Sequence[str] | None = None,
    rule: MatchRule = OVERLAP,
) -> Evaluation:
    """Table 7 over scanned scenes: totals and per-scene counts, with and without the size filter, matched by
    ``rule`` (``scanner.eval.matching``: polygon overlap by default, or the site's point within reach), and why
    each missed label was missed. ``config`` is one setting for every scene, or one per scene id (each grid's
    own operating point).

    Only positive labels (``scanner.io.labels``) are expected candidates; a negative label is neither expected
    nor a false positive by itself (a detection on it is a false positive, as anywhere without a candidate).
    Labels of which no positive one lies inside the scanned scenes are refused (InputError): recall would be
    undefined and every detection a false positive, the mark of labels for another region or CRS.
    """
    labels = positive_labels(labels_path)
    ids = scanned_scenes(store, scene_ids)
    per_scene, misses, n_inside = {}, [], 0
    pairs = PairIndex(store)
    for scene_id in ids:
        prob, attrs = read_prob(store.root, scene_id)
        truth = scene_labels(labels, scene_id, prob, attrs, rule)
        n_inside += truth.n_inside
        setting = config if isinstance(config, DetectConfig) else config[scene_id]
        unfiltered = _grid_sites(store, scene_id, prob, attrs, setting, size_filtered=False, pairs=pairs)
        filtered = _grid_sites(store, scene_id, prob, attrs, setting, size_filtered=True, pairs=pairs)
        per_scene[scene_id] = table7(
            truth.expected, truth.sites(unfiltered), truth.sites(filtered), truth.hidden, rule
        )
        if truth.expected:
            before = (  # the sites no filter removed: without the support rule too
                _grid_sites(
                    store,
                    scene_id,
                    prob,
                    attrs,
                    dataclasses.replace(setting, min_support=0),
                    size_filtered=False,
                )
                if setting.min_support
                else unfiltered
            )
            cells = prob_grid(attrs)
            misses += truth.misses(filtered, before, prob, cells.transform, cells.crs_wkt)
    if not n_inside:
        raise _no_labels_inside(labels_path, labels, ids, "evaluated")
    totals = {
        case: sum((r[case] for r in per_scene.values()), DetectionCounts(0, 0, 0))
        for case in ("without_size_filter", "with_size_filter")
    }
    return Evaluation(totals, per_scene, misses)


def found_labels(
    store: Store,
    labels_path: str | Path,
    *,
    rule: MatchRule = OVERLAP,
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE,
    scene_ids: Sequence[str] | None = None,
) -> list[tuple[str, Label, bool]]:
    """Every visible (scene, label) pair of the scanned scenes and whether the scene's sites found the label,
    at each grid's operating point (``operating_config``: the model's threshold and minimum size) with the
    size filter, split at saddles of ``split_prominence`` (None = whole components), matched by ``rule``."""
    labels = positive_labels(labels_path)
    ids = scanned_scenes(store, scene_ids)
    pairs, index = [], PairIndex(store)
    for scene_id in ids:
        prob, attrs = read_prob(store.root, scene_id)
        truth = scene_labels(labels, scene_id, prob, attrs, rule)
        config, _ = resolve_config(
            attrs.get("operating_point"),
            store.scene(scene_id).grid.cell_area_m2,
            split_prominence=split_prominence,
        )
        sites = _grid_sites(store, scene_id, prob, attrs, config, size_filtered=True, pairs=index)
        found = truth.match(sites).found
        pairs += [(scene_id, lab, i in found) for i, lab in enumerate(truth.records)]
    if not pairs:
        raise _no_labels_inside(labels_path, labels, ids, "evaluated")
    return pairs


def recorded_point(store: Store, scene_ids: Sequence[str] | None = None) -> OperatingPoint:
    """The operating point the scanned grids record (the model's; ``OperatingPoint()`` when they record none);
    InputError when the grids of ``scene_ids`` record different ones."""
    ids = scanned_scenes(store, scene_ids)
    points = {json.dumps(read_prob(store.root, s)[1].get("operating_point"), sort_keys=True) for s in ids}
    if len(points) > 1:
        raise InputError(
            problem(
                f"store {store.root}",
                expected="grids that record one operating point (scanned with one model)",
                found=f"{len(points)} different points: {', '.join(sorted(points))}",
                fix="pass the scenes of one model (--scene), or give the minimum size explicitly",
            )
        )
    recorded = json.loads(points.pop())
    return OperatingPoint(**recorded) if recorded else OperatingPoint()


# ---------------------------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class Calibration:
    """A (threshold x minimum size) sweep over a labelled store and the setting the documented rule chose.

    ``rows``: one dict per setting (``threshold``, ``min_cells``, ``median_cells``, ``tp``, ``fn``, ``fp``,
    ``recall``, ``precision``), thresholds outer; ``chosen``: the row ``choose_setting`` picked, or None."""

    rows: list[dict]
    chosen: dict | None
    min_recall: float
    scenes: list[str]


def calibrate_store(
    store: Store,
    labels_path: str | Path,
    thresholds: Sequence[float] = CALIBRATION_THRESHOLDS,
    min_cells: Sequence[int] = CALIBRATION_MIN_CELLS,
    min_recall: float = VAL_MIN_RECALL,
    scene_ids: Sequence[str] | None = None,
    split_prominence: float | None = DEFAULT_SPLIT_PROMINENCE,
    rule: MatchRule = OVERLAP,
    min_support: Sequence[int] = CALIBRATION_MIN_SUPPORT,
) -> Calibration:
    """Site-level recall and precision of every (threshold, minimum size, minimum support) setting over scanned
    scenes, and the operating point ``scanner.eval.calibrate.choose_setting`` picks from them.

    Detection and matching are those of ``evaluate_store`` (and so of ``fringescan evaluate-scan`` and
    ``detect``): a setting keeps the sites (split at saddles of ``split_prominence``, None = whole components)
    of at least ``min_cells`` cells that ``min_support`` keeps (support from the store's other scanned pairs),
    as ``detect`` does with ``OperatingPoint(threshold, min_cells, min_support)``, matched by ``rule``. Labels
    with no positive one inside the scanned scenes are refused as there."""
    labels = positive_labels(labels_path)
    ids = scanned_scenes(store, scene_ids)
    settings = [(t, m, k) for t in thresholds for m in min_cells for k in min_support]
    sizes: dict[tuple[float, int], list[int]] = {(t, k): [] for t in thresholds for k in min_support}
    totals = {setting: DetectionCounts(0, 0, 0) for setting in settings}
    n_inside, index = 0, PairIndex(store)
    for scene_id in ids:
        prob, attrs = read_prob(store.root, scene_id)
        truth = scene_labels(labels, scene_id, prob, attrs, rule)
        n_inside += truth.n_inside
        for t in thresholds:
            config = DetectConfig(threshold=t, split_prominence=split_prominence)
            found = _grid_sites(store, scene_id, prob, attrs, config, size_filtered=False, pairs=index)
            cells = [int(f["properties"]["n_cells"]) for f in found]
            support = [(f["properties"]["support_pairs"], f["properties"]["support"]) for f in found]
            shapes = truth.sites(found)
            for k in min_support:
                backed = [Support(pairs, scoring).keeps(k) for pairs, scoring in support]
                sizes[(t, k)] += [n for n, ok in zip(cells, backed, strict=True) if ok]
                for m in min_cells:
                    kept = [g for g, n, ok in zip(shapes, cells, backed, strict=True) if n >= m and ok]
                    totals[(t, m, k)] = (
                        totals[(t, m, k)] + match(rule, truth.expected, kept, truth.hidden).counts
                    )
    if not n_inside:
        raise _no_labels_inside(labels_path, labels, ids, "calibration")
    rows = []
    for t, m, k in settings:
        kept = [n for n in sizes[(t, k)] if n >= m]
        rows.append(
            {
                "threshold": float(t),
                "min_cells": int(m),
                **({"min_support": int(k)} if tuple(min_support) != (0,) else {}),
                "median_cells": float(np.median(kept)) if kept else math.nan,
                **totals[(t, m, k)].to_dict(),
            }
        )
    return Calibration(rows, choose_setting(rows, min_recall), float(min_recall), ids)
