"""The default recipe (configs/demo.py) for LiCSAR interferograms brought to 45 m on ingest
(``fringescan ingest FOLDER --pixel-size-m 45 --upsample``).

One change, of scale: a random "other" window lies at least ``exclusion_px = 75`` pixels (half a window,
3.4 km) from every label's centre, instead of configs/demo.py's 150 px (4.2 km at 28 m). At 45 m a 150 px window
is 6.75 km and often holds a second landslide; 150 px would leave few "others" on slopes. Earlier builds on
LiCSAR's grid as it comes (about 100 m) learned where landslides are common, not where one is
(tools/zoo/recipes.py, docs/accuracy.md "The model zoo").

    python -m tools.zoo cband-licsar --out out/zoo/cband-licsar    (the zoo model's whole recipe)
"""

import dataclasses

from configs.demo import get_config as demo


def get_config():
    base = demo()
    return dataclasses.replace(base, dataset=dataclasses.replace(base.dataset, exclusion_px=75))
