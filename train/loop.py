"""The training loop: data-parallel SGD over the local devices, resumable through orbax checkpoints.

Device-count rule: a step always uses exactly ``batch_size`` samples, split evenly over a 1-D ``data`` mesh
of the largest number of the available devices that divides the batch size (batch 50: 2 of 2 devices,
2 of 4, 5 of 8). The optimizer trajectory therefore never depends on how many devices a machine has; devices
that do not fit are left idle (a warning says so). Parameters and optimizer state are replicated; XLA
inserts the gradient all-reduce. The patches go to the devices once and each step gathers its windows there
(``use_device_pool``): copied to an accelerator when they fit, aliased without a copy on the CPU when the
array is aligned (``train.host_heap.aligned_take``); otherwise each batch is cut on the host, the next one
while the current step runs.

A step is three jitted calls (``make_train_step``): the augmentation's source pixels (``step_pixels``), the
gather of the windows in the model's block order (``gather_step_blocks``, ``scanner.nn.model.input_block``),
and the forward/backward/update body.

Determinism and resume: the batch of step ``s`` and its augmentation and dropout keys are functions of
``(seed, s)`` only, so a run killed after its checkpoint at step ``k`` and started again reproduces the
uninterrupted run exactly: ``workdir/state/step_<k>`` holds the parameters and optimizer state.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp
from flax import nnx
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from scanner.config import config_to_dict
from scanner.errors import NumericalError, StoreError, problem
from scanner.io.readers import read_json
from scanner.io.writers import write_json
from scanner.nn.model import build_model, input_block
from scanner.progress import ProgressCallback
from train.augment import balanced_indices, gather_blocks, unblock, window_pixels
from train.config import AugmentConfig, ExperimentConfig
from train.host_heap import is_aligned, keep_freed_memory
from train.optim import learning_rate_schedule, make_optimizer

log = logging.getLogger(__name__)

STATE_DIR = "state"
METRICS_NAME = "metrics.jsonl"
RUN_NAME = "run.json"
KEEP_STATES = 2


@dataclass
class TrainResult:
    """The trained model (eval mode), the step it reached and where its metrics are."""

    model: nnx.Module
    step: int
    metrics_path: Path
    devices_used: int


def data_mesh(batch_size: int, devices: list | None = None) -> Mesh:
    """A 1-D ``data`` mesh over the largest number of ``devices`` that divides ``batch_size``."""
    devices = list(devices if devices is not None else jax.local_devices())
    count = max(n for n in range(1, len(devices) + 1) if batch_size % n == 0)
    if count < len(devices):
        log.warning("batch %d does not split over %d devices; using %d", batch_size, len(devices), count)
    return Mesh(np.array(devices[:count]), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


class EpochSampler:
    """Indices of the samples of step ``s``: epochs of ``balanced_indices`` seeded by ``(seed, epoch)``."""

    def __init__(self, labels: np.ndarray, samples_per_class: int | None, batch_size: int, seed: int) -> None:
        self.labels, self.per_class, self.batch_size, self.seed = labels, samples_per_class, batch_size, seed
        self._cache: dict[int, np.ndarray] = {}

    def epoch(self, number: int) -> np.ndarray:
        if number not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k >= number - 1}
            rng = np.random.default_rng([self.seed, number])
            self._cache[number] = balanced_indices(self.labels, self.per_class, rng)
        return self._cache[number]

    def batch(self, step: int) -> np.ndarray:
        length = len(self.epoch(0))
        positions = step * self.batch_size + np.arange(self.batch_size)
        return np.array([self.epoch(int(p // length))[p % length] for p in positions])


def _reseeded(rest: nnx.State, key: jax.Array) -> nnx.State:
    """``rest`` with every RNG stream's key replaced by ``fold_in(key, i)`` and its count reset."""
    flat, treedef = jax.tree_util.tree_flatten_with_path(rest)
    names = [jax.tree_util.keystr(path) for path, _ in flat]
    leaves = []
    for i, ((_, leaf), name) in enumerate(zip(flat, names, strict=True)):
        if "['rngs']['key']" in name:
            leaf = jax.random.fold_in(key, i)
        elif "['rngs']['count']" in name:
            leaf = jnp.zeros_like(leaf)
        leaves.append(leaf)
    return jax.tree_util.tree_unflatten(treedef, leaves)


