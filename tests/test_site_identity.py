"""scanner.core.site_identity: one grouping of detections across passes and one id rule, in every product."""

from __future__ import annotations

import json

import numpy as np
import pytest
from affine import Affine
from hypothesis import given, settings
from hypothesis import strategies as st
from mosaic_fixtures import write_prob
from pyproj import CRS
from shapely.geometry import Point, box, mapping, shape

from scanner.cli import main
from scanner.core.site_identity import Detection, group_detections, sites_from_layers
from scanner.geo import GeoGrid, PixelWindow
from scanner.io.site_layers import read_site_layer, site_layers
from scanner.io.store import SceneWriter, Store
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.grid import grid_for_bounds
from scanner.mosaic.run import run_mosaic
from scanner.mosaic.zarr_io import version_path
from scanner.pipeline.history import build_history, find_site, load_feedback, save_history

# ---------------------------------------------------------------------------------------------- the rule


def detection(site_id: str, scene_id: str, x0: float, *, second: str, width: float = 0.01, area=1e5):
    geometry = mapping(box(x0, 35.0, x0 + width, 35.01))
    return Detection(site_id, scene_id, "2020-01-01", second, area, 0.9, geometry)


def test_overlap_chains_are_one_site_named_by_the_earliest_detection():
    a = detection("fs-a", "s3", 140.000, second="2020-03-01", area=9e5)  # largest, not earliest
    b = detection("fs-b", "s1", 140.008, second="2020-01-15")  # earliest; overlaps a and c
    c = detection("fs-c", "s2", 140.016, second="2020-02-01")  # overlaps b only
    far = detection("fs-d", "s2", 141.0, second="2020-02-01")
    sites = group_detections([a, b, c, far])
    assert [(s.site_id, s.member_ids) for s in sites] == [
        ("fs-b", ["fs-a", "fs-b", "fs-c"]),
        ("fs-d", ["fs-d"]),
    ]
    assert [d.scene_id for d in sites[0].detections] == ["s1", "s2", "s3"]


def test_equal_ids_link_detections_that_do_not_touch():
    a = detection("fs-x", "s1", 140.0, second="2020-02-01")
    b = detection("fs-x", "s2", 140.5, second="2020-01-01")
    (site,) = group_detections([a, b])
    assert site.site_id == "fs-x" and site.scene_ids == ["s1", "s2"]


