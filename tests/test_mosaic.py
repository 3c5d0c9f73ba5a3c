"""Mosaic numerics and runs: combining rules, seamless overlaps, idempotence, chunk-level incrementality."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from mosaic_fixtures import (
    add_lattice_scene,
    lattice_cell_of,
    lattice_values,
    make_store,
    site_feature,
    write_sites,
)
from pyproj import Transformer

from scanner.config import load_config
from scanner.errors import UsageError
from scanner.mosaic.combine import (
    CombineConfig,
    combine_passes,
    date_ordinal,
    downsample,
    ordinal_to_yyyymmdd,
)
from scanner.mosaic.grid import MosaicGrid, grid_for_bounds
from scanner.mosaic.run import run_mosaic
from scanner.mosaic.sites import merge_sites
from scanner.mosaic.zarr_io import LevelArrays, list_versions, read_manifest, version_path
from scanner.sim.config import SynthConfig

ROOT = Path(__file__).resolve().parents[1]


def small_grid(chunk: int = 32) -> MosaicGrid:
    """About 200 x 200 cells over the test lattice (EPSG:6668, 0.0025 deg), chunks of ``chunk`` cells."""
    return grid_for_bounds(
        name="test",
        crs="EPSG:6668",
        west=140.09,
        south=37.30,
        east=140.60,
        north=37.77,
        cell_size=0.0025,
        chunk=chunk,
    )


def band(root: Path, name: str, version: str | None = None, level: int = 0) -> np.ndarray:
    return LevelArrays(version_path(root, version), level, mode="r").read_band(name)


def cell_centres(grid: MosaicGrid) -> tuple[np.ndarray, np.ndarray]:
    t = grid.transform
    cols, rows = np.meshgrid(np.arange(grid.width) + 0.5, np.arange(grid.height) + 0.5)
    return t.c + t.a * cols, t.f + t.e * rows


# --- Numerics ---------------------------------------------------------------------------------------------------


def test_grid_configs_cover_their_regions() -> None:
    japan = load_config(ROOT / "configs/grids/japan.py")
    west, south, east, north = japan.geogrid().bounds
    assert west <= 122.93 and east >= 153.98 and south <= 20.42 and north >= 45.52
    assert japan.geogrid().epsg == 6668
    assert 200 < japan.geogrid().pixel_size.y_m < 300
    demo = load_config(ROOT / "configs/grids/demo.py")
    assert demo.geogrid().epsg == 6668
    synth = SynthConfig()
    to_degrees = Transformer.from_crs(f"EPSG:{synth.crs_epsg}", "EPSG:6668", always_xy=True)
    west, south, east, north = demo.geogrid().bounds
    for dx, dy in ((0, 0), (synth.size_px, -synth.size_px)):
        lon, lat = to_degrees.transform(
            synth.origin_x_m + dx * synth.pixel_size_m, synth.origin_y_m + dy * synth.pixel_size_m
        )
        assert west < lon < east and south < lat < north
    assert demo.chunk_rows * demo.chunk_cols > 4


def test_combine_rules_on_known_values() -> None:
    probs = np.array([[[0.2, np.nan]], [[0.9, np.nan]], [[0.4, 0.7]]], dtype=np.float32)
    days = np.array([date_ordinal("2026-01-01"), date_ordinal("2026-01-13"), date_ordinal("2026-03-01")])
    out = combine_passes(probs, days, CombineConfig(rule="max", threshold=0.5))
    np.testing.assert_allclose(out["prob"], [[0.9, 0.7]])
    np.testing.assert_array_equal(out["passes"], [[3, 1]])
    np.testing.assert_array_equal(out["passes_above"], [[1, 1]])
    np.testing.assert_array_equal(out["last_date"], [[20260301, 20260301]])
    mean = combine_passes(probs, days, CombineConfig(rule="mean"))
    np.testing.assert_allclose(mean["prob"], [[0.5, 0.7]], rtol=1e-6)
    latest = combine_passes(probs, days, CombineConfig(rule="latest"))
    np.testing.assert_allclose(latest["prob"], [[0.4, 0.7]])
    windowed = combine_passes(probs, days, CombineConfig(rule="max", window_days=50))
    np.testing.assert_allclose(windowed["prob"], [[0.9, 0.7]])  # 2026-01-13 is 47 days before 03-01
    np.testing.assert_array_equal(windowed["passes"], [[2, 1]])


def test_combine_without_passes_is_empty() -> None:
    out = combine_passes(np.full((2, 1, 3), np.nan, np.float32), np.array([1, 2]), CombineConfig())
    assert np.isnan(out["prob"]).all() and not out["passes"].any() and not out["last_date"].any()


@given(
    st.lists(st.floats(0, 1, width=32), min_size=1, max_size=6),
    st.sampled_from(["max", "mean", "latest"]),
    st.integers(0, 30),
)
def test_combine_is_order_free_and_bounded(values: list[float], rule: str, seed: int) -> None:
    probs = np.array(values, dtype=np.float32)[:, None, None]
    days = (np.arange(len(values)) * 12 + 20000).astype(np.int64)
    config = CombineConfig(rule=rule)
    out = combine_passes(probs, days, config)
    order = np.random.default_rng(seed).permutation(len(values))
    shuffled = combine_passes(probs[order], days[order], config)
    np.testing.assert_allclose(out["prob"], shuffled["prob"], rtol=1e-6)
    assert min(values) - 1e-6 <= float(out["prob"][0, 0]) <= max(values) + 1e-6
    assert int(out["passes"][0, 0]) == len(values)


@given(st.integers(-1, 40000))
def test_yyyymmdd_round_trip(days: int) -> None:
    value = int(ordinal_to_yyyymmdd(np.array([days]))[0])
    if days < 0:
        assert value == 0
    else:
        assert date_ordinal(f"{value // 10000:04d}-{value // 100 % 100:02d}-{value % 100:02d}") == days


def test_downsample_takes_max_and_ignores_nan() -> None:
    block = np.array([[0.1, np.nan, 0.3], [0.2, np.nan, np.nan]], dtype=np.float32)
    np.testing.assert_allclose(downsample("prob", block), [[0.2, 0.3]])
    counts = np.array([[1, 0, 2], [3, 0, 0]], dtype=np.uint16)
    np.testing.assert_array_equal(downsample("passes", counts), [[3, 2]])


def test_bad_rule_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="combine rule"):
        CombineConfig(rule="median")


def test_merge_sites_deduplicates_overlaps() -> None:
    a = site_feature("A", "s1", 450_000, 4_150_000, 300, prob_max=0.8)
    b = site_feature("B", "s1b", 450_050, 4_150_000, 300, prob_max=0.95, slope_class="flat")
    c = site_feature("B", "s2", 460_000, 4_150_000, 200, prob_max=0.7)
    layers = {
        "A": {"type": "FeatureCollection", "features": [a]},
        "B": {"type": "FeatureCollection", "features": [b, c]},
    }
    merged = merge_sites(layers)
    assert len(merged) == 2
    top = merged[0]["properties"]
    assert top["site_id"] == "s1" and top["merged_site_ids"] == [
        "s1",
        "s1b",
    ]  # the earliest detection names it
    assert top["prob_max"] == pytest.approx(0.95) and top["scene_ids"] == ["A", "B"]
    assert top["slope_class"] == "slope"
    assert 350 * 300 * 0.97 < top["area_m2"] < 350 * 300 * 1.03
    assert merged[1]["properties"]["scene_ids"] == ["B"]


# --- Runs -------------------------------------------------------------------------------------------------------


def test_overlapping_scenes_are_seamless(tmp_path: Path) -> None:
    grid = small_grid()
    alone = {}
    for name, box, date in (("A", (10, 10, 80, 90), "2026-02-01"), ("B", (50, 60, 90, 80), "2026-02-13")):
        root = make_store(tmp_path / name)
        add_lattice_scene(root, name, *box, second_date=date)
        run_mosaic(root, grid, CombineConfig())
        alone[name] = band(root, "prob")
    both = make_store(tmp_path / "both")
    add_lattice_scene(both, "A", 10, 10, 80, 90, second_date="2026-02-01")
    add_lattice_scene(both, "B", 50, 60, 90, 80, second_date="2026-02-13")
    run_mosaic(both, grid, CombineConfig(rule="max"))
    prob, passes = band(both, "prob"), band(both, "passes")
    overlap = passes == 2
    assert overlap.sum() > 200
    # where the scenes overlap, the mosaic equals each scene on its own: no seam, no blend
    np.testing.assert_array_equal(prob[overlap], alone["A"][overlap])
    np.testing.assert_array_equal(prob[overlap], alone["B"][overlap])
    # and every observed cell holds the known value of the lattice cell under its centre (cells whose centre
    # lies within 3 m of a lattice edge may go either way: GDAL and pyproj differ by centimetres)
    lon, lat = cell_centres(grid)
    rows, cols, margin = lattice_cell_of(lon, lat)
    observed = np.isfinite(prob) & (margin > 0.01)
    assert observed.sum() > 10000
    expected = lattice_values(0, 0, 200, 200)[rows[observed], cols[observed]]
    np.testing.assert_array_equal(prob[observed], expected)
    for rule in ("mean", "latest"):
        run_mosaic(both, grid, CombineConfig(rule=rule))
        np.testing.assert_allclose(band(both, "prob")[overlap], prob[overlap], rtol=1e-6)
    assert set(np.unique(band(both, "last_date"))) == {0, 20260201, 20260213}


def test_rerun_without_new_scene_changes_nothing(tmp_path: Path) -> None:
    root = make_store(tmp_path / "store")
    add_lattice_scene(root, "A", 10, 10, 60, 60, second_date="2026-02-01")
    first = run_mosaic(root, small_grid(), CombineConfig())
    before = sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file())
    again = run_mosaic(root, small_grid(), CombineConfig())
    after = sorted((p.relative_to(root), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file())
    assert again.unchanged and again.version == first.version and "unchanged" in again.summary()
    assert before == after and list_versions(root) == [first.version]


def chunk_files(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.glob("*/*/c/**/*")) if p.is_file()}


def test_new_scene_rewrites_only_the_chunks_it_touches(tmp_path: Path) -> None:
    root = make_store(tmp_path / "store")
    grid = small_grid()
    add_lattice_scene(root, "A", 5, 5, 150, 150, second_date="2026-02-01")
    first = run_mosaic(root, grid, CombineConfig())
    add_lattice_scene(root, "B", 20, 20, 25, 25, second_date="2026-02-13", seed=1)
    second = run_mosaic(root, grid, CombineConfig())
    assert not second.full_rebuild and 0 < len(second.dirty_chunks) <= 4
    old, new = chunk_files(version_path(root, first.version)), chunk_files(version_path(root, second.version))
    dirty = {
        f"0/{b}/c/{i}/{j}"
        for b in ("prob", "passes", "passes_above", "last_date")
        for i, j in second.dirty_chunks
    }
    untouched = {k for k in old if k.startswith("0/") and k not in dirty}
    assert len(untouched) > 20
    for key in untouched:
        assert new[key] == old[key], key
        assert (version_path(root, second.version) / key).stat().st_ino == (
            version_path(root, first.version) / key
        ).stat().st_ino
    assert any(new[k] != old[k] for k in dirty if k in old)
    # the old version is still complete and readable
    assert read_manifest(version_path(root, first.version))["passes"].keys() == {"A"}
    assert json.loads((root / "mosaic/CURRENT").read_text())["version"] == second.version


def test_incremental_equals_full_build(tmp_path: Path) -> None:
    root = make_store(tmp_path / "inc")
    grid = small_grid()
    add_lattice_scene(root, "A", 5, 5, 100, 100, second_date="2026-02-01")
    run_mosaic(root, grid, CombineConfig())
    add_lattice_scene(root, "B", 60, 80, 70, 70, second_date="2026-02-13", seed=2)
    run_mosaic(root, grid, CombineConfig())
    full = make_store(tmp_path / "full")
    add_lattice_scene(full, "A", 5, 5, 100, 100, second_date="2026-02-01")
    add_lattice_scene(full, "B", 60, 80, 70, 70, second_date="2026-02-13", seed=2)
    run_mosaic(full, grid, CombineConfig())
    levels = read_manifest(version_path(full))["levels"]
    for level in range(levels):
        for name in ("prob", "passes", "passes_above", "last_date"):
            np.testing.assert_array_equal(band(root, name, level=level), band(full, name, level=level))


def test_since_restricts_passes_and_sites_merge(tmp_path: Path) -> None:
    root = make_store(tmp_path / "store")
    add_lattice_scene(root, "A", 10, 10, 60, 60, second_date="2026-01-01")
    add_lattice_scene(root, "B", 30, 30, 60, 60, second_date="2026-03-01")
    write_sites(root, "A", [site_feature("A", "s1", 435_000, 4_165_000, 400, prob_max=0.8)])
    write_sites(root, "B", [site_feature("B", "s1", 435_100, 4_165_000, 400, prob_max=0.9)])
    both = run_mosaic(root, small_grid(), CombineConfig())
    assert both.n_sites == 1
    recent = run_mosaic(root, small_grid(), CombineConfig(), since="2026-02-01")
    assert recent.removed == ("A",) and not recent.full_rebuild
    assert set(np.unique(band(root, "last_date"))) == {0, 20260301}
    sites = json.loads((version_path(root) / "sites.geojson").read_text())["features"]
    assert [f["properties"]["scene_ids"] for f in sites] == [["B"]]
