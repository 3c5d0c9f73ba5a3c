"""Products for people: the STAC catalog and the offline map viewer (with its mosaic quicklook PNG).

The 16-step phase palette and quicklook rendering live in ``scanner.core.palette``; PNGs are written by
``scanner.io.writers.write_png``.
"""

LAYER = 3
