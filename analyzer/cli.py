"""The ``emotrace`` command: analyze calls and list models; other commands come from plugins.

A plugin is an entry point in the group ``emotrace.commands`` naming a function
``register(subparsers) -> None`` that adds its subcommand(s) and sets ``func`` on each with
``set_defaults(func=callable)``; ``func(args)`` returns the exit status. The training package
registers ``train`` and ``eval`` this way, so the engine never imports it.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import os
import sys
import traceback
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from .commands import UsageError, interrupted

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

if TYPE_CHECKING:
    from .pipeline import Progress
    from .result import AnalysisResult

PLUGIN_GROUP = "emotrace.commands"


def build_parser() -> argparse.ArgumentParser:
    from .config import add_options

    parser = argparse.ArgumentParser(
        prog="emotrace", description="Offline emotion analysis of recorded voice and video calls."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser(
        "analyze",
        help="analyze recordings into emotion timelines (JSON)",
        description="Analyse each FILE into DIR/<file name>.json (the whole name kept: "
        "call.v1.wav -> call.v1.wav.json; a repeated name gets ~2, ~3). Exit status: 0 all "
        "analysed, 1 some failed (the others are still analysed), 2 usage error.",
    )
    an.add_argument("files", nargs="+", metavar="FILE")
    an.add_argument(
        "--out", required=True, type=Path, metavar="DIR", help="folder for <file name>.json"
    )
    add_options(an)  # every analysis option, with its default and help, from AnalysisConfig
    an.add_argument(
        "--csv",
        action="store_true",
        help="also write <file name>.csv (segments), <file name>.scorecard.csv (one row per "
        "speaker and metric) and <file name>.transcript.csv (with words)",
    )
    an.add_argument(
        "--parquet", action="store_true", help="also write <file name>.parquet (likewise)"
    )
    an.add_argument("--vtt", action="store_true", help="also write <file name>.vtt (subtitles)")
    an.add_argument(
        "--srt",
        action="store_true",
        help="also write <file name>.srt (the transcript as subtitles; calls with words)",
    )
    an.add_argument(
        "--rttm", action="store_true", help="also write <file name>.rttm (speaker turns)"
    )
    an.add_argument("--quiet", action="store_true", help="no progress bar")
    an.add_argument("--debug", action="store_true", help="show tracebacks of failures")
    an.set_defaults(func=run_analyze, parser=an)

    models = sub.add_parser("models", help="list the installed models")
    models.set_defaults(func=run_models)

    for plugin in entry_points(group=PLUGIN_GROUP):
        try:
            plugin.load()(sub)
        except Exception as exc:  # a broken plugin must not take ``analyze`` down with it
            _broken_plugin(sub, plugin.name, exc)
    return parser


def _broken_plugin(sub: Any, name: str, exc: Exception) -> None:
    """Register ``name`` as a command that says, in one line, why its plugin did not load."""
    reason = _one_line(f"{type(exc).__name__}: {exc}")
    if name in sub.choices:
        return
    # prefix_chars: every argument, even "--x", is taken as text (the command only says why)
    cmd = sub.add_parser(name, help=f"(unavailable: {reason})", add_help=False, prefix_chars="\0")
    cmd.add_argument("rest", nargs=argparse.REMAINDER)

    def unavailable(args: argparse.Namespace) -> int:
        print(
            f"emotrace: error: the '{name}' command could not be loaded ({reason})", file=sys.stderr
        )
        return 1

    cmd.set_defaults(func=unavailable)


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


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _cause(exc: BaseException) -> str:
    """What went wrong with one input, in one line, without the input's path."""
    from .media import MediaError
    from .words.lexicons import LexiconError
    from .words.transcripts import TranscriptError

    if isinstance(exc, MediaError):
        return _one_line(exc.cause)
    if isinstance(exc, (TranscriptError, LexiconError)):  # they name their own file
        return _one_line(str(exc))
    if isinstance(exc, MemoryError):
        return "not enough memory to analyse it"
    if isinstance(exc, _OutputError):
        return _one_line(str(exc))
    if isinstance(exc, OSError):
        where = f" ({exc.filename})" if exc.filename else ""
        return _one_line(f"{exc.strerror or exc}{where}")
    if isinstance(exc, ValueError):
        return _one_line(f"cannot be analysed ({exc})")
    return _one_line(f"unexpected error ({type(exc).__name__}: {exc})")


class _OutputError(OSError):
    """A result could not be written (the message names the output file and the reason)."""


