"""scanner.pipeline.ingest and ``fringescan ingest``: kinds, multilook, reprojection, masks, replace, bad inputs, real data."""

import json
import math

import numpy as np
import pytest
import rasterio
import tensorstore as ts
import zarr
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.cli import main
from scanner.core.multilook import (
    COMPLEX_AVERAGE,
    UPSAMPLE,
    Reduction,
    bilinear_upsample,
    complex_average,
    multilook,
    source_window,
)
from scanner.core.phase import wrap
from scanner.errors import ModelMismatchError
from scanner.geo import PixelWindow
from scanner.io import readers
from scanner.io.store import Store, check_scannable
from scanner.pipeline.ingest import (
    IngestConfig,
    IngestRequest,
    ingest_scene,
    scene_id_from_path,
)
from tests.rasters import GAMMA_TAGS, ORIGIN, UTM54, ramp_phase, snapshot, utm_transform, write_raster

H, W = 620, 530  # two chunk rows and columns at 500 px
L_BAND = IngestConfig(sensor="alos-palsar")
"""For untagged test rasters: ingest refuses a scene whose radar wavelength nobody gives."""
L_FLAG = ("--sensor", "alos-palsar")


def _ingest(*args: str) -> int:
    return main(["ingest", *map(str, args)])


def _attrs(store_dir, scene_id):
    return dict(zarr.open_group(str(store_dir / "scenes" / scene_id), mode="r").attrs)["fringescan"]


def _by_both(store_dir, scene_id, name):
    """The array read by zarr-python and by tensorstore (they must agree)."""
    path = store_dir / "scenes" / scene_id / name
    by_zarr = zarr.open_array(str(path), mode="r")[:]
    by_ts = (
        ts.open({"driver": "zarr3", "kvstore": {"driver": "file", "path": str(path)}})
        .result()
        .read()
        .result()
    )
    np.testing.assert_array_equal(by_zarr, by_ts)
    return by_zarr


def _plane_dem(tmp_path, angle_deg=10.0):
    """A DEM in EPSG:4326 covering the UTM scene, rising east at ``angle_deg`` (nearly: geographic grid)."""
    lon0, lat0 = 140.995, 36.15
    step = 0.0002
    n = 900
    lon = lon0 + step * (np.arange(n) + 0.5)
    east_m = (lon - lon0) * 111_320 * math.cos(math.radians(36.14))
    dem = np.tile(east_m * math.tan(math.radians(angle_deg)), (n, 1)).astype(np.float32)
    return write_raster(
        tmp_path / "area.dem.tif", dem, crs="EPSG:4326", transform=Affine(step, 0, lon0, 0, -step, lat0)
    )


def test_cli_ingests_a_synthetic_scene_with_coherence_and_dem(tmp_path, capsys):
    unwrapped = ramp_phase(H, W)
    phase = wrap(unwrapped)
    phase[:7, :9] = np.nan
    phase_path = write_raster(tmp_path / "s01.phase.tif", phase, nodata=float("nan"), tags=GAMMA_TAGS)
    coherence = np.random.default_rng(1).uniform(0, 1, (H, W)).astype(np.float32)
    coh_path = write_raster(tmp_path / "s01.coh.tif", coherence, nodata=float("nan"))
    store_dir = tmp_path / "store"
    assert (
        _ingest(phase_path, "--coherence", coh_path, "--dem", _plane_dem(tmp_path), "--store", store_dir) == 0
    )
    assert "s01: ingested (wrapped, 620 x 530 px, looks 1 x 1)" in capsys.readouterr().out

    attrs = _attrs(store_dir, "s01")
    assert attrs["kind"] == "wrapped" and attrs["multilook"] == [1, 1] and "resample" not in attrs
    assert (attrs["first_date"], attrs["second_date"]) == ("2010-01-15", "2010-03-02")
    assert attrs["wavelength_m"] == pytest.approx(0.2360571)
    assert (attrs["orbit"], attrs["frame"], attrs["pass_direction"]) == ("21345", "2890", "ascending")
    assert attrs["grid"]["epsg"] == 32654 and attrs["grid"]["transform"] == list(utm_transform())[:6]
    assert attrs["grid"]["pixel_size_m"] == {"x": 28.0, "y": 28.0}
    assert [s["role"] for s in attrs["sources"]] == ["phase", "coherence", "dem"]
    assert all(len(s["sha256"]) == 64 for s in attrs["sources"])
    assert attrs["layover_shadow"] == {"incidence_deg": 38.7, "look_azimuth_deg": 80.0}

    stored = _by_both(store_dir, "s01", "phase")
    valid = _by_both(store_dir, "s01", "valid")
    np.testing.assert_array_equal(np.isfinite(stored), valid == 1)
    np.testing.assert_array_equal(stored[valid == 1], phase[np.isfinite(phase)])
    assert valid[:7, :9].sum() == 0 and valid.sum() == H * W - 63
    np.testing.assert_array_equal(_by_both(store_dir, "s01", "coherence"), coherence)
    slope = _by_both(store_dir, "s01", "slope")
    assert np.nanmedian(slope) == pytest.approx(10.0, abs=0.3)
    dem = _by_both(store_dir, "s01", "dem")
    assert np.all(np.diff(dem[300, 50:-50]) > 0)
    assert zarr.open_array(str(store_dir / "scenes/s01/phase"), mode="r").chunks == (500, 500)
    assert Store.open(store_dir).events()[-1]["event"] == "ingest"


