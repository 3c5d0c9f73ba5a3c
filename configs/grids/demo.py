"""Demo mosaic grid: the synthetic region on the national grid's lattice (JGD2011, EPSG:6668, 0.0025 deg).

Command: ``fringescan mosaic --store out/demo/store --grid configs/grids/demo.py`` (seconds).

The simulator (``scanner.sim``) writes scenes in UTM 54N (EPSG:32654): areas of ``size_px`` plus the
scene shifts, side by side eastwards from ``(origin_x_m, origin_y_m)`` with 10 km gaps. ``region_bounds``
computes that extent from a ``SynthConfig`` (the demo's defaults unless given), adds a margin and converts it
to degrees, so the grid follows the simulator when its parameters change. The grid uses the same CRS, cell
size and cell lattice as ``japan.py`` (its origin snaps to whole 0.0025 degree cells), so the demo exercises
the production reprojection. Chunks are 32 cells (about 8 km), so a 28 km demo scene touches a handful of
chunks and incremental runs are visible.
"""

from pyproj import Transformer

from scanner.core.phase import block_px
from scanner.mosaic.grid import MosaicGrid, grid_for_bounds
from scanner.sim.config import SynthConfig
from scanner.sim.region import AREA_GAP_M

MARGIN_M = 5_000.0


def region_bounds(config: SynthConfig | None = None) -> tuple[float, float, float, float]:
    """(west, south, east, north) in degrees covering every area of the simulated region, plus a margin."""
    config = config or SynthConfig()
    area_m = (
        config.size_px + config.scene_shift_blocks * block_px(config.pixel_size_m)
    ) * config.pixel_size_m
    west = config.origin_x_m - MARGIN_M
    east = config.origin_x_m + config.areas * area_m + (config.areas - 1) * AREA_GAP_M + MARGIN_M
    south, north = config.origin_y_m - area_m - MARGIN_M, config.origin_y_m + MARGIN_M
    to_degrees = Transformer.from_crs(f"EPSG:{config.crs_epsg}", "EPSG:6668", always_xy=True)
    return to_degrees.transform_bounds(west, south, east, north, densify_pts=21)


def get_config() -> MosaicGrid:
    west, south, east, north = region_bounds()
    return grid_for_bounds(
        name="demo",
        crs="EPSG:6668",
        west=west,
        south=south,
        east=east,
        north=north,
        cell_size=0.0025,
        chunk=32,
    )
