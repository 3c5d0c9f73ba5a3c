"""Arguments several verbs share (not a verb: it registers nothing)."""

from __future__ import annotations

import argparse


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


def add_split_args(parser: argparse.ArgumentParser) -> None:
    """--split-prominence P / --no-split: how candidate components split into sites at probability saddles;
    read them with :func:`split_prominence`."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--split-prominence",
        type=float,
        default=None,
        metavar="P",
        help="split a component of candidate cells at every saddle that a peak rises more than P (probability) "
        "above, one site per peak (default 0.1; docs/scanning.md)",
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


def add_overwrite_arg(parser: argparse.ArgumentParser) -> None:
    """--overwrite: replace an existing output of the same kind (scanner.io.artifact.check_target)."""
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing output of the same kind (built beside it, then renamed into place); "
        "without it an existing output is refused, and another kind of file or folder always is",
    )