def test_unwrapped_float_is_wrapped_and_kind_detected(tmp_path):
    unwrapped = ramp_phase(60, 50, cycles=4)
    path = write_raster(tmp_path / "b_unw.tif", unwrapped)
    store = Store.create(tmp_path / "store")
    result = ingest_scene(store, IngestRequest(phase=path, scene_id=scene_id_from_path(path)), L_BAND)
    assert (result.scene_id, result.kind, result.status) == ("b", "unwrapped", "ingested")
    stored = store.scene("b").read("phase")
    np.testing.assert_array_equal(stored, wrap(unwrapped))
    assert stored.min() >= -np.pi and stored.max() < np.pi
    forced = ingest_scene(
        store, IngestRequest(phase=path, scene_id="forced"), IngestConfig(kind="wrapped", sensor="alos2")
    )
    assert forced.kind == "wrapped" and store.scene("forced").attrs["kind"] == "wrapped"


@pytest.mark.parametrize(("dtype", "tolerance"), [("complex64", 1e-5), ("complex_int16", 2e-3)])
def test_complex_inputs_store_their_angle(tmp_path, dtype, tolerance):
    phase = wrap(ramp_phase(40, 30))
    path = write_raster(tmp_path / "c.tif", (500 * np.exp(1j * phase)).astype(np.complex64), dtype=dtype)
    store = Store.create(tmp_path / "store")
    assert ingest_scene(store, IngestRequest(phase=path, scene_id="c"), L_BAND).kind == "complex"
    diff = np.angle(np.exp(1j * (store.scene("c").read("phase") - phase)))
    assert np.abs(diff).max() < tolerance


def test_magnitude_phase_pair_is_ingested(tmp_path):
    phase = wrap(ramp_phase(40, 30))
    path = write_raster(tmp_path / "m.tif", [np.ones_like(phase), phase], descriptions=("magnitude", "phase"))
    store = Store.create(tmp_path / "store")
    assert ingest_scene(store, IngestRequest(phase=path, scene_id="m"), L_BAND).kind == "magphase"
    np.testing.assert_array_equal(store.scene("m").read("phase"), phase)


def test_finer_phase_is_multilooked_in_the_complex_domain(tmp_path):
    """10 m data for a 30 m model: 3 x 3 looks exactly."""
    phase = wrap(ramp_phase(301, 302, cycles=20))
    phase[0:3, 0:2] = np.nan  # 6 of 9 looks missing: invalid; below, 2 of 9 missing: still valid
    phase[3:5, 0] = np.nan
    path = write_raster(tmp_path / "fine.tif", phase, transform=utm_transform(10.0), nodata=float("nan"))
    store = Store.create(tmp_path / "store")
    config = IngestConfig(sensor="alos-palsar", model_pixel_size_m=30.0)
    result = ingest_scene(store, IngestRequest(phase=path, scene_id="fine"), config)
    assert result.multilook == (3, 3) and result.shape == (100, 100) and result.resample is None
    scene = store.scene("fine")
    assert scene.grid.pixel_size.x_m == pytest.approx(30.0) and scene.grid.transform.c == ORIGIN[0]
    block = np.exp(1j * phase[3:6, 0:3].astype(np.float64))
    expected = np.angle(np.nansum(block))
    assert scene.read("phase")[1, 0] == pytest.approx(expected, abs=1e-5)
    assert scene.read("valid")[0, 0] == 0 and scene.read("valid")[1, 0] == 1
    blocks = (
        np.nan_to_num(np.exp(1j * phase[:300, :300].astype(np.float64))).reshape(100, 3, 100, 3).sum((1, 3))
    )
    stored = scene.read("phase")
    ok = scene.read("valid") == 1
    assert np.abs(np.angle(np.exp(1j * (stored[ok] - np.angle(blocks)[ok])))).max() < 1e-5
    assert scene.attrs["multilook"] == [3, 3] and "resample" not in scene.attrs


def test_integer_ratio_keeps_the_exact_multilook(tmp_path):
    """14 m data for the 28 m model: 2 x 2 looks, the block sums of ``multilook`` (no resampling)."""
    phase = wrap(ramp_phase(81, 64, cycles=9))
    phase[10:13, 20:23] = np.nan
    path = write_raster(tmp_path / "f14.tif", phase, transform=utm_transform(14.0), nodata=float("nan"))
    store = Store.create(tmp_path / "store")
    result = ingest_scene(store, IngestRequest(phase=path, scene_id="f14"), L_BAND)
    assert result.multilook == (2, 2) and result.resample is None and result.shape == (40, 32)
    expected, expected_valid = multilook(phase, np.isfinite(phase), (2, 2))
    scene = store.scene("f14")
    np.testing.assert_array_equal(scene.read("valid"), expected_valid.astype(np.uint8))
    np.testing.assert_array_equal(scene.read("phase"), np.where(expected_valid, wrap(expected), np.nan))
    assert scene.attrs["multilook"] == [2, 2] and "resample" not in scene.attrs


def _fine_scene(tmp_path, pixel_m, shape, name="fine"):
    """A 20 m-ish ramp of known rate (one fringe per 1300 m north, 900 m east) with an invalid corner."""
    rate = (2 * np.pi / 1300, 2 * np.pi / 900)
    y_m, x_m = (np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5) * pixel_m
    phase = wrap((rate[0] * y_m + rate[1] * x_m).astype(np.float32))
    phase[:40, :40] = np.nan
    path = write_raster(
        tmp_path / f"{name}.tif", phase, transform=utm_transform(pixel_m), nodata=float("nan")
    )
    return path, phase, rate


