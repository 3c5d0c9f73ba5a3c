"""Simulator preset: Sentinel-1 C band at 28 m (``fringescan synth --config sim_sentinel1``).

What changes from the L-band default (scanner/sim/config.py, argued in docs/simulator.md):
- wavelength 0.0555 m (Sentinel-1 C-SAR, 5.405 GHz): one fringe is 2.8 cm of line-of-sight motion, so the same
  atmosphere in metres gives 4.25x the phase of L band;
- 12-day repeat (Sentinel-1A alone, as since Sentinel-1B's loss in December 2021) and pairs of 24 to 48 days
  (span_cycles 2-4), the longer pairs of LiCSAR's network (each epoch is paired with its 3-4 neighbours) and
  the ones a C-band landslide service reads: slow slides of 0.3-0.6 m a year (1-5 cm a month) move 2-8 cm
  downslope in them, about 0.4 to 1.5 fringes in the line of sight. In a 6-12-day pair the same slides move
  under half a fringe (0.4 to 1.4 cm), inside this simulator's turbulent atmosphere at landslide scale (about
  0.5-1 cm between points 500 m apart): measured, a model trained on 6-24-day pairs found such slides only at
  a precision under 0.1 (docs/accuracy.md, "Sentinel-1 C band");
- acquisitions from 2022;
- incidence 30-46 degrees (IW swath), the orbital tube's small baselines (+-150 m);
- faster temporal decorrelation over vegetation (vegetation_days 60 instead of 400: C band decorrelates within
  weeks over forest, L band over months).
"""

import dataclasses

from scanner.sim.config import SynthConfig


def get_config() -> SynthConfig:
    return dataclasses.replace(
        SynthConfig(),
        wavelength_m=0.0555,
        repeat_days=12,
        span_cycles=(2, 4),
        first_acquisition="2022-01-04",
        incidence_deg=(30.0, 46.0),
        perp_baseline_m=(-150.0, 150.0),
        downslope_m=(0.02, 0.08),
        vegetation_days=60.0,
    )
