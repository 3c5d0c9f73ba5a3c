"""The acceptance check: the default variant at its VAL-chosen operating point through the product's own verbs
(``fringescan scan`` and ``evaluate-scan``) on the HOLDOUT region, looked at once after every choice."""

from __future__ import annotations

import sys

from scanner.cli import main as fringescan
from scanner.io.readers import parse_json_file
from scanner.io.store import Store
from tools.accuracy.archive import region_scenes
from tools.accuracy.evaluation import DEFAULT_SETTING, VariantResult
from tools.accuracy.plan import Plan


def product_check(plan: Plan, regions: dict, res: VariantResult) -> dict:
    """The default operating point through the product's own verbs: scan HOLDOUT with the default model, then
    ``fringescan evaluate-scan --threshold T --min-area-m2 A`` (A from the VAL-chosen minimum size)."""
    from scanner.core.detect import min_area_for_cells

    row = res.rows.get(DEFAULT_SETTING) or res.rows["threshold 0.5, size filter"]
    test_region, test_store = regions["holdout"]
    scene = Store.open(test_store).scene(region_scenes(test_region)[0]["scene_id"])
    area = min_area_for_cells(row["min_cells"], scene.grid.cell_area_m2)
    out = plan.out / f"check-{res.name}.json"
    argv_scan = ["scan", "--store", str(test_store), "--model", str(plan.out / f"model-{res.name}")]
    argv_eval = [
        "evaluate-scan",
        "--store",
        str(test_store),
        "--labels",
        str(test_region / "labels_wgs84.geojson"),
        "--threshold",
        f"{row['threshold']:g}",
        "--min-area-m2",
        f"{area:.0f}",
        "--out",
        str(out),
    ]
    for name, argv in (("check-scan", argv_scan), ("check-evaluate", argv_eval)):
        print(f"\n== {name}: fringescan {' '.join(argv)}", flush=True)
        if fringescan(argv) != 0:
            sys.exit(f"accuracy: {name} failed")
    report = parse_json_file(
        out, what="evaluate-scan report", expected="its --out report", fix="re-run the check"
    )
    return {
        "variant": res.title,
        "command": "fringescan " + " ".join(argv_eval).replace(str(plan.out), "OUT"),
        "with_size_filter": report["total"]["with_size_filter"],
    }