detections = st.lists(
    st.builds(
        detection,
        st.sampled_from([f"fs-{k}" for k in range(6)]),
        st.sampled_from(["s1", "s2", "s3", "s4"]),
        st.integers(0, 12).map(lambda k: 140.0 + 0.006 * k),
        second=st.sampled_from(["2020-01-01", "2020-02-01", "2020-03-01"]),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(found=detections, seed=st.integers(0, 2**16))
def test_grouping_is_a_partition_independent_of_order(found, seed):
    shuffled = [found[i] for i in np.random.default_rng(seed).permutation(len(found))]
    sites = group_detections(found)
    assert group_detections(shuffled) == sites
    assert sum(len(s.detections) for s in sites) == len(found)  # every detection in exactly one site
    assert all(any(d is e for s in sites for e in s.detections) for d in found)
    assert len({s.site_id for s in sites}) == len(sites)  # ids are unique
    for s in sites:
        assert s.site_id == min(s.detections, key=Detection.sort_key).site_id
    for one in sites:  # no detection of one site touches (or shares an id with) another site's
        for other in sites:
            if one is not other:
                for d in one.detections:
                    for e in other.detections:
                        assert d.site_id != e.site_id
                        assert not shape(d.geometry).intersects(shape(e.geometry))


# ---------------------------------------------------------------------------------------------- every product

UTM54 = CRS.from_epsg(32654).to_wkt()
PIXEL_M, SIDE_PX = 28.0, 300
X0, Y0 = 430_000.0, 4_170_000.0
LANDSLIDES = {"L1": (X0 + 3_000.0, Y0 - 3_000.0), "L2": (X0 + 6_500.0, Y0 - 6_500.0)}
PASSES = [  # scene id, second date, origin offset (m), per landslide: blob half-size and shift (cells)
    ("late", "2026-03-20", (840.0, -560.0), {"L1": (3, (0, 2)), "L2": (1, (1, 1))}),  # largest, latest
    ("early", "2026-01-05", (0.0, 0.0), {"L1": (1, (0, 0)), "L2": (2, (0, 0))}),
    ("mid", "2026-02-10", (560.0, -280.0), {"L1": (2, (2, 0)), "L2": (1, (-1, 1))}),
]


def add_pass(store: Store, scene_id: str, second: str, offset: tuple[float, float], blobs: dict) -> None:
    """A scene group and its probability grid: background 0.05, a square blob of 0.9 near each landslide
    (shifted per pass, so each pass names it with another per-scene id, but every blob covers the point)."""
    x, y = X0 + offset[0], Y0 + offset[1]
    grid = GeoGrid(SIDE_PX, SIDE_PX, Affine(PIXEL_M, 0, x, 0, -PIXEL_M, y), UTM54)
    with store.staging(store.layout.scene(scene_id)) as tmp:
        writer = SceneWriter(tmp, grid, ["phase", "valid"])
        writer.write("phase", PixelWindow(0, 0, SIDE_PX, SIDE_PX), np.zeros((SIDE_PX, SIDE_PX), np.float32))
        writer.write("valid", PixelWindow(0, 0, SIDE_PX, SIDE_PX), np.ones((SIDE_PX, SIDE_PX), np.uint8))
        attrs = {"scene_id": scene_id, "kind": "wrapped", "grid": grid.to_attrs(), "wavelength_m": 0.236}
        writer.finish(attrs | {"first_date": "2025-12-01", "second_date": second})
    cells = grid.cell_grid()
    prob = np.full(cells.shape, 0.05, np.float32)
    inverse = ~cells.transform
    for name, (half, (dr, dc)) in blobs.items():
        col, row = (int(v) for v in inverse * LANDSLIDES[name])
        row, col = row + dr, col + dc
        prob[row - half : row + half + 1, col - half : col + half + 1] = 0.9
    write_prob(store.root, scene_id, prob, cells, first_date="2025-12-01", second_date=second)


def ids_at(features: list[dict], name: str) -> set[str]:
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(UTM54, "EPSG:4326", always_xy=True).transform(*LANDSLIDES[name])
    return {
        f["properties"]["site_id"]
        for f in features
        if shape(f["geometry"]).buffer(1e-4).contains(Point(lon, lat))
    }


@pytest.fixture(scope="module")
def products(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("identity") / "store"
    store = Store.create(root)
    for scene_id, second, offset, blobs in PASSES:
        add_pass(store, scene_id, second, offset, blobs)
    assert (
        main(
            [
                "detect",
                "--store",
                str(root),
                "--threshold",
                "0.5",
                "--min-area-m2",
                "0",
                "--out",
                str(root.parent / "all.geojson"),
            ]
        )
        == 0
    )
    save_history(root, build_history(site_layers(root)))  # what nightly's history stage does
    grid = grid_for_bounds(
        name="t",
        crs="EPSG:32654",
        west=X0 - 2_000,
        south=Y0 - 12_000,
        east=X0 + 12_000,
        north=Y0 + 2_000,
        cell_size=280.0,
        chunk=32,
    )
    run_mosaic(root, grid, CombineConfig())
    history = json.loads(store.layout.history_sites.read_text())
    return {
        "root": root,
        "history": history,
        "layers": site_layers(root),
        "mosaic": read_site_layer(version_path(root) / "sites.geojson")["features"],
    }


def test_each_landslide_has_one_id_in_history_mosaic_and_review(products):
    root, history, layers = products["root"], products["history"], products["layers"]
    for name in LANDSLIDES:
        per_pass = {sid: ids_at(layer["features"], name) for sid, layer in layers.items()}
        assert all(len(ids) == 1 for ids in per_pass.values()), per_pass  # every pass detected it once
        assert len(set().union(*per_pass.values())) == 3  # with three different per-scene ids
        earliest = next(iter(per_pass["early"]))
        history_sites = [
            s for s in history["sites"] if ids_at([{"geometry": s["geometry"], "properties": s}], name)
        ]
        assert [s["site_id"] for s in history_sites] == [earliest]
        assert ids_at(products["mosaic"], name) == {earliest}
        for member in set().union(*per_pass.values()):  # review finds it under any member id
            assert main(["review", "--store", str(root), "--site", member, "--confirmed"]) == 0
            assert find_site(history, member)["site_id"] == earliest
        assert earliest in load_feedback(root)
    assert len(products["mosaic"]) == len(history["sites"]) == len(LANDSLIDES)


def test_the_mosaic_and_history_group_the_same_detections(products):
    sites = sites_from_layers(products["layers"])
    by_id = {f["properties"]["site_id"]: f["properties"] for f in products["mosaic"]}
    assert {s.site_id: s.scene_ids for s in sites} == {k: v["scene_ids"] for k, v in by_id.items()}
    assert {s["site_id"]: s["member_ids"] for s in products["history"]["sites"]} == {
        k: v["merged_site_ids"] for k, v in by_id.items()
    }
