"""The training-set builder's I/O: read scene stores and labels, write and load the Zarr patch dataset.

``build_dataset`` samples patches with ``train.dataset`` and preprocesses each one with
``scanner.core.phase.preprocess`` on a read window grown by the filter's reach, so a stored patch holds exactly
the pixels the scanner feeds the model for a window at the same place.

Dataset layout (a Zarr v3 group, published by rename)::

    DATASET/
      patches      float32 (N, P, P, C)  P = 150 + 2 * margin_px, preprocessed model input
      label        uint8 (N,)            1 = landslide candidate (positive label), 0 = other (a random
                                         window, a negative label's or a mined hard negative)
      scene_index  int32 (N,)            index into attrs["fringescan"]["scenes"] (scene id, dates, fold, A)
      row, col     int32 (N,)            scene pixel the 150 px window is centred on
      slope_class  uint8 (N,)            0 flat, 1 slope (1 km mean slope >= 15 deg), 255 unknown
      fold         int8 (N,)             cross-validation fold of the sample's scene
      in_a         uint8 (N,)            1 when the scene belongs to Dataset A (B is every scene)
      attrs["fringescan"]: format, preprocess, pixel_size_m, wavelength_m, scenes, report, provenance
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import zarr
from rasterio.features import rasterize
from shapely.affinity import affine_transform
from shapely.geometry import box

from scanner import __version__
from scanner.core.phase import (
    SLOPE_CLASS_NODATA,
    PreprocessConfig,
    block_px,
    count_planes,
    expand_blocks,
    preprocess,
    slope_class_blocks,
    slope_deg,
)
from scanner.errors import InputError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, WAVELENGTH_TOLERANCE, PixelWindow
from scanner.io.artifact import DATASET_FORMAT, check_target
from scanner.io.checkpoint import publish_dir
from scanner.io.labels import Label, read_labels, reproject
from scanner.io.readers import sha256_file
from scanner.io.store import Scene, Store
from train.config import DatasetConfig
from train.dataset import (
    HALF,
    LABEL_CANDIDATE,
    LABEL_OTHER,
    assign_folds,
    label_free_windows,
    sample_others,
    slope_area_ratio,
    subset_a,
    usable_candidates,
    window_valid_fraction,
)

log = logging.getLogger(__name__)
FORMAT = DATASET_FORMAT
SCHEMA_VERSION = 1
PATCH_CHUNK = 64
"""Patches per Zarr chunk of ``patches`` (about 55 MB at 232 px and 4 channels)."""
SAMPLE_ARRAYS = ("label", "scene_index", "row", "col", "slope_class", "fold", "in_a")


# ------------------------------------------------------------------------------------------- labels


def label_centres(labels: list[Label], scene: Scene) -> np.ndarray:
    """Pixel ``(row, col)`` holding each label's centroid in the scene (``labels`` in any CRS)."""
    inverse = ~scene.grid.transform
    centres = []
    for label in reproject(labels, scene.grid.crs_wkt):
        point = label.geometry.centroid
        col, row = inverse * (point.x, point.y)
        centres.append((np.floor(row), np.floor(col)))  # the pixel holding the centre
    return np.array(centres, np.float64).reshape(-1, 2)


def label_mask(labels: list[Label], scene: Scene, buffer_px: float) -> np.ndarray:
    """uint8 ``(H, W)``: 1 on every scene pixel touched by a label's geometry (polygon or point, every class,
    visible in the scene or not) grown by ``buffer_px`` pixels, 0 elsewhere. The buffer is taken in pixel
    units (the geometry is moved onto the pixel grid first), so it means the same in any CRS."""
    to_pixels = ~scene.grid.transform
    matrix = [to_pixels.a, to_pixels.b, to_pixels.d, to_pixels.e, to_pixels.c, to_pixels.f]
    shapes = []
    for label in reproject(labels, scene.grid.crs_wkt):
        on_grid = affine_transform(label.geometry, matrix)
        shapes.append((on_grid.buffer(buffer_px) if buffer_px > 0 else on_grid, 1))
    shape = (scene.grid.height, scene.grid.width)
    if not shapes:
        return np.zeros(shape, np.uint8)
    return rasterize(shapes, out_shape=shape, fill=0, all_touched=True, dtype="uint8")


# ------------------------------------------------------------------------------------------- one scene


