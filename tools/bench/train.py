"""Training throughput benchmark (BENCHMARKS.md "Training"): samples/s of Table 1's recipe at batch 50, JAX
against PyTorch, in one process, for the paper's ``alexnet`` (configs/paper.py) and the demo model
(configs/demo.py).

    .venv/bin/pip install torch==2.13.0              # the [bench] extra (a wheel on this machine)
    .venv/bin/python -m tools.bench.train            # both models, about 3-5 minutes on 2 shared cores
    .venv/bin/python -m tools.bench.train --models demo --reps 7 --steps 20
    .venv/bin/python -m tools.bench.train --devices 2  # JAX on 2 forced CPU devices (the data mesh splits 50)

JAX side: exactly what ``fringescan train`` runs per step: ``train.optim.make_optimizer`` (the config's Caffe
style: lr folded into momentum, biases 2x lr without decay) and ``train.loop.make_train_step`` (on-device
augmentation from stored patches of ``150 + 2 * dataset.margin_px`` px, dropout, cross-entropy, update),
batches placed with ``train.loop.data_mesh``'s sharding. Two timings: ``loop`` adds what ``train.loop.train``
does around the step (numpy batch -> device_put, the metrics read back to the host every step), ``loop lag1``
is the same but reads step s's metrics after dispatching step s+1 (host work overlaps the device), ``loop pool``
is the loop with ``train.loop.train``'s device-resident patch pool (the default on accelerators: only the
batch indices cross to the device; ``train.loop.make_pool_step``), ``step``
is the jitted step alone, dispatched back to back on one device-resident batch.

PyTorch side: the same layer shapes (``tools.bench.common.torch_twin``; ``alexnet``: conv1 11x11/4 unpadded,
conv2-5 padded like SAME, pools 3/2, fc 4096 x2 with dropout; ``alexnet_scan``: conv1 10x10/5, pool 3/2, conv2
5x5, pool 3/1, conv3-5 3x3, all VALID, fc1 2x2, fc2/fc3 1x1), ``torch.optim.SGD(momentum=0.9, weight_decay=5e-4)`` with the Caffe bias rule as
parameter groups (same cost either way), cross-entropy, on pre-cropped 150 px windows (no augmentation: the
JAX figure includes its augmentation, so the comparison favours PyTorch slightly), threads =
``os.cpu_count()``, default and channels-last layouts; the faster one is the baseline.

Repetitions are interleaved (JAX, torch default, torch channels-last, JAX, ...) so the shared machine's noise
hits every path alike; medians and the ratio JAX / best PyTorch are printed, and the ratio of the best
repetitions (the least disturbed by other processes: PyTorch's OpenMP threads suffer more than XLA's from an
oversubscribed machine, so on a busy machine the medians favour JAX).

On a GPU (``jax.default_backend() == "gpu"``) PyTorch trains on CUDA (pool and labels on the device, cuDNN
autotuning, TF32 matmuls as in JAX's default precision, ``torch.cuda.synchronize`` before the clock is read),
and the default steps per repetition are 30 (paper) and 50 (demo) so a repetition is not a few milliseconds.
Every JAX path ends its repetition on the host (metrics read back) or in ``block_until_ready``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from tools.bench.common import ROOT, on_gpu, torch_device, torch_sync, torch_twin

MODELS = {"paper": ROOT / "configs" / "paper.py", "demo": ROOT / "configs" / "demo.py"}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", choices=sorted(MODELS), default=["paper", "demo"])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions per path (median reported)")
    parser.add_argument(
        "--steps",
        type=int,
        default=0,
        help="steps per repetition (default: 3 paper, 20 demo on CPU; 30 paper, 50 demo on GPU)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per path before timing")
    parser.add_argument("--devices", type=int, default=1, help="forced JAX CPU devices (XLA_FLAGS)")
    return parser.parse_args()


def force_devices(count: int) -> None:
    """Must run before jax is imported: ``--xla_force_host_platform_device_count``."""
    if count > 1:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={count}".strip()


# ---------------------------------------------------------------------------------------------- JAX


def jax_runners(config, patch_px: int, seed: int = 0) -> dict[str, Callable[[int], None]]:
    """``{"loop": run(n), "step": run(n)}``: each runs ``n`` training steps of the real train step."""
    import jax
    import numpy as np
    from flax import nnx
    from jax.sharding import NamedSharding, PartitionSpec

    from scanner.nn.model import build_model, input_block
    from train.loop import data_mesh, make_pool_step, make_train_step
    from train.optim import make_optimizer

    batch = config.train.batch_size
    mesh = data_mesh(batch)
    replicated, sharded = NamedSharding(mesh, PartitionSpec()), NamedSharding(mesh, PartitionSpec("data"))
    model = build_model(config.model, rngs=nnx.Rngs(params=seed, dropout=seed + 1))
    model.train()
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    tx = make_optimizer(config.optim)
    state = {"params": params, "opt": tx.init(params)}
    state["params"], state["opt"] = jax.device_put((state["params"], state["opt"]), replicated)
    rest = jax.device_put(rest, replicated)
    step_fn = make_train_step(graphdef, tx, config.train.augment, input_block(config.model))
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 16, (4 * batch, patch_px, patch_px, config.model.in_channels)) / 15.0
    pool = pool.astype(np.float32)
    pool_labels = rng.integers(0, 2, 4 * batch).astype(np.int32)
    base_key = jax.random.key(seed)
    counter = {"step": 0}

    def host_batch() -> tuple[np.ndarray, np.ndarray]:
        index = rng.integers(0, len(pool), batch)
        return pool[index], pool_labels[index]

    fixed = jax.device_put(host_batch(), sharded)
    pool_step = make_pool_step(graphdef, tx, config.train.augment, input_block(config.model))
    device_pool = jax.device_put((pool, pool_labels), replicated)

    def one(patches, labels):
        key = jax.random.fold_in(base_key, counter["step"])
        counter["step"] += 1
        state["params"], state["opt"], metrics = step_fn(
            state["params"], state["opt"], rest, patches, labels, key
        )
        return metrics

    def run_loop(n: int) -> None:
        for _ in range(n):
            metrics = one(*jax.device_put(host_batch(), sharded))
            {k: float(v) for k, v in metrics.items()}

    def run_lagged(n: int) -> None:
        pending = None
        for _ in range(n):
            metrics = one(*jax.device_put(host_batch(), sharded))
            if pending is not None:
                {k: float(v) for k, v in pending.items()}
            pending = metrics
        {k: float(v) for k, v in pending.items()}

    def run_pool(n: int) -> None:  # train.loop.train with device_pool: only the indices cross over
        for _ in range(n):
            index = jax.device_put(rng.integers(0, len(pool), batch).astype(np.int32), sharded)
            key = jax.random.fold_in(base_key, counter["step"])
            counter["step"] += 1
            state["params"], state["opt"], metrics = pool_step(
                state["params"], state["opt"], rest, *device_pool, index, key
            )
            {k: float(v) for k, v in metrics.items()}

    def run_step(n: int) -> None:
        for _ in range(n):
            metrics = one(*fixed)
        jax.block_until_ready((state["params"], metrics))

    return {"loop": run_loop, "loop lag1": run_lagged, "loop pool": run_pool, "step": run_step}


# ---------------------------------------------------------------------------------------------- PyTorch


def torch_runners(config, seed: int = 0) -> dict[str, Callable[[int], None]]:
    """``{"default": run(n), "channels_last": run(n)}``: ``n`` SGD steps of the PyTorch twin."""
    import numpy as np
    import torch

    device = torch_device(torch)
    torch.manual_seed(seed)
    oc, batch = config.optim, config.train.batch_size
    rng = np.random.default_rng(seed)
    shape = (4 * batch, config.model.in_channels, 150, 150)
    pool = torch.from_numpy((rng.integers(0, 16, shape) / 15.0).astype(np.float32)).to(device)
    pool_labels = torch.from_numpy(rng.integers(0, 2, 4 * batch)).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()
    runners = {}
    for layout, fmt in (("default", torch.contiguous_format), ("channels_last", torch.channels_last)):
        net = torch_twin(config.model).to(device=device, memory_format=fmt).train()
        weights = [p for name, p in net.named_parameters() if not name.endswith("bias")]
        biases = [p for name, p in net.named_parameters() if name.endswith("bias")]
        opt = torch.optim.SGD(
            [
                {"params": weights, "weight_decay": oc.weight_decay},
                {"params": biases, "lr": oc.learning_rate * oc.bias_lr_mult, "weight_decay": 0.0},
            ],
            lr=oc.learning_rate,
            momentum=oc.momentum,
            weight_decay=oc.weight_decay,
        )

        def run(n: int, net=net, opt=opt, fmt=fmt) -> None:
            for _ in range(n):
                index = torch.from_numpy(rng.integers(0, len(pool), batch)).to(device)
                x = pool[index].contiguous(memory_format=fmt)
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(x), pool_labels[index])
                loss.backward()
                opt.step()
                float(loss.detach())
            torch_sync(torch, device)

        runners[layout] = run
    return runners


# ---------------------------------------------------------------------------------------------- driver


def bench_model(name: str, args: argparse.Namespace) -> dict[str, float]:
    """Median samples/s of every path for one config, repetitions interleaved."""
    from scanner.config import load_config
    from scanner.geo import WINDOW_PX
    from scanner.nn.model import flops_per_window

    config = load_config(MODELS[name], [])
    batch = config.train.batch_size
    defaults = (30, 50) if on_gpu() else (3, 20)
    steps = args.steps or defaults[0 if config.model.name == "alexnet" else 1]
    patch_px = WINDOW_PX + 2 * config.dataset.margin_px
    paths = {f"jax {k}": v for k, v in jax_runners(config, patch_px).items()}
    paths.update({f"torch {k}": v for k, v in torch_runners(config).items()})
    for run in paths.values():
        run(args.warmup)
    rates: dict[str, list[float]] = {k: [] for k in paths}
    for _ in range(args.reps):
        for key, run in paths.items():
            began = time.perf_counter()
            run(steps)
            rates[key].append(steps * batch / (time.perf_counter() - began))
    medians = {k: statistics.median(v) for k, v in rates.items()}
    mflop = flops_per_window(config.model, dense=False) / 1e6
    print(
        f"\n{name}: {config.model.name} {config.model.conv_widths} fc {config.model.fc_width}, batch {batch}, "
        f"{mflop:,.1f} MFLOP/window forward (~3x per training sample), {args.reps} reps x {steps} steps"
    )
    for key, value in medians.items():
        spread = f"{min(rates[key]):,.1f}-{max(rates[key]):,.1f}"
        print(
            f"  {key:20s} {value:9,.1f} samples/s  (range {spread}; {3 * mflop * value / 1e3:,.1f} GFLOP/s)"
        )
    best = max(("torch default", "torch channels_last"), key=medians.get)
    fastest = max(("torch default", "torch channels_last"), key=lambda k: max(rates[k]))
    for key in ("jax loop", "jax loop lag1", "jax loop pool", "jax step"):
        print(
            f"  {key} / {best}: {medians[key] / medians[best]:.2f}x (medians); "
            f"best rep / best rep ({fastest}): {max(rates[key]) / max(rates[fastest]):.2f}x"
        )
    return medians


def main() -> None:
    args = parse_args()
    force_devices(args.devices)
    import jax
    import torch

    devices = jax.local_devices()
    torch_on = torch.cuda.get_device_name() if on_gpu() and torch.cuda.is_available() else "CPU"
    print(
        f"jax {jax.__version__} on {jax.default_backend()} ({len(devices)} x {devices[0].device_kind}), "
        f"torch {torch.__version__} on {torch_on} ({os.cpu_count()} CPU threads), "
        f"{time.strftime('%Y-%m-%d %H:%M %Z')}"
    )
    for name in args.models:
        bench_model(name, args)


if __name__ == "__main__":
    main()
