"""Model checkpoints on disk (I/O): metadata JSON plus an orbax checkpoint of the model parameters.

Layout (docs/contracts.md)::

    CKPT/
      fringescan-model.json   model name and config, preprocessing, pixel size, wavelength, params_sha256, ...
      params/                 orbax checkpoint of the nnx.State of the model's Params (as a pure dict)

A checkpoint is written into a temporary sibling directory and published by ``os.rename``, so a reader
never sees a half-written one. ``load_checkpoint`` rebuilds the network with ``scanner.nn.model.build_model`` and
verifies the parameters against the recorded ``params_sha256``. ``check_compatible`` is the one place that
decides whether a model may score a scene.

The same module stores the training loop's resumable states (``save_pytree`` / ``restore_pytree``), so orbax
is used in one place only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from flax import nnx

from scanner import __version__
from scanner.config import config_from_dict, require
from scanner.core.detect import OperatingPoint
from scanner.core.phase import PreprocessConfig
from scanner.errors import FringescanError, InputError, ModelMismatchError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, WAVELENGTH_TOLERANCE
from scanner.io.artifact import MODEL_MARKER, check_target
from scanner.io.readers import parse_json_file
from scanner.io.writers import staged_path, write_json
from scanner.io.zoo import fitting_models
from scanner.nn.model import ModelConfig, build_model
from scanner.sensors import fringe_density_ratio

META_NAME = MODEL_MARKER
PARAMS_DIR = "params"


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelMeta:
    """What a checkpoint promises about its inputs; ``params_sha256`` etc. are filled in by ``save_checkpoint``.

    ``operating_point``: the detection threshold and minimum site size the model was tuned for (its config's
    ``detect``); None for checkpoints written before it was recorded (detection then uses
    ``OperatingPoint()``, 0.5 and the paper's one-cell filter). Absent from the JSON when None, so the
    identity (``checkpoint_hash``) of older checkpoints is unchanged.
    """

    model_config: ModelConfig
    preprocess: PreprocessConfig
    pixel_size_m: float
    wavelength_m: float
    train_config: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    params_sha256: str = ""
    created: str = ""
    fringescan_version: str = ""
    operating_point: OperatingPoint | None = None

    def __post_init__(self) -> None:
        require(
            math.isfinite(self.pixel_size_m) and self.pixel_size_m > 0,
            "checkpoint pixel_size_m",
            expected="a positive size in metres",
            found=self.pixel_size_m,
            fix="record the training scenes' pixel size",
        )
        require(
            math.isfinite(self.wavelength_m) and self.wavelength_m > 0,
            "checkpoint wavelength_m",
            expected="a positive radar wavelength in metres",
            found=self.wavelength_m,
            fix="record the training scenes' wavelength (L band 0.236)",
        )

    def to_dict(self) -> dict:
        point = {} if self.operating_point is None else {"operating_point": self.operating_point.to_dict()}
        return {
            **point,
            "format": "fringescan-model",
            "model": self.model_config.name,
            "model_config": dataclasses.asdict(self.model_config),
            "preprocess": dataclasses.asdict(self.preprocess),
            "pixel_size_m": float(self.pixel_size_m),
            "wavelength_m": float(self.wavelength_m),
            "params_sha256": self.params_sha256,
            "train_config": dict(self.train_config),
            "created": self.created,
            "fringescan_version": self.fringescan_version,
        }

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelMeta:
        return cls(
            model_config=config_from_dict(ModelConfig, values["model_config"]),
            preprocess=config_from_dict(PreprocessConfig, values["preprocess"]),
            pixel_size_m=float(values["pixel_size_m"]),
            wavelength_m=float(values["wavelength_m"]),
            train_config=values.get("train_config") or {},
            params_sha256=values.get("params_sha256", ""),
            created=values.get("created", ""),
            fringescan_version=values.get("fringescan_version", ""),
            operating_point=(
                config_from_dict(OperatingPoint, values["operating_point"])
                if values.get("operating_point")
                else None
            ),
        )


# ---------------------------------------------------------------------------------------------- pytrees


def _to_host(tree: Any) -> Any:
    """Fully replicated / sharded jax arrays -> host numpy (a checkpoint does not depend on the device mesh)."""
    return jax.tree.map(lambda leaf: np.asarray(jax.device_get(leaf)), tree)


def save_pytree(path: str | Path, tree: Any) -> None:
    """Write a pytree of arrays as an orbax checkpoint at ``path`` (which must not exist)."""
    with ocp.StandardCheckpointer() as checkpointer:
        checkpointer.save(Path(path).absolute(), _to_host(tree))
        checkpointer.wait_until_finished()


def restore_pytree(path: str | Path, like: Any) -> Any:
    """Read an orbax checkpoint written by ``save_pytree``; ``like`` gives the tree structure, shapes and dtypes."""
    target = jax.tree.map(lambda leaf: np.zeros(np.shape(leaf), dtype=_dtype_of(leaf)), like)
    checkpointer = ocp.StandardCheckpointer()
    restored = checkpointer.restore(Path(path).absolute(), target)
    # Closed only after a successful restore: closing after a failed read (a truncated file) shuts orbax's
    # event loop while tensorstore still calls back into it, which prints a stray traceback.
    checkpointer.close()
    return restored


def _dtype_of(leaf: Any) -> np.dtype:
    return np.dtype(leaf.dtype) if hasattr(leaf, "dtype") else np.asarray(leaf).dtype


def tree_sha256(tree: Any) -> str:
    """Content hash of a pytree of arrays: key paths, dtypes, shapes and bytes in a canonical order."""
    digest = hashlib.sha256()
    leaves = jax.tree_util.tree_flatten_with_path(_to_host(tree))[0]
    for key_path, leaf in sorted(leaves, key=lambda item: jax.tree_util.keystr(item[0])):
        array = np.ascontiguousarray(leaf)
        digest.update(f"{jax.tree_util.keystr(key_path)}|{array.dtype.str}|{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def params_dict(model: nnx.Module) -> dict:
    """The model's trainable parameters as a pure nested dict of arrays."""
    return nnx.to_pure_dict(nnx.state(model, nnx.Param))


# ---------------------------------------------------------------------------------------------- publishing


def publish_dir(final: Path, write: Any, *, kind: str, overwrite: bool = False) -> None:
    """Call ``write(tmp_dir)`` on a fresh temporary sibling of ``final`` and rename it onto ``final``.

    ``final`` must be free or hold the same ``kind`` of artifact, which is replaced only with ``overwrite``
    (``scanner.io.artifact.check_target``, asked before and after ``write``): the old one is moved aside
    first and removed after. On error the temporary directory is deleted and ``final`` is unchanged
    (``scanner.io.writers.staged_path``).
    """
    final = Path(final).absolute()
    check_target(final, kind, overwrite=overwrite)
    with staged_path(final, replace=True) as tmp:
        tmp.mkdir()
        write(tmp)
        check_target(final, kind, overwrite=overwrite)


# ---------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(
    path: str | Path, model: nnx.Module, meta: ModelMeta, *, overwrite: bool = False
) -> ModelMeta:
    """Publish ``model``'s parameters and ``meta`` as the checkpoint directory ``path``; returns the final meta.

    An existing checkpoint at ``path`` is replaced only with ``overwrite``; anything else there is refused."""
    params = params_dict(model)
    meta = dataclasses.replace(
        meta,
        params_sha256=tree_sha256(params),
        created=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        fringescan_version=__version__,
    )

    def write(tmp: Path) -> None:
        save_pytree(tmp / PARAMS_DIR, params)
        (tmp / META_NAME).write_text(json.dumps(meta.to_dict(), indent=2, sort_keys=True) + "\n")

    publish_dir(Path(path), write, kind="model", overwrite=overwrite)
    return meta


