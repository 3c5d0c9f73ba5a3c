"""The DInSAR simulator: synthetic regions of wrapped-phase interferograms with landslide ground truth.

Pure numpy/scipy modules, seeded with ``np.random.Generator`` (no file access), from the bottom up:

- ``radar``: tracks, line of sight, layover and shadow, local incidence.
- ``config``: ``SynthConfig`` (validated), ``load_synth_config`` and the per-purpose ``seeded_rng``.
- ``fields``: Gaussian random fields by FFT, the turbulence spectrum and turbulent delay.
- ``coherence``: the coherence model of a pair and its decorrelation phase noise.
- ``terrain``: ``Area``, the fractal DEM with its water mask, land cover and reference-DEM error.
- ``landslides``: ``Body``, outlines, displacement profiles and placement on hillslopes.
- ``region``: ``SceneSpec``, ``RegionPlan`` and ``plan_region`` (areas, bodies, scene specs).
- ``scene``: ``Scene`` and ``simulate_scene`` / ``simulate_region`` (all terms summed, wrapped, masked).

And the one module with files, through ``scanner.io``:

- ``files``: ``write_region_files``, which writes a region's GeoTIFFs, labels, quicklooks and
  ``region.json`` into a folder atomically (with ``product="licsar"`` its scenes as LiCSAR products too).

The physics and the parameter choices are argued in ``docs/simulator.md``.
"""

LAYER = 2
FORMAT_LIBRARIES = False
"""Writes region files only through ``scanner.io`` (GeoTIFF, GeoJSON, PNG)."""