@dataclasses.dataclass
class ScenePatches:
    """One scene's samples: candidates, then negative-label windows, then random others (see ``scene_patches``);
    ``negative_label`` marks the class-0 windows centred on a negative label (the report counts them)."""

    patches: np.ndarray | None
    """None once the build has written them (``PatchSink``)."""
    labels: np.ndarray
    rows: np.ndarray
    cols: np.ndarray
    slope_class: np.ndarray
    slope_ratio: float | None
    negative_label: np.ndarray


def scene_slope_class(scene: Scene, valid: np.ndarray, threshold_deg: float) -> np.ndarray:
    """Per-pixel 1 km mean-slope class from the stored slope (or DEM); 255 everywhere without either."""
    pixel = scene.grid.pixel_size
    if scene.has("slope"):
        slope = scene.read("slope")
    elif scene.has("dem"):
        slope = slope_deg(scene.read("dem"), pixel.x_m, pixel.y_m)
    else:
        return np.full(valid.shape, SLOPE_CLASS_NODATA, np.uint8)
    block = block_px(pixel.mean_m)
    return expand_blocks(slope_class_blocks(slope, block, threshold_deg), block, valid.shape)


def extract_patches(
    scene: Scene, rows: np.ndarray, cols: np.ndarray, margin_px: int, config: PreprocessConfig
) -> np.ndarray:
    """Preprocessed ``(n, P, P, C)`` patches centred on ``(rows, cols)``, each from a window grown by the
    filter reach (``Scene.read`` fills outside the scene as invalid)."""
    pixel_m = scene.grid.pixel_size.mean_m
    reach = config.reach_px(pixel_m)
    side = 2 * (HALF + margin_px)
    grow = HALF + margin_px + reach
    extras_names = [n for n in ("coherence", "slope") if n in config.channels]
    out = np.zeros((len(rows), side, side, config.n_planes), np.float32)
    for i, (row, col) in enumerate(zip(rows, cols, strict=True)):
        window = PixelWindow(int(row) - grow, int(col) - grow, side + 2 * reach, side + 2 * reach)
        extras = {name: scene.read(name, window) for name in extras_names}
        image = preprocess(scene.read("phase", window), scene.read("valid", window), pixel_m, config, extras)
        out[i] = image[reach : reach + side, reach : reach + side]
    return out


def scene_patches(
    scene: Scene,
    labels: list[Label],
    config: DatasetConfig,
    preprocess_config: PreprocessConfig,
    rng: np.random.Generator,
) -> ScenePatches:
    """Candidate patches on the positive labels visible in ``scene``, negative patches (class 0) on its visible
    negative labels, both centred on the pixel holding the label's centroid, and slope-stratified random others
    kept away from every label, positive or negative: ``exclusion_px`` from each centroid, or with
    ``others_rule = "label_free"`` windows that touch no label grown by ``label_buffer_px`` (``label_mask``)."""
    valid = scene.read("valid")
    fraction = window_valid_fraction(valid)
    centres = label_centres(labels, scene)
    visible = np.array([lab.shows_in(scene.id) for lab in labels], bool).reshape(-1)
    positive = np.array([lab.positive for lab in labels], bool).reshape(-1)
    usable = usable_candidates(centres, fraction, config.min_valid_fraction) & visible
    cand = np.round(centres[usable & positive]).astype(np.int64).reshape(-1, 2)
    negative = np.round(centres[usable & ~positive]).astype(np.int64).reshape(-1, 2)
    slope_class = scene_slope_class(scene, valid, config.slope_threshold_deg)
    ratio = slope_area_ratio(slope_class, valid)
    others = sample_others(
        fraction,
        slope_class,
        centres,
        config.others_per_scene,
        slope_ratio=ratio,
        exclusion_px=config.exclusion_px,
        min_valid_fraction=config.min_valid_fraction,
        rng=rng,
        label_free=(
            label_free_windows(label_mask(labels, scene, config.label_buffer_px))
            if config.others_rule == "label_free"
            else None
        ),
    )
    labelled = np.concatenate([cand, negative])
    rows = np.concatenate([labelled[:, 0], others.rows])
    cols = np.concatenate([labelled[:, 1], others.cols])
    counts = (len(cand), len(negative), len(others.rows))
    labels_out = np.repeat([LABEL_CANDIDATE, LABEL_OTHER, LABEL_OTHER], counts).astype(np.uint8)
    on_negative = np.repeat([False, True, False], counts)
    classes = np.concatenate([slope_class[labelled[:, 0], labelled[:, 1]], others.slope_class])
    patches = extract_patches(scene, rows, cols, config.margin_px, preprocess_config)
    return ScenePatches(patches, labels_out, rows, cols, classes.astype(np.uint8), ratio, on_negative)


