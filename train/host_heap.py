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
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

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
