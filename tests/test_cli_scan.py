"""The scan, detect, export and evaluate-scan verbs end to end, and their one-line refusals."""

import json

import pytest
from scan_helpers import make_checkpoint, make_store
from shapely import unary_union
from shapely.geometry import Point, shape

from scanner.cli import main
from scanner.core.detect import DEFAULT_SPLIT_PROMINENCE
from scanner.io.cog import validate_cog
from scanner.io.probgrid import read_prob


@pytest.fixture(scope="module")
def scanned(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    store = make_store(root / "store", {"s1": (320, 340), "s2": (300, 300)})
    checkpoint = make_checkpoint(root / "ckpt")
    assert main(["scan", "--store", str(store.root), "--model", str(checkpoint), "--tile-cells", "20"]) == 0
    return root, store, checkpoint


def test_scan_writes_grids_for_every_scene(scanned, capsys):
    root, store, checkpoint = scanned
    for scene_id in ("s1", "s2"):
        prob, attrs = read_prob(store.root, scene_id)
        assert prob.shape == store.scene(scene_id).grid.cell_grid().shape
        assert attrs["model"]["name"] == "alexnet_scan" and len(attrs["model"]["checkpoint_sha256"]) == 64
    assert main(["scan", "--store", str(store.root), "--model", str(checkpoint), "--tile-cells", "20"]) == 0
    assert "already scanned" in capsys.readouterr().out


def test_detect_export_and_evaluate(scanned, capsys):
    root, store, _ = scanned
    out = root / "sites.geojson"
    assert main(["detect", "--store", str(store.root), "--threshold", "0.51", "--out", str(out)]) == 0
    sites = json.loads(out.read_text())["features"]
    assert (store.root / "sites" / "s1.geojson").is_file() and (store.root / "sites" / "s2.geojson").is_file()
    assert sites, "the random model should flag some cells at 0.51"
    tif = root / "s1.tif"
    assert main(["export", "--store", str(store.root), "--scene", "s1", "--out", str(tif)]) == 0
    assert validate_cog(tif)[0]
    labels = root / "labels.geojson"
    s1_sites = [f for f in sites if f["properties"]["scene_id"] == "s1"]
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": s1_sites[:1]}))
    report = root / "report.json"
    capsys.readouterr()
    assert (
        main(
            [
                "evaluate-scan",
                "--store",
                str(store.root),
                "--labels",
                str(labels),
                "--threshold",
                "0.51",
                "--scene",
                "s1",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "with_size_filter" in text and "recall" in text
    totals = json.loads(report.read_text())["total"]
    assert totals["with_size_filter"]["tp"] == 1 and totals["with_size_filter"]["recall"] == 1.0
    assert totals["with_size_filter"]["fp"] == len(s1_sites) - 1
    args = ["--labels", str(labels), "--threshold", "0.51", "--scene", "s1", "--json"]
    assert main(["evaluate-scan", "--store", str(store.root), *args]) == 0
    assert json.loads(capsys.readouterr().out)["total"] == json.loads(report.read_text())["total"]


def test_evaluate_expects_only_positive_labels(scanned, capsys):
    """A negative label is neither expected nor a false positive by itself; a detection on it still is one."""
    root, store, _ = scanned
    out = root / "s1-sites.geojson"
    assert (
        main(
            ["detect", "--store", str(store.root), "--threshold", "0.51", "--scene", "s1", "--out", str(out)]
        )
        == 0
    )
    sites = json.loads(out.read_text())["features"]
    assert len(sites) >= 2
    rejected = {**sites[1], "properties": {**sites[1]["properties"], "class": "rejected"}}
    nowhere = {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [0.0, 0.0]},
        "properties": {"class": "other"},
    }
    counts = {}
    for name, features in (("positive", sites[:1]), ("with negatives", [sites[0], rejected, nowhere])):
        labels = root / f"{name}.geojson"
        labels.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
        report = root / f"{name}.json"
        args = ["--labels", str(labels), "--threshold", "0.51", "--scene", "s1", "--out", str(report)]
        assert main(["evaluate-scan", "--store", str(store.root), *args]) == 0
        counts[name] = json.loads(report.read_text())["total"]
    assert counts["with negatives"] == counts["positive"]
    assert counts["positive"]["with_size_filter"]["tp"] == 1
    assert counts["positive"]["with_size_filter"]["fp"] == len(sites) - 1
    capsys.readouterr()


def test_detect_and_evaluate_split_or_not(scanned, capsys):
    """--no-split keeps whole components; a prominence no saddle reaches gives the same layer; a small one
    splits them (the random model's probabilities span 0.499 to 0.543, 0.17 nats) into sites that tile the same cells,
    each point on its own outline."""
    root, store, _ = scanned
    layers = {}
    for name, flags in (
        ("whole", ["--no-split"]),
        ("never", ["--split-prominence", "1"]),
        ("split", ["--split-prominence", "0.02"]),  # nats: 0.005 of probability about 0.5
        ("default", []),
    ):
        out = root / f"{name}.geojson"
        args = ["--store", str(store.root), "--threshold", "0.51", "--min-area-m2", "0", "--out", str(out)]
        assert main(["detect", *args, *flags]) == 0
        layers[name] = json.loads(out.read_text())
    assert "no split" in capsys.readouterr().out
    assert layers["whole"]["fringescan"]["split_prominence"] is None
    assert layers["default"]["fringescan"]["split_prominence"] == DEFAULT_SPLIT_PROMINENCE
    assert layers["never"]["features"] == layers["whole"]["features"]
    by_scene = {
        name: {
            sid: [f for f in layer["features"] if f["properties"]["scene_id"] == sid] for sid in ("s1", "s2")
        }
        for name, layer in layers.items()
    }
    for sid in ("s1", "s2"):
        whole, split = by_scene["whole"][sid], by_scene["split"][sid]
        assert len(split) > len(whole)
        assert sum(f["properties"]["n_cells"] for f in split) == sum(
            f["properties"]["n_cells"] for f in whole
        )
        outlines = [shape(f["geometry"]) for f in split]
        cells = unary_union([shape(f["geometry"]) for f in whole])
        assert unary_union(outlines).symmetric_difference(cells).area < 1e-6 * cells.area
        for feature, outline in zip(split, outlines, strict=True):
            props = feature["properties"]
            assert outline.covers(Point(props["centroid_lon"], props["centroid_lat"]))
    labels = root / "split-labels.geojson"
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": layers["whole"]["features"][:1]}))
    args = ["--labels", str(labels), "--threshold", "0.51", "--no-split", "--json"]
    assert main(["evaluate-scan", "--store", str(store.root), *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["split_prominence"] is None and "no split" in report["operating_point"][0]


def test_split_help_names_the_default(capsys):
    for verb in ("detect", "evaluate-scan", "calibrate"):
        with pytest.raises(SystemExit):
            main([verb, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"(default {DEFAULT_SPLIT_PROMINENCE:g};" in text and "--no-split" in text


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--no-split", "--split-prominence", "0.2"], "not allowed with"),
        (["--split-prominence", "0"], "prominence"),
    ],
)
def test_bad_split_flags_are_refused(scanned, capsys, flags, words):
    """Both flags at once: argparse's usage error; a prominence out of range: the one-line error (exit 2)."""
    _, store, _ = scanned
    for verb in (["detect"], ["evaluate-scan", "--labels", "x.geojson"]):
        capsys.readouterr()
        try:
            code = main([*verb, "--store", str(store.root), *flags])
        except SystemExit as stop:
            code = stop.code
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and words in err[-1]


@pytest.mark.parametrize(
    ("extra", "code", "words"),
    [
        (["--scene", "nope"], 4, "scene 'nope'"),
        (["--model-missing"], 3, "fringescan-model.json"),
        (["--coarse"], 5, "pixel size"),
    ],
)
def test_bad_inputs_give_one_line_errors(scanned, tmp_path, capsys, extra, code, words):
    root, store, checkpoint = scanned
    model = str(checkpoint)
    if extra == ["--model-missing"]:
        model, extra = str(tmp_path / "missing"), []
    elif extra == ["--coarse"]:
        model, extra = str(make_checkpoint(tmp_path / "coarse", pixel_m=90.0)), []
    capsys.readouterr()
    assert main(["scan", "--store", str(store.root), "--model", model, *extra]) == code
    err = capsys.readouterr().err.strip()
    assert err.startswith("fringescan: error:") and words in err and "\n" not in err


def test_export_of_unscanned_scene_and_missing_store(tmp_path, capsys):
    assert (
        main(["export", "--store", str(tmp_path / "none"), "--scene", "x", "--out", str(tmp_path / "x.tif")])
        == 4
    )
    store = make_store(tmp_path / "store", {"u": (200, 200)})
    assert main(["export", "--store", str(store.root), "--scene", "u", "--out", str(tmp_path / "u.tif")]) == 3
    assert "fringescan scan" in capsys.readouterr().err


def test_evaluate_scan_takes_scenes_without_labels_inside(scanned, tmp_path, capsys):
    """A label inside the scanned part of s1 only (s1 is 320 x 340 px, s2 300 x 300 px from the same corner, and
    window centres stay 75 px from the edges): evaluating both scenes counts it in s1 and reports s2 with no
    expected site; the run was once refused because one scene held no label."""
    import numpy as np
    import shapely
    from pyproj import Transformer
    from shapely.geometry import box, mapping

    _, store, _ = scanned
    grid = store.scene("s1").grid
    x0, y0 = grid.transform @ (232, 232)
    x1, y1 = grid.transform @ (262, 243)
    to_wgs84 = Transformer.from_crs(grid.crs, "EPSG:4326", always_xy=True)
    polygon = shapely.transform(
        box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)),
        lambda xy: np.column_stack(to_wgs84.transform(xy[:, 0], xy[:, 1])),
    )
    labels = tmp_path / "labels.geojson"
    feature = {"type": "Feature", "geometry": mapping(polygon), "properties": {}}
    labels.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    capsys.readouterr()
    args = ["--labels", str(labels), "--threshold", "0.51", "--json"]
    assert main(["evaluate-scan", "--store", str(store.root), *args]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report["scenes"]) == {"s1", "s2"}
    s2 = report["scenes"]["s2"]["with_size_filter"]
    assert s2["tp"] == s2["fn"] == 0
    total = report["total"]["with_size_filter"]
    assert total["tp"] + total["fn"] == 1
