"""``emotrace train`` and ``emotrace eval``: the training room's commands, added as plugins.

The engine's command line finds them through the ``emotrace.commands`` entry points (see
pyproject.toml), so ``analyzer`` never imports this package. Each ``register_*`` function adds
its subcommand to the ``subparsers`` of the ``emotrace`` parser and gives every leaf parser a
``func(args) -> int`` (the exit status). Errors of the data or options (``FileNotFoundError``,
``ValueError``) propagate: the command line turns them into one-line errors. The shared
``eval`` group comes from ``analyzer.commands.command_group`` (either plugin may load first).

Commands (options in ``train.ser`` / ``train.fer``):
    emotrace train ser --manifest CSV [--out models/NAME] ...   fit the speech emotion heads
    emotrace train fer --npz FERPLUS.npz [--out models/NAME]    train the facial expression model
    emotrace eval ser --manifest CSV [--model NAME]             metrics as JSON on the last line
    emotrace eval fer --npz FERPLUS.npz [--model NAME]          metrics as JSON on the last line
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from analyzer.commands import command_group

from . import fer, ser

Command = Callable[[argparse.Namespace], int]


def _exit_0(run: Callable[[argparse.Namespace], object]) -> Command:
    """``run`` (which prints its own output and raises on errors) as a command returning 0."""

    def command(args: argparse.Namespace) -> int:
        run(args)
        return 0

    command.__doc__ = run.__doc__
    return command


def register_train(subparsers: argparse._SubParsersAction) -> None:
    """Add ``emotrace train ser`` and ``emotrace train fer``."""
    group = command_group(subparsers, "train", "train an emotion model")
    p = group.add_parser("ser", help="speech emotion model (heads on frozen Whisper features)")
    ser.add_train_args(p)
    p.set_defaults(func=_exit_0(ser.run_train))
    p = group.add_parser("fer", help="facial expression model (FER+)")
    fer.add_train_args(p)
    p.set_defaults(func=_exit_0(fer.run_train))


def register_eval(subparsers: argparse._SubParsersAction) -> None:
    """Add ``emotrace eval ser`` and ``emotrace eval fer`` (beside the engine's ``eval`` kinds)."""
    group = command_group(subparsers, "eval", "evaluate a model on labelled data")
    p = group.add_parser("ser", help="speech emotion model on a labelled manifest")
    ser.add_eval_args(p)
    p.set_defaults(func=_exit_0(ser.run_eval))
    p = group.add_parser("fer", help="facial expression model on FER+ images")
    fer.add_eval_args(p)
    p.set_defaults(func=_exit_0(fer.run_eval))
