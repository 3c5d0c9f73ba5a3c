"""Mosaic grid configs (``configs/grids/<name>.py``), addressable by name: ``fringescan mosaic --grid japan``."""
