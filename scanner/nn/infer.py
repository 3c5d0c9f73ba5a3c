"""Jitted, sharded evaluation of a model over a tile: the one place the scan kernel is jitted.

Device work only, no I/O. A tile's model input is an array ``(10n + 140, 10m + 140, C)`` (``scanner.core.tiling``);
the result is the class-1 probability of each of its ``n x m`` windows (window ``(i, j)`` starts at pixel
``(10i, 10j)``).

Two paths, one jitted function each (``jax.jit`` caches by function object, so a mode is never a flag):

- ``window``: any model. Windows are cut on the device with ``lax.dynamic_slice`` under ``vmap`` (no host
  copies), in fixed-shape batches; the last batch is padded and masked, so nothing recompiles.
- ``dense``: ``alexnet_scan`` only. ``model.dense`` scores a whole tile at once; the tile is cut into
  overlapping row strips (one or more per device) that are scored in one sharded call.

Every call pads the tile to the nominal tile shape, so edge tiles reuse the compiled function. Batches and
strips are sharded over all local devices with ``jax.shard_map`` on a one-axis mesh (no ``pmap``).
Following the Flax examples, the model is ``nnx.split`` once and a pure ``predict(graphdef, state, ...)``
is jitted.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P

from scanner.config import require
from scanner.core.prep_device import DevicePrep, preprocess_raw
from scanner.core.tiling import window_origins
from scanner.geo import STRIDE_PX, WINDOW_PX

PATHS = ("window", "dense")
DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}
AXIS = "batch"
HALO_PX = WINDOW_PX - STRIDE_PX


@dataclass(frozen=True, kw_only=True)
class InferConfig:
    """How a tile is evaluated: ``path`` (window|dense), windows per batch, compute dtype, tile shape.

    ``tile_cells`` is the nominal tile side in cells: every tile is padded to it so one compiled function
    serves the whole scan. ``strip_cells`` caps the rows of one dense strip (memory of the dense pass).
    ``device_prep`` (dense path only): tiles arrive raw and are preprocessed in the kernel
    (``scanner.core.prep_device``), each side ``device_prep.reach_px`` larger than the model input.
    """

    path: str = "dense"
    batch_size: int = 64
    dtype: str = "float32"
    tile_cells: int = 50
    strip_cells: int = 50
    device_prep: DevicePrep | None = None

    def __post_init__(self) -> None:
        require(
            self.path in PATHS,
            "scan path",
            expected=f"one of {PATHS}",
            found=self.path,
            fix="use --path dense (alexnet_scan) or --path window (any model)",
        )
        require(self.batch_size >= 1, "batch size", expected=">= 1", found=self.batch_size, fix="e.g. 64")
        require(
            self.dtype in DTYPES,
            "compute dtype",
            expected=f"one of {tuple(DTYPES)}",
            found=self.dtype,
            fix="use float32 or bfloat16",
        )
        require(
            self.device_prep is None or self.path == "dense",
            "device preprocessing",
            expected="the dense path",
            found=self.path,
            fix="use --prep host with --path window",
        )
        require(
            self.tile_cells >= 1 and self.strip_cells >= 1,
            "tile/strip cells",
            expected=">= 1",
            found=(self.tile_cells, self.strip_cells),
            fix="e.g. 50",
        )


def make_mesh(devices: Sequence[jax.Device] | None = None) -> jax.sharding.Mesh:
    """A one-axis mesh over ``devices`` (default: every local device)."""
    devices = list(devices if devices is not None else jax.local_devices())
    return jax.make_mesh(
        (len(devices),), (AXIS,), axis_types=(jax.sharding.AxisType.Explicit,), devices=devices
    )


def _cast_state(state: nnx.State, dtype: jnp.dtype) -> nnx.State:
    return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, state)


def _class1_prob(logits: jax.Array) -> jax.Array:
    return jax.nn.softmax(logits.astype(jnp.float32), axis=-1)[..., 1]


def _window_kernel(graphdef: nnx.GraphDef, dtype: jnp.dtype) -> Callable:
    """Per-device body: cut windows at ``origins`` from a replicated tile and score them."""

    def body(state: nnx.State, tile: jax.Array, origins: jax.Array, mask: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, state)
        channels = tile.shape[-1]

        def cut(origin: jax.Array) -> jax.Array:
            return jax.lax.dynamic_slice(tile, (origin[0], origin[1], 0), (WINDOW_PX, WINDOW_PX, channels))

        windows = jax.vmap(cut)(origins).astype(dtype)
        return jnp.where(mask, _class1_prob(model(windows)), jnp.nan)

    return body


def _dense_kernel(graphdef: nnx.GraphDef, dtype: jnp.dtype, prep: DevicePrep | None) -> Callable:
    """Per-device body: the dense pass over a batch of strips (raw strips are preprocessed first)."""

    def body(state: nnx.State, strips: jax.Array) -> jax.Array:
        model = nnx.merge(graphdef, state)
        if prep is not None:
            strips = jax.vmap(lambda raw: preprocess_raw(raw, prep))(strips)
        return _class1_prob(model.dense(strips.astype(dtype)))

    return body


class Predictor:
    """Scores tiles with one model: ``predict_tile(x, n, m) -> (n, m)`` float32 class-1 probabilities."""

    def __init__(self, model: nnx.Module, config: InferConfig, *, mesh: jax.sharding.Mesh | None = None):
        if config.path == "dense":
            require(
                hasattr(model, "dense"),
                "dense scan path",
                expected="an alexnet_scan model",
                found=type(model).__name__,
                fix="use --path window for this checkpoint",
            )
        self.config = config
        self.mesh = mesh if mesh is not None else make_mesh()
        self.n_devices = self.mesh.size
        model.eval()
        dtype = DTYPES[config.dtype]
        graphdef, state = nnx.split(model)
        replicated = NamedSharding(self.mesh, P())
        self._state = jax.device_put(_cast_state(state, dtype), replicated)
        self._replicated = replicated
        self._sharded = NamedSharding(self.mesh, P(AXIS))
        self.batch_size = math.ceil(config.batch_size / self.n_devices) * self.n_devices
        spec_state = P()
        if config.path == "window":
            body = jax.shard_map(
                _window_kernel(graphdef, dtype),
                mesh=self.mesh,
                in_specs=(spec_state, P(), P(AXIS), P(AXIS)),
                out_specs=P(AXIS),
            )
        else:
            body = jax.shard_map(
                _dense_kernel(graphdef, dtype, config.device_prep),
                mesh=self.mesh,
                in_specs=(spec_state, P(AXIS)),
                out_specs=P(AXIS),
            )
        self._fn = jax.jit(body)

    def lower(self, n: int | None = None, m: int | None = None) -> jax.stages.Lowered:
        """The lowered kernel for one call (XLA ``cost_analysis`` in the benchmark)."""
        n = n or self.config.tile_cells
        m = m or self.config.tile_cells
        side = (STRIDE_PX * n + HALO_PX + self._raw_margin, STRIDE_PX * m + HALO_PX + self._raw_margin)
        x = np.zeros((*side, self._channels()), np.float32)
        return self._fn.lower(*self._arguments(x, n, m)[0][0])

    @property
    def _raw_margin(self) -> int:
        """Extra pixels per axis of a raw tile (device preprocessing crops the filter's reach on each side)."""
        prep = self.config.device_prep
        return 0 if prep is None else 2 * prep.reach_px

    def _channels(self) -> int:
        if self.config.device_prep is not None:
            return len(self.config.device_prep.raw_names)
        leaves = jax.tree.leaves(self._state)
        kernel = next(a for a in leaves if a.ndim == 4)
        return int(kernel.shape[2])

    def predict_tile(self, x: np.ndarray, n: int, m: int) -> np.ndarray:
        """Class-1 probability ``(n, m)`` of the windows of a model-input tile ``(10n+140, 10m+140, C)``.

        With ``device_prep`` the tile is raw (``DevicePrep.raw_names`` planes) and ``2 * reach_px`` larger.
        """
        margin = self._raw_margin
        expected = (STRIDE_PX * n + HALO_PX + margin, STRIDE_PX * m + HALO_PX + margin)
        assert x.shape[:2] == expected, (x.shape, expected)
        calls, assemble = self._arguments(x, n, m)
        return assemble([np.asarray(self._fn(*args)) for args in calls])

    def _arguments(self, x: np.ndarray, n: int, m: int) -> tuple[list[tuple], Callable]:
        tn, tm = max(n, self.config.tile_cells), max(m, self.config.tile_cells)
        if self.config.path == "window":
            padded = _pad_to(x, STRIDE_PX * tn + HALO_PX, STRIDE_PX * tm + HALO_PX)
            return self._window_arguments(padded, n, m)
        return self._dense_arguments(x, n, m, tn, tm)

    def _window_arguments(self, padded: np.ndarray, n: int, m: int) -> tuple[list[tuple], Callable]:
        tile = jax.device_put(padded, self._replicated)
        origins = window_origins(n, m)
        total = len(origins)
        batches = max(1, math.ceil(total / self.batch_size))
        full = np.zeros((batches * self.batch_size, 2), np.int32)
        full[:total] = origins
        mask = np.arange(len(full)) < total
        calls = []
        for b in range(batches):
            part = slice(b * self.batch_size, (b + 1) * self.batch_size)
            sharded = jax.device_put((full[part], mask[part]), self._sharded)
            calls.append((self._state, tile, *sharded))

        def assemble(outputs: list[np.ndarray]) -> np.ndarray:
            return np.concatenate(outputs)[:total].reshape(n, m).astype(np.float32)

        return calls, assemble

    def _dense_arguments(
        self, x: np.ndarray, n: int, m: int, tn: int, tm: int
    ) -> tuple[list[tuple], Callable]:
        # as few strips as strip_cells allows (a multiple of the devices), sharing the rows evenly: a 84-cell
        # tile is two strips of 42 cells, not 64 + a padded 64
        n_strips = math.ceil(tn / (self.config.strip_cells * self.n_devices)) * self.n_devices
        per_strip = math.ceil(tn / n_strips)
        strip_px = STRIDE_PX * per_strip + HALO_PX + self._raw_margin
        width_px = STRIDE_PX * tm + HALO_PX + self._raw_margin
        if n_strips == 1:
            strips = _pad_to(x, strip_px, width_px)[None]
        else:  # one copy: each strip straight from the tile, zeros past its end
            strips = np.zeros((n_strips, strip_px, width_px, x.shape[2]), np.float32)
            for k in range(n_strips):
                part = x[STRIDE_PX * per_strip * k : STRIDE_PX * per_strip * k + strip_px]
                strips[k, : part.shape[0], : part.shape[1]] = part
        calls = [(self._state, jax.device_put(strips, self._sharded))]

        def assemble(outputs: list[np.ndarray]) -> np.ndarray:
            probs = outputs[0].reshape(-1, outputs[0].shape[2])
            return probs[:n, :m].astype(np.float32)

        return calls, assemble


def _pad_to(x: np.ndarray, height: int, width: int) -> np.ndarray:
    """``x`` (float32) zero-padded at the bottom and right to ``height x width``; no copy when it fits."""
    if x.shape[:2] == (height, width) and x.dtype == np.float32:
        return np.ascontiguousarray(x)
    padded = np.zeros((height, width, x.shape[2]), np.float32)
    padded[: x.shape[0], : x.shape[1]] = x
    return padded
