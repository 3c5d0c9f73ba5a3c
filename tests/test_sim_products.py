"""``fringescan synth --product licsar``: each scene as the LiCSAR product a Sentinel-1 user downloads, read
back by the LiCSAR reader, ``fringescan ingest`` and the nightly inbox; the GeoTIFF region stays as it was."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from pyproj import Transformer

from scanner.cli import main
from scanner.errors import UsageError
from scanner.io.labels import read_labels
from scanner.io.products import LICSAR_FRAME, recognise
from scanner.io.store import Store
from scanner.pipeline import inbox
from scanner.sim.config import SynthConfig
from scanner.sim.files import check_product
from scanner.sim.radar import PASS_HEADING_DEG

C_BAND_REGION = [
    "--size", "300", "--scenes", "3", "--seed", "4",
    "--config", "sim_sentinel1", "--set", "pixel_size_m=100", "--set", "bodies_per_100km2=6",
]  # fmt: skip


@pytest.fixture(scope="module")
def regions(tmp_path_factory) -> tuple[Path, Path]:
    """The same C-band region written twice: with ``--product licsar`` and with the default."""
    root = tmp_path_factory.mktemp("products")
    licsar, plain = root / "licsar", root / "plain"
    assert main(["-q", "synth", "--out", str(licsar), *C_BAND_REGION, "--product", "licsar"]) == 0
    assert main(["-q", "synth", "--out", str(plain), *C_BAND_REGION]) == 0
    return licsar, plain


@pytest.fixture(scope="module")
def region(regions) -> tuple[Path, dict]:
    out = regions[0]
    return out, json.loads((out / "region.json").read_text())


def test_every_scene_is_a_licsar_product_of_that_scene(region):
    out, description = region
    frames = {(f["area_id"], f["pass_direction"]): f["frame"] for f in description["licsar"]["frames"]}
    assert (
        len(set(frames.values()))
        == len(frames)
        == len({(s["area_id"], s["pass_direction"]) for s in description["scenes"]})
    )
    for scene in description["scenes"]:
        product = recognise(out / scene["licsar"]["folder"])
        frame = frames[(scene["area_id"], scene["pass_direction"])]
        pair = f"{scene['first_date']}_{scene['second_date']}".replace("-", "")
        assert product.family == "licsar" and product.frame == frame
        assert product.scene_id == scene["licsar"]["scene_id"] == f"{frame}_{pair}"
        assert (product.first_date, product.second_date) == (scene["first_date"], scene["second_date"])
        assert product.pass_direction == scene["pass_direction"]
        track, letter = LICSAR_FRAME.match(frame).groups()
        assert int(track) == scene["orbit"] and letter == scene["pass_direction"][0].upper()
        assert product.incidence_deg == pytest.approx(scene["incidence_deg"], abs=0.5)
        look = (PASS_HEADING_DEG[scene["pass_direction"]] + 90.0) % 360.0  # the simulated radar looks right
        assert product.look_azimuth_deg == pytest.approx(look, abs=0.5)
        assert {p.name for p in product.files} >= {f"{pair}.geo.diff_pha.tif", f"{pair}.geo.cc.tif"}
        assert product.dem.name == f"{frame}.geo.hgt.tif"


def _footprint_lonlat(scene: dict) -> tuple[float, float, float, float]:
    t, h, w = scene["grid"]["transform"], scene["grid"]["height"], scene["grid"]["width"]
    xs, ys = [t[2], t[2] + w * t[0]], [t[5], t[5] + h * t[4]]
    to_wgs84 = Transformer.from_crs(32654, 4326, always_xy=True)
    lon, lat = to_wgs84.transform([x for x in xs for _ in ys], [y for _ in xs for y in ys])
    return min(lon), min(lat), max(lon), max(lat)


def test_rasters_are_on_licsars_grid_and_cover_their_scene(region):
    out, description = region
    for scene in description["scenes"]:
        folder = out / scene["licsar"]["folder"]
        frame = scene["licsar"]["scene_id"][: -len(folder.name) - 1]
        rasters = [*folder.glob("*.tif"), *(out / "licsar" / frame / "metadata").glob("*.tif")]
        assert len(rasters) == 6
        left, bottom, right, top = _footprint_lonlat(scene)
        for path in rasters:
            with rasterio.open(path) as ds:
                t = ds.transform
                assert ds.crs.to_epsg() == 4326 and (t.a, t.e) == (0.001, -0.001), path.name
                assert (
                    abs(t.c * 1000 - round(t.c * 1000)) < 1e-6 and abs(t.f * 1000 - round(t.f * 1000)) < 1e-6
                )
                assert ds.nodata == 0 and ds.dtypes[0] == (
                    "uint8" if path.name.endswith(".cc.tif") else "float32"
                )
                b = ds.bounds
                assert b.left <= left and b.bottom <= bottom and b.right >= right and b.top >= top


def _source_index(lon: np.ndarray, lat: np.ndarray, scene: dict) -> tuple[np.ndarray, np.ndarray]:
    """Fractional (row, col) in the scene's own grid of the given points."""
    x, y = Transformer.from_crs(4326, 32654, always_xy=True).transform(lon, lat)
    t = scene["grid"]["transform"]
    return (np.asarray(y) - t[5]) / t[4], (np.asarray(x) - t[2]) / t[0]


