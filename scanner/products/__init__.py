"""Products for people: STAC catalog, the offline map viewer and quicklook images."""

LAYER = 3