def test_20m_data_is_resampled_to_the_models_28m_and_scans(tmp_path, capsys):
    """Before: round(28 / 20) = 1 look kept 20 m, which the scan refuses (more than 10% off). Now the phase is
    averaged in the complex domain onto an exact 28 m grid, keeps its fringe rate and passes check_scannable."""
    path, phase, rate = _fine_scene(tmp_path, 20.0, (230, 240))
    coherence = write_raster(
        tmp_path / "fine.cc.tif", np.full(phase.shape, 0.6, np.float32), transform=utm_transform(20.0)
    )
    store_dir = tmp_path / "store"
    assert _ingest(path, "--coherence", coherence, "--store", store_dir, *L_FLAG) == 0
    assert (
        "fine: ingested (wrapped, 164 x 171 px, resampled 20 x 20 m to 28 x 28 m)" in capsys.readouterr().out
    )
    scene = Store.open(store_dir).scene("fine")
    assert scene.grid.pixel_size.x_m == pytest.approx(28.0) and scene.grid.transform.c == ORIGIN[0]
    assert scene.attrs["multilook"] is None
    assert scene.attrs["resample"] == {
        "method": "complex_average",
        "factors": [pytest.approx(1.4), pytest.approx(1.4)],
        "from_pixel_m": {"x": 20.0, "y": 20.0},
        "to_pixel_m": {"x": pytest.approx(28.0), "y": pytest.approx(28.0)},
    }
    check_scannable(scene, 28.0)

    stored, valid = scene.read("phase"), scene.read("valid") == 1
    assert not valid[:28, :28].any() and valid[29:, :].all() and valid[:, 29:].all()
    unwrapped = np.unwrap(np.unwrap(stored[30:, 30:].astype(np.float64), axis=0), axis=1)
    for axis in (0, 1):
        slope = np.polyfit(np.arange(unwrapped.shape[axis]) * 28.0, unwrapped.mean(axis=1 - axis), 1)[0]
        assert slope == pytest.approx(rate[axis], rel=0.005)
    np.testing.assert_allclose(scene.read("coherence"), 0.6, rtol=1e-6)  # the warp follows the 28 m grid

    kept = ingest_scene(
        store := Store.create(tmp_path / "kept"),
        IngestRequest(phase=path, scene_id="kept"),
        IngestConfig(sensor="alos-palsar", model_pixel_size_m=20.0),
    )
    assert kept.multilook == (1, 1)  # at its own 20 m, as every 20 m scene was stored before
    with pytest.raises(ModelMismatchError, match="expected 28 m"):
        check_scannable(store.scene("kept"), 28.0)


@settings(max_examples=6, deadline=None)
@given(chunk_px=st.sampled_from([10, 20, 30, 40, 70, 110]))
def test_resampled_ingest_tiled_equals_untiled(tmp_path_factory, chunk_px):
    """Chunks read overlapping source windows (a shared row or column at 1.4 px per output pixel): any chunk
    size stores the untiled ``complex_average`` of the whole raster bit for bit."""
    folder = tmp_path_factory.mktemp("tiles")
    path, phase, _ = _fine_scene(folder, 20.0, (173, 150))
    scene = ingest_scene(
        store := Store.create(folder / "store"),
        IngestRequest(phase=path, scene_id="t"),
        IngestConfig(sensor="alos-palsar", chunk_px=chunk_px),
    )
    reduction = Reduction(1.4, 1.4, COMPLEX_AVERAGE)
    window = PixelWindow(0, 0, *scene.shape)
    source = source_window(reduction, window, phase.shape)
    usable = np.isfinite(phase)[source.slices()]
    expected, expected_valid = complex_average(phase[source.slices()], usable, reduction, window, phase.shape)
    stored = store.scene("t")
    np.testing.assert_array_equal(stored.read("valid"), expected_valid.astype(np.uint8))
    np.testing.assert_array_equal(stored.read("phase"), np.where(expected_valid, wrap(expected), np.nan))


def _coarse_scene(tmp_path, name="coarse", shape=(80, 90)):
    """A 90 m ramp (one fringe per 1500 m north, 1100 m east) with an invalid block, a coherence ramp rising
    linearly east and a water mask on the first 5 columns, all on the 90 m grid."""
    rate = (2 * np.pi / 1500, 2 * np.pi / 1100)
    y_m, x_m = (np.mgrid[0 : shape[0], 0 : shape[1]] + 0.5) * 90.0
    phase = wrap((rate[0] * y_m + rate[1] * x_m).astype(np.float32))
    phase[30:40, 50:60] = np.nan
    transform = utm_transform(90.0)
    path = write_raster(tmp_path / f"{name}.tif", phase, transform=transform, nodata=float("nan"))
    coherence = (0.1 + 0.8 * x_m / (90.0 * shape[1])).astype(np.float32)
    coh = write_raster(tmp_path / f"{name}.cc.tif", coherence, transform=transform)
    water = np.zeros(shape, np.uint8)
    water[:, :5] = 1
    return path, phase, coh, write_raster(tmp_path / f"{name}.water.tif", water, transform=transform)


def _upsampled(phase, reduction, shape):
    """``bilinear_upsample`` of the whole phase raster onto an output of ``shape``."""
    window = PixelWindow(0, 0, *shape)
    source = source_window(reduction, window, phase.shape)
    usable = np.isfinite(phase)[source.slices()]
    return bilinear_upsample(phase[source.slices()], usable, reduction, window, phase.shape)


