"""Training loop: data-parallel over 1, 2 and 4 devices, resume == uninterrupted, metrics, NaN refusal."""

from __future__ import annotations

import json
from pathlib import Path

import jax
import numpy as np
import pytest
from flax import nnx

from scanner.errors import NumericalError, StoreError
from scanner.nn.model import ModelConfig
from train.config import ExperimentConfig, OptimConfig, TrainConfig
from train.host_heap import aligned_take
from train.loop import EpochSampler, _aliases, data_mesh, train, use_device_pool

MODEL = ModelConfig(name="alexnet_scan", conv_widths=(4, 8, 8, 8, 8), fc_width=16)


def _config(**train) -> ExperimentConfig:
    values = {"steps": 4, "batch_size": 8, "checkpoint_every": 2, "seed": 3}
    values.update(train)
    return ExperimentConfig(model=MODEL, train=TrainConfig(**values))


def _data(n: int = 24) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    patches = (rng.integers(0, 16, (n, 170, 170, 1)) / 15).astype(np.float32)
    labels = (np.arange(n) % 4 == 0).astype(np.uint8)
    return patches, labels


def _params(model) -> list[np.ndarray]:
    return [np.asarray(x) for x in jax.tree.leaves(nnx.state(model, nnx.Param))]


def test_mesh_rule() -> None:
    devices = jax.local_devices()
    assert len(devices) == 4  # tests/conftest.py forces 4 CPU devices
    assert data_mesh(50, devices).size == 2
    assert data_mesh(48, devices).size == 4
    assert data_mesh(50, devices[:2]).size == 2
    assert data_mesh(7, devices).size == 1


