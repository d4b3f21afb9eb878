"""``emotrace batch``: many calls on Ray, on this machine or on a cluster.

Found by ``emotrace`` through the ``emotrace.commands`` entry point ``batch``; also runs alone as
``python -m analyzer.batch`` (same arguments).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..commands import interrupted
from ..config import add_options, config_from_args

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``batch`` subcommand to ``emotrace``'s subparsers."""
    p = subparsers.add_parser(
        "batch",
        help="analyse many calls on Ray (this machine or a cluster); JSON + Parquet datasets",
        description="Analyse files, folders (recursively) and CSV manifests (columns path, "
        "agent, channels, transcript) on Ray. Finished calls are skipped on the next run.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="file, folder or manifest.csv")
    p.add_argument("--out", required=True, type=Path, help="results folder")
    p.add_argument(
        "--address", help="join a Ray cluster: auto or ray://HOST:PORT (default: local Ray)"
    )
    p.add_argument("--workers", type=_positive, help="analysis workers (default: every CPU)")
    p.add_argument(
        "--worker-cpus",
        type=_positive,
        help="CPUs (and engine threads) per worker (default: this machine's CPUs shared out "
        "over the workers; 1 on a cluster)",
    )
    p.add_argument("--gpus", type=float, default=0.0, help="GPUs for the workers (default 0)")
    add_options(p)  # every analysis option, as `emotrace analyze` has it (from AnalysisConfig)
    add_output_options(p)
    p.set_defaults(func=run)


def add_output_options(p: argparse.ArgumentParser) -> None:
    """The per-call outputs and display options that ``emotrace analyze`` also takes."""
    p.add_argument("--csv", action="store_true", help="also write <name>.csv per call")
    p.add_argument("--parquet", action="store_true", help="also write <name>.parquet per call")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    """Run the batch; exit status 0 (all analysed or already done), 1 (some failed), 2 (usage)."""
    from ..models import ModelError
    from .inputs import BatchInputError

    try:
        import ray  # noqa: F401
    except ImportError:
        print("emotrace: batch needs Ray: pip install 'emotrace[cluster]'", file=sys.stderr)
        return 2
    from .runner import BatchOptions, run_batch

    try:
        options = BatchOptions(
            out=args.out,
            config=config_from_args(args),
            address=args.address,
            workers=args.workers,
            worker_cpus=args.worker_cpus,
            gpus=args.gpus,
            progress=not args.quiet,
            extra_outputs=tuple(k for k in ("csv", "parquet") if getattr(args, k)),
        )
        summary = run_batch(args.inputs, options)
    except (BatchInputError, ModelError, ValueError) as exc:
        print(f"emotrace: batch: {exc}", file=sys.stderr)
        return 2
    except ConnectionError as exc:
        print(f"emotrace: batch: cannot reach the Ray cluster ({exc})", file=sys.stderr)
        return 1
    print(summary.line())
    stages = ", ".join(f"{k} {v:.1f} s" for k, v in summary.stages.items())
    print(
        f"stages: {stages}; {summary.workers} workers x {summary.worker_cpus} CPU(s) on "
        f"{summary.nodes or 'no'} node(s) used; results in {args.out}"
    )
    if summary.failed:
        print(
            f"emotrace: {summary.failed} of {summary.total} inputs failed "
            f"(see {args.out / 'failures.csv'})",
            file=sys.stderr,
        )
        return 1
    return 0


def _positive(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError("takes a whole number of at least 1")
    return n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="emotrace")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        status: int = args.func(args)
    except KeyboardInterrupt as exc:
        return interrupted(exc)
    return status


if __name__ == "__main__":
    sys.exit(main())