def test_90m_data_is_upsampled_to_45m_with_the_flag_and_scans(tmp_path, capsys):
    """``--upsample --pixel-size-m 45``: the phase is the complex bilinear interpolation onto an exact 45 m grid,
    the coherence follows by the bilinear warp (linear east: exact at interior centres), the water mask by
    nearest (5 columns at 90 m are 10 at 45 m), the attributes say it happened and a 45 m model can scan it."""
    path, phase, coh, water = _coarse_scene(tmp_path)
    store_dir = tmp_path / "store"
    argv = [path, "--coherence", coh, "--water", water, "--store", store_dir, "--pixel-size-m", 45, *L_FLAG]
    assert _ingest(*argv, "--upsample") == 0
    assert (
        "coarse: ingested (wrapped, 160 x 180 px, upsampled 90 x 90 m to 45 x 45 m)"
        in capsys.readouterr().out
    )
    scene = Store.open(store_dir).scene("coarse")
    assert scene.attrs["multilook"] is None and scene.grid.transform.c == ORIGIN[0]
    assert scene.attrs["resample"] == {
        "method": "complex_bilinear_upsample",
        "factors": [0.5, 0.5],
        "from_pixel_m": {"x": 90.0, "y": 90.0},
        "to_pixel_m": {"x": 45.0, "y": 45.0},
    }
    check_scannable(scene, 45.0)

    expected, expected_valid = _upsampled(phase, Reduction(0.5, 0.5, UPSAMPLE), (160, 180))
    expected_valid[:, :10] = False  # water
    np.testing.assert_array_equal(scene.read("valid"), expected_valid.astype(np.uint8))
    np.testing.assert_array_equal(scene.read("phase"), np.where(expected_valid, wrap(expected), np.nan))
    assert (
        not scene.read("valid")[60:80, 100:120].any() and scene.read("valid")[:, 10:].sum() == 160 * 170 - 400
    )
    x_m = (np.arange(180) + 0.5) * 45.0
    np.testing.assert_allclose(
        scene.read("coherence")[:, 2:-2],
        np.broadcast_to(0.1 + 0.8 * x_m / 8100.0, (160, 180))[:, 2:-2],
        atol=1e-5,
    )


def test_without_the_flag_coarser_data_ingests_as_before(tmp_path):
    """The same 90 m input without ``--upsample``: stored as it is (looks 1 x 1, no resample), and scans only
    with a 90 m model; ``upsample`` on a scene at the model's spacing changes nothing, hash included."""
    path, phase, _, _ = _coarse_scene(tmp_path, shape=(150, 160))
    store = Store.create(tmp_path / "store")
    kept = ingest_scene(
        store,
        IngestRequest(phase=path, scene_id="kept"),
        IngestConfig(sensor="alos-palsar", model_pixel_size_m=45.0),
    )
    assert kept.multilook == (1, 1) and kept.resample is None and kept.shape == phase.shape
    np.testing.assert_array_equal(store.scene("kept").read("phase"), wrap(phase))
    assert "resample" not in store.scene("kept").attrs
    with pytest.raises(ModelMismatchError, match="expected 45 m"):
        check_scannable(store.scene("kept"), 45.0)
    native = ingest_scene(
        store,
        IngestRequest(phase=path, scene_id="native"),
        IngestConfig(sensor="alos-palsar", model_pixel_size_m=90.0, upsample=True),
    )
    assert native.multilook == (1, 1) and native.resample is None
    attrs = [store.scene(i).attrs for i in ("kept", "native")]
    assert attrs[0]["inputs_sha256"] == attrs[1]["inputs_sha256"]
    np.testing.assert_array_equal(store.scene("native").read("phase"), wrap(phase))


def test_a_licsar_grid_at_36n_is_upsampled_to_45m(tmp_path):
    """0.001 deg at 36 N (90.2 x 111 m): factors about 0.41 (y) and 0.499 (x), pixels 45 m +-1%, scannable."""
    phase = wrap(ramp_phase(100, 120, cycles=4))
    path = write_raster(
        tmp_path / "licsar.tif", phase, crs="EPSG:4326", transform=Affine(0.001, 0, 140.0, 0, -0.001, 36.05)
    )
    store = Store.create(tmp_path / "store")
    config = IngestConfig(sensor="sentinel-1", model_pixel_size_m=45.0, upsample=True)
    result = ingest_scene(store, IngestRequest(phase=path, scene_id="licsar"), config)
    assert result.spacing.startswith("upsampled 111 x 90.16 m to 45 x 45 m")
    scene = store.scene("licsar")
    fy, fx = scene.attrs["resample"]["factors"]
    assert 0.40 < fy < 0.42 and 0.49 < fx < 0.51
    assert scene.grid.pixel_size.x_m == pytest.approx(
        45.0, rel=0.01
    ) and scene.grid.pixel_size.y_m == pytest.approx(45.0, rel=0.01)
    assert scene.grid.shape == (math.floor(100 / fy), math.floor(120 / fx))
    check_scannable(scene, 45.0)


