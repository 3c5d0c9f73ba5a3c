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
from scanner.errors import InputError, ModelMismatchError, problem
from scanner.geo import PIXEL_SIZE_TOLERANCE, WAVELENGTH_TOLERANCE
from scanner.io.readers import parse_json_file
from scanner.io.writers import staged_path
from scanner.nn.model import ModelConfig, build_model

META_NAME = "fringescan-model.json"
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
            self.pixel_size_m > 0,
            "checkpoint pixel_size_m",
            expected="a positive size in metres",
            found=self.pixel_size_m,
            fix="record the training scenes' pixel size",
        )
        require(
            self.wavelength_m > 0,
            "checkpoint wavelength_m",
            expected="a positive radar wavelength in metres",
            found=self.wavelength_m,
            fix="record the training scenes' wavelength (L band 0.236)",
        )

    def to_dict(self) -> dict:
        point = (
            {}
            if self.operating_point is None
            else {"operating_point": dataclasses.asdict(self.operating_point)}
        )
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
    with ocp.StandardCheckpointer() as checkpointer:
        return checkpointer.restore(Path(path).absolute(), target)


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


def publish_dir(final: Path, write: Any) -> None:
    """Call ``write(tmp_dir)`` on a fresh temporary sibling of ``final`` and rename it onto ``final``.

    An existing ``final`` is moved aside first and removed after; on error the temporary directory is
    deleted and ``final`` is unchanged (``scanner.io.writers.staged_path``).
    """
    with staged_path(Path(final).absolute(), replace=True) as tmp:
        tmp.mkdir()
        write(tmp)


# ---------------------------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str | Path, model: nnx.Module, meta: ModelMeta) -> ModelMeta:
    """Publish ``model``'s parameters and ``meta`` as the checkpoint directory ``path``; returns the final meta."""
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

    publish_dir(Path(path), write)
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
    except (KeyError, TypeError, AttributeError) as error:
        raise InputError(
            problem(
                f"checkpoint metadata {meta_path}",
                expected="fringescan-model JSON",
                found=f"{type(error).__name__}: {error}",
                fix="re-export the checkpoint with `fringescan train`",
            )
        ) from error


def load_checkpoint(path: str | Path) -> tuple[nnx.Module, ModelMeta]:
    """Rebuild the model recorded at ``path`` (in eval mode) and load its verified parameters."""
    meta = read_meta(path)
    abstract = nnx.eval_shape(lambda: build_model(meta.model_config, rngs=nnx.Rngs(0)))
    restored = restore_pytree(Path(path) / PARAMS_DIR, nnx.to_pure_dict(nnx.state(abstract, nnx.Param)))
    found = tree_sha256(restored)
    if found != meta.params_sha256:
        raise InputError(
            problem(
                f"checkpoint parameters at {path}",
                expected=f"sha256 {meta.params_sha256}",
                found=found,
                fix="the checkpoint is corrupt or was edited; re-train or re-copy it",
            )
        )
    model = build_model(meta.model_config, rngs=nnx.Rngs(0))
    params = nnx.state(model, nnx.Param)
    nnx.replace_by_pure_dict(params, jax.tree.map(jnp.asarray, restored))
    nnx.update(model, params)
    model.eval()
    return model, meta


def checkpoint_hash(path: str | Path) -> str:
    """Identity of a checkpoint: sha256 of its canonical metadata, which includes the parameters' sha256."""
    canonical = json.dumps(read_meta(path).to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_compatible(
    meta: ModelMeta,
    pixel_size_m: float,
    wavelength_m: float | None,
    preprocess: PreprocessConfig | None = None,
) -> None:
    """Refuse (``ModelMismatchError``) to score data unlike the training data.

    Pixel size may differ by at most 10%, the radar wavelength by at most 1% (fringes per cm of motion scale
    with 1/wavelength: C band at 0.0555 m shows 4.25x the fringes of L band at 0.236 m, so an L-band model
    would read C-band fringes as a different landform), and a given ``preprocess`` must equal the model's.
    """
    pixel_diff = abs(pixel_size_m - meta.pixel_size_m) / meta.pixel_size_m
    if pixel_diff > PIXEL_SIZE_TOLERANCE:
        raise ModelMismatchError(
            problem(
                "pixel size",
                expected=f"{meta.pixel_size_m:g} m +-{PIXEL_SIZE_TOLERANCE:.0%} (the model's training pixel size)",
                found=f"{pixel_size_m:g} m ({pixel_diff:.0%} off)",
                fix="multilook/resample the scene at ingest to the model's pixel size, or train a model at this size",
            )
        )
    if wavelength_m is None or not wavelength_m > 0:
        raise ModelMismatchError(
            problem(
                "radar wavelength",
                expected=f"{meta.wavelength_m:g} m (the model's)",
                found=repr(wavelength_m),
                fix="record the wavelength at ingest (--wavelength-m)",
            )
        )
    ratio = meta.wavelength_m / wavelength_m
    if abs(ratio - 1.0) > WAVELENGTH_TOLERANCE:
        raise ModelMismatchError(
            problem(
                "radar wavelength",
                expected=f"{meta.wavelength_m:g} m +-{WAVELENGTH_TOLERANCE:.0%} (the model's)",
                found=f"{wavelength_m:g} m, which shows {ratio:.2f}x the fringes per cm of motion",
                fix="use a model trained on this band (C band has 4.25x the fringes per cm of L band)",
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