def _step_body(graphdef: nnx.GraphDef, tx: optax.GradientTransformation) -> Callable:
    """The pure step ``(params, opt_state, rest, blocks, labels, key) -> (params, opt_state, metrics)`` on the
    augmented windows in block order (``gather_step_blocks``)."""

    def loss_fn(params: nnx.State, rest: nnx.State, x: jax.Array, labels: jax.Array, dropout_key: jax.Array):
        model = nnx.merge(graphdef, params, _reseeded(rest, dropout_key))
        logits = model(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, logits

    def step(params, opt_state, rest, blocks, labels, key):
        x = unblock(blocks)  # no copy: the model's conv1 cuts the windows into the same blocks
        (loss, logits), grads = jax.value_and_grad(loss_fn, has_aux=True)(
            params, rest, x, labels, step_keys(key)[1]
        )
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        accuracy = jnp.mean((jnp.argmax(logits, -1) == labels).astype(jnp.float32))
        grad_norm = optax.tree.norm(grads)
        return params, opt_state, {"loss": loss, "accuracy": accuracy, "grad_norm": grad_norm}

    return step


def step_keys(key: jax.Array) -> tuple[jax.Array, jax.Array]:
    """The augmentation key and the dropout key of a step's ``key``."""
    augmentation, dropout = jax.random.split(key)
    return augmentation, dropout


@partial(jax.jit, static_argnames=("patch_px", "augment", "block"))
def step_pixels(
    key: jax.Array, labels: jax.Array, *, patch_px: int, augment: AugmentConfig, block: int
) -> jax.Array:
    """The step's augmentation draws as ``train.augment.window_pixels``: a function of its key and labels."""
    return window_pixels(step_keys(key)[0], labels, patch_px, augment, block)


gather_step_blocks = jax.jit(gather_blocks)
"""The step's windows in block order (``train.augment.gather_blocks``)."""


def make_train_step(
    graphdef: nnx.GraphDef, tx: optax.GradientTransformation, augment: AugmentConfig, block: int = 1
) -> Callable:
    """The step ``(params, opt_state, rest, patches, labels, key, rows=None) -> (params, opt_state, metrics)``.

    ``rest`` is the model's non-parameter state (dropout RNG streams), reseeded from ``key`` every step.
    ``labels`` are the batch's; with ``rows`` the windows come from ``patches[rows]`` (a whole pool), else
    ``patches`` is the batch.
    ``block`` is the order in which the windows are gathered (``scanner.nn.model.input_block``).

    Three jitted calls: ``step_pixels``, ``gather_step_blocks`` and the step body (parameters and optimizer
    state donated). Kept apart because XLA fuses across them badly on the CPU (docs/training.md, "CPU training
    speed"): with the pixel arithmetic in the gather's program it is repeated for every channel (9 instead of
    3 ms per batch of 50 on one core), and with the gather in the step's program it is written as the matrix
    conv1 reads, element by element (8 ms).
    """
    body = jax.jit(_step_body(graphdef, tx), donate_argnums=(0, 1))

    def step(params, opt_state, rest, patches, labels, key, rows=None):
        pixels = step_pixels(key, labels, patch_px=patches.shape[1], augment=augment, block=block)
        return body(params, opt_state, rest, gather_step_blocks(patches, pixels, rows), labels, key)

    return step


def make_pool_step(
    graphdef: nnx.GraphDef, tx: optax.GradientTransformation, augment: AugmentConfig, block: int = 1
) -> Callable:
    """The same step fed from a device-resident patch pool:
    ``(params, opt_state, rest, pool, pool_labels, index, key)``; the batch's windows are gathered straight
    from the pool (``train.augment.gather_blocks`` with ``rows=index``), so no batch of patches is copied."""
    train_step = make_train_step(graphdef, tx, augment, block)
    take = jax.jit(lambda pool_labels, index: pool_labels[index])

    def step(params, opt_state, rest, pool, pool_labels, index, key):
        return train_step(params, opt_state, rest, pool, take(pool_labels, index), key, rows=index)

    return step


POOL_MEMORY_SHARE = 0.25
"""Largest share of a device's memory the patch pool may take (``device_pool=None``)."""


def use_device_pool(patches: np.ndarray, mesh: Mesh, wanted: bool | None) -> bool:
    """Whether the patches go to the devices once (``wanted``; None: decided here).

    On a GPU, building each batch on the host and copying it over costs far more than the step itself
    (docs/training.md: the loop ran at 0.15x PyTorch while the step ran at 1.45x): the pool is used when it
    fits in ``POOL_MEMORY_SHARE`` of the device. On the CPU the device is the host: the pool is used when XLA can
    alias the patches without a copy (one device and an aligned array, ``train.host_heap.aligned_take``, as
    ``fringescan train`` passes them; ``train`` checks that the alias happened), which saves copying each batch
    (about 5 ms of a 85 ms step on one core); otherwise batches are cut on the host, as a pool would double
    the patches' memory.
    """
    if wanted is not None:
        return wanted
    device = mesh.devices.flat[0]
    if device.platform == "cpu":
        return mesh.size == 1 and is_aligned(patches)
    stats = device.memory_stats() or {}
    limit = stats.get("bytes_limit", 0)
    return 0 < patches.nbytes <= POOL_MEMORY_SHARE * limit


# ------------------------------------------------------------------------------------------- checkpoints


def state_manager(workdir: Path) -> ocp.CheckpointManager:
    """Orbax's manager of the training states in ``workdir/state``: one folder per saved step, written to a
    temporary name and renamed when complete (a killed save leaves nothing a resume would read), the newest
    ``KEEP_STATES`` kept."""
    options = ocp.CheckpointManagerOptions(
        max_to_keep=KEEP_STATES, create=True, enable_async_checkpointing=False, cleanup_tmp_directories=True
    )
    return ocp.CheckpointManager((workdir / STATE_DIR).absolute(), options=options)


def _state_tree(params: Any, opt_state: Any) -> dict[str, np.ndarray]:
    leaves = jax.tree.leaves((params, opt_state))
    return {f"{i:05d}": np.asarray(jax.device_get(leaf)) for i, leaf in enumerate(leaves)}


def save_state(manager: ocp.CheckpointManager, step: int, params: Any, opt_state: Any) -> None:
    """Save the training state after ``step`` steps (synchronously: the step is durable on return)."""
    manager.save(step, args=ocp.args.StandardSave(_state_tree(params, opt_state)))
    manager.wait_until_finished()


def run_fingerprint(config: ExperimentConfig, patches: np.ndarray, labels: np.ndarray) -> str:
    """sha256 of the resolved config and the training data's shape and labels: what a resume must match."""
    digest = hashlib.sha256(json.dumps(config_to_dict(config), sort_keys=True, default=str).encode())
    digest.update(repr((patches.shape, str(patches.dtype))).encode())
    digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def claim_workdir(workdir: Path, fingerprint: str) -> None:
    """Record the run's fingerprint in ``workdir``, or refuse a workdir that holds another run's state."""
    path = workdir / RUN_NAME
    recorded = read_json(path, None)
    if recorded is None:
        write_json(path, {"fingerprint": fingerprint})
    elif recorded.get("fingerprint") != fingerprint:
        raise StoreError(
            problem(
                f"training work folder {workdir}",
                expected="the saved state of this same config and dataset (to resume it)",
                found=f"the state of another run (fingerprint {str(recorded.get('fingerprint'))[:12]})",
                fix="pass a new --workdir (or --out), or delete the old work folder to start afresh",
            )
        )


def restore_state(manager: ocp.CheckpointManager, params: Any, opt_state: Any) -> tuple[int, Any, Any]:
    """The newest saved state, shaped like ``(params, opt_state)``; step 0 and the inputs when none."""
    step = manager.latest_step()
    if step is None:
        return 0, params, opt_state
    leaves, treedef = jax.tree.flatten((params, opt_state))
    like = {key: np.zeros(value.shape, value.dtype) for key, value in _state_tree(params, opt_state).items()}
    tree = manager.restore(step, args=ocp.args.StandardRestore(like))
    params, opt_state = jax.tree.unflatten(treedef, [tree[f"{i:05d}"] for i in range(len(leaves))])
    log.info("resuming from %s (step %d)", manager.directory, step)
    return int(step), params, opt_state


# ------------------------------------------------------------------------------------------- the loop


def train(
    config: ExperimentConfig,
    patches: np.ndarray,
    labels: np.ndarray,
    workdir: str | Path,
    *,
    devices: list | None = None,
    progress: ProgressCallback | None = None,
    device_pool: bool | None = None,
) -> TrainResult:
    """Train ``config.model`` on stored patches ``(N, P, P, C)`` with 0/1 ``labels``; resumes from ``workdir``.

    ``device_pool``: keep every patch on the devices and gather batches there (``use_device_pool``; None
    decides by platform and size). The batches, keys and updates are the same either way.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    tc = config.train
    keep_freed_memory()  # before the first device call starts XLA's threads (train.host_heap)

    # Set up mesh
    mesh = data_mesh(tc.batch_size, devices)
    replicated = NamedSharding(mesh, PartitionSpec())
    sharded = NamedSharding(mesh, PartitionSpec("data"))

    # Model, optimizer, resume
    model = build_model(config.model, rngs=nnx.Rngs(params=tc.seed, dropout=tc.seed + 1))
    model.train()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(config.optim)
    opt_state = tx.init(params)
    claim_workdir(workdir, run_fingerprint(config, patches, labels))
    states = state_manager(workdir)
    start, params, opt_state = restore_state(states, params, opt_state)
    params, opt_state = jax.device_put((params, opt_state), replicated)
    rest = jax.device_put(rest, replicated)
    labels = np.asarray(labels).astype(np.int32)
    pool = None
    if use_device_pool(patches, mesh, device_pool):
        pool = jax.device_put((patches, labels), replicated)
        if device_pool is None and mesh.devices.flat[0].platform == "cpu" and not _aliases(pool[0], patches):
            log.debug("XLA copied the patches instead of aliasing them; cutting batches on the host")
            pool = None
    if pool is not None:
        pool_step = make_pool_step(graphdef, tx, tc.augment, input_block(config.model))

        def feed(index: np.ndarray) -> Any:
            return jax.device_put(index.astype(np.int32), sharded)

        def run(params, opt_state, rest, index, key):
            return pool_step(params, opt_state, rest, *pool, index, key)

    else:
        host_step = make_train_step(graphdef, tx, tc.augment, input_block(config.model))

        def feed(index: np.ndarray) -> Any:
            return jax.device_put((patches[index], labels[index]), sharded)

        def run(params, opt_state, rest, batch, key):
            return host_step(params, opt_state, rest, *batch, key)

    sampler = EpochSampler(labels, tc.samples_per_class, tc.batch_size, tc.seed)
    schedule = learning_rate_schedule(config.optim)
    base_key = jax.random.key(tc.seed)

    # Train loop
    try:
        metrics_path = workdir / METRICS_NAME
        _truncate_metrics(metrics_path, start)
        with metrics_path.open("a") as metrics_file:
            if progress is not None:
                progress(
                    start, tc.steps
                )  # the bar knows the total (and a resumed start) before step 1 compiles
            fed = feed(sampler.batch(start)) if start < tc.steps else None
            for step in range(start, tc.steps):
                began = time.perf_counter()
                params, opt_state, metrics = run(
                    params, opt_state, rest, fed, jax.random.fold_in(base_key, step)
                )
                if step + 1 < tc.steps:  # the next batch is cut on the host while this step runs
                    fed = feed(sampler.batch(step + 1))
                record = {
                    "step": step + 1,
                    "lr": float(schedule(step)),
                    **{k: float(v) for k, v in metrics.items()},
                    "seconds": time.perf_counter() - began,
                }
                _check_finite(record, step)
                metrics_file.write(json.dumps(record) + "\n")
                if (step + 1) % tc.checkpoint_every == 0 or step + 1 == tc.steps:
                    metrics_file.flush()
                    save_state(states, step + 1, params, opt_state)
                if progress is not None:
                    progress(step + 1, tc.steps)
    finally:
        states.close()

    # Final model
    final = nnx.merge(graphdef, jax.tree.map(jnp.asarray, jax.device_get(params)), rest)
    final.eval()
    return TrainResult(model=final, step=tc.steps, metrics_path=metrics_path, devices_used=mesh.size)


def _aliases(device_array: jax.Array, host: np.ndarray) -> bool:
    """Whether a single-device array shares the memory of ``host`` (a zero-copy ``device_put``)."""
    shards = device_array.addressable_shards
    return len(shards) == 1 and shards[0].data.unsafe_buffer_pointer() == host.ctypes.data


def _check_finite(record: dict, step: int) -> None:
    if not (np.isfinite(record["loss"]) and np.isfinite(record["grad_norm"])):
        raise NumericalError(
            problem(
                f"training loss at step {step + 1}",
                expected="a finite number",
                found=f"loss {record['loss']}, gradient norm {record['grad_norm']}",
                fix=f"lower optim.learning_rate (now {record['lr']:g}) or check the inputs "
                "for NaN; the last good state is under state/",
            )
        )


def _truncate_metrics(path: Path, start: int) -> None:
    """Drop metric lines past ``start`` (written by a run killed after its last checkpoint)."""
    if not path.exists():
        return
    lines = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= start]
    path.write_text("".join(line + "\n" for line in lines))
