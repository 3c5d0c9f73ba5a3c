"""COG writing: valid COG, exact round trip, CRS/transform kept, atomic replace."""

import numpy as np
import pytest
import rasterio
from affine import Affine
from pyproj import CRS

from scanner.errors import InputError
from scanner.io.cog import validate_cog, write_cog

UTM = CRS.from_epsg(32654).to_wkt()


@pytest.mark.parametrize("shape", [(40, 37), (700, 1100)])
def test_cog_round_trip_and_validates(tmp_path, shape):
    rng = np.random.default_rng(0)
    array = rng.random(shape).astype(np.float32)
    array[:3, :5] = np.nan
    transform = Affine(280.0, 0, 500_000, 0, -280.0, 4_000_000)
    path = write_cog(tmp_path / "p.tif", array, transform, UTM, tags={"scene_id": "s"})
    valid, errors, warnings = validate_cog(path)
    assert valid and not errors and not warnings
    with rasterio.open(path) as src:
        np.testing.assert_array_equal(src.read(1), array)
        assert src.crs.to_epsg() == 32654 and src.transform == transform
        assert src.tags()["scene_id"] == "s"
        assert (len(src.overviews(1)) > 0) == (max(shape) > 512)
    assert [p.name for p in tmp_path.iterdir()] == ["p.tif"]


def test_cog_replaces_atomically_and_refuses_3d(tmp_path):
    transform = Affine(10.0, 0, 0, 0, -10.0, 0)
    write_cog(tmp_path / "p.tif", np.zeros((8, 8), np.float32), transform, UTM)
    write_cog(tmp_path / "p.tif", np.ones((8, 8), np.float32), transform, UTM)
    with rasterio.open(tmp_path / "p.tif") as src:
        assert src.read(1).min() == 1
    with pytest.raises(InputError, match="2-D"):
        write_cog(tmp_path / "q.tif", np.zeros((2, 8, 8), np.float32), transform, UTM)
