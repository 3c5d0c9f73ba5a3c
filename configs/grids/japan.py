"""National mosaic grid for Japan: JGD2011 geographic (EPSG:6668), 0.0025 degree cells, 512-cell chunks.

Command: ``fringescan mosaic --store STORE --grid configs/grids/japan.py`` (cost: a few seconds per new scene).

Why this CRS:
- One CRS for the whole country. Japan's projected systems are local: the 19 JGD2011 plane rectangular zones
  (EPSG:6669-6687) each cover a prefecture or two, and UTM splits the country over zones 51 to 56, so any
  projected grid would distort or cut part of the archipelago. JGD2011 geographic coordinates are the national
  datum in which GSI and the prefectures exchange hazard maps, and lat/lon cells nest with the web-map tiles.
- Cell size: 0.0025 degrees is about 278 m north-south everywhere and 261 m (20 N) to 196 m (45.5 N) east-west,
  close to the 280 m probability cells (10 pixels of 28 m), so a mosaic cell takes one probability cell and
  nearest-neighbour resampling neither blurs peaks nor double counts.
- Extent: 122.5-154.5 E, 20.0-46.0 N covers Yonaguni (122.93 E), Minamitorishima (153.98 E), Okinotorishima
  (20.42 N) and Bentenjima (45.52 N): 12,800 x 10,400 cells.
- Chunks of 512 x 512 cells (about 120-140 km): a 70 km scene touches at most 4 chunks, so a new scene rewrites
  only those; 25 x 21 chunks at level 0, 6 pyramid levels.
"""

from scanner.mosaic.grid import MosaicGrid, grid_for_bounds


def get_config() -> MosaicGrid:
    return grid_for_bounds(
        name="japan",
        crs="EPSG:6668",
        west=122.5,
        south=20.0,
        east=154.5,
        north=46.0,
        cell_size=0.0025,
        chunk=512,
    )
