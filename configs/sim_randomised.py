"""Simulator preset: the home generator with domain randomisation, for training the default L-band model
(``fringescan synth --config sim_randomised``).

Every area and every pair draws its own terrain, atmosphere, coherence and processing from wide ranges around
the home generator (scanner/sim/config.py), so that a model trained on it cannot lean on any one setting
(docs/simulator.md, "Generator variants and domain randomisation"):
- terrain: each area fractal or ridged (home: fractal), relief corner 5-12 km (home: 8 km), 10% of mountain
  pixels steeper than 35-49 degrees (home: 42);
- atmosphere: turbulence 3-40 mm rms (home: 5-30), spectral exponent -8/3 +- 0.4, structures up to 2.5x longer
  along a random direction (home: isotropic), stratification up to 8 cm/km (home: 1-6), residual ramps up to
  6 mm/km (home: 3);
- coherence and processing: 6-32 looks (home: 16), peak coherence 0.80-0.95 (home: 0.95), patchy
  decorrelation taking up to 50% of the coherence (home: none), half the pairs Goldstein-filtered with alpha
  0.2-0.7 (home: none), incidence 30-45 degrees (home: 34-39).

The held-out variant (configs/sim_variant.py) is parameterised differently: at or past the edges of these
ranges (patches 60%, anisotropy up to 3x, every pair filtered up to alpha 0.8, 8 looks, slower vegetation
decorrelation), with its own seeds and region, and never trained on.
"""

import dataclasses

from scanner.sim.config import SynthConfig


def get_config() -> SynthConfig:
    return dataclasses.replace(
        SynthConfig(),
        terrain="mixed",
        relief_corner_km=(5.0, 12.0),
        steep_slope_spread_deg=7.0,
        turbulence_rms_m=(0.003, 0.04),
        turbulence_exponent_spread=0.4,
        turbulence_anisotropy=(1.0, 2.5),
        stratified_m_per_km=(0.0, 0.08),
        ramp_m_per_km=(0.0, 0.006),
        looks_range=(6, 32),
        coherence_max_spread=0.15,
        coherence_patches=(0.0, 0.5),
        filter_fraction=0.5,
        filter_alpha=(0.2, 0.7),
        incidence_deg=(30.0, 45.0),
    )
