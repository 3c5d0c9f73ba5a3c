"""``fringescan models``: the model zoo shipped with fringescan, one card per model."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "models",
        help="list the shipped models (the zoo) with their cards",
        description="List the models shipped in the package: sensor, pixel spacing, input channels, operating "
        "point, held-out figures and the command that reproduces each. `scan --model NAME` takes a name; "
        "without --model the default is used.",
    )
    parser.add_argument("--json", action="store_true", help="print the cards as JSON on stdout")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.cli.output import cells
    from scanner.io.zoo import DEFAULT_MODEL, zoo_models

    models = zoo_models()
    if args.json:
        cards = {name: {**entry.card, "path": str(entry.path)} for name, entry in models.items()}
        print(json.dumps(cards, indent=1))
        return 0
    for name, entry in models.items():
        card = entry.card
        held = card.get("held_out", {})
        point = card.get("operating_point", {})
        mark = " (default)" if name == DEFAULT_MODEL else ""
        print(f"{name}{mark}: {card.get('summary', '')}")
        print(f"  sensor      {card.get('sensor')}")
        print(f"  pixels      {card.get('pixel_size_m')} m; channels {', '.join(card.get('channels', []))}")
        print(f"  needs       {card.get('needs')}")
        support = f", support of {point['min_support']} other pair(s)" if point.get("min_support") else ""
        print(
            f"  operating   threshold {point.get('threshold')}, min {cells(point.get('min_cells'))}{support}"
        )
        print(
            f"  held out    site recall {held.get('site_recall')}, precision {held.get('site_precision')} "
            f"({held.get('data')})"
        )
        if "point_matching" in held:
            by_point = held["point_matching"]
            print(
                f"  by point    site recall {by_point.get('site_recall')}, precision "
                f"{by_point.get('site_precision')} ({by_point.get('rule')})"
            )
        if "held_out_variant" in card:
            variant = card["held_out_variant"]
            by_point = variant.get("point_matching", {})
            print(
                f"  variant     site recall {variant.get('site_recall')}, precision {variant.get('site_precision')}; "
                f"by point {by_point.get('site_recall')}, {by_point.get('site_precision')} ({variant.get('data')})"
            )
        if "zoo_target" in card:
            print(f"  target      {card['zoo_target'].get('summary')}")
        if "robustness_target" in card:
            print(f"  robustness  {card['robustness_target'].get('summary')}")
        print(f"  reproduce   {card.get('reproduce')}")
        print(f"  sha256      {card.get('params_sha256')}")
        print(f"  path        {entry.path}")
    return 0