def test_sampler_is_balanced_deterministic_and_keeps_labels() -> None:
    labels = np.array([1, 0, 0, 0, 0, 0, 0, 1, 0, 0])
    a, b = EpochSampler(labels, None, 5, seed=1), EpochSampler(labels, None, 5, seed=1)
    steps = [a.batch(s) for s in range(8)]  # 40 samples = 2 epochs of 2 x 8
    np.testing.assert_array_equal(np.concatenate(steps), np.concatenate([b.batch(s) for s in range(8)]))
    epoch = np.concatenate(steps[: 16 // 5])
    assert abs(np.mean(labels[np.concatenate(steps)]) - 0.5) < 0.1
    assert set(epoch) <= set(range(10))


def test_data_parallel_matches_one_device(tmp_path: Path) -> None:
    patches, labels = _data()
    config = _config(steps=2, checkpoint_every=100)
    base = train(config, patches, labels, tmp_path / "one", devices=jax.local_devices()[:1])
    assert base.devices_used == 1
    for n_devices in (2, 4):
        result = train(
            config, patches, labels, tmp_path / f"n{n_devices}", devices=jax.local_devices()[:n_devices]
        )
        assert result.devices_used == n_devices
        for ours, ref in zip(_params(result.model), _params(base.model), strict=True):
            np.testing.assert_allclose(ours, ref, rtol=2e-5, atol=2e-6)


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    patches, labels = _data()
    config = _config(steps=4, checkpoint_every=2)
    full = train(config, patches, labels, tmp_path / "full", devices=jax.local_devices()[:2])

    def killer(done: int, total: int) -> None:
        if done == 3:  # killed after the step-2 checkpoint, mid-way to the next one
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(config, patches, labels, tmp_path / "killed", devices=jax.local_devices()[:2], progress=killer)
    calls: list[tuple[int, int]] = []
    resumed = train(
        config,
        patches,
        labels,
        tmp_path / "killed",
        devices=jax.local_devices()[:2],
        progress=lambda done, total: calls.append((done, total)),
    )
    assert calls == [(2, 4), (3, 4), (4, 4)]  # the bar learns the resumed start and the total before step 3
    for ours, ref in zip(_params(resumed.model), _params(full.model), strict=True):
        np.testing.assert_array_equal(ours, ref)
    lines = [json.loads(line) for line in (tmp_path / "killed" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "lr", "grad_norm"} <= set(lines[0])


def test_training_reduces_loss_on_separable_data(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    labels = (np.arange(32) % 2).astype(np.uint8)
    patches = rng.random((32, 170, 170, 1)).astype(np.float32) * 0.1
    patches[labels == 1] += 0.8  # candidates are bright
    config = ExperimentConfig(
        model=MODEL,
        optim=OptimConfig(learning_rate=0.01),
        train=TrainConfig(steps=30, batch_size=8, checkpoint_every=100),
    )
    train(config, patches, labels, tmp_path / "run")
    lines = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert np.mean([r["loss"] for r in lines[-5:]]) < np.mean([r["loss"] for r in lines[:5]])


def test_nan_stops_with_clear_error(tmp_path: Path) -> None:
    patches, labels = _data()
    patches[:] = np.nan
    with pytest.raises(NumericalError, match="step 1.*expected a finite number"):
        train(_config(), patches, labels, tmp_path / "nan")


def test_workdir_of_another_run_is_refused(tmp_path: Path) -> None:
    patches, labels = _data()
    train(
        _config(steps=2, checkpoint_every=2),
        patches,
        labels,
        tmp_path / "work",
        devices=jax.local_devices()[:1],
    )
    # fewer steps into the same work folder used to return the old parameters silently
    with pytest.raises(StoreError, match="another run.*fix: pass a new --workdir"):
        train(
            _config(steps=1, checkpoint_every=1),
            patches,
            labels,
            tmp_path / "work",
            devices=jax.local_devices()[:1],
        )
    with pytest.raises(StoreError, match="another run"):
        train(
            _config(steps=2, checkpoint_every=2),
            patches,
            1 - labels,
            tmp_path / "work",
            devices=jax.local_devices()[:1],
        )


def test_device_pool_trains_like_host_batches(tmp_path: Path) -> None:
    """The device-resident pool (the default on accelerators) gathers the same batches on the device."""
    patches, labels = _data()
    config = _config(steps=3, checkpoint_every=100)
    devices = jax.local_devices()[:2]
    host = train(config, patches, labels, tmp_path / "host", devices=devices, device_pool=False)
    pooled = train(config, patches, labels, tmp_path / "pool", devices=devices, device_pool=True)
    for ours, ref in zip(_params(pooled.model), _params(host.model), strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)
    host_metrics = [json.loads(line) for line in host.metrics_path.read_text().splitlines()]
    pool_metrics = [json.loads(line) for line in pooled.metrics_path.read_text().splitlines()]
    assert [m["loss"] for m in pool_metrics] == pytest.approx([m["loss"] for m in host_metrics], rel=1e-6)


def test_cpu_pool_aliases_aligned_patches_and_trains_like_host_batches(tmp_path: Path) -> None:
    """On one CPU device an aligned patch array becomes the pool without a copy (``use_device_pool`` decides
    by itself), and training from it gives the host batches' parameters; unaligned arrays and several devices
    keep host batches."""
    patches, labels = _data()
    aligned = aligned_take(patches, np.arange(len(patches)))
    one = data_mesh(8, jax.local_devices()[:1])
    assert use_device_pool(aligned, one, None)
    assert not use_device_pool(patches[:, 1:], one, None)  # not contiguous: a pool would be a copy
    assert not use_device_pool(aligned, data_mesh(8, jax.local_devices()[:2]), None)
    assert _aliases(jax.device_put(aligned, one.devices.flat[0]), aligned)
    config = _config(steps=3, checkpoint_every=100)
    devices = jax.local_devices()[:1]
    host = train(config, patches, labels, tmp_path / "host", devices=devices, device_pool=False)
    pooled = train(config, aligned, labels, tmp_path / "pool", devices=devices)
    for ours, ref in zip(_params(pooled.model), _params(host.model), strict=True):
        np.testing.assert_allclose(ours, ref, rtol=1e-6, atol=1e-7)
