"""Nothing lost, ever: every writing verb refuses a target that holds something else, and replaces the same
kind only with --overwrite (scanner.io.artifact); mosaic versions never leave their store."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from mosaic_fixtures import add_lattice_scene
from mosaic_fixtures import make_store as mosaic_store
from scan_helpers import make_checkpoint, make_store
from shapely.geometry import Point, mapping
from test_mosaic import small_grid

from scanner.cli import main
from scanner.errors import StoreError
from scanner.io.artifact import check_target, kind_of
from scanner.io.site_layers import to_wgs84
from scanner.io.store import Store
from scanner.mosaic.combine import CombineConfig
from scanner.mosaic.run import run_mosaic


def tree_digest(root: Path) -> str:
    """sha256 over every entry under ``root`` (names, link targets and file bytes): equal = unchanged."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        digest.update(str(path.relative_to(root)).encode())
        if path.is_symlink():
            digest.update(os.readlink(path).encode())
        elif path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("fringescan: error:") and "\n" not in err and "Traceback" not in err, err
    return err


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    """A scanned store (one scene) and its model."""
    root = tmp_path_factory.mktemp("artifact")
    store = make_store(root / "store", {"s1": (300, 320)})
    make_checkpoint(root / "ckpt")
    assert (
        main(["scan", "--store", str(store.root), "--model", str(root / "ckpt"), "--tile-cells", "20"]) == 0
    )
    return root, store.root


# ---------------------------------------------------------------------------------------------- the rule


def test_kind_of_names_each_artifact(tmp_path, scanned):
    root, store = scanned
    assert kind_of(tmp_path / "nothing") is None
    assert kind_of(store) == "store" and kind_of(root / "ckpt") == "model"
    (tmp_path / "empty").mkdir()
    assert kind_of(tmp_path / "empty") == "empty"
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "thesis.txt").write_text("years of work")
    assert kind_of(tmp_path / "mine") == "folder" and kind_of(tmp_path / "mine" / "thesis.txt") == "file"
    ds = tmp_path / "ds"
    ds.mkdir()
    (ds / "zarr.json").write_text(
        json.dumps({"attributes": {"fringescan": {"format": "fringescan-dataset"}}})
    )
    assert kind_of(ds) == "dataset"
    region = tmp_path / "region"
    region.mkdir()
    (region / "region.json").write_text(json.dumps({"format": "fringescan-synth-region"}))
    assert kind_of(region) == "region"
    (tmp_path / "sites.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    assert kind_of(tmp_path / "sites.geojson") == "geojson"
    (tmp_path / "r.json").write_text(json.dumps({"matching": "overlap", "total": {}}))
    assert kind_of(tmp_path / "r.json") == "scan-report"
    (tmp_path / "a.tif").write_bytes(b"II*\x00rest")
    assert kind_of(tmp_path / "a.tif") == "geotiff"
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    assert kind_of(tmp_path / "dangling") == "other"


def test_check_target_frees_new_paths_and_refuses_the_rest(tmp_path):
    check_target(tmp_path / "new", "model")
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty", "model")  # an empty folder loses nothing
    with pytest.raises(StoreError, match="found an empty folder"):
        check_target(tmp_path / "empty", "geojson")  # but a file cannot go where a folder is
    (tmp_path / "s.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(StoreError, match="already there; fix: pass --overwrite"):
        check_target(tmp_path / "s.geojson", "geojson")
    check_target(tmp_path / "s.geojson", "geojson", overwrite=True)
    with pytest.raises(StoreError, match="never replaces a GeoJSON FeatureCollection"):
        check_target(tmp_path / "s.geojson", "scan-report", overwrite=True)


# ---------------------------------------------------------------------------------------------- training verbs


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--dataset", "DS", "--out", "STORE"],
        ["train", "--dataset", "DS", "--out", "STORE", "--overwrite"],
        ["mine", "--model", "M", "--store", "STORE", "--labels", "L", "--dataset", "DS", "--out", "STORE"],
        ["evaluate", "--model", "M", "--dataset", "DS", "--out", "STORE", "--overwrite"],
        ["crossval", "--dataset", "DS", "--out", "STORE"],
        ["synth", "--out", "STORE", "--overwrite"],
    ],
    ids=["train", "train-overwrite", "mine", "evaluate-overwrite", "crossval", "synth-overwrite"],
)
def test_a_training_verb_never_replaces_a_store(scanned, capsys, argv):
    root, store = scanned
    before = tree_digest(store)
    argv = [str(store) if a == "STORE" else str(root / a) if a in ("DS", "M", "L") else a for a in argv]
    assert main(argv) == 4
    assert "found a fringescan store; fix: choose another --out" in one_line_error(capsys)
    assert tree_digest(store) == before


def test_dataset_never_replaces_a_foreign_folder(scanned, tmp_path, capsys):
    root, store = scanned
    foreign = tmp_path / "thesis"
    foreign.mkdir()
    (foreign / "chapter1.tex").write_text("years of work")
    labels = tmp_path / "labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    argv = ["dataset", "--store", str(store), "--labels", str(labels), "--out", str(foreign)]
    for extra in ([], ["--overwrite"]):
        assert main([*argv, *extra]) == 4
        assert "a folder that is not a fringescan output" in one_line_error(capsys)
    assert (foreign / "chapter1.tex").read_text() == "years of work" and len(list(foreign.iterdir())) == 1


