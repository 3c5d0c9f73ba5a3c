"""Neural networks: the Flax NNX models and the jitted, sharded evaluation of windows and dense tiles.

Device work only: no file access. Imports ``scanner.core`` and the base modules.
"""

LAYER = 2
PURE = True
"""No file access: no file-format library, no os/pathlib/shutil/tempfile/subprocess, no open()."""
