"""``python -m tools.zoo.table``: the shipped zoo's held-out figures as the markdown table docs/accuracy.md
carries (section "The model zoo"), rendered from the cards themselves so the two cannot disagree
(tests/test_zoo.py checks it)."""

from __future__ import annotations

from scanner.cli.output import cells
from scanner.io.zoo import DEFAULT_MODEL, zoo_models


def _pair(figures: dict | None) -> str:
    if not figures:
        return "not measured"
    return (
        f"{figures['site_recall']:.3f} / {figures['site_precision']:.3f} "
        f"({figures['tp']} TP, {figures['fn']} FN, {figures['fp']} FP)"
    )


def zoo_markdown() -> str:
    """One row per shipped model and held-out region (a second for the generator variant's, when the card has
    one): band, spacing, operating point, held-out recall / precision by overlap and by point (300 m), and
    whether the zoo target is met."""
    rows = [
        "| model | wavelength, spacing | operating point | held-out region | recall / precision, overlap "
        "| recall / precision, point within 300 m | target (0.9 / 0.5) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in sorted(zoo_models().items(), key=lambda kv: (kv[0] != DEFAULT_MODEL, kv[0])):
        card = entry.card
        point = card.get("operating_point", {})
        support = f", support {point['min_support']}" if point.get("min_support") else ""
        target = card.get("zoo_target")
        met = "not assessed" if target is None else ("met" if target["met"] else "**not met**")
        for key in ("held_out", *(["held_out_variant"] if "held_out_variant" in card else [])):
            held = card.get(key, {})
            rows.append(
                f"| `{name}`{' (default)' if name == DEFAULT_MODEL else ''} "
                f"| {card['wavelength_m']:g} m, {card['pixel_size_m']:.1f} m "
                f"| threshold {point.get('threshold')}, {cells(point.get('min_cells'))}{support} "
                f"| {held.get('data', '')} "
                f"| {_pair(held)} | {_pair(held.get('point_matching'))} | {met if key == 'held_out' else ''} |"
            )
    return "\n".join(rows)


if __name__ == "__main__":
    print(zoo_markdown())
