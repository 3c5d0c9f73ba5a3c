"""``fringescan review``: record an expert's verdict on a site; export verdicts as training labels."""

from __future__ import annotations

import argparse
from pathlib import Path

from scanner.cli.common import add_overwrite_arg


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "review",
        help="record field feedback on a site (confirmed/rejected/unsure) or export it as labels",
        description="Rejected sites are left out of later reports unless their area or peak probability "
        "grows by more than 50%. --export-labels writes every verdict as GeoJSON training labels "
        "(WGS84; class confirmed or rejected): `fringescan dataset --labels` takes confirmed sites as "
        "candidates and rejected ones as negative windows; unsure verdicts are not exported. The review desk of "
        "`fringescan view` writes the same ledger.",
    )
    parser.add_argument("--store", required=True, type=Path, help="store directory")
    parser.add_argument("--site", help="site id (from `fringescan status --sites` or the run report)")
    verdict = parser.add_mutually_exclusive_group()
    verdict.add_argument(
        "--confirmed",
        dest="verdict",
        action="store_const",
        const="confirmed",
        help="the field team found a landslide at --site",
    )
    verdict.add_argument(
        "--rejected",
        dest="verdict",
        action="store_const",
        const="rejected",
        help="no landslide at --site (left out of later reports unless it grows)",
    )
    verdict.add_argument(
        "--unsure",
        dest="verdict",
        action="store_const",
        const="unsure",
        help="look again later: still reported, not exported as a label",
    )
    parser.add_argument("--note", default="", help="free text kept with the verdict")
    parser.add_argument(
        "--export-labels",
        type=Path,
        metavar="OUT.geojson",
        help="write all confirmed and rejected sites as training labels (class confirmed / rejected)",
    )
    add_overwrite_arg(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.errors import UsageError, problem
    from scanner.io.artifact import check_target
    from scanner.io.lock import store_lock
    from scanner.io.store import Store
    from scanner.io.writers import write_json
    from scanner.pipeline.history import export_labels, load_feedback, record_feedback

    store = Store.open(args.store)
    if not args.export_labels and not (args.site and args.verdict):
        raise UsageError(
            problem(
                "review",
                expected="--site ID with --confirmed, --rejected or --unsure, or --export-labels",
                found="neither",
                fix="e.g. fringescan review --store S --site ID --rejected",
            )
        )
    if args.export_labels:  # refused before a verdict is recorded
        check_target(args.export_labels, "geojson", overwrite=args.overwrite, flag="--export-labels")
    if args.site or args.verdict:
        if not (args.site and args.verdict):
            raise UsageError(
                problem(
                    "review",
                    expected="both --site and --confirmed/--rejected/--unsure",
                    found=f"site={args.site!r}, verdict={args.verdict!r}",
                    fix="give the site id and one verdict",
                )
            )
        with store_lock(store.root, "review"):
            record = record_feedback(store.root, args.site, args.verdict, args.note)
            store.log_event("review", site_id=record["site_id"], verdict=args.verdict)
        print(f"site {record['site_id']}: {args.verdict}" + (f" ({args.note})" if args.note else ""))
    if args.export_labels:
        labels = export_labels(load_feedback(store.root))
        check_target(args.export_labels, "geojson", overwrite=args.overwrite, flag="--export-labels")
        write_json(args.export_labels, labels, indent=1)
        print(f"{len(labels['features'])} labelled sites -> {args.export_labels}")
    return 0
