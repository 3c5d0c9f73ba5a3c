"""Simulator preset: the second generator variant, kept out of training (``fringescan synth --config
sim_variant``), for model selection and held-out figures (issue 18).

It is L band at 28 m like the home generator, with the same landslide bodies and motions, but other
families of terrain, atmosphere, coherence and processing (docs/simulator.md, "Generator variants and domain
randomisation"):
- terrain ``ridged``: two octaves of sharp ridges between rounded valleys (home: V-shaped valleys between
  rounded ridges), relief corner 6 km, 10% of mountain pixels steeper than 38 degrees;
- anisotropic turbulence: structures 1.5-3x longer along a random direction per pair (home: isotropic),
  exponent -2.4, 5-35 mm rms, and stronger stratification (2-8 cm/km);
- patchy decorrelation: a 1.5 km-scale field takes up to 60% of the coherence in about a third of the scene
  (fields, snow, works), and slower vegetation decorrelation (250 days);
- every pair Goldstein-filtered with alpha 0.4-0.8, 8 looks, incidence 28-42 degrees;
- ALOS-2's 14-day repeat from 2015 with pairs of 98-280 days (home: 46-day repeat from 2007, 92-276 days),
  and the region 200 km south of the home one, so that its scene ids and footprints never meet a home
  region's in one store.
"""

import dataclasses

from scanner.sim.config import SynthConfig


def get_config() -> SynthConfig:
    return dataclasses.replace(
        SynthConfig(),
        terrain="ridged",
        relief_corner_km=(6.0, 6.0),
        steep_slope_deg=38.0,
        turbulence_anisotropy=(1.5, 3.0),
        turbulence_exponent=-2.4,
        turbulence_rms_m=(0.005, 0.035),
        stratified_m_per_km=(0.02, 0.08),
        coherence_patches=(0.6, 0.6),
        vegetation_days=250.0,
        filter_fraction=1.0,
        filter_alpha=(0.4, 0.8),
        looks=8,
        incidence_deg=(28.0, 42.0),
        first_acquisition="2015-06-01",
        repeat_days=14,
        span_cycles=(7, 20),
        origin_y_m=3_800_000.0,
    )
