"""Checkpoint round trips, integrity checks, atomic publishing and the mismatch refusal."""

from __future__ import annotations

import json
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from scanner.core.phase import PreprocessConfig
from scanner.errors import InputError, ModelMismatchError, StoreError
from scanner.io.checkpoint import (
    META_NAME,
    ModelMeta,
    check_compatible,
    checkpoint_hash,
    load_checkpoint,
    publish_dir,
    read_meta,
    save_checkpoint,
)
from scanner.nn.model import ModelConfig, build_model

CONFIG = ModelConfig(name="alexnet_scan", conv_widths=(8, 16, 24, 24, 16), fc_width=32)


def _meta(**changes) -> ModelMeta:
    values = {
        "model_config": CONFIG,
        "preprocess": PreprocessConfig(),
        "pixel_size_m": 28.0,
        "wavelength_m": 0.236,
        "train_config": {"steps": 3},
    }
    values.update(changes)
    return ModelMeta(**values)


@pytest.mark.parametrize("name", ["alexnet", "alexnet_scan"])
def test_roundtrip_gives_same_logits(tmp_path: Path, name: str) -> None:
    config = ModelConfig(name=name, fc_width=16, conv_widths=(8, 16, 24, 24, 16))
    model = build_model(config, rngs=nnx.Rngs(7))
    model.eval()
    saved = save_checkpoint(tmp_path / "ckpt", model, _meta(model_config=config))
    loaded, meta = load_checkpoint(tmp_path / "ckpt")
    x = jnp.linspace(0, 1, 2 * 150 * 150).reshape(2, 150, 150, 1)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))
    assert meta == saved
    assert meta.model_config == config and meta.preprocess == PreprocessConfig()
    assert len(meta.params_sha256) == 64 and meta.fringescan_version


def test_metadata_json_follows_contract(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ckpt", build_model(CONFIG, rngs=nnx.Rngs(0)), _meta())
    values = json.loads((tmp_path / "ckpt" / META_NAME).read_text())
    for key in (
        "model",
        "model_config",
        "preprocess",
        "pixel_size_m",
        "wavelength_m",
        "params_sha256",
        "train_config",
        "created",
        "fringescan_version",
    ):
        assert key in values
    assert values["model"] == "alexnet_scan"
    assert values["preprocess"]["filter_size_m"] == 2000.0 and values["preprocess"]["quantize_levels"] == 16
    assert (tmp_path / "ckpt" / "params").is_dir()


def test_hash_changes_with_weights(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "a", build_model(CONFIG, rngs=nnx.Rngs(0)), _meta())
    save_checkpoint(tmp_path / "b", build_model(CONFIG, rngs=nnx.Rngs(1)), _meta())
    assert read_meta(tmp_path / "a").params_sha256 != read_meta(tmp_path / "b").params_sha256
    assert checkpoint_hash(tmp_path / "a") != checkpoint_hash(tmp_path / "b")
    assert checkpoint_hash(tmp_path / "a") == checkpoint_hash(tmp_path / "a")


def test_tampered_params_are_refused(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "ckpt", build_model(CONFIG, rngs=nnx.Rngs(0)), _meta())
    meta_path = tmp_path / "ckpt" / META_NAME
    values = json.loads(meta_path.read_text())
    values["params_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(values))
    with pytest.raises(InputError, match="corrupt"):
        load_checkpoint(tmp_path / "ckpt")


def test_missing_checkpoint_is_clear(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="fringescan-model.json"):
        load_checkpoint(tmp_path / "nothing")


def test_overwrite_replaces_and_failed_write_leaves_old(tmp_path: Path) -> None:
    target = tmp_path / "ckpt"
    save_checkpoint(target, build_model(CONFIG, rngs=nnx.Rngs(0)), _meta())
    first = checkpoint_hash(target)
    with pytest.raises(StoreError, match="pass --overwrite"):
        save_checkpoint(target, build_model(CONFIG, rngs=nnx.Rngs(1)), _meta())
    assert checkpoint_hash(target) == first
    save_checkpoint(target, build_model(CONFIG, rngs=nnx.Rngs(1)), _meta(), overwrite=True)
    second = checkpoint_hash(target)
    assert first != second

    def failing(tmp: Path) -> None:
        (tmp / "partial").write_text("x")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        publish_dir(target, failing, kind="model", overwrite=True)
    assert checkpoint_hash(target) == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_check_compatible_accepts_close_inputs() -> None:
    meta = _meta()
    check_compatible(meta, 28.0 * 1.09, 0.236 * 1.009, PreprocessConfig())


@pytest.mark.parametrize("wavelength", [0.2290, 0.2345, 0.23606, 0.2384, 0.2424])
def test_every_l_band_radar_fits_the_l_band_model(wavelength: float) -> None:
    """ALOS PALSAR, ALOS-2 PALSAR-2 (every mode, and the 0.229 m some processors record), ALOS-4, NISAR:
    one L-band model (issue 15: 0.229 m was refused by the old 1% tolerance)."""
    check_compatible(_meta(), 28.0, wavelength, PreprocessConfig())


def test_refusal_names_the_models_that_would_fit() -> None:
    with pytest.raises(ModelMismatchError, match="zoo models that fit: cband-28m"):
        check_compatible(_meta(), 28.0, 0.0555)  # an L-band model, a Sentinel-1 scene at 28 m
    with pytest.raises(ModelMismatchError, match="no zoo model fits: fringescan models"):
        check_compatible(_meta(), 100.0, 0.0555)  # ... on LiCSAR's grid, which no shipped model fits
    with pytest.raises(ModelMismatchError, match="zoo models that fit: lband-28m"):
        check_compatible(_meta(wavelength_m=0.0555), 28.0, 0.2384)  # a C-band model, an L-band scene


@pytest.mark.parametrize(
    "pixel,wavelength,preprocess,match",
    [
        (14.0, 0.236, None, "pixel size"),
        (31.5, 0.236, None, "pixel size"),
        (28.0, 0.0555, None, "4.25x the fringes"),
        (28.0, 0.2405 * 1.2, None, "radar wavelength"),
        (28.0 * 1.08, 0.236 / 1.05, None, "1.13x the fringes"),
        (28.0, None, None, "radar wavelength"),
        (28.0, 0.236, PreprocessConfig(filter_size_m=1000.0), "preprocessing"),
        (28.0, 0.236, PreprocessConfig(quantize_levels=8), "preprocessing"),
    ],
)
def test_check_compatible_refuses_mismatch(pixel, wavelength, preprocess, match) -> None:
    with pytest.raises(ModelMismatchError, match=match) as info:
        check_compatible(_meta(), pixel, wavelength, preprocess)
    assert "expected" in str(info.value) and "fix" in str(info.value)
