"""The DInSAR simulator: terrain, atmosphere, coherence, landslides and whole synthetic regions with
ground truth, and the writer of a region's files (through ``scanner.io``).
"""

LAYER = 2
