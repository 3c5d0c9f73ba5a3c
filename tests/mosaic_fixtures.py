"""Test helpers for the mosaic issue: stores with probability grids and site layers written by the contract.

Scenes live on one UTM 54N lattice of 280 m probability cells (10 px of 28 m); the probability of a cell is a
smooth function of its lattice index, so overlapping scenes see identical values where they overlap.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import zarr
from affine import Affine
from pyproj import CRS, Transformer

from scanner.geo import GeoGrid

UTM54N = CRS.from_epsg(32654).to_wkt()
CELL_M = 280.0
LATTICE_X0 = 420_000.0
LATTICE_Y0 = 4_180_000.0
"""Top-left corner of the shared cell lattice (EPSG:32654 metres), inside the demo grid."""


def make_store(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "fringescan-store.json").write_text(
        json.dumps({"format": "fringescan-store", "schema_version": 1, "created": "2026-01-01T00:00:00Z"})
    )
    for sub in ("scenes", "prob", "sites", "runs"):
        (root / sub).mkdir(exist_ok=True)
    return root


def lattice_grid(row0: int, col0: int, height: int, width: int) -> GeoGrid:
    """Cell grid of ``height x width`` cells whose top-left cell is lattice cell (row0, col0)."""
    transform = Affine(CELL_M, 0.0, LATTICE_X0 + col0 * CELL_M, 0.0, -CELL_M, LATTICE_Y0 - row0 * CELL_M)
    return GeoGrid(height=height, width=width, transform=transform, crs_wkt=UTM54N)


def field(rows: np.ndarray, cols: np.ndarray, seed: int = 0) -> np.ndarray:
    """The known probability of lattice cell (row, col): smooth, in [0, 1]."""
    return (0.5 + 0.45 * np.sin(rows / 7.0 + seed) * np.cos(cols / 5.0 - seed)).astype(np.float32)


def lattice_values(row0: int, col0: int, height: int, width: int, seed: int = 0) -> np.ndarray:
    rows, cols = np.meshgrid(np.arange(row0, row0 + height), np.arange(col0, col0 + width), indexing="ij")
    return field(rows, cols, seed)


def write_prob(
    root: Path,
    scene_id: str,
    prob: np.ndarray,
    grid: GeoGrid,
    *,
    second_date: str,
    first_date: str = "2026-01-01",
    checkpoint_sha256: str = "c" * 64,
) -> Path:
    """A ``prob/<scene_id>`` group as `scan` writes it (docs/contracts.md, Probability grid)."""
    path = root / "prob" / scene_id
    group = zarr.open_group(path, mode="w", zarr_format=3)
    array = group.create_array(
        "prob", shape=prob.shape, chunks=(256, 256), dtype="float32", fill_value=np.nan
    )
    array[...] = prob.astype(np.float32)
    group.attrs["fringescan"] = {
        "scene_id": scene_id,
        "grid": grid.to_attrs(),
        "cell_px": 10,
        "window_px": 150,
        "min_valid_fraction": 0.75,
        "model": {"name": "alexnet_scan", "checkpoint_sha256": checkpoint_sha256},
        "preprocess": {"filter_size_m": 2000.0, "quantize_levels": 16, "channels": ["phase_q"]},
        "scene_attrs": {
            "first_date": first_date,
            "second_date": second_date,
            "wavelength_m": 0.236,
            "content_sha256": f"{scene_id}-content",
        },
        "created": "2026-01-02T00:00:00Z",
        "fringescan_version": "0.1.0",
        "config": {},
    }
    return path


def add_lattice_scene(
    root: Path,
    scene_id: str,
    row0: int,
    col0: int,
    height: int,
    width: int,
    *,
    second_date: str,
    seed: int = 0,
    nan_border: int = 0,
) -> GeoGrid:
    """A scene on the shared lattice with the known field; ``nan_border`` cells at each edge are NaN."""
    grid = lattice_grid(row0, col0, height, width)
    prob = lattice_values(row0, col0, height, width, seed)
    if nan_border:
        prob[:nan_border], prob[-nan_border:] = np.nan, np.nan
        prob[:, :nan_border], prob[:, -nan_border:] = np.nan, np.nan
    write_prob(root, scene_id, prob, grid, second_date=second_date)
    return grid


def site_feature(
    scene_id: str,
    site_id: str,
    x_m: float,
    y_m: float,
    size_m: float,
    *,
    prob_max: float,
    slope_class: str | None = "slope",
    second_date: str = "2026-02-01",
) -> dict:
    """A square candidate site centred at UTM (x_m, y_m), in WGS84 as `detect` writes it."""
    to_ll = Transformer.from_crs("EPSG:32654", "EPSG:4326", always_xy=True)
    half = size_m / 2
    ring = [
        to_ll.transform(x, y)
        for x, y in (
            (x_m - half, y_m - half),
            (x_m + half, y_m - half),
            (x_m + half, y_m + half),
            (x_m - half, y_m + half),
            (x_m - half, y_m - half),
        )
    ]
    lon, lat = to_ll.transform(x_m, y_m)
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]},
        "properties": {
            "site_id": site_id,
            "scene_id": scene_id,
            "first_date": "2026-01-01",
            "second_date": second_date,
            "area_m2": size_m * size_m,
            "centroid_lon": lon,
            "centroid_lat": lat,
            "prob_max": prob_max,
            "prob_mean": prob_max - 0.1,
            "n_cells": 4,
            "slope_class": slope_class,
            "slope_mean_deg": 20.0,
            "priority": 1,
            "checkpoint_sha256": "c" * 64,
        },
    }


def write_sites(root: Path, scene_id: str, features: list[dict]) -> Path:
    path = root / "sites" / f"{scene_id}.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def lattice_cell_of(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lattice (row, col) containing JGD2011 points, and their distance to the nearest cell edge (cells)."""
    x, y = Transformer.from_crs("EPSG:6668", "EPSG:32654", always_xy=True).transform(lon, lat)
    fr, fc = (LATTICE_Y0 - np.asarray(y)) / CELL_M, (np.asarray(x) - LATTICE_X0) / CELL_M
    edge = np.minimum(np.minimum(fr % 1, 1 - fr % 1), np.minimum(fc % 1, 1 - fc % 1))
    return np.floor(fr).astype(int), np.floor(fc).astype(int), edge