def read_meta(path: str | Path) -> ModelMeta:
    """The metadata of the checkpoint at ``path`` without loading its parameters."""
    meta_path = Path(path) / META_NAME
    if not meta_path.is_file():
        raise InputError(
            problem(
                f"model checkpoint {path}",
                expected=f"a directory holding {META_NAME}",
                found="no such file",
                fix="pass a directory written by `fringescan train`",
            )
        )
    values = parse_json_file(
        meta_path,
        what=f"checkpoint metadata {meta_path}",
        expected="fringescan-model JSON",
        fix="re-export the checkpoint with `fringescan train`",
    )
    try:
        return ModelMeta.from_dict(values)
    except (KeyError, TypeError, AttributeError, ValueError, OverflowError, FringescanError) as error:
        raise InputError(
            problem(
                f"checkpoint metadata {meta_path}",
                expected="fringescan-model JSON",
                found=" ".join(f"{type(error).__name__}: {error}".split())[:240],
                fix="re-export the checkpoint with `fringescan train`",
            )
        ) from error


def load_checkpoint(path: str | Path) -> tuple[nnx.Module, ModelMeta]:
    """Rebuild the model recorded at ``path`` (in eval mode) and load its verified parameters.

    Every way a checkpoint can be damaged is a one-line ``InputError`` naming it: no ``params/``, an
    unreadable (truncated, corrupt) orbax checkpoint, parameters whose names or shapes are not those of the
    model the metadata describes (an edited ``model_config``), or parameters whose SHA-256 differs from the
    recorded ``params_sha256`` (a flipped bit)."""
    meta = read_meta(path)
    abstract = nnx.eval_shape(lambda: build_model(meta.model_config, rngs=nnx.Rngs(0)))
    like = nnx.to_pure_dict(nnx.state(abstract, nnx.Param))
    restored = _restore_params(Path(path), like)
    _check_shapes(Path(path), like, restored)
    found = tree_sha256(restored)
    if found != meta.params_sha256:
        raise InputError(
            problem(
                f"checkpoint parameters at {path}",
                expected=f"sha256 {meta.params_sha256} (recorded in {META_NAME})",
                found=found,
                fix="the checkpoint is corrupt or was edited; re-train or re-copy it",
            )
        )
    model = _model_with(abstract, restored, meta.model_config)
    model.eval()
    return model, meta


