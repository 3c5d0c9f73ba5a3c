"""Recall and precision against threshold, with and without splitting at saddles, on a scanned, labelled store
(issue 18), and with ``--by-motion`` recall by peak line-of-sight motion and by area at the store's
operating point. Writes one PNG and prints markdown tables (docs/accuracy.md, "Splitting and point matching").

    .venv/bin/python -m tools.accuracy.curves --store S --labels L --out docs/img/recall_threshold.png \\
        [--match point [--within-m 300]] [--min-cells N] [--by-motion]

The sweep is ``fringescan calibrate``'s (``scanner.pipeline.sites.calibrate_store``) at one minimum site size
(default: the one the grids' operating point records), run twice: split at saddles of the log-odds at the
default prominence (1 nat) and whole components (``--no-split``). A few minutes on the demo store on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import math
import os
from pathlib import Path

from scanner.core.detect import DEFAULT_SPLIT_PROMINENCE
from scanner.eval.breakdown import (
    AREA_EDGES_KM2,
    MOTION_EDGES_FRINGES,
    area_km2,
    bin_recall,
    motion_fringes,
    recall_markdown,
)
from scanner.eval.matching import WITHIN_M, MatchRule
from scanner.io.store import Store
from scanner.pipeline.sites import calibrate_store, found_labels, recorded_point, scanned_scenes

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98, 0.99)
"""The thresholds of the curves (0.3 to 0.99, denser near 1 where operating points lie)."""

SPLITS = {"split": DEFAULT_SPLIT_PROMINENCE, "no split": None}
"""The two detections compared: split at saddles (the default prominence) and whole components."""


def sweep(store: Store, labels: Path, rule: MatchRule, min_cells: int) -> dict[str, list[dict]]:
    """Per detection of ``SPLITS``, one row per threshold (``calibrate_store``'s rows at ``min_cells``)."""
    return {
        name: calibrate_store(
            store, labels, THRESHOLDS, [min_cells], 0.0, split_prominence=prominence, rule=rule
        ).rows
        for name, prominence in SPLITS.items()
    }


def curves_markdown(curves: dict[str, list[dict]]) -> str:
    """One row per threshold: TP/FN/FP, recall and precision for each detection."""
    names = list(curves)
    header = "| threshold | " + " | ".join(f"TP/FN/FP ({n}) | recall ({n}) | precision ({n})" for n in names)
    lines = [header + " |", "|---" * (1 + 3 * len(names)) + "|"]
    for i, t in enumerate(THRESHOLDS):
        cells = []
        for n in names:
            r = curves[n][i]
            cells += [f"{r['tp']}/{r['fn']}/{r['fp']}", _pct(r["recall"]), _pct(r["precision"])]
        lines.append(f"| {t:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.2f}"


def plot(panels: dict[str, dict[str, list[dict]]], title: str, operating: float, path: Path) -> None:
    """One panel per matching rule: recall (solid) and precision (dashed) against threshold for each
    detection, written to ``path`` (PNG; the look of ``tools.accuracy.report.pr_plot``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), dpi=90, squeeze=False)
    for ax, (rule, curves) in zip(axes[0], panels.items(), strict=True):
        for (name, rows), colour in zip(curves.items(), ("C0", "C1"), strict=False):
            t = [r["threshold"] for r in rows]
            ax.plot(
                t, [r["recall"] for r in rows], color=colour, marker=".", ms=3, lw=1, label=f"recall, {name}"
            )
            ax.plot(
                t, [r["precision"] for r in rows], color=colour, ls="--", marker=".", ms=3, lw=1,
                label=f"precision, {name}",
            )  # fmt: skip
        ax.axvline(operating, color="grey", lw=0.6, ls=":")
        ax.set(xlabel="cell threshold", ylabel="site recall / precision", ylim=(0, 1.02), title=rule)
        ax.title.set_fontsize(8)
        ax.legend(fontsize=6, loc="lower left")
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(tmp)
    plt.close(fig)
    os.replace(tmp, path)


def by_motion(store: Store, labels: Path, rule: MatchRule) -> str:
    """Markdown tables of recall by |peak LOS motion| (fringes) and by area, split and not, at the operating
    point; pairs whose label carries no value are counted under the table."""
    found = {
        name: found_labels(store, labels, rule=rule, split_prominence=prominence)
        for name, prominence in SPLITS.items()
    }
    pairs = next(iter(found.values()))
    fringe = {s: float(store.scene(s).attrs["wavelength_m"]) for s in {scene for scene, _, _ in pairs}}
    motion = [motion_fringes(lab.properties, s, fringe[s]) for s, lab, _ in pairs]
    area = [area_km2(lab.properties) for _, lab, _ in pairs]
    out = []
    for heading, values, edges in (
        ("abs. peak LOS motion (fringes)", motion, MOTION_EDGES_FRINGES),
        ("area (km²)", area, AREA_EDGES_KM2),
    ):
        columns = {n: bin_recall(values, [hit for _, _, hit in f], edges) for n, f in found.items()}
        out.append(recall_markdown(heading, columns))
        missing = sum(math.isnan(v) for v in values)
        if missing:
            out.append(f"\n{missing} of {len(values)} pairs carry no value and are left out.")
    return f"{len(pairs)} visible (label, scene) pairs.\n\n" + "\n\n".join(out)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--store", type=Path, required=True, help="scanned scene store")
    p.add_argument("--labels", type=Path, required=True, help="label GeoJSON of the store's scenes")
    p.add_argument("--out", type=Path, required=True, help="the PNG to write")
    p.add_argument(
        "--match",
        choices=("overlap", "point", "both"),
        default="overlap",
        help="matching rule (both: one panel and one set of tables each)",
    )
    p.add_argument("--within-m", type=float, default=WITHIN_M, help="point rule reach in metres (300)")
    p.add_argument("--min-cells", type=int, default=None, help="minimum site size (default: the grids')")
    p.add_argument("--by-motion", action="store_true", help="also recall by LOS motion and by area")
    args = p.parse_args(argv)
    methods = ("overlap", "point") if args.match == "both" else (args.match,)
    rules = [MatchRule(method=m, within_m=args.within_m) for m in methods]
    store = Store.open(args.store)
    point = recorded_point(store)
    min_cells = point.min_cells if args.min_cells is None else args.min_cells
    panels = {}
    for rule in rules:
        panels[rule.describe()] = curves = sweep(store, args.labels, rule, min_cells)
        print(f"\n### matching: {rule.describe()}; min site {min_cells} cells\n")
        print(curves_markdown(curves))
        if args.by_motion:
            print(
                f"\nAt the operating point (threshold {point.threshold:g}, min {point.min_cells} cells): ",
                end="",
            )
            print(by_motion(store, args.labels, rule))
    n = len(scanned_scenes(store))
    title = f"{n} scenes, min site {min_cells} cells, operating threshold {point.threshold:g} (dotted)"
    plot(panels, title, point.threshold, args.out)
    print(f"\nfigure -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
