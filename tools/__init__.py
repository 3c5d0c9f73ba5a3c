"""Benchmarks, the accuracy study, figures and the demo: scripts over train/ and scanner/."""

LAYER = 6
