"""The STAC catalog: items per scene and per mosaic version, provenance, offline validation."""

from __future__ import annotations

import json
from pathlib import Path

import pystac
import pytest
from mosaic_fixtures import add_lattice_scene, make_store, site_feature, write_sites
from test_mosaic import small_grid

from scanner.errors import InputError
from scanner.io.probgrid import read_prob
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.plan import prob_sha256
from scanner.mosaic.run import run_mosaic
from scanner.products.stac import OfflineStacIO, validate_catalog, write_catalog


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_store(tmp_path_factory.mktemp("stac") / "store")
    add_lattice_scene(root, "A", 10, 10, 60, 60, second_date="2026-02-01")
    write_sites(root, "A", [site_feature("A", "s1", 435_000, 4_165_000, 400, prob_max=0.8)])
    run_mosaic(root, small_grid(), CombineConfig())
    add_lattice_scene(root, "B", 40, 40, 60, 60, second_date="2026-02-13")
    run_mosaic(root, small_grid(), CombineConfig(), since="2026-01-01")
    write_catalog(root)
    return root


def test_catalog_validates_offline(store: Path) -> None:
    assert validate_catalog(store) == 1 + 2 + 2 + 2


def test_items_carry_provenance(store: Path) -> None:
    catalog = pystac.Catalog.from_file(str(store / "stac" / "catalog.json"))
    items = {item.id: item for item in catalog.get_items(recursive=True)}
    assert set(items) == {"scene-A", "scene-B", "mosaic-v000001", "mosaic-v000002"}
    mosaic = items["mosaic-v000002"]
    inputs = mosaic.properties["fringescan:input_scenes"]
    prob_b, _ = read_prob(store, "B")
    assert [i["scene_id"] for i in inputs] == ["A", "B"] and inputs[1]["prob_sha256"] == prob_sha256(prob_b)
    assert inputs[0]["content_sha256"] == "A-content"
    assert mosaic.properties["fringescan:checkpoint_sha256"] == ["c" * 64]
    assert mosaic.properties["fringescan:config"]["combine"]["rule"] == "max"
    assert mosaic.properties["fringescan:config"]["since"] == "2026-01-01"
    assert mosaic.properties["fringescan:code_version"]
    assert mosaic.datetime.date().isoformat() == "2026-02-13"  # the latest pass, not the wall clock
    zarr_href = Path(mosaic.assets["zarr"].get_absolute_href())
    assert zarr_href.resolve() == (store / "mosaic" / "versions" / "v000002").resolve()
    scene = items["scene-A"]
    assert (
        Path(scene.assets["sites"].get_absolute_href()).resolve() == (store / "sites" / "A.geojson").resolve()
    )
    assert scene.properties["end_datetime"].startswith("2026-02-01")


def test_catalog_is_self_contained(store: Path) -> None:
    for path in (store / "stac").rglob("*.json"):
        for link in json.loads(path.read_text()).get("links", []):
            assert not link["href"].startswith(("/", "http")), (path, link)


def test_offline_io_refuses_network() -> None:
    with pytest.raises(InputError, match="offline"):
        OfflineStacIO().read_text_from_href(
            "https://schemas.stacspec.org/v1.1.0/item-spec/json-schema/item.json"
        )


def test_invalid_item_fails_validation(store: Path, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "store"
    shutil.copytree(store, copy)
    item_path = next((copy / "stac" / "mosaics").rglob("mosaic-v000001.json"))
    broken = json.loads(item_path.read_text())
    broken["bbox"] = "everywhere"
    item_path.write_text(json.dumps(broken))
    with pytest.raises(pystac.errors.STACValidationError):
        validate_catalog(copy)