def test_licsar_uint8_coherence_follows_an_upsampled_grid(tmp_path):
    """LiCSAR's coherence is uint8 with nodata 0, and ingest keeps 0 as data for coherence (a stand-in nodata of
    -1): GDAL refuses -1 for a uint8 band, so an upsampled scene's coherence warp raised a traceback. It now warps
    a float32 copy: values 1-255 scale to 1/255-1, the bilinear warp of a constant is that constant."""
    transform = Affine(0.001, 0, 140.0, 0, -0.001, 36.05)
    phase = write_raster(
        tmp_path / "licsar.tif", wrap(ramp_phase(100, 120, cycles=4)), crs="EPSG:4326", transform=transform
    )
    coherence = np.full((100, 120), 204, np.uint8)
    coh = write_raster(tmp_path / "licsar.cc.tif", coherence, crs="EPSG:4326", transform=transform, nodata=0)
    store = Store.create(tmp_path / "store")
    config = IngestConfig(sensor="sentinel-1", model_pixel_size_m=45.0, upsample=True)
    ingest_scene(store, IngestRequest(phase=phase, coherence=coh, scene_id="licsar"), config)
    stored = store.scene("licsar").read("coherence")
    inner = stored[3:-3, 3:-3]
    np.testing.assert_allclose(inner[np.isfinite(inner)], 204 / 255, atol=1e-6)
    assert np.isfinite(inner).mean() > 0.99


@settings(max_examples=6, deadline=None)
@given(chunk_px=st.sampled_from([10, 20, 30, 40, 70, 110]))
def test_upsampled_ingest_tiled_equals_untiled(tmp_path_factory, chunk_px):
    """Each chunk reads its bilinear halo (the input centres around its edge pixels): any chunk size stores the
    untiled ``bilinear_upsample`` of the whole raster bit for bit (111 x 90.2 m to 45 m: neither factor is a
    simple fraction)."""
    folder = tmp_path_factory.mktemp("tiles")
    phase = wrap(ramp_phase(37, 43, cycles=3))
    phase[10:14, 5:20] = np.nan
    path = write_raster(
        folder / "g.tif",
        phase,
        crs="EPSG:4326",
        transform=Affine(0.001, 0, 140.0, 0, -0.001, 36.02),
        nodata=float("nan"),
    )
    config = IngestConfig(sensor="sentinel-1", model_pixel_size_m=45.0, upsample=True, chunk_px=chunk_px)
    result = ingest_scene(
        store := Store.create(folder / "store"), IngestRequest(phase=path, scene_id="t"), config
    )
    reduction = Reduction(*result.resample["factors"], UPSAMPLE)
    expected, expected_valid = _upsampled(phase, reduction, result.shape)
    stored = store.scene("t")
    np.testing.assert_array_equal(stored.read("valid"), expected_valid.astype(np.uint8))
    np.testing.assert_array_equal(stored.read("phase"), np.where(expected_valid, wrap(expected), np.nan))


def test_gamma_coherence_zero_is_kept_as_data(tmp_path):
    phase = wrap(ramp_phase(40, 30))
    coherence = np.random.default_rng(0).uniform(0.2, 0.9, (40, 30)).astype(np.float32)
    coherence[10, :] = 0.0
    coh = write_raster(tmp_path / "x_cc.tif", coherence, nodata=0.0, tags={"DATA_UNITS": "RADIANS"})
    store = Store.create(tmp_path / "store")
    ingest_scene(
        store,
        IngestRequest(phase=write_raster(tmp_path / "x.tif", phase), scene_id="x", coherence=coh),
        L_BAND,
    )
    np.testing.assert_array_equal(store.scene("x").read("coherence"), coherence)


def test_masks_water_exclusions_and_layover_fold_into_valid(tmp_path):
    phase = wrap(ramp_phase(60, 50))
    phase_path = write_raster(tmp_path / "p.tif", phase, tags=GAMMA_TAGS)
    water = np.zeros((60, 50), np.uint8)
    water[:, :5] = 1
    water_path = write_raster(tmp_path / "water.tif", water)
    left, top = ORIGIN[0] + 28 * 20, ORIGIN[1] - 28 * 20
    ring = [[left, top], [left + 280, top], [left + 280, top - 280], [left, top - 280], [left, top]]
    polygon = tmp_path / "snow.geojson"
    polygon.write_text(
        json.dumps(
            {"type": "Polygon", "coordinates": [ring], "crs": {"type": "name", "properties": {"name": UTM54}}}
        )
    )
    dem = np.zeros((60, 50), np.float32)
    dem[:, 40:] = (np.arange(10) * 28 * math.tan(math.radians(60)))[None, :]
    dem_path = write_raster(tmp_path / "dem.tif", dem)
    store = Store.create(tmp_path / "store")
    ingest_scene(
        store,
        IngestRequest(phase=phase_path, scene_id="p", water=water_path, exclude=(polygon,), dem=dem_path),
    )
    valid = store.scene("p").read("valid")
    assert valid[:, :5].sum() == 0 and valid[20:30, 20:30].sum() == 0
    assert valid[:, 41:49].sum() == 0  # a 60 degree slope facing the ascending sensor: layover
    assert valid[5:15, 8:18].all()
    assert np.isnan(store.scene("p").read("phase")[valid == 0]).all()


