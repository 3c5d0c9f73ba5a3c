"""Evaluation numerics: matching sites to labels (Table 7 counts) and choosing operating points
(persistence, thresholds, Platt scaling). Pure: no file access.
"""

LAYER = 2
IO_FREE = True
