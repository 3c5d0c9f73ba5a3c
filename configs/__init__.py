"""Experiment configs (``configs/<name>.py``), shipped with the package and addressable by name.

Each file exposes ``get_config()``. ``fringescan train --config demo`` and ``--config configs/demo.py`` load the
same file: a bare name (no ``/``, no ``.py``) is looked up here by ``scanner.config.resolve_config``, anything
else is a path. Grids for ``fringescan mosaic --grid NAME`` live in ``configs/grids/``.
"""
