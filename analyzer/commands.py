"""Helpers for the ``emotrace`` subcommands that plugins add (see ``analyzer.cli``).

Plugins are functions ``register(subparsers) -> None`` named by the ``emotrace.commands`` entry
points. The engine registers ``eval diarization`` (``analyzer.evaluate``) and the training room
``train`` and ``eval ser|fer`` (``train.cli``); the training room imports this module, never the
reverse.
"""

from __future__ import annotations

import argparse
import sys

SubParsers = argparse._SubParsersAction  # argparse has no public name for this type


class Terminated(KeyboardInterrupt):
    """SIGTERM (a service stopping, ``kill``) where a command asked for it to be handled like
    Ctrl-C: the work stops where it is, finished results stay, and the command line exits with
    status 143 and one line instead of a native stack dump."""


def terminate_as_interrupt(signum: int, frame: object) -> None:
    """A SIGTERM handler that raises ``Terminated`` in the main thread."""
    raise Terminated()


def interrupted(exc: KeyboardInterrupt) -> int:
    """The command line's one line and exit status for Ctrl-C (130) or ``Terminated`` (143)."""
    stopped = isinstance(exc, Terminated)
    print(f"emotrace: {'terminated' if stopped else 'interrupted'}", file=sys.stderr)
    return 143 if stopped else 130


class UsageError(ValueError):
    """Options that cannot work as given (a plugin's own checks beyond argparse's): the
    command line prints its one line and exits with status 2, as for argparse's errors."""


def command_group(
    subparsers: SubParsers[argparse.ArgumentParser], name: str, help_text: str
) -> SubParsers[argparse.ArgumentParser]:
    """The subparsers of ``emotrace NAME``, made here or reused where another plugin made them.

    ``eval`` is shared: the engine adds ``eval diarization`` to it (DER scoring is product code),
    the training room adds ``eval ser`` and ``eval fer``; argparse refuses a second ``eval``, and
    entry points load in no fixed order, so whichever plugin comes first makes the group and the
    other one finds it here. ``help_text`` is used only by the first.
    """
    parser = subparsers.choices.get(name)
    if parser is None:
        parser = subparsers.add_parser(name, help=help_text)
        return parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    # argparse keeps no public handle on a parser's subparsers: find the action among its actions
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            found: SubParsers[argparse.ArgumentParser] = action
            return found
    raise ValueError(f"emotrace {name} already exists and takes no subcommands")
