"""The default recipe (configs/demo.py) for LiCSAR's 0.001 deg grid (about 90 x 111 m pixels in Japan).

One change, of scale: a random "other" window lies at least ``exclusion_px = 20`` pixels (1.8 km, more than
the half-length of the largest simulated body) from every label's centre, instead of configs/demo.py's 150 px.
A 150 px window is 14 km at this spacing and holds several landslides, so the 28 m rule (150 px) left no
"others" on slopes at all. A first build kept others 47 px (4.2 km, the 28 m rule's distance) away: it learned
"a landslide within about 4 km", and its sites were blobs of about 50 cells (40 km²) spanning several
landslides, whose points lay within 300 m of 2% of them (tools/zoo/recipes.py, docs/accuracy.md). Others
closer to the landslides teach the model where the landslide is: at the window's centre.

    python -m tools.zoo cband-licsar --out out/zoo/cband-licsar    (the zoo model's whole recipe)
"""

import dataclasses

from configs.demo import get_config as demo


def get_config():
    base = demo()
    return dataclasses.replace(base, dataset=dataclasses.replace(base.dataset, exclusion_px=20))
