"""The run's plan: the archive's seeds, the model variants, and the sizes and step counts the flags choose."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the verbs run there (configs/... paths) and the doc is written there."""

SEEDS = {"train": 8101, "val": 8202, "test": 8303, "holdout": 8404}


@dataclass(frozen=True)
class Variant:
    """A trained model variant: its config file, ``--set`` overrides and what the doc calls it."""

    name: str
    config: str
    title: str
    overrides: tuple[str, ...] = ()
    mined_from: str | None = None  # hard negatives mined with this variant's model, added to its dataset


@dataclass
class Plan:
    """What this run does: its work folder, archive size, step counts, variants and where the doc goes."""

    out: Path
    quick: bool
    size: int
    scenes: dict[str, int]
    steps: int
    cv_steps: int
    alexnet_steps: int
    doc: Path
    img_dir: Path
    variants: list[Variant] = field(default_factory=list)
    argv: list[str] = field(default_factory=list)
    """The flags that changed a default, recorded in the doc's command."""


VARIANTS = {
    "demo": Variant("demo", "configs/phase_only.py", "scan-native, phase 16 steps (configs/phase_only.py)"),
    "channels": Variant(
        "channels", "configs/accuracy_channels.py", "scan-native, cos/sin + coherence + slope"
    ),
    "hardneg": Variant(
        "hardneg",
        "configs/phase_only.py",
        "configs/phase_only.py + one round of hard-negative mining",
        mined_from="demo",
    ),
    "channels-hardneg": Variant(
        "channels-hardneg",
        "configs/accuracy_channels.py",
        "cos/sin + coherence + slope + hard-negative mining",
        mined_from="channels",
    ),
    "alexnet": Variant("alexnet", "configs/accuracy_alexnet.py", "paper AlexNet, phase 16 steps"),
}
DEFAULT_VARIANTS = ",".join(VARIANTS)
"""Every variant, demo first (the baseline the others are compared with)."""


def steps_overrides(steps: int, config_steps: int = 1500, decay_every: int = 600) -> list[str]:
    """Scale a step schedule: ``steps`` iterations, the lr drop at the same fraction of training."""
    decay = max(1, round(steps * decay_every / config_steps))
    return [
        "--set",
        f"train.steps={steps}",
        "--set",
        f"optim.lr_decay_every={decay}",
        "--set",
        f"train.checkpoint_every={max(1, steps // 4)}",
    ]


def sets(overrides: Sequence[str]) -> list[str]:
    return [a for o in overrides for a in ("--set", o)]


def make_plan(args: argparse.Namespace) -> Plan:
    """The plan the flags of ``python -m tools.accuracy`` ask for (unset flags: the defaults, or --quick's)."""
    q = args.quick
    train_n = args.train_scenes or (52 if q else 200)
    eval_n = args.eval_scenes or (24 if q else 48)
    plan = Plan(
        out=args.out.resolve(),
        quick=q,
        size=args.size or 1000,
        scenes={"train": train_n, "val": eval_n, "test": eval_n, "holdout": eval_n},
        steps=args.steps or 1500,
        cv_steps=args.cv_steps or (300 if q else 1500),
        alexnet_steps=args.alexnet_steps if args.alexnet_steps is not None else (100 if q else 1500),
        doc=args.doc,
        img_dir=args.img_dir,
    )
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    if not names or names[0] != "demo" or not set(names) <= set(VARIANTS):
        raise SystemExit(
            f"accuracy: --variants must start with demo and name only {sorted(VARIANTS)}; got {names}"
        )
    plan.variants = [VARIANTS[n] for n in names if n != "alexnet" or plan.alexnet_steps > 0]
    plan.argv = ["--quick"] if q else []
    for flag, value in (
        ("--size", args.size),
        ("--train-scenes", args.train_scenes),
        ("--eval-scenes", args.eval_scenes),
        ("--steps", args.steps),
        ("--cv-steps", args.cv_steps),
        ("--alexnet-steps", args.alexnet_steps),
    ):
        if value is not None:
            plan.argv += [flag, str(value)]
    if args.variants != DEFAULT_VARIANTS:
        plan.argv += ["--variants", args.variants]
    return plan
