"""train.host_heap: freed memory stays in the process (a second allocation of the same size costs no page
faults), which is what removed the training step's kernel time."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from train.host_heap import XLA_ALIGNMENT, aligned_empty, aligned_take, is_aligned, keep_freed_memory

PAGE = resource.getpagesize()


def _faults_touching(n_bytes: int) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    block = np.empty(n_bytes, np.uint8)
    block[::PAGE] = 1  # touch every page
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    del block
    return faults


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_a_freed_block_is_reused_without_page_faults() -> None:
    n_bytes = 64 * 2**20  # above glibc's largest mmap threshold (32 MiB): returned to the OS by default
    assert keep_freed_memory()
    _faults_touching(n_bytes)
    pages = n_bytes // PAGE
    assert _faults_touching(n_bytes) < pages // 10


def test_it_is_idempotent() -> None:
    assert keep_freed_memory() == keep_freed_memory()


def test_aligned_take_is_the_rows_on_an_aligned_buffer_that_xla_aliases() -> None:
    """``aligned_take`` equals fancy indexing, starts on a 64-byte boundary, and XLA's CPU client takes it
    without a copy (the premise of the training loop's CPU patch pool, train.loop.use_device_pool)."""
    import jax

    rng = np.random.default_rng(0)
    array = rng.random((9, 7, 5, 3), dtype=np.float32)[:, 1:]  # an unaligned, non-contiguous source
    index = np.array([4, 0, 4, 8])
    taken = aligned_take(array, index)
    np.testing.assert_array_equal(taken, array[index])
    assert is_aligned(taken) and taken.ctypes.data % XLA_ALIGNMENT == 0
    assert not is_aligned(array)
    on_device = jax.device_put(taken, jax.local_devices(backend="cpu")[0])
    assert on_device.unsafe_buffer_pointer() == taken.ctypes.data
    np.testing.assert_array_equal(np.asarray(on_device), array[index])


def test_aligned_empty_shapes_and_dtypes() -> None:
    for shape, dtype in (((1, 3), np.float32), ((5,), np.uint8), ((2, 3, 4), np.float16)):
        out = aligned_empty(shape, dtype)
        assert out.shape == shape and out.dtype == dtype and is_aligned(out)
