"""NISAR L2 GUNW products (``scanner.io.products``, family ``nisar``): small HDF5 files in the GUNW layout
(isce3's GUNW writer: grids/frequencyA/{wrapped,unwrapped}Interferogram/<pol>/..., pixel-centre coordinates,
an EPSG ``projection``, identification metadata) built with h5py at run time, named per the NISAR convention.

The wrapped interferogram is a planar phase ramp of known fringe rate (radians per metre east and north) on a
20 m grid whose outer corner is known, so the ingested 28 m scene has a known transform and phase."""

from __future__ import annotations

import math
import shutil
import tempfile
from pathlib import Path

import h5py
import numpy as np
import pytest
import rasterio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scanner.cli import main
from scanner.core.phase import wrap
from scanner.io.products import opened, recognise
from scanner.io.store import Store
from scanner.pipeline import inbox, nightly
from scanner.sensors import SPEED_OF_LIGHT_M_S, get_sensor
from tests.rasters import ramp_phase, snapshot, write_raster

GRANULE = (
    "NISAR_L2_PR_GUNW_009_163_A_140_010_4000_SH_20260108T130215_20260108T130251"
    "_20260120T130216_20260120T130252_X05010_N_F_J_001"
)
SCENE = "NISAR_163_A_140_20260108_20260120"
EPSG = 32611
WEST, NORTH = 500_000.0, 4_000_000.0
"""The outer corner of every layer's grid (its coordinates are pixel centres, half a pixel inside)."""
K_X, K_Y = 2 * math.pi / 700, -2 * math.pi / 1100
"""The ramp's fringe rate: radians per metre east and per metre north."""
WRAPPED_SHAPE, UNWRAPPED_SHAPE = (168, 196), (42, 49)  # 3360 x 3920 m at 20 m and at 80 m
CENTER_HZ = 1.25e9  # an L-band frequency other than the table's 1257.5 MHz, so the file's own is seen
INCIDENCE = np.linspace(30.0, 44.0, 60, dtype=np.float32).reshape(3, 4, 5)
IDENTIFICATION = {
    "productType": b"GUNW",
    "referenceZeroDopplerStartTime": b"2026-01-08T13:02:15.000000000",
    "secondaryZeroDopplerStartTime": b"2026-01-20T13:02:16.000000000",
    "orbitPassDirection": b"Ascending",
    "trackNumber": np.uint32(163),
    "frameNumber": np.uint16(140),
    "lookDirection": b"Left",
}