def _write_outputs(
    result: AnalysisResult, out: Path, stem: str, args: argparse.Namespace
) -> list[Path]:
    """Write the JSON (and the asked-for tables and subtitles) of one input, each atomically
    (a temporary file in ``out`` renamed into place), so no file is ever half-written."""
    from .export import write_rttm, write_srt, write_vtt
    from .naming import output_path

    writers: list[tuple[str, Callable[[Path], object]]] = [(".json", result.save_json)]
    if args.csv:
        writers.append((".csv", result.write_csv))
    if args.parquet:
        writers.append((".parquet", result.write_parquet))
    if args.vtt:
        writers.append((".vtt", lambda p: write_vtt(result, p)))
    if args.rttm:
        writers.append((".rttm", lambda p: write_rttm(result, p)))
    if result.redaction.applied:  # the audio with personal data silenced (.redacted.wav)
        from .export import REDACTED_AUDIO_SUFFIX, write_redacted_audio

        audio_in = result.media.path
        writers.append((REDACTED_AUDIO_SUFFIX, lambda p: write_redacted_audio(result, audio_in, p)))
    if result.transcript:  # the words line by line beside the segment table
        if args.srt:
            writers.append((".srt", lambda p: write_srt(result, p)))
        if args.csv:
            writers.append((".transcript.csv", lambda p: result.write_csv(p, "transcript")))
        if args.parquet:
            writers.append((".transcript.parquet", lambda p: result.write_parquet(p, "transcript")))
    if result.scorecard:  # the scorecard, one row per speaker and metric, beside the segments
        if args.csv:
            writers.append((".scorecard.csv", lambda p: result.write_csv(p, "scorecard")))
        if args.parquet:
            writers.append((".scorecard.parquet", lambda p: result.write_parquet(p, "scorecard")))
    written = []
    for suffix, write in writers:
        path = output_path(out, stem, suffix)
        try:
            write(path)
        except OSError as exc:
            _remove_temporaries(path)
            raise _OutputError(f"cannot write {path} ({exc.strerror or exc})") from exc
        except BaseException:
            _remove_temporaries(path)
            raise
        written.append(path)
    return written


def _remove_temporaries(path: Path) -> None:
    """Remove what an interrupted atomic write of ``path`` left beside it (``.name.*``)."""
    for tmp in path.parent.glob(f".{glob.escape(path.name)}.*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def _check_out(parser: argparse.ArgumentParser, out: Path) -> None:
    """``--out`` must be a folder or creatable as one (else a usage error, exit status 2)."""
    if out.exists() and not out.is_dir():
        parser.error(f"argument --out: {out} exists and is not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"argument --out: cannot create the folder {out} ({exc.strerror or exc})")


def run_analyze(args: argparse.Namespace) -> int:
    from .config import config_from_args
    from .models import ModelError
    from .naming import output_path, output_stems
    from .pipeline import Analyzer

    parser: argparse.ArgumentParser = args.parser
    try:
        config = config_from_args(args)
    except (ValueError, TypeError) as exc:
        parser.error(str(exc))
    for flag, given in (("--transcript", config.transcript), ("--lexicons", config.lexicons)):
        if given is not None and not Path(given).exists():  # wrong for every input alike
            parser.error(f"argument {flag}: {given} does not exist")
    out: Path = args.out
    _check_out(parser, out)
    try:
        analyzer = Analyzer(config)
    except (ModelError, OSError, ValueError) as exc:
        if args.debug:
            traceback.print_exc()
        print(f"emotrace: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    files: list[str] = list(args.files)
    stems = output_stems(files)
    inputs = {_resolved(f) for f in files}
    failed = 0
    try:
        for path, stem in zip(files, stems):
            name = Path(path).name
            bar, progress = _progress_bar(name, args.quiet)
            try:
                target = output_path(out, stem, ".json")
                if _resolved(target) in inputs:
                    raise _OutputError(f"its result {target} would overwrite an input of this run")
                result = analyzer.analyze(path, progress=progress)
                written = _write_outputs(result, out, stem, args)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # one input's failure never stops the batch
                failed += 1
                if bar is not None:
                    bar.close()
                    bar = None
                if args.debug:
                    traceback.print_exc()
                print(f"emotrace: {path}: {_cause(exc)}", file=sys.stderr)
                continue
            finally:
                if bar is not None:
                    bar.close()
            print(
                f"{name}: {result.media.duration_s:.1f} s, {len(result.speakers)} speakers, "
                f"{len(result.events)} events -> {written[0]}"
            )
    finally:
        analyzer.close()
    if failed:
        print(f"emotrace: {failed} of {len(files)} inputs failed", file=sys.stderr)
    return 1 if failed else 0


def _resolved(path: str | os.PathLike[str]) -> str:
    try:
        return str(Path(path).resolve())
    except (OSError, RuntimeError):  # a symlink loop: compare it as written
        return os.path.abspath(path)


def run_models(args: argparse.Namespace) -> int:
    from .models import list_models

    for name in list_models():
        print(name)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the ``emotrace`` command; returns the exit status (0 ok, 1 an input failed, 2 usage)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return int(args.func(args))
    except SystemExit as exc:  # argparse's usage errors (2) and --help (0)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt as exc:
        return interrupted(exc)
    except UsageError as exc:
        print(f"emotrace: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except Exception as exc:
        if "--debug" in (sys.argv[1:] if argv is None else argv):
            traceback.print_exc()
        print(f"emotrace: error: {_one_line(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