def _bad_inputs(tmp_path):
    """(name, argv, message fragment) for every bad-input case of the issue."""
    good = write_raster(tmp_path / "good.tif", wrap(ramp_phase(H, W)), tags=GAMMA_TAGS)
    garbage = tmp_path / "corrupt.tif"
    garbage.write_bytes(b"II*\x00" + b"\x17" * 4000)
    whole = write_raster(tmp_path / "whole.tif", wrap(ramp_phase(H, W)))
    truncated = tmp_path / "truncated.tif"
    truncated.write_bytes(whole.read_bytes()[: int(whole.stat().st_size * 0.7)])
    far = utm_transform(origin=(800_000.0, 4_000_000.0))
    return [
        (
            "no_crs",
            [write_raster(tmp_path / "nocrs.tif", wrap(ramp_phase(40, 30)), crs=None)],
            "found no CRS",
        ),
        (
            "rotated",
            [
                write_raster(
                    tmp_path / "rot.tif", wrap(ramp_phase(40, 30)), transform=Affine(28, 3, 5e5, 3, -28, 4e6)
                )
            ],
            "expected a north-up transform",
        ),
        (
            "all_nodata",
            [write_raster(tmp_path / "empty.tif", np.zeros((40, 30), np.float32), nodata=0.0), *L_FLAG],
            "found only nodata",
        ),
        ("dtype", [write_raster(tmp_path / "int.tif", np.zeros((40, 30), np.uint8))], "of uint8"),
        ("corrupt", [garbage], "corrupt or truncated"),
        ("truncated", [truncated, *L_FLAG], "corrupt or truncated"),
        (
            "dem_outside",
            [
                good,
                "--dem",
                write_raster(tmp_path / "far_dem.tif", np.ones((40, 30), np.float32), transform=far),
            ],
            "expected a footprint overlapping",
        ),
        ("duplicate", [whole, "--id", "good", *L_FLAG], "pass --replace"),
        ("no_wavelength", [whole, "--id", "w"], "pass --sensor NAME (alos-palsar, alos2-palsar2"),
        ("unknown_sensor", [whole, "--id", "w", "--sensor", "ers-9"], "found an unknown sensor"),
        (
            "wavelength_flag_disagrees",
            [good, "--id", "w", "--wavelength-m", "0.0555"],
            "WAVELENGTH_METRES 0.236",
        ),
        ("sensor_flag_disagrees", [good, "--id", "w", "--sensor", "sentinel-1"], "band C: 0.053-0.058 m"),
        ("wavelength_in_cm", [whole, "--id", "w", "--wavelength-m", "23.6"], "not centimetres"),
        (
            "coherence_range",
            [
                good,
                "--id",
                "g2",
                "--coherence",
                write_raster(tmp_path / "amp.tif", np.full((H, W), 40.0, np.float32)),
            ],
            "expected values in 0..1",
        ),
    ]


def test_every_bad_input_fails_with_one_line_and_leaves_the_store_unchanged(tmp_path, capsys):
    store_dir = tmp_path / "store"
    cases = _bad_inputs(tmp_path)
    assert _ingest(tmp_path / "good.tif", "--store", store_dir) == 0
    before = snapshot(store_dir)
    capsys.readouterr()
    for name, argv, fragment in cases:
        code = _ingest(*argv, "--store", store_dir)
        err = capsys.readouterr().err.strip()
        assert code != 0, name
        assert err.startswith("fringescan: error: ") and len(err.splitlines()) == 1, (name, err)
        assert fragment in err and "expected" in err and "found" in err and "fix:" in err, (name, err)
        assert snapshot(store_dir) == before, name


def test_failed_ingest_into_a_new_store_leaves_nothing(tmp_path, capsys):
    bad = write_raster(tmp_path / "empty.tif", np.zeros((40, 30), np.float32), nodata=0.0)
    assert _ingest(bad, "--store", tmp_path / "fresh") == 3
    assert not (tmp_path / "fresh").exists()


def test_same_content_is_a_no_op_and_replace_is_recorded(tmp_path, capsys):
    store_dir = tmp_path / "store"
    first = write_raster(tmp_path / "a.phase.tif", wrap(ramp_phase(40, 30, seed=1)))
    assert _ingest(first, *L_FLAG, "--store", store_dir) == 0
    before = snapshot(store_dir)
    assert _ingest(first, *L_FLAG, "--store", store_dir) == 0
    assert "a: unchanged" in capsys.readouterr().out and snapshot(store_dir) == before
    second = write_raster(tmp_path / "other.tif", wrap(ramp_phase(40, 30, seed=2)))
    assert _ingest(second, "--id", "a", *L_FLAG, "--store", store_dir) == 4
    assert _ingest(second, "--id", "a", "--replace", *L_FLAG, "--store", store_dir) == 0
    attrs = _attrs(store_dir, "a")
    assert len(attrs["replaces"]) == 1 and attrs["replaces"][0]["sources"][0]["path"].endswith("a.phase.tif")
    assert attrs["sources"][0]["path"].endswith("other.tif")
    assert [e["event"] for e in Store.open(store_dir).events()] == ["ingest", "replace"]
    assert list((store_dir / ".staging").iterdir()) == []


def test_cli_refuses_conflicting_arguments(tmp_path, capsys):
    a = write_raster(tmp_path / "a.tif", wrap(ramp_phase(20, 20)))
    b = write_raster(tmp_path / "b.tif", wrap(ramp_phase(20, 20)))
    assert _ingest(a, b, "--id", "x", "--store", tmp_path / "s") == 2
    assert _ingest(a, b, "--coherence", a, "--store", tmp_path / "s") == 2
    assert _ingest(a, "--kind", "complex", "--store", tmp_path / "s") == 2
    assert "--kind complex" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("s01.phase.tif", "s01"),
        ("cropA_20180106-20180130_VV_8rlks_eqa_unw.tif", "cropA_20180106-20180130_VV_8rlks"),
        ("ifg.unw.tif", "ifg"),
        ("scene_A.tiff", "scene_A"),
        ("x_20200101_20200113.int.tif", "x_20200101_20200113"),
    ],
)
def test_scene_id_from_file_name(name, expected):
    assert scene_id_from_path(name) == expected


