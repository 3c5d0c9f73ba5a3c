"""Evaluation numerics: matching sites to labels (Table 7 counts) and choosing operating points
(persistence, thresholds, Platt scaling). Pure: no file access.
"""

LAYER = 2
PURE = True
"""No file access: no file-format library, no os/pathlib/shutil/tempfile/subprocess, no open()."""
