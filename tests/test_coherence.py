"""``scanner.sim.coherence``: decorrelation noise shrinks as coherence grows."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.sim.coherence import decorrelation_phase


@given(low=st.floats(0.05, 0.5), high=st.floats(0.55, 0.99))
@settings(max_examples=10, deadline=None)
def test_decorrelation_spread_shrinks_with_coherence(low, high):
    rng = np.random.default_rng(0)
    noisy = decorrelation_phase(np.full(20_000, low, np.float32), 16, rng)
    clean = decorrelation_phase(np.full(20_000, high, np.float32), 16, rng)
    assert np.abs(np.exp(1j * clean).mean()) > np.abs(np.exp(1j * noisy).mean())
    assert np.allclose(decorrelation_phase(np.ones(100, np.float32), 4, rng), 0.0, atol=1e-6)