def test_real_gamma_files_from_the_cli(pyrate_dir, tmp_path, capsys):
    import rasterio

    unw = sorted(pyrate_dir.glob("*_unw.tif"))[:2]
    coh = [p.with_name(p.name.replace("_eqa_unw", "_flat_eqa_cc")) for p in unw]
    store_dir = tmp_path / "store"
    args = [*unw, "--coherence", coh[0], "--coherence", coh[1], "--store", store_dir]
    assert _ingest(*args) == 0
    out = capsys.readouterr().out
    assert out.count("ingested (unwrapped, 60 x 100 px, looks 1 x 1)") == 2 and "scan will refuse" in out
    store = Store.open(store_dir)
    scene = store.scene("cropA_20180106-20180130_VV_8rlks")
    with rasterio.open(unw[0]) as ds:
        original = ds.read(1)
        transform = ds.transform
    attrs = scene.attrs
    assert attrs["grid"]["epsg"] == 4326 and attrs["grid"]["transform"] == list(transform)[:6]
    assert attrs["grid"]["pixel_size_m"]["x"] == pytest.approx(145.88, abs=0.05)
    assert attrs["grid"]["pixel_size_m"]["y"] == pytest.approx(153.75, abs=0.05)
    assert attrs["wavelength_m"] == pytest.approx(0.05550415767769124)
    assert (attrs["first_date"], attrs["second_date"]) == ("2018-01-06", "2018-01-30")
    assert attrs["incidence_deg"] == pytest.approx(39.7026) and attrs["processor"] == "GAMMA"
    valid = scene.read("valid")
    np.testing.assert_array_equal(valid == 0, original == 0)
    np.testing.assert_array_equal(scene.read("phase")[valid == 1], wrap(original[original != 0]))
    coherence = scene.read("coherence")
    assert np.isfinite(coherence).all() and coherence.max() <= 1 and (coherence == 0).any()


def test_scene_read_window_beyond_edges(tmp_path):
    store = Store.create(tmp_path / "store")
    phase = wrap(ramp_phase(30, 20))
    ingest_scene(store, IngestRequest(phase=write_raster(tmp_path / "e.tif", phase), scene_id="e"), L_BAND)
    window = store.scene("e").read("phase", PixelWindow(-5, 15, 10, 10))
    assert np.isnan(window[:5]).all() and np.isnan(window[:, 5:]).all()
    np.testing.assert_array_equal(window[5:, :5], phase[:5, 15:])


def test_cli_ingests_a_simulated_region(tmp_path, capsys):
    """Acceptance: the simulator's region (``fringescan synth``) ingests from the CLI with its tags intact."""
    import rasterio

    region = tmp_path / "region"
    assert main(["synth", "--out", str(region), "--scenes", "2", "--size", "200", "--seed", "3"]) == 0
    phases = sorted(region.glob("*.phase.tif"))
    assert len(phases) == 2
    coherence = [
        arg for p in phases for arg in ("--coherence", p.with_name(p.name.replace(".phase.", ".coh.")))
    ]
    dem = next(region.glob("*.dem.tif"))
    store_dir = tmp_path / "store"
    assert _ingest(*phases, *coherence, "--dem", dem, "--store", store_dir) == 0
    store = Store.open(store_dir)
    assert store.scene_ids() == [p.name.removesuffix(".phase.tif") for p in phases]
    for path in phases:
        scene = store.scene(path.name.removesuffix(".phase.tif"))
        with rasterio.open(path) as ds:
            tags, original = ds.tags(), ds.read(1)
        assert scene.attrs["kind"] == "wrapped" and scene.attrs["first_date"] == tags["FIRST_DATE"][:10]
        assert scene.attrs["pass_direction"] == tags["PASS_DIRECTION"].lower()
        valid = scene.read("valid") == 1
        assert valid.mean() > 0.5 and all(scene.has(n) for n in ("coherence", "dem", "slope"))
        np.testing.assert_array_equal(scene.read("phase")[valid], wrap(original[valid]))


def _on_grid_cases(rng: np.random.Generator, h: int, w: int) -> dict[str, tuple]:
    """name -> (band, declared nodata, src_nodata override, resampling) of rasters on the phase grid."""
    f32 = rng.normal(300, 80, (h, w)).astype(np.float32)
    holes = f32.copy()
    holes[5:9, 3:20], holes[0], holes[:, -1] = np.nan, np.nan, np.nan
    sentinel = f32.copy()
    sentinel[5:9, 3:20], sentinel[:, 0] = -9999, -9999
    near = sentinel.copy()
    near[30, 30] = np.nextafter(np.float32(-9999), np.float32(0))  # GDAL's warp calls this nodata too
    f64 = rng.normal(0, 1e5, (h, w))
    f64[3:6, 3:6] = -9999
    i16 = rng.integers(-500, 3000, (h, w)).astype(np.int16)
    i16[10:20, 10:20] = -32768
    coherence = rng.uniform(0, 1, (h, w)).astype(np.float32)
    coherence[:10, :10] = 0
    water = (rng.random((h, w)) < 0.3).astype(np.uint8)
    water[40:, 40:] = 255
    return {
        "f32_nan": (holes, float("nan"), None, "bilinear"),
        "f32_no_nodata": (holes, None, None, "bilinear"),
        "f32_sentinel": (sentinel, -9999.0, None, "bilinear"),
        "f32_near_sentinel": (near, -9999.0, None, "bilinear"),
        "f64": (f64, -9999.0, None, "bilinear"),
        "int16": (i16, -32768, None, "bilinear"),
        "int32": (
            rng.integers(-(2**31), 2**31 - 1, (h, w), dtype=np.int64).astype(np.int32),
            None,
            None,
            "bilinear",
        ),
        "gamma_coherence": (coherence, 0.0, -1.0, "bilinear"),
        "water": (water, 255, None, "nearest"),
    }


