"""The default recipe (configs/demo.py) for LiCSAR's 0.001 deg grid (about 90 x 111 m pixels in Japan).

One change, of scale only: a random "other" window must lie ``exclusion_px = 47`` pixels from every label's
centre, the same 4.2 km that configs/demo.py's 150 px keep at 28 m. At 150 px (about 14 km at this spacing)
nearly every hillslope lies within 150 px of some landslide, so the 28 m rule left no "others" on slopes at
all, and a model would learn "slope means landslide".

    python -m tools.zoo cband-licsar --out out/zoo/cband-licsar    (the zoo model's whole recipe)
"""

import dataclasses

from configs.demo import get_config as demo


def get_config():
    base = demo()
    return dataclasses.replace(base, dataset=dataclasses.replace(base.dataset, exclusion_px=47))
