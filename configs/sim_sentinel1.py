"""Simulator preset: Sentinel-1 C band at 28 m (``fringescan synth --config sim_sentinel1``).

What changes from the L-band default (scanner/sim/config.py, argued in docs/simulator.md):
- wavelength 0.0555 m (Sentinel-1 C-SAR, 5.405 GHz): one fringe is 2.8 cm of line-of-sight motion, so the same
  atmosphere in metres gives 4.25x the phase of L band;
- 6-day repeat, pairs of 6 to 24 days (span_cycles 1-4), the short pairs a nightly C-band service uses;
  acquisitions from 2017 (the Sentinel-1A/B era);
- incidence 30-46 degrees (IW swath), the orbital tube's small baselines (+-150 m);
- landslide motion per pair 0.005-0.04 m downslope (slow slides move about 1-5 cm a month; over 6-24 days that is
  up to about 1.4 fringes of C band, the same fringe counts the L-band preset gives over months);
- faster temporal decorrelation over vegetation (vegetation_days 60 instead of 400: C band decorrelates within
  weeks over forest, L band over months).
"""

import dataclasses

from scanner.sim.config import SynthConfig


def get_config() -> SynthConfig:
    return dataclasses.replace(
        SynthConfig(),
        wavelength_m=0.0555,
        repeat_days=6,
        span_cycles=(1, 4),
        first_acquisition="2017-01-03",
        incidence_deg=(30.0, 46.0),
        perp_baseline_m=(-150.0, 150.0),
        downslope_m=(0.005, 0.04),
        vegetation_days=60.0,
    )