def _model_with(abstract: nnx.Module, params: Any, config: Any) -> nnx.Module:
    """The model of ``abstract`` (its ``nnx.eval_shape``) holding ``params``, without drawing initial values.

    Built eagerly, the random initialisers compile dozens of small XLA programs (about 15 s on a 2-core CPU),
    which every scan paid before its first tile could finish. Under ``jax.jit`` only the state that is not a
    parameter (the dropout streams, identical to an eager build's) is returned, so XLA drops the initialisers.
    """
    graphdef, like, _ = nnx.split(abstract, nnx.Param, ...)
    nnx.replace_by_pure_dict(like, jax.tree.map(jnp.asarray, params))
    rest = jax.jit(lambda: nnx.split(build_model(config, rngs=nnx.Rngs(0)), nnx.Param, ...)[2])()
    return nnx.merge(graphdef, like, rest)


def _restore_params(path: Path, like: Any) -> Any:
    """The parameters under ``path/params`` (orbax); a missing or unreadable checkpoint is an InputError."""
    params = path / PARAMS_DIR
    if not params.is_dir():
        raise InputError(
            problem(
                f"model checkpoint {path}",
                expected=f"its parameters in {PARAMS_DIR}/ (an orbax checkpoint)",
                found=f"no {PARAMS_DIR}/ directory",
                fix="copy the whole checkpoint directory, or re-train",
            )
        )
    previous = sys.unraisablehook
    sys.unraisablehook = _quiet_closed_loop(previous)
    try:
        restored = restore_pytree(params, like)
        sys.unraisablehook = previous
        return restored
    except Exception as error:  # orbax and tensorstore raise ValueError, OSError, KeyError, ... by cause
        # The filter stays: orbax's reads still in flight call back into its closed event loop later.
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(
            problem(
                f"checkpoint parameters at {path}",
                expected="a readable orbax checkpoint as `fringescan train` writes it",
                found=f"a corrupt or truncated one ({type(error).__name__}: {first[:300]})",
                fix="re-copy the checkpoint directory or re-train",
            )
        ) from error


def _quiet_closed_loop(hook: Any) -> Any:
    """``sys.unraisablehook`` that drops only "Event loop is closed" from orbax's reads still in flight after a
    failed restore (tensorstore calls back into the finished event loop), so a damaged checkpoint prints one
    line, not tracebacks; everything else goes to ``hook``."""

    def quiet(unraisable: Any) -> None:
        value = unraisable.exc_value
        if isinstance(value, RuntimeError) and str(value) == "Event loop is closed":
            return
        hook(unraisable)

    return quiet


def _check_shapes(path: Path, like: Any, restored: Any) -> None:
    """Refuse parameters whose names or shapes differ from the model the metadata describes."""
    expected = {
        jax.tree_util.keystr(k): tuple(np.shape(v)) for k, v in jax.tree_util.tree_leaves_with_path(like)
    }
    found = {
        jax.tree_util.keystr(k): tuple(np.shape(v)) for k, v in jax.tree_util.tree_leaves_with_path(restored)
    }
    if expected == found:
        return
    names = sorted(set(expected) ^ set(found)) or sorted(k for k in expected if expected[k] != found[k])
    name = names[0]
    raise InputError(
        problem(
            f"checkpoint parameters at {path}",
            expected=f"the model {META_NAME} describes ({name}: {expected.get(name, 'absent')})",
            found=f"{name}: {found.get(name, 'absent')} ({len(names)} parameter(s) differ)",
            fix=f"{META_NAME} was edited or belongs to another checkpoint; restore it or re-train",
        )
    )


def checkpoint_hash(path: str | Path) -> str:
    """Identity of a checkpoint: sha256 of its canonical metadata, which includes the parameters' sha256."""
    return meta_hash(read_meta(path))


