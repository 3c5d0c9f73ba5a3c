"""scanner.core.multilook: the complex multilook equals a plain loop over the looks."""

from __future__ import annotations

import numpy as np
import pytest

from scanner.core.multilook import multilook


def test_multilook_function_matches_a_loop():
    rng = np.random.default_rng(3)
    phase = rng.uniform(-3, 3, (6, 8)).astype(np.float32)
    usable = rng.random((6, 8)) > 0.3
    out, valid = multilook(np.where(usable, phase, np.nan), usable, (2, 4))
    for i in range(3):
        for j in range(2):
            block = np.s_[2 * i : 2 * i + 2, 4 * j : 4 * j + 4]
            total = np.sum(np.exp(1j * phase[block].astype(np.float64))[usable[block]])
            assert valid[i, j] == (usable[block].sum() >= 4)
            if valid[i, j]:
                assert out[i, j] == pytest.approx(np.angle(total), abs=1e-6)
