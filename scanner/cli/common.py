"""Arguments several verbs share (not a verb: it registers nothing)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.eval.matching import MatchRule


def add_scene_args(parser: argparse.ArgumentParser) -> None:
    """--scene ID (repeatable); default every scanned scene."""
    parser.add_argument(
        "--scene", action="append", dest="scenes", metavar="ID", help="scene(s); default every scanned scene"
    )


def add_operating_point_args(parser: argparse.ArgumentParser) -> None:
    """--threshold and --min-area-m2; without them the grid's recorded operating point is used."""
    parser.add_argument(
        "--threshold",
        type=float,
        default=None,
        help="cell probability threshold (default: the model's operating point, else 0.5)",
    )
    parser.add_argument(
        "--min-area-m2",
        type=float,
        default=None,
        help="remove sites of at most this area (default: the model's minimum site size, "
        "else one 10 x 10 px cell)",
    )
    parser.add_argument(
        "--min-support",
        type=int,
        default=None,
        metavar="N",
        help="keep a site only when N other pairs of the store that share no date with its own also score it "
        "(where any covers it; default: the model's operating point, else 0 = no support rule; "
        "docs/scanning.md)",
    )


def add_split_args(parser: argparse.ArgumentParser) -> None:
    """--split-prominence P / --no-split: how candidate components split into sites at probability saddles;
    read them with :func:`split_prominence`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--split-prominence",
        type=float,
        default=None,
        metavar="P",
        help="split a component of candidate cells at every saddle that a peak rises more than P above in "
        "log-odds, ln(p / (1 - p)), one site per peak (default 1; 1 nat: the peak's odds are e times the "
        "saddle's; docs/scanning.md)",
    )
    group.add_argument(
        "--no-split",
        action="store_true",
        help="one site per 8-connected component of candidate cells (the rule before splitting)",
    )


def split_prominence(args: argparse.Namespace) -> float | None:
    """The prominence :func:`add_split_args` asked for (None = no split), validated."""
    from scanner.core.detect import DEFAULT_SPLIT_PROMINENCE, DetectConfig

    if args.no_split:
        return None
    value = DEFAULT_SPLIT_PROMINENCE if args.split_prominence is None else args.split_prominence
    return DetectConfig(split_prominence=value).split_prominence


def add_match_args(parser: argparse.ArgumentParser) -> None:
    """--match {overlap,point} and --within-m M: how sites are matched to labels; read them with
    :func:`match_rule`."""
    parser.add_argument(
        "--match",
        choices=("overlap", "point"),
        default="overlap",
        help="overlap: a label is found when a site's polygon overlaps it (default); point: when a site's point "
        "lies inside it or within --within-m, each label and site matched at most once (docs/accuracy.md)",
    )
    parser.add_argument(
        "--within-m",
        type=float,
        default=None,
        metavar="M",
        help="with --match point: how far (metres) a site's point may lie outside the label (default 300)",
    )


def match_rule(args: argparse.Namespace) -> MatchRule:
    """The ``scanner.eval.matching.MatchRule`` :func:`add_match_args` asked for, validated (``--within-m``
    without ``--match point`` is refused: it would change nothing)."""
    from scanner.errors import UsageError, problem
    from scanner.eval.matching import WITHIN_M, MatchRule

    if args.within_m is not None and args.match != "point":
        raise UsageError(
            problem(
                "--within-m",
                expected="--match point (overlap matching has no distance)",
                found=f"--match {args.match}",
                fix=f"add --match point, or drop --within-m {args.within_m:g}",
            )
        )
    return MatchRule(method=args.match, within_m=WITHIN_M if args.within_m is None else args.within_m)


def add_overwrite_arg(parser: argparse.ArgumentParser) -> None:
    """--overwrite: replace an existing output of the same kind (scanner.io.artifact.check_target)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output of the same kind (built beside it, then renamed into place); "
        "without it an existing output is refused, and another kind of file or folder always is",
    )