def _ramp(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    return K_X * (x - WEST) + K_Y * (y - NORTH)


def _centres(spacing_m: float, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return WEST + spacing_m * (np.arange(shape[1]) + 0.5), NORTH - spacing_m * (np.arange(shape[0]) + 0.5)


def _coordinates(group: h5py.Group, spacing_m: float, shape: tuple[int, int], epsg: int = EPSG) -> None:
    """As isce3's ``set_get_geo_info``: centres, spacings and a scalar ``projection`` holding the EPSG code."""
    group["xCoordinates"], group["yCoordinates"] = _centres(spacing_m, shape)
    group["xCoordinateSpacing"], group["yCoordinateSpacing"] = spacing_m, -spacing_m
    group.create_dataset("projection", data=np.int32(epsg)).attrs["epsg_code"] = epsg


def _layer(grids: h5py.Group, group: str, pol: str, *, coordinates_above: bool, compress: bool) -> None:
    wrapped = group == "wrappedInterferogram"
    spacing, shape = (20.0, WRAPPED_SHAPE) if wrapped else (80.0, UNWRAPPED_SHAPE)
    x, y = np.meshgrid(*_centres(spacing, shape))
    phase = _ramp(x, y)
    coherence = (0.2 + 0.7 * (x - WEST) / (x.max() - WEST + spacing)).astype(np.float32)
    if wrapped:
        amplitude = 1.0 + np.random.default_rng(0).random(shape)  # any amplitude: the phase is the angle
        values = (amplitude * np.exp(1j * phase)).astype(np.complex64)
        values[:10, :15] = np.complex64(complex(math.nan, math.nan))  # the product's fill value
        coherence[:10, :15] = math.nan
        name, fill = "wrappedInterferogram", np.complex64(complex(math.nan, math.nan))
    else:
        values, name, fill = phase.astype(np.float32), "unwrappedPhase", np.float32(math.nan)
    pol_group = grids.create_group(f"{group}/{pol}")
    options = {"chunks": (32, 32), "compression": "gzip"} if compress else {}
    pol_group.create_dataset(name, data=values, **options).attrs["_FillValue"] = fill
    pol_group.create_dataset("coherenceMagnitude", data=coherence).attrs["_FillValue"] = np.float32(math.nan)
    _coordinates(grids[group] if coordinates_above else pol_group, spacing, shape)


def write_gunw(
    folder: Path,
    granule: str = GRANULE,
    *,
    layers: tuple[str, ...] = ("wrappedInterferogram", "unwrappedInterferogram"),
    pol: str = "HH",
    identification: dict | None = None,
    center_hz: float | None = CENTER_HZ,
    coordinates_above: bool = False,
    compress: bool = False,
) -> Path:
    """A GUNW-layout HDF5 file ``folder/<granule>.h5``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{granule}.h5"
    with h5py.File(path, "w") as h5:
        ident = h5.create_group("science/LSAR/identification")
        for key, value in {**IDENTIFICATION, **(identification or {})}.items():
            ident[key] = value
        grids = h5.create_group("science/LSAR/GUNW/grids/frequencyA")
        grids["listOfPolarizations"] = np.array([pol], dtype="S2")
        if center_hz is not None:
            grids["centerFrequency"] = center_hz
        h5["science/LSAR/GUNW/metadata/radarGrid/incidenceAngle"] = INCIDENCE
        for group in layers:
            _layer(grids, group, pol, coordinates_above=coordinates_above, compress=compress)
    return path


def _attrs(store: Path, scene_id: str = SCENE) -> dict:
    return Store.open(store).scene(scene_id).attrs


# ---------------------------------------------------------------------------------------------- recognise


def test_recognise_gives_family_scene_sensor_dates_and_direction(tmp_path):
    path = write_gunw(tmp_path)
    product = recognise(path)
    assert (product.family, product.scene_id, product.sensor) == ("nisar", SCENE, "nisar-l")
    assert (product.first_date, product.second_date) == ("2026-01-08", "2026-01-20")
    assert (product.pass_direction, product.frame) == ("ascending", "163_A_140")
    assert product.look_azimuth_deg == 260.0  # left-looking ascending: looks west
    assert product.incidence_deg == pytest.approx(float(INCIDENCE.mean()), abs=1e-4)
    assert product.phase == path and product.files == (path,)  # metadata only: opened() writes the layers
    assert product.known()["processor"] == "NISAR SDS (ISCE3)"
    descending = {"orbitPassDirection": b"Descending", "lookDirection": b"Right"}
    other = write_gunw(tmp_path / "d", GRANULE.replace("_A_140_", "_D_140_"), identification=descending)
    product = recognise(other)
    assert (product.pass_direction, product.look_azimuth_deg) == ("descending", None)  # ingest's default
    renamed, gcov = tmp_path / "renamed.h5", tmp_path / f"{GRANULE.replace('_GUNW_', '_GCOV_')}.h5"
    shutil.copy2(path, renamed)
    shutil.copy2(path, gcov)
    assert recognise(renamed) is None and recognise(gcov) is None  # recognised by the GUNW name only


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spacing=st.sampled_from([5.0, 20.0, 80.0]),
    height=st.integers(1, 40),
    width=st.integers(2, 40),
    epsg=st.sampled_from([32611, 32733, 3031]),
)
def test_written_layer_is_the_angle_on_the_coordinates_grid(spacing, height, width, epsg):
    """Round trip: the phase GeoTIFF ``opened`` writes holds np.angle of the HDF5 interferogram, and its pixel
    centres are the HDF5 coordinates, on the HDF5 EPSG code."""
    rng = np.random.default_rng(height * 100 + width)
    values = (rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))).astype(np.complex64)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{GRANULE}.h5"
        with h5py.File(path, "w") as h5:
            for key, value in IDENTIFICATION.items():
                h5[f"science/LSAR/identification/{key}"] = value
            group = h5.create_group("science/LSAR/GUNW/grids/frequencyA/wrappedInterferogram/HH")
            group["wrappedInterferogram"] = values
            _coordinates(group, spacing, (height, width), epsg)
        with opened(path) as product, rasterio.open(product.phase) as ds:
            np.testing.assert_array_equal(ds.read(1), np.angle(values).astype(np.float32))
            assert ds.crs.to_epsg() == epsg
            x, y = _centres(spacing, (height, width))
            np.testing.assert_allclose(
                ds.xy(np.zeros(width, int), np.arange(width)), [x, np.full(width, y[0])]
            )
            np.testing.assert_allclose(
                ds.xy(np.arange(height), np.zeros(height, int)), [np.full(height, x[0]), y]
            )
            assert product.coherence is None


# ---------------------------------------------------------------------------------------------- ingest


def test_ingest_puts_the_ramp_on_its_grid_at_28_m(tmp_path, capsys):
    path = write_gunw(tmp_path / "dl")
    store = tmp_path / "store"
    assert main(["ingest", str(path), "--store", str(store)]) == 0
    assert (
        f"{SCENE}: ingested (wrapped, 120 x 140 px, resampled 20 x 20 m to 28 x 28 m)"
        in capsys.readouterr().out
    )
    attrs = _attrs(store)
    assert (attrs["sensor"], attrs["first_date"], attrs["second_date"]) == (
        "nisar-l",
        "2026-01-08",
        "2026-01-20",
    )
    assert (attrs["pass_direction"], attrs["frame"], attrs["processor"]) == (
        "ascending",
        "163_A_140",
        "NISAR SDS (ISCE3)",
    )
    assert attrs["wavelength_m"] == pytest.approx(SPEED_OF_LIGHT_M_S / CENTER_HZ, rel=1e-6)  # the file's own
    assert attrs["sources"][0]["path"] == f"{path.resolve()}!wrappedInterferogram_HH_phase.tif"
    scene = Store.open(store).scene(SCENE)
    grid = scene.grid
    assert grid.crs.to_epsg() == EPSG
    # the corner of pixel (0, 0) is the HDF5 grid's outer corner, half a 20 m pixel outside its first centre
    assert tuple(grid.transform)[:6] == pytest.approx((28.0, 0.0, WEST, 0.0, -28.0, NORTH))
    phase = scene.read("phase").astype(np.float64)
    rows, cols = np.mgrid[0 : grid.height, 0 : grid.width]
    x, y = grid.transform * (cols + 0.5, rows + 0.5)
    inner = (rows >= 10) & (cols >= 12)  # clear of the fill block of the 20 m grid
    residual = np.angle(np.exp(1j * (phase - _ramp(x, y))))
    assert np.abs(residual[inner]).max() < 0.04  # 0.025 (area weights); half a 20 m pixel off: 0.17
    # the complex average keeps the fringe rate per metre
    along_x = np.angle(np.exp(1j * np.diff(phase, axis=1)))[inner[:, 1:]].mean() / 28.0
    along_y = np.angle(np.exp(1j * np.diff(phase, axis=0)))[inner[1:]].mean() / -28.0
    assert (along_x, along_y) == pytest.approx((K_X, K_Y), rel=2e-3)
    valid = scene.read("valid")
    assert not valid[:3, :5].any() and valid[inner].all()  # the fill block is nodata
    coherence = scene.read("coherence")
    finite = coherence[np.isfinite(coherence)]
    assert finite.min() >= 0.19 and finite.max() <= 0.91 and np.nanmean(coherence[inner]) > 0.5
    # the temporary GeoTIFFs are written the same way every time: the same product again changes nothing
    before = snapshot(store)
    assert main(["ingest", str(path), "--store", str(store)]) == 0
    assert f"{SCENE}: unchanged" in capsys.readouterr().out and snapshot(store) == before


def test_unwrapped_only_product_without_frequency_uses_the_80_m_phase_and_the_table(tmp_path):
    """Coordinates one group up (as some specification versions have them), VV, no centerFrequency."""
    granule = GRANULE.replace("_SH_", "_SV_")
    path = write_gunw(
        tmp_path,
        granule,
        layers=("unwrappedInterferogram",),
        pol="VV",
        center_hz=None,
        coordinates_above=True,
    )
    store = tmp_path / "store"
    assert main(["ingest", str(path), "--store", str(store)]) == 0
    attrs = _attrs(store)
    assert attrs["kind"] == "unwrapped" and attrs["sources"][0]["path"].endswith(
        "!unwrappedInterferogram_VV_phase.tif"
    )
    assert attrs["wavelength_m"] == pytest.approx(get_sensor("nisar-l").wavelength_m)
    scene = Store.open(store).scene(SCENE)
    assert tuple(scene.grid.transform)[:6] == pytest.approx((80.0, 0.0, WEST, 0.0, -80.0, NORTH))
    x, y = np.meshgrid(*_centres(80.0, UNWRAPPED_SHAPE))
    np.testing.assert_allclose(scene.read("phase"), wrap(_ramp(x, y).astype(np.float32)), atol=2e-6)


# ---------------------------------------------------------------------------------------------- the inbox


def test_inbox_takes_a_dropped_h5_as_one_pass(tmp_path):
    inbox_dir = tmp_path / "inbox"
    path = write_gunw(inbox_dir)
    truncated = inbox_dir / f"{GRANULE.replace('20260120T', '20260201T')}.h5"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    found = inbox.discover(inbox_dir)
    assert found.bad == [] and [p.name for p in found.passes] == [GRANULE, truncated.stem]
    one = found.passes[0]
    assert (one.scene_id, one.product, one.phase, one.files()) == (SCENE, path, path, [path])
    root = tmp_path / "store"
    store = Store.create(root)
    state = nightly.RunState(run_id="t")
    planned = nightly.plan_passes(found, root, store, state)
    done = nightly.ingest_passes(store, planned, 28.0, state, found.passes)
    assert [p.scene_id for p in done] == [SCENE]
    assert (store.scene(SCENE).attrs["sensor"], store.scene(SCENE).attrs["frame"]) == ("nisar-l", "163_A_140")
    refused = {o.name: o.reason for o in state.outcomes if o.status == "quarantined"}
    assert list(refused) == [truncated.stem] and "expected a readable HDF5 file" in refused[truncated.stem]
    assert not truncated.exists() and inbox.quarantined(root)[0]["files"] == [truncated.name]


# ---------------------------------------------------------------------------------------------- bad input


def _bad_products(tmp_path: Path) -> list[tuple[str, Path, str]]:
    """(name, product, message fragment) for every bad product."""
    truncated = write_gunw(tmp_path / "truncated")
    truncated.write_bytes(truncated.read_bytes()[:4096])
    garbage = tmp_path / "garbage" / f"{GRANULE}.h5"
    garbage.parent.mkdir()
    garbage.write_bytes(b"\x89HDF\r\n\x1a\n not really")
    corrupt = write_gunw(tmp_path / "corrupt", compress=True)  # the file opens; one chunk does not decompress
    with h5py.File(corrupt, "r") as h5:
        dataset = h5["science/LSAR/GUNW/grids/frequencyA/wrappedInterferogram/HH/wrappedInterferogram"]
        chunk = dataset.id.get_chunk_info(20)  # rows 64-95: read while the GeoTIFF is being written
    with open(corrupt, "r+b") as handle:
        handle.seek(chunk.byte_offset)
        handle.write(b"\xff" * chunk.size)
    no_layers = write_gunw(tmp_path / "no_layers", layers=())
    dates = write_gunw(
        tmp_path / "dates", identification={"secondaryZeroDopplerStartTime": b"2026-01-21T13:02:16"}
    )
    track = write_gunw(tmp_path / "track", identification={"trackNumber": np.uint32(164)})
    no_epsg = write_gunw(tmp_path / "no_epsg")
    with h5py.File(no_epsg, "r+") as h5:
        del h5["science/LSAR/GUNW/grids/frequencyA/wrappedInterferogram/HH/projection"]
    return [
        ("truncated", truncated, "expected a readable HDF5 file"),
        ("garbage", garbage, "expected a readable HDF5 file"),
        ("corrupt_chunk", corrupt, "expected a readable HDF5 file"),
        ("no_layers", no_layers, "found neither"),
        ("name_vs_metadata_date", dates, "the name gives the secondary date 2026-01-20"),
        ("name_vs_metadata_track", track, "the name gives the track 163"),
        ("no_projection", no_epsg, "a projection dataset holding an EPSG code"),
    ]


def test_bad_products_fail_with_one_line_and_leave_the_store_unchanged(tmp_path, capsys):
    store = tmp_path / "store"
    good = write_raster(tmp_path / "good.tif", wrap(ramp_phase(40, 30)), tags={"WAVELENGTH_METRES": "0.236"})
    assert main(["ingest", str(good), "--store", str(store)]) == 0
    before = snapshot(store)
    capsys.readouterr()
    for name, product, fragment in _bad_products(tmp_path / "bad"):
        assert main(["ingest", str(product), "--store", str(store)]) == 3, name
        err = capsys.readouterr().err.strip()
        assert err.startswith("fringescan: error: ") and len(err.splitlines()) == 1, (name, err)
        assert fragment in err and "expected" in err and "fix:" in err, (name, err)
        assert snapshot(store) == before, name