@settings(max_examples=8, deadline=None)
@given(
    row=st.integers(-12, 65), col=st.integers(-12, 50), height=st.integers(1, 40), width=st.integers(1, 40)
)
def test_on_grid_rasters_are_read_exactly_as_warped(tmp_path_factory, row, col, height, width):
    """A raster on the scene grid is read directly; the read equals ``readers.reproject_window`` bit for bit
    (nodata and outside -> NaN, dtype casts), or declines (None) where GDAL's fuzzy nodata test could differ."""
    folder = tmp_path_factory.mktemp("grid")
    windows = [PixelWindow(0, 0, 70, 53), PixelWindow(-1, -1, 72, 55), PixelWindow(row, col, height, width)]
    declined = []
    for name, (band, nodata, src_nodata, resampling) in _on_grid_cases(
        np.random.default_rng(3), 70, 53
    ).items():
        with readers.open_raster(write_raster(folder / f"{name}.tif", band, nodata=nodata)) as ds:
            grid = readers.raster_grid(ds)
            assert readers.on_grid(ds, name, grid)
            for window in windows:
                fast = readers.read_on_grid(ds, window, src_nodata, name)
                warped = readers.reproject_window(
                    ds, grid, window, resampling=resampling, src_nodata=src_nodata
                )
                if fast is None:
                    declined.append(name)
                    continue
                assert fast.dtype == np.float32 and fast.shape == warped.shape
                np.testing.assert_array_equal(fast.view(np.uint32), warped.view(np.uint32), err_msg=name)
    assert set(declined) == {"f32_near_sentinel"}


def test_rasters_off_the_grid_are_warped(tmp_path):
    band = np.ones((40, 30), np.float32)
    with readers.open_raster(write_raster(tmp_path / "p.tif", band)) as ds:
        grid = readers.raster_grid(ds)
    shifted = write_raster(tmp_path / "s.tif", band, transform=utm_transform(origin=(500_014.0, 4_000_000.0)))
    other_crs = write_raster(tmp_path / "c.tif", band, crs="EPSG:32653")
    cropped = write_raster(tmp_path / "k.tif", band[:, :29])
    wide_ints = write_raster(tmp_path / "i.tif", band.astype(np.int64))
    masked = write_raster(tmp_path / "m.tif", band)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True), rasterio.open(masked, "r+") as ds:
        ds.write_mask(
            np.where(np.arange(40)[:, None] < 5, 0, 255).astype(np.uint8) + np.zeros((1, 30), np.uint8)
        )
    for path in (shifted, other_crs, cropped, wide_ints, masked):
        with readers.open_raster(path) as ds:
            assert not readers.on_grid(ds, "dem", grid), path.name


def test_ingest_of_on_grid_inputs_equals_the_warped_ingest(tmp_path, monkeypatch):
    """The whole scene (coherence, DEM, slope, water and layover masks, phase, valid) is the same whether the
    on-grid inputs are read directly or warped, across 20 px chunk seams."""
    rng = np.random.default_rng(5)
    h, w = 70, 53
    phase_path = write_raster(tmp_path / "p.tif", wrap(ramp_phase(h, w)), tags=GAMMA_TAGS)
    cases = _on_grid_cases(rng, h, w)
    dem = cases["f32_sentinel"][0].copy()
    dem[:, 40:] = (np.arange(13) * 28 * math.tan(math.radians(60)))[None, :]
    request = IngestRequest(
        phase=phase_path,
        scene_id="s",
        coherence=write_raster(tmp_path / "cc.tif", cases["gamma_coherence"][0], nodata=0.0),
        dem=write_raster(tmp_path / "dem.tif", dem, nodata=-9999.0),
        water=write_raster(tmp_path / "water.tif", cases["water"][0], nodata=255),
    )
    config = IngestConfig(chunk_px=20)
    warps = []
    original_warp = readers.reproject_window
    monkeypatch.setattr(
        readers, "reproject_window", lambda *a, **k: warps.append(1) or original_warp(*a, **k)
    )
    ingest_scene(Store.create(tmp_path / "direct"), request, config)
    assert warps == []  # every auxiliary raster was on the grid: no warp at all
    monkeypatch.setattr(readers, "on_grid", lambda ds, role, grid: False)
    ingest_scene(Store.create(tmp_path / "warped"), request, config)
    assert len(warps) == 3 * 12  # 3 rasters x 12 chunks
    direct, warped = Store.open(tmp_path / "direct").scene("s"), Store.open(tmp_path / "warped").scene("s")
    for name in ("phase", "valid", "coherence", "dem", "slope"):
        a, b = direct.read(name), warped.read(name)
        np.testing.assert_array_equal(a.view(f"u{a.itemsize}"), b.view(f"u{b.itemsize}"), err_msg=name)
    assert 0 < direct.read("valid").sum() < h * w  # the masks took some pixels away
