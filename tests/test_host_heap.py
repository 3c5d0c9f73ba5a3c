"""train.host_heap: freed memory stays in the process (a second allocation of the same size costs no page
faults), which is what removed the training step's kernel time."""

from __future__ import annotations

import resource
import sys

import numpy as np
import pytest

from train.host_heap import keep_freed_memory

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
