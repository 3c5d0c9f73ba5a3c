"""``python -m tools.zoo NAME --out DIR``: build one model of the shipped zoo (scanner/zoo/) from scratch.

The one command a model card's ``reproduce`` names. Every step is a ``fringescan`` verb run in this process, as a
user would type it, and leaves a marker (``DIR/.done/<step>``) so a stopped build resumes where it stopped:

1. TRAIN: synth a training region with the recipe's simulator preset and seed -> ingest (as GeoTIFFs, or as the
   sensor's real product format: LiCSAR folders on the 0.001 deg grid) -> dataset -> train -> mine -> train again.
2. VAL: synth a region of another seed -> ingest -> scan with the model -> ``fringescan calibrate --write``: the
   operating point (threshold, minimum site size) by the documented rule (docs/accuracy.md).
3. HOLDOUT: synth a region of a third seed -> ingest -> scan -> detect -> evaluate-scan at the recorded
   operating point: the held-out figures of the card.
4. The card (``card.json``: sensor, spacing, channels, recipe, seeds, operating point, held-out figures, sha256)
   is written into ``DIR/model``; ``--install`` copies the model into scanner/zoo/NAME.

``--val-only`` stops after step 2. Compare candidate builds on VAL that way and run step 3 (the same command
without it) for the chosen build only: a HOLDOUT that was looked at for every candidate is no longer held out
(builds 6 and 7 of ``lband-28m`` were evaluated on theirs as they finished; tools/zoo/recipes.py).

Training is deterministic on the CPU, so a rebuild with the same code gives the card's ``params_sha256``.
"""