def meta_hash(meta: ModelMeta) -> str:
    """``checkpoint_hash`` of a checkpoint whose metadata is ``meta``."""
    canonical = json.dumps(meta.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def same_parameters(meta: ModelMeta, grid_model: Mapping[str, Any], grid_point: Mapping | None) -> bool:
    """Whether a probability grid was scanned by the checkpoint ``meta`` describes, up to its operating point.

    ``grid_model`` is the grid's ``attrs["model"]``, ``grid_point`` its ``attrs["operating_point"]``. A grid
    scanned before ``write_operating_point`` changed the point records the identity of the metadata with the
    old point; the parameters (and so the probabilities) are the same."""
    recorded = grid_model.get("checkpoint_sha256")
    before = dataclasses.replace(
        meta, operating_point=config_from_dict(OperatingPoint, grid_point) if grid_point else None
    )
    return recorded in (meta_hash(meta), meta_hash(before))


def write_operating_point(path: str | Path, point: OperatingPoint) -> ModelMeta:
    """Record ``point`` as the operating point of the checkpoint at ``path`` (``fringescan calibrate``).

    Only ``operating_point`` changes: the parameters and their ``params_sha256`` stay, so ``load_checkpoint``
    still verifies them. ``fringescan-model.json`` is replaced atomically. The checkpoint's identity
    (``checkpoint_hash``) changes with the point, as it does for a point set at training time."""
    meta = dataclasses.replace(read_meta(path), operating_point=point)
    write_json(Path(path) / META_NAME, meta.to_dict(), indent=2, sort_keys=True)
    return meta


def check_compatible(
    meta: ModelMeta,
    pixel_size_m: float,
    wavelength_m: float | None,
    preprocess: PreprocessConfig | None = None,
) -> None:
    """Refuse (``ModelMismatchError``) to score data unlike the training data, by physics, not by name.

    Pixel size may differ by at most ``PIXEL_SIZE_TOLERANCE`` (10%: a landslide's size in windows), and the
    fringe density (phase per metre of line-of-sight motion, per pixel; ``scanner.sensors``) by at most
    ``WAVELENGTH_TOLERANCE`` (10%, see its docstring: every L-band radar fits an L-band model; C band at
    0.0555 m shows 4.25x the fringes of L band at 0.236 m and never does). A given ``preprocess`` must equal
    the model's. Each refusal names the zoo models that would fit the scene.
    """
    pixel_diff = abs(pixel_size_m - meta.pixel_size_m) / meta.pixel_size_m
    if pixel_diff > PIXEL_SIZE_TOLERANCE:
        raise ModelMismatchError(
            problem(
                "pixel size",
                expected=f"{meta.pixel_size_m:g} m +-{PIXEL_SIZE_TOLERANCE:.0%} (the model's training pixel size)",
                found=f"{pixel_size_m:g} m ({pixel_diff:.0%} off)",
                fix="multilook/resample the scene at ingest to the model's pixel size, or train a model at this "
                f"size ({_fitting(pixel_size_m, wavelength_m)})",
            )
        )
    if wavelength_m is None or not wavelength_m > 0:
        raise ModelMismatchError(
            problem(
                "radar wavelength",
                expected=f"{meta.wavelength_m:g} m (the model's)",
                found=repr(wavelength_m),
                fix="re-ingest the scene with --sensor NAME or --wavelength-m M (fringescan ingest --help)",
            )
        )
    ratio = fringe_density_ratio(
        scene_wavelength_m=wavelength_m,
        scene_pixel_m=pixel_size_m,
        model_wavelength_m=meta.wavelength_m,
        model_pixel_m=meta.pixel_size_m,
    )
    if abs(ratio - 1.0) > WAVELENGTH_TOLERANCE:
        raise ModelMismatchError(
            problem(
                "radar wavelength",
                expected=f"the fringe density of the model's {meta.wavelength_m:g} m at {meta.pixel_size_m:g} m "
                f"pixels, +-{WAVELENGTH_TOLERANCE:.0%}",
                found=f"{wavelength_m:g} m at {pixel_size_m:g} m pixels, which shows {ratio:.2f}x the fringes",
                fix=f"scan it with a model trained on this band ({_fitting(pixel_size_m, wavelength_m)}); "
                "docs/real-data.md says how to train one",
            )
        )
    if preprocess is not None and preprocess != meta.preprocess:
        raise ModelMismatchError(
            problem(
                "input preprocessing",
                expected=f"the model's {dataclasses.asdict(meta.preprocess)}",
                found=str(dataclasses.asdict(preprocess)),
                fix="drop the preprocessing overrides so the checkpoint's own settings are used",
            )
        )


def _fitting(pixel_size_m: float, wavelength_m: float | None) -> str:
    """The zoo models that would fit a scene, as words for an error message."""
    names = fitting_models(pixel_size_m, wavelength_m) if wavelength_m and wavelength_m > 0 else []
    return f"zoo models that fit: {', '.join(names)}" if names else "no zoo model fits: fringescan models"
