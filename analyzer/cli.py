"""The ``emotrace`` command: analyze calls and list models; other commands come from plugins.

A plugin is an entry point in the group ``emotrace.commands`` naming a function
``register(subparsers) -> None`` that adds its subcommand(s) and sets ``func`` on each with
``set_defaults(func=callable)``; ``func(args)`` returns the exit status. The training package
registers ``train`` and ``eval`` this way, so the engine never imports it.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from .pipeline import Progress

PLUGIN_GROUP = "emotrace.commands"


def build_parser() -> argparse.ArgumentParser:
    from .config import add_options

    parser = argparse.ArgumentParser(
        prog="emotrace", description="Offline emotion analysis of recorded voice and video calls."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="analyze recordings into emotion timelines (JSON)")
    an.add_argument("files", nargs="+", metavar="FILE")
    an.add_argument("--out", required=True, type=Path, help="folder for <name>.json results")
    add_options(an)  # every analysis option, with its default and help, from AnalysisConfig
    an.add_argument(
        "--csv",
        action="store_true",
        help="also write <name>.csv (segments; <name>.transcript.csv with words)",
    )
    an.add_argument("--parquet", action="store_true", help="also write <name>.parquet (likewise)")
    an.add_argument("--quiet", action="store_true", help="no progress bar")
    an.set_defaults(func=run_analyze)

    models = sub.add_parser("models", help="list the installed models")
    models.set_defaults(func=run_models)

    for plugin in entry_points(group=PLUGIN_GROUP):
        plugin.load()(sub)
    return parser


def _progress_bar(name: str, quiet: bool) -> tuple[Any, Progress | None]:
    """A tqdm bar over the analysis stages and the matching ``progress`` callback."""
    from .pipeline import STEPS

    if quiet:
        return None, None
    bar = tqdm(total=len(STEPS), desc=name, unit="step", leave=True, file=sys.stderr)

    def progress(step: str, done: int, total: int) -> None:
        if step == "video frames":
            bar.set_postfix_str(f"faces {done}/{total} frames")
            return
        bar.set_postfix_str(step)
        bar.n = done
        bar.refresh()

    return bar, progress


def run_analyze(args: argparse.Namespace) -> int:
    from .config import config_from_args
    from .media import MediaError
    from .naming import output_stems
    from .pipeline import Analyzer
    from .words.lexicons import LexiconError
    from .words.transcripts import TranscriptError

    config = config_from_args(args)
    args.out.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer(config)
    failed = 0
    try:
        for path, name_stem in zip(args.files, output_stems(args.files)):
            name = Path(path).name
            bar, progress = _progress_bar(name, args.quiet)
            try:
                result = analyzer.analyze(path, progress=progress)
            except (MediaError, OSError, TranscriptError, LexiconError) as exc:
                failed += 1
                print(f"emotrace: error: {exc}", file=sys.stderr)
                continue
            finally:
                if bar is not None:
                    bar.close()
            stem = args.out / Path(path).stem
            result.save_json(stem.with_suffix(".json"))
            if args.csv:
                result.write_csv(stem.with_suffix(".csv"))
            if args.parquet:
                result.write_parquet(stem.with_suffix(".parquet"))
            if result.redaction.applied:  # the audio with personal data silenced
                from .export import REDACTED_AUDIO_SUFFIX, write_redacted_audio
                from .naming import output_path

                write_redacted_audio(
                    result, path, output_path(args.out, name_stem, REDACTED_AUDIO_SUFFIX)
                )
            if result.transcript:  # the words line by line beside the segment table
                if args.csv:
                    result.write_csv(stem.with_suffix(".transcript.csv"), "transcript")
                if args.parquet:
                    result.write_parquet(stem.with_suffix(".transcript.parquet"), "transcript")
            n_ev = len(result.events)
            print(
                f"{name}: {result.media.duration_s:.1f} s, {len(result.speakers)} speakers, "
                f"{n_ev} events -> {stem.with_suffix('.json')}"
            )
    finally:
        analyzer.close()
    return 1 if failed else 0


def run_models(args: argparse.Namespace) -> int:
    from .models import list_models

    for name in list_models():
        print(name)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except (FileNotFoundError, ValueError) as exc:
        print(f"emotrace: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
