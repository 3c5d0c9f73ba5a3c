"""Training verbs for the ``fringescan`` command, registered through the ``fringescan.commands`` entry point."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the training verbs (dataset, train, evaluate, crossval) to ``fringescan``."""