def test_phase_is_the_scenes_phase_at_the_same_ground_point(region):
    """Nearest: each pixel holds the source pixel its centre falls in, and nodata where it falls outside the
    scene. Points within 0.2 px of a source pixel's edge are left out: there GDAL's approximate transformer
    (0.125 px) may take the neighbour."""
    out, description = region
    for scene in description["scenes"]:
        with rasterio.open(out / scene["files"]["phase"]) as ds:
            source = ds.read(1)
        pair = Path(scene["licsar"]["folder"]).name
        with rasterio.open(out / scene["licsar"]["folder"] / f"{pair}.geo.diff_pha.tif") as ds:
            phase, transform = ds.read(1), ds.transform
        rows, cols = np.mgrid[0 : phase.shape[0], 0 : phase.shape[1]]
        lon, lat = transform * (cols + 0.5, rows + 0.5)
        r, c = _source_index(lon, lat, scene)
        height, width = source.shape
        outside = (r < -0.2) | (r > height + 0.2) | (c < -0.2) | (c > width + 0.2)
        assert outside.any() and (phase[outside] == 0).all()
        inside = (r >= 0) & (r < height) & (c >= 0) & (c < width)
        clear = inside & (np.abs(r % 1 - 0.5) < 0.3) & (np.abs(c % 1 - 0.5) < 0.3)
        expected = source[r[clear].astype(int), c[clear].astype(int)]
        assert clear.sum() > 1000 and np.isfinite(expected).mean() > 0.5
        np.testing.assert_array_equal(phase[clear], np.nan_to_num(expected, nan=0.0))  # NaN: LiCSAR's 0


def test_ingest_stores_a_licsar_folder_on_its_geographic_grid(region, tmp_path):
    out, description = region
    scene = description["scenes"][0]
    store = tmp_path / "store"
    assert main(["-q", "ingest", str(out / scene["licsar"]["folder"]), "--store", str(store)]) == 0
    stored = Store.open(store).scene(scene["licsar"]["scene_id"])
    t = stored.grid.transform
    assert stored.grid.epsg == 4326 and (t.a, t.e) == pytest.approx((0.001, -0.001), abs=1e-12)
    attrs = stored.attrs
    assert (attrs["sensor"], attrs["processor"], attrs["pass_direction"]) == (
        "sentinel-1",
        "LiCSAR",
        scene["pass_direction"],
    )
    assert attrs["incidence_deg"] == pytest.approx(scene["incidence_deg"], abs=0.5)
    coherence = stored.read("coherence")
    finite = coherence[np.isfinite(coherence)]
    assert finite.min() >= 0 and 0.3 < finite.max() <= 1.0
    assert stored.has("dem") and np.nanmax(stored.read("dem")) > 100.0
    assert 0.5 < stored.read("valid").mean() < 1.0  # most of the frame, not its corners outside the scene


def test_the_nightly_inbox_takes_a_delivered_pair(region, tmp_path):
    out, description = region
    scene = description["scenes"][1]
    folder = out / scene["licsar"]["folder"]
    delivered = tmp_path / "inbox"
    shutil.copytree(folder, delivered / folder.name)
    shutil.copytree(folder.parents[1] / "metadata", delivered / "metadata")
    found = inbox.discover(delivered)
    assert found.bad == [] and [p.scene_id for p in found.passes] == [scene["licsar"]["scene_id"]]


def test_labels_name_the_licsar_scenes(region):
    out, description = region
    ids = {s["scene_id"]: s["licsar"]["scene_id"] for s in description["scenes"]}
    plain = {label.label_id: label for label in read_labels(out / "labels_wgs84.geojson")}
    licsar = read_labels(out / description["licsar"]["labels"])
    assert len(licsar) == len(plain) and any(label.visible_in for label in licsar)
    for label in licsar:
        original = plain[label.label_id]
        assert label.visible_in == frozenset(ids[s] for s in original.visible_in)
        assert label.geometry.equals_exact(original.geometry, 1e-9)


def _hashes(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file() and p.name != "region.json" and p.relative_to(root).parts[0] != "licsar"
    }


def test_the_geotiff_region_is_the_same_with_or_without_licsar(regions):
    licsar, plain = regions
    assert not (plain / "licsar").exists()
    assert _hashes(licsar) == _hashes(plain) and len(_hashes(plain)) > 5
    with_products = json.loads((licsar / "region.json").read_text())
    without = json.loads((plain / "region.json").read_text())
    assert "licsar" not in without and all("licsar" not in s for s in without["scenes"])
    with_products.pop("licsar")
    for scene in with_products["scenes"]:
        scene.pop("licsar")
    with_products["files"] = [f for f in with_products["files"] if not f.startswith("licsar/")]
    assert with_products == without


def test_unknown_product_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["synth", "--out", str(tmp_path / "o"), "--product", "foo"])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and err[0].startswith("usage: fringescan synth")
    assert err[-1].startswith("fringescan synth: error: argument --product: invalid choice: 'foo'")
    assert not (tmp_path / "o").exists()


def test_licsar_products_of_an_l_band_region_are_refused(tmp_path, capsys):
    code = main(
        ["synth", "--out", str(tmp_path / "o"), "--size", "150", "--scenes", "1", "--product", "licsar"]
    )
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.count("\n") == 0
    assert "--product licsar" in err and "wavelength_m=0.236" in err and "sim_sentinel1" in err
    assert not (tmp_path / "o").exists()


def test_licsar_frame_numbers_limit_the_areas():
    check_product(SynthConfig(wavelength_m=0.0555, scenes=100, areas=100), "licsar")
    with pytest.raises(UsageError, match="at most 100 areas"):
        check_product(SynthConfig(wavelength_m=0.0555, scenes=101, areas=101), "licsar")
