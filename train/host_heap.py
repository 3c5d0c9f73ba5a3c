"""Keep the host heap's freed memory in the process, so XLA's per-step buffers stop costing page faults.

Measured on the 2-core CPU (docs/training.md, "CPU training speed"): glibc returned the training step's large
XLA buffers (conv1's im2col, activations, the host batch) to the kernel at every free (``mmap``/``munmap`` of
allocations above its mmap threshold, heap trimming, and per-thread arenas that fall back to ``mmap``), and
faulted them back in, zeroed, at the next step: about a third of the step's CPU time was in the kernel.
``keep_freed_memory`` tells glibc to serve every allocation from the main heap and never give it back, so the
peak of one step is reused by the next. Resident memory then stays at the step's peak (it does not grow).

It changes no numbers, only where memory comes from. Call it before JAX starts its CPU client (the thread
pool's threads pick their arena at their first allocation); later it still stops the ``mmap`` and trimming.
Without glibc (another libc, macOS) it does nothing.

``aligned_take`` copies rows of an array into a ``XLA_ALIGNMENT``-byte aligned buffer: XLA's CPU client takes
such a C-contiguous numpy array as a device array without copying it (``jax.device_put`` aliases it), so the
training loop keeps the whole patch set "on the device" at no memory cost and gathers each batch there
(``train.loop.use_device_pool``) instead of copying the batch on the host every step.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

import numpy as np

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
M_ARENA_MAX = -8
NEVER_TRIM = 2**31 - 1
"""Largest value ``mallopt`` takes (an int): 2 GiB of free heap top kept before any trim."""


def keep_freed_memory() -> bool:
    """Set glibc's ``mallopt`` so freed memory stays in the process; True when glibc took every setting."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    settings = ((M_ARENA_MAX, 1), (M_MMAP_MAX, 0), (M_TRIM_THRESHOLD, NEVER_TRIM))
    taken = all(mallopt(option, value) == 1 for option, value in settings)
    if not taken:
        log.debug("glibc refused a mallopt setting; the heap keeps its defaults")
    return taken


XLA_ALIGNMENT = 64
"""Byte alignment at which XLA's CPU client aliases a host buffer instead of copying it."""


def aligned_empty(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``XLA_ALIGNMENT``-byte boundary."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape, dtype=np.int64))
    raw = np.empty(count * dtype.itemsize + XLA_ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % XLA_ALIGNMENT
    return raw[start : start + count * dtype.itemsize].view(dtype).reshape(shape)


def aligned_take(array: np.ndarray, index: np.ndarray) -> np.ndarray:
    """``array[index]`` (rows along the first axis) copied into an ``aligned_empty`` array."""
    out = aligned_empty((len(index), *array.shape[1:]), array.dtype)
    np.take(array, np.asarray(index), axis=0, out=out)
    return out


def is_aligned(array: np.ndarray) -> bool:
    """Whether XLA's CPU client can alias ``array`` (C-contiguous, ``XLA_ALIGNMENT``-byte aligned)."""
    return bool(array.flags.c_contiguous and array.ctypes.data % XLA_ALIGNMENT == 0)