# ------------------------------------------------------------------------------------------- whole set


def _scene_physics(scenes: list[Scene]) -> tuple[float, float]:
    pixels = [s.grid.pixel_size.mean_m for s in scenes]
    waves = [s.attrs.get("wavelength_m") for s in scenes]
    if any(w is None for w in waves):
        raise InputError(
            problem(
                "scene wavelength",
                expected="wavelength_m in every scene's attributes",
                found=f"missing in {[s.id for s, w in zip(scenes, waves, strict=True) if w is None]}",
                fix="re-ingest with the radar wavelength recorded",
            )
        )
    pixel, wave = float(np.median(pixels)), float(np.median(waves))
    if (
        max(abs(p - pixel) / pixel for p in pixels) > PIXEL_SIZE_TOLERANCE
        or max(abs(w - wave) / wave for w in waves) > WAVELENGTH_TOLERANCE
    ):
        raise InputError(
            problem(
                "training scenes",
                expected="one pixel size (+-10%) and one wavelength (+-1%)",
                found=f"pixel sizes {sorted(set(round(p, 1) for p in pixels))} m, wavelengths "
                f"{sorted(set(waves))} m",
                fix="build one dataset per sensor and pixel size",
            )
        )
    return pixel, wave


def build_dataset(
    store_path: str | Path,
    labels_path: str | Path,
    out: str | Path,
    config: DatasetConfig,
    preprocess_config: PreprocessConfig,
    progress: Callable[[int, int], None] | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build and publish the dataset at ``out``; returns the report (also stored in the attributes).

    An existing dataset at ``out`` is replaced only with ``overwrite``; anything else there is refused
    before any work (``scanner.io.artifact.check_target``)."""
    check_target(out, "dataset", overwrite=overwrite)
    store = Store.open(store_path)
    scenes = [store.scene(s) for s in store.scene_ids()]
    if not scenes:
        raise InputError(
            problem(
                f"store {store_path}",
                expected="ingested scenes",
                found="none",
                fix="run fringescan ingest first",
            )
        )
    labels = read_labels(labels_path)
    pixel_m, wavelength_m = _scene_physics(scenes)
    folds = assign_folds([s.id for s in scenes], config.n_folds, config.seed)
    in_a = subset_a(folds, config.subset_a_fraction, config.seed)
    scene_table = [
        {
            "scene_id": s.id,
            "first_date": s.attrs.get("first_date"),
            "second_date": s.attrs.get("second_date"),
            "fold": folds[s.id],
            "in_a": s.id in in_a,
        }
        for s in scenes
    ]
    attrs = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "window_px": 2 * HALF,
        "margin_px": config.margin_px,
        "preprocess": dataclasses.asdict(preprocess_config),
        "pixel_size_m": pixel_m,
        "wavelength_m": wavelength_m,
        "config": dataclasses.asdict(config),
        "scenes": scene_table,
        "report": None,  # filled in once every scene is sampled
        "store": str(Path(store_path).absolute()),
        "labels": {
            "path": str(Path(labels_path).absolute()),
            "sha256": sha256_file(labels_path),
        },
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "fringescan_version": __version__,
    }
    n_negative_labels = sum(not lab.positive for lab in labels)

    def write(tmp: Path) -> None:
        group = zarr.create_group(str(tmp), zarr_format=3)
        sink = PatchSink(group, patch_shape(attrs))
        parts = []
        if progress:
            progress(0, len(scenes))
        for i, scene in enumerate(scenes):
            rng = np.random.default_rng([config.seed, 3, i])
            part = scene_patches(scene, labels, config, preprocess_config, rng)
            sink.append(part.patches)
            parts.append(dataclasses.replace(part, patches=None))
            del part  # before the next scene's patches are made: one scene's patches in memory at a time
            if progress:
                progress(i + 1, len(scenes))
        report = dataset_report(parts, scene_table, n_negative_labels=n_negative_labels)
        if report["n_candidates"] == 0:
            _refuse_no_candidates(labels_path, labels, scenes)
        attrs["report"] = report
        _write_group(group, parts, scene_table, attrs)

    publish_dir(Path(out), write, kind="dataset", overwrite=overwrite)
    return attrs["report"]


def labels_inside(labels: list[Label], scenes: list[Scene]) -> list[Label]:
    """The labels whose geometry meets the bounds of at least one scene."""
    inside = set()
    for scene in scenes:
        bounds = box(*scene.grid.bounds)
        for k, label in enumerate(reproject(labels, scene.grid.crs_wkt)):
            if label.geometry.intersects(bounds):
                inside.add(k)
    return [labels[k] for k in sorted(inside)]


def _refuse_no_candidates(labels_path: str | Path, labels: list[Label], scenes: list[Scene]) -> None:
    """A training set without one candidate window teaches nothing: refuse it, saying where the labels went."""
    positives = [lab for lab in labels if lab.positive]
    inside = labels_inside(positives, scenes)
    where = (
        "none inside any scene's bounds"
        if not inside
        else f"{len(inside)} inside a scene, but none visible there on a window of enough valid pixels"
    )
    raise InputError(
        problem(
            f"labels {labels_path}",
            expected="at least one positive label giving a candidate window in the store's scenes",
            found=f"{len(positives)} positive label(s) of {len(labels)}, {where}",
            fix="pass the labels of this store's region (in WGS84 unless the file's crs member says otherwise)"
            " or ingest the scenes they lie on",
        )
    )


def dataset_report(
    parts: list[ScenePatches], scenes: list[dict], *, n_negative_labels: int = 0
) -> dict[str, Any]:
    """Counts per class, origin and subset, and the scenes' slope/flat area ratio against the others' achieved one.

    ``n_others`` counts the random others only; the class-0 windows centred on negative labels are
    ``n_negative_windows`` (of the file's ``n_negative_labels``), so ``n_samples`` is the sum of the three.
    """
    labels = np.concatenate([p.labels for p in parts])
    on_negative = np.concatenate([p.negative_label for p in parts])
    classes = np.concatenate([p.slope_class for p in parts])
    random_others = (labels == LABEL_OTHER) & ~on_negative
    weights = [
        (p.slope_ratio, int(np.sum((p.labels == LABEL_OTHER) & ~p.negative_label)))
        for p in parts
        if p.slope_ratio is not None
    ]
    others = random_others & (classes != SLOPE_CLASS_NODATA)
    area_ratio = (
        float(np.average([r for r, _ in weights], weights=[max(n, 1) for _, n in weights]))
        if weights
        else None
    )
    in_a = np.concatenate([np.full(len(p.labels), s["in_a"]) for p, s in zip(parts, scenes, strict=True)])
    return {
        "n_samples": int(len(labels)),
        "n_candidates": int(np.sum(labels == LABEL_CANDIDATE)),
        "n_others": int(np.sum(random_others)),
        "n_negative_windows": int(np.sum(on_negative)),
        "n_candidates_a": int(np.sum((labels == LABEL_CANDIDATE) & in_a)),
        "n_others_a": int(np.sum(random_others & in_a)),
        "n_negative_windows_a": int(np.sum(on_negative & in_a)),
        "n_negative_labels": n_negative_labels,
        "n_scenes": len(scenes),
        "n_scenes_a": int(sum(s["in_a"] for s in scenes)),
        "scene_slope_area_ratio": area_ratio,
        "others_slope_ratio": float(np.mean(classes[others] == 1)) if others.any() else None,
    }


def _write_group(group: zarr.Group, parts: list[ScenePatches], scenes: list[dict], attrs: dict) -> None:
    """The per-sample arrays and attributes of a dataset whose patches are written (``PatchSink``)."""
    scene_index = np.concatenate([np.full(len(p.labels), i, np.int32) for i, p in enumerate(parts)])
    arrays = {
        "label": np.concatenate([p.labels for p in parts]).astype(np.uint8),
        "scene_index": scene_index,
        "row": np.concatenate([p.rows for p in parts]).astype(np.int32),
        "col": np.concatenate([p.cols for p in parts]).astype(np.int32),
        "slope_class": np.concatenate([p.slope_class for p in parts]).astype(np.uint8),
        "fold": np.array([scenes[i]["fold"] for i in scene_index], np.int8),
        "in_a": np.array([scenes[i]["in_a"] for i in scene_index], np.uint8),
    }
    _write_arrays(group, arrays, attrs)


def patch_shape(attrs: dict) -> tuple[int, int, int]:
    """``(P, P, C)`` of one stored patch: the 150 px window, the margin on each side and the planes its channels
    make (``phase_rgb`` makes three)."""
    side = int(attrs["window_px"]) + 2 * int(attrs["margin_px"])
    return side, side, count_planes(tuple(attrs["preprocess"]["channels"]))


class PatchSink:
    """Appends patches to a dataset group's ``patches`` array (``(0, P, P, C)`` at first) as they are made, so
    that a build holds one scene's patches in memory, not the whole set (about 0.86 MB a patch at 232 px and 4
    channels)."""

    def __init__(self, group: zarr.Group, shape: tuple[int, int, int]) -> None:
        self.array = group.create_array(
            "patches", shape=(0, *shape), dtype=np.float32, chunks=(PATCH_CHUNK, *shape)
        )

    def append(self, patches: np.ndarray) -> None:
        if len(patches):
            self.array.append(np.asarray(patches, np.float32), axis=0)


# ------------------------------------------------------------------------------------------- loading


@dataclasses.dataclass
class PatchDataset:
    """A dataset: arrays by name (see the module docstring) and its attributes. The per-sample arrays are in
    memory; ``patches`` is the Zarr array on disk (a numpy array for a dataset made in memory), read in rows
    (``take``) so that a training run holds only the patches it trains on."""

    arrays: dict[str, Any]
    attrs: dict[str, Any]

    @property
    def patches(self) -> zarr.Array | np.ndarray:
        return self.arrays["patches"]

    def take(self, index: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``patches[index]`` (rows, in ``index`` order) into ``out`` (a new array when None)."""
        return take_rows(self.patches, index, out)

    @property
    def labels(self) -> np.ndarray:
        return self.arrays["label"]

    def preprocess_config(self) -> PreprocessConfig:
        values = self.attrs["preprocess"]
        return PreprocessConfig(**{**values, "channels": tuple(values["channels"])})


def load_dataset(path: str | Path) -> PatchDataset:
    """Read a dataset written by ``build_dataset`` into memory."""
    try:
        group = zarr.open_group(str(path), mode="r", zarr_format=3)
        attrs = dict(group.attrs.get("fringescan", {}))
    except (FileNotFoundError, ValueError) as error:
        raise InputError(
            problem(
                f"dataset {path}",
                expected="a Zarr dataset written by `fringescan dataset`",
                found=f"{type(error).__name__}: {error}",
                fix="check the --dataset path",
            )
        ) from error
    if attrs.get("format") != FORMAT:
        raise InputError(
            problem(
                f"dataset {path}",
                expected=f'attributes with format "{FORMAT}"',
                found=repr(attrs.get("format")),
                fix="build it with `fringescan dataset`",
            )
        )
    arrays = {name: np.asarray(group[name][...]) for name in SAMPLE_ARRAYS}
    return PatchDataset(arrays={"patches": group["patches"], **arrays}, attrs=attrs)


def take_rows(array: zarr.Array | np.ndarray, index: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``array[index]`` along the first axis, in ``index`` order, into ``out`` (a new array when None).

    A Zarr array is read one chunk of rows at a time, each chunk once however many of its rows are taken, so
    memory beyond ``out`` is one chunk."""
    index = np.asarray(index, np.int64).reshape(-1)
    if out is None:
        out = np.empty((len(index), *array.shape[1:]), array.dtype)
    if isinstance(array, np.ndarray):
        return np.take(array, index, axis=0, out=out)
    rows = int(array.chunks[0])
    chunk_of = index // rows
    for chunk in np.unique(chunk_of):
        at = np.flatnonzero(chunk_of == chunk)
        start = int(chunk) * rows
        block = array[start : min(start + rows, array.shape[0])]
        out[at] = block[index[at] - start]
    return out


def copy_patches(source: zarr.Array | np.ndarray, sink: PatchSink) -> None:
    """Append every row of ``source`` to ``sink``, a few chunks at a time."""
    step = PATCH_CHUNK * 8
    for start in range(0, int(source.shape[0]), step):
        sink.append(np.asarray(source[start : start + step]))


# ------------------------------------------------------------------------------------------- hard negatives


def mine_hard_negatives(
    store_path: str | Path,
    labels_path: str | Path,
    dataset: PatchDataset,
    out: str | Path,
    prob_of: Callable[[str], np.ndarray | None],
    max_per_scene: int | None = None,
    *,
    overwrite: bool = False,
) -> int:
    """Publish at ``out`` a copy of ``dataset`` plus, for each of its scenes with a probability grid
    (``prob_of(scene_id)``, None = not scanned), the false-positive windows of ``train.mining`` as "others"
    with the folds and A/B flags of their scenes; returns how many windows were added. Only positive labels
    are candidates: the model firing on a negative label is a false positive like any other."""
    from train.mining import MAX_WINDOWS_PER_SCENE, hard_negative_windows

    check_target(out, "dataset", overwrite=overwrite)
    store = Store.open(store_path)
    candidates = [lab for lab in read_labels(labels_path) if lab.positive]
    config, pre = dataset.attrs["config"], dataset.preprocess_config()
    _check_mining_labels(
        labels_path, candidates, [store.scene(e["scene_id"]) for e in dataset.attrs["scenes"]]
    )
    added: dict[str, list[np.ndarray]] = {
        k: [] for k in ("patches", "row", "col", "scene_index", "slope_class")
    }
    for index, entry in enumerate(dataset.attrs["scenes"]):
        prob = prob_of(entry["scene_id"])
        if prob is None:
            continue
        scene = store.scene(entry["scene_id"])
        in_scene = reproject(candidates, scene.grid.crs_wkt)
        rows, cols = hard_negative_windows(
            prob,
            scene.grid.cell_grid().transform,
            [lab.geometry for lab in in_scene],
            label_centres(in_scene, scene),
            cell_area_m2=scene.grid.cell_area_m2,
            exclusion_px=config["exclusion_px"],
            max_windows=MAX_WINDOWS_PER_SCENE if max_per_scene is None else max_per_scene,
        )
        if not len(rows):
            continue
        classes = scene_slope_class(scene, scene.read("valid"), config["slope_threshold_deg"])
        added["patches"].append(extract_patches(scene, rows, cols, config["margin_px"], pre))
        added["row"].append(rows)
        added["col"].append(cols)
        added["scene_index"].append(np.full(len(rows), index, np.int32))
        added["slope_class"].append(classes[rows, cols])
    n = sum(len(r) for r in added["row"])
    arrays = {k: dataset.arrays[k] for k in SAMPLE_ARRAYS}
    if n:
        extra = {k: np.concatenate(v) for k, v in added.items() if k != "patches"}
        scenes = dataset.attrs["scenes"]
        extra["label"] = np.full(n, LABEL_OTHER, np.uint8)
        extra["fold"] = np.array([scenes[i]["fold"] for i in extra["scene_index"]], np.int8)
        extra["in_a"] = np.array([scenes[i]["in_a"] for i in extra["scene_index"]], np.uint8)
        arrays = {k: np.concatenate([v, extra[k].astype(v.dtype)]) for k, v in arrays.items()}
    attrs = {**dataset.attrs, "report": {**dataset.attrs.get("report", {}), "hard_negatives": n}}

    def write(tmp: Path) -> None:
        group = zarr.create_group(str(tmp), zarr_format=3)
        sink = PatchSink(group, patch_shape(attrs))
        copy_patches(dataset.patches, sink)
        for patches in added["patches"]:
            sink.append(patches)
        _write_arrays(group, arrays, attrs)

    publish_dir(Path(out), write, kind="dataset", overwrite=overwrite)
    return n


def _check_mining_labels(labels_path: str | Path, positives: list[Label], scenes: list[Scene]) -> None:
    """Refuse mining with labels whose positives all lie outside the dataset's scenes: the model firing on the
    real landslides there would be added as hard negatives (labels for another region or CRS)."""
    if not positives or labels_inside(positives, scenes):
        return  # without positives there is nothing to keep out (a file of negative labels only)
    raise InputError(
        problem(
            f"labels {labels_path}",
            expected="the training labels: positive labels inside the dataset's scenes, kept out of mining",
            found=f"{len(positives)} positive label(s), none inside any of the {len(scenes)} scenes",
            fix="pass the --labels the dataset was built from",
        )
    )


def _write_arrays(group: zarr.Group, arrays: dict[str, np.ndarray], attrs: dict) -> None:
    """The one-dimensional per-sample arrays (one chunk each) and the attributes."""
    for name, values in arrays.items():
        chunks = (max(len(values), 1),)
        array = group.create_array(name, shape=values.shape, dtype=values.dtype, chunks=chunks)
        if values.size:
            array[...] = values
    group.attrs.update({"fringescan": attrs})