# ---------------------------------------------------------------------------------------------- scan products


def test_detect_out_a_directory_is_one_line_and_the_store_unchanged(scanned, tmp_path, capsys):
    root, store = scanned
    before = tree_digest(store)
    (tmp_path / "folder").mkdir()
    for target in (tmp_path / "folder", store):
        assert main(["detect", "--store", str(store), "--out", str(target)]) == 4
        assert "expected a new path, or a GeoJSON FeatureCollection" in one_line_error(capsys)
    assert tree_digest(store) == before  # refused before any site layer was written


def test_detect_replaces_its_geojson_only_with_overwrite(scanned, tmp_path, capsys):
    root, store = scanned
    out = tmp_path / "sites.geojson"
    out.write_text(json.dumps({"type": "FeatureCollection", "features": [], "mine": True}))
    before = tree_digest(store)
    assert main(["detect", "--store", str(store), "--out", str(out)]) == 4
    assert "pass --overwrite" in one_line_error(capsys)
    assert json.loads(out.read_text())["mine"] is True and tree_digest(store) == before
    assert main(["detect", "--store", str(store), "--out", str(out), "--overwrite"]) == 0
    assert "mine" not in json.loads(out.read_text())
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary left beside


def test_file_outputs_refuse_what_they_would_destroy(scanned, tmp_path, capsys):
    root, store = scanned
    labels = tmp_path / "labels.geojson"
    scene = Store.open(store).scene("s1")
    centre = to_wgs84(Point(scene.grid.transform * (160, 150)), scene.grid.crs_wkt)
    point = {"type": "Feature", "geometry": mapping(centre), "properties": {}}
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [point]}))  # evaluation needs one
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    before = tree_digest(store)
    runs = [
        (["export", "--store", str(store), "--scene", "s1", "--out", str(precious), "--overwrite"], "a file"),
        (
            ["evaluate-scan", "--store", str(store), "--labels", str(labels), "--out", str(tmp_path)],
            "--out",
        ),
        (["evaluate-scan", "--store", str(store), "--labels", str(labels), "--out", str(labels)], "GeoJSON"),
        (["review", "--store", str(store), "--export-labels", str(precious), "--overwrite"], "a file"),
    ]
    for argv, words in runs:
        assert main(argv) == 4, argv
        assert words in one_line_error(capsys)
    assert precious.read_text() == "keep me" and tree_digest(store) == before
    report = tmp_path / "report.json"
    evaluate = ["evaluate-scan", "--store", str(store), "--labels", str(labels), "--out", str(report)]
    assert main(evaluate) == 0
    assert main(evaluate) == 4 and "pass --overwrite" in one_line_error(capsys)
    assert main([*evaluate, "--overwrite"]) == 0 and json.loads(report.read_text())["matching"] == "overlap"


def test_ingest_never_takes_over_a_file_or_a_foreign_folder(tmp_path, capsys):
    (tmp_path / "file").write_text("keep me")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("keep me")
    for target in ("file", "folder"):
        assert main(["ingest", str(tmp_path / "x.tif"), "--store", str(tmp_path / target)]) == 4
        assert "--store" in one_line_error(capsys)
    assert (tmp_path / "file").read_text() == (tmp_path / "folder" / "a.txt").read_text() == "keep me"


# ---------------------------------------------------------------------------------------------- mosaic versions


@pytest.fixture(scope="module")
def two_mosaics(tmp_path_factory):
    base = tmp_path_factory.mktemp("mosaics")
    roots = []
    for name in ("here", "other"):
        root = mosaic_store(base / name)
        add_lattice_scene(root, "A", 10, 10, 40, 40, second_date="2026-02-01")
        run_mosaic(root, small_grid(), CombineConfig())
        roots.append(root)
    return roots


def test_a_version_outside_the_store_is_refused(two_mosaics, tmp_path, capsys):
    here, other = two_mosaics
    (here / "mosaic" / "versions" / "v000009").symlink_to(other / "mosaic" / "versions" / "v000001")
    before = tree_digest(other)
    for version in (
        "../../../other/mosaic/versions/v000001",
        str(other / "mosaic/versions/v000001"),
        "v000009",
    ):
        assert main(["view", "--store", str(here), "--version", version, "--no-serve"]) == 4
        assert "not a version of this store" in one_line_error(capsys)
        out = tmp_path / "m.tif"
        assert (
            main(["export", "--store", str(here), "--mosaic", "--version", version, "--out", str(out)]) == 4
        )
        assert "not a version of this store" in one_line_error(capsys)
        assert not out.exists()
    assert tree_digest(other) == before
    (here / "mosaic" / "versions" / "v000009").unlink()
    assert main(["view", "--store", str(here), "--version", "v000001", "--no-serve"]) == 0
