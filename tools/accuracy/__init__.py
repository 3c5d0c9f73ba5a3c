"""Regenerate docs/accuracy.md: Tables 6 and 7 on a synthetic archive, then the precision steps (issue 8).

    .venv/bin/python -m tools.accuracy --out /tmp/accuracy [--quick] [--doc docs/accuracy.md]

SLOW: the full run takes hours on a 2-core CPU; ``--quick`` (the run behind the committed docs/accuracy.md)
about 40 minutes. Stages, each resumable (a finished stage leaves ``OUT/.done/<stage>`` and is skipped):

1. ``fringescan synth`` of three regions from fixed seeds: TRAIN (cross-validation and the scan model),
   VAL (threshold choice, calibration) and TEST (held out: never used in training or tuning).
2. ``fringescan ingest`` of every scene (phase, coherence, DEM) into one store per region.
3. ``fringescan dataset`` on TRAIN with each variant's config (Datasets A and B with nested folds).
4. ``fringescan crossval`` (5 folds, A and B) with configs/phase_only.py at a reduced step count -> Table 6.
5. Each held-out fold's scenes scanned with that fold's CNN-A and CNN-B -> Table 7 (a) and (b).
6. Each variant trained on all of TRAIN, VAL and TEST scanned; threshold sweeps at the site level,
   with the size filter, persistence k of n, threshold chosen on VAL -> precision table, PR plots.

Every figure comes from the seeds below and the knobs on the command line (both recorded in the doc).
Intermediate products stay under ``--out``; only the doc and its PNGs are written into the repository.

Modules, in the order the run uses them: ``plan`` (seeds, variants, flags -> plan), ``archive`` (regions,
stores, datasets and scans through fringescan's verbs, each resumable), ``training`` (cross-validation,
variant models, hard-negative mining), ``counting`` (site-level detection, persistence, matching, sweeps),
``evaluation`` (VAL/TEST scans, every precision step, patch level), ``check`` (the product check on HOLDOUT),
``tables`` and ``report`` (docs/accuracy.md from ``report_template.md``, PR plots); ``__main__`` runs them.
"""
