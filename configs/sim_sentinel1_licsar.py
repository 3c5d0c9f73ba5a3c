"""Simulator preset: Sentinel-1 C band as LiCSAR delivers it, on the 0.001 deg grid
(``fringescan synth --config sim_sentinel1_licsar --product licsar``).

configs/sim_sentinel1.py (C-band physics: wavelength, repeat, incidence, baselines, motion, decorrelation) with
what LiCSAR's grid changes:
- the scene is simulated at 90 m, close to the 0.001 deg pixel's east-west size in Japan (91 m at 35 N; the
  north-south size is 111 m), and ``--product licsar`` resamples it onto the 0.001 deg grid by nearest
  neighbour, as LiCSAR's geocoding does;
- landslide bodies of 0.5 to 4 km^2 instead of 0.16 to 2: on a 0.001 deg grid a 0.16 km^2 body is 16 pixels
  (4 x 4), too few to hold a readable fringe pattern for an expert or for a 150 px window of 15 km; the
  LiCSAR model is for the larger, deep-seated slides that this grid shows (the 28 m models find the small ones
  in finer products).
"""

import dataclasses

from configs.sim_sentinel1 import get_config as sentinel1


def get_config():
    return dataclasses.replace(sentinel1(), pixel_size_m=90.0, body_area_km2=(0.5, 4.0))
