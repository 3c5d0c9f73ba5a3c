"""Programs over train/ and scanner/: the benchmarks (``tools.bench``), the accuracy study (``tools.accuracy``),
the simulator figures and the demo. Run the packages from the repository root (``python -m tools.bench.scan``,
``python -m tools.accuracy``); ``demo.py`` and ``synth_figures.py`` also run by path."""

LAYER = 6
