"""The ``emotrace`` command: analyze calls, train and evaluate the emotion models."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tqdm import tqdm

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")


def _speakers(value: str) -> int | None:
    if value == "auto":
        return None
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError("--speakers takes 'auto' or a number 1-8") from None
    if not 1 <= n <= 8:
        raise argparse.ArgumentTypeError("--speakers takes 'auto' or a number 1-8")
    return n


def _channels(value: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in value.split(",") if v.strip())
    if not names or len(set(names)) != len(names):
        raise argparse.ArgumentTypeError("--channels takes distinct names, e.g. agent,customer")
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="emotrace", description="Offline emotion analysis of recorded voice and video calls."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    an = sub.add_parser("analyze", help="analyze recordings into emotion timelines (JSON)")
    an.add_argument("files", nargs="+", metavar="FILE")
    an.add_argument("--out", required=True, type=Path, help="folder for <name>.json results")
    an.add_argument("--channels", type=_channels, help="roles per channel, e.g. agent,customer")
    an.add_argument("--mono", action="store_true", help="mix channels and diarize instead")
    an.add_argument("--speakers", type=_speakers, default=None, help="auto (default) or N")
    an.add_argument("--fps", type=float, default=5.0, help="video analysis rate (default 5)")
    an.add_argument("--no-video", action="store_true", help="skip the video stream")
    an.add_argument(
        "--transcribe",
        action="store_true",
        help="add the words modality (English ASR, complaint/empathy phrases; slower)",
    )
    an.add_argument("--csv", action="store_true", help="also write <name>.csv (segments)")
    an.add_argument("--parquet", action="store_true", help="also write <name>.parquet")
    an.add_argument("--ser-model", default="default", help="speech emotion model name or path")
    an.add_argument("--fer-model", default="default", help="facial emotion model name or path")
    an.add_argument("--quiet", action="store_true", help="no progress bar")

    tr = sub.add_parser("train", help="train an emotion model")
    tr_sub = tr.add_subparsers(dest="kind", required=True)
    ev = sub.add_parser("eval", help="evaluate an emotion model on labelled data")
    ev_sub = ev.add_subparsers(dest="kind", required=True)
    from .train import fer, ser

    ser.add_train_args(tr_sub.add_parser("ser", help="speech emotion model"))
    fer.add_train_args(tr_sub.add_parser("fer", help="facial expression model"))
    ser.add_eval_args(ev_sub.add_parser("ser", help="speech emotion model"))
    fer.add_eval_args(ev_sub.add_parser("fer", help="facial expression model"))

    sub.add_parser("models", help="list the installed models")
    return parser


def run_analyze(args: argparse.Namespace) -> int:
    from .config import AnalysisConfig
    from .media import MediaError
    from .pipeline import Analyzer

    config = AnalysisConfig(
        channels=args.channels,
        split_channels=False if args.mono else None,
        num_speakers=args.speakers,
        fps=args.fps,
        video=not args.no_video,
        transcribe=args.transcribe,
        ser_model=None if args.ser_model == "none" else args.ser_model,
        fer_model=None if args.fer_model == "none" else args.fer_model,
    )
    args.out.mkdir(parents=True, exist_ok=True)
    analyzer = Analyzer(config)
    failed = 0
    try:
        for path in args.files:
            name = Path(path).name
            bar = (
                None
                if args.quiet
                else tqdm(total=8, desc=name, unit="step", leave=True, file=sys.stderr)
            )

            def progress(step: str, done: int, total: int, bar=bar) -> None:
                if bar is None:
                    return
                if step == "video frames":
                    bar.set_postfix_str(f"faces {done}/{total} frames")
                    return
                bar.set_postfix_str(step)
                bar.n = done
                bar.refresh()

            try:
                result = analyzer.analyze(path, progress=progress)
            except (MediaError, OSError) as exc:
                failed += 1
                if bar is not None:
                    bar.close()
                print(f"emotrace: error: {exc}", file=sys.stderr)
                continue
            if bar is not None:
                bar.close()
            stem = args.out / Path(path).stem
            result.save_json(stem.with_suffix(".json"))
            if args.csv:
                result.write_csv(stem.with_suffix(".csv"))
            if args.parquet:
                result.write_parquet(stem.with_suffix(".parquet"))
            n_ev = len(result.events)
            print(
                f"{name}: {result.media.duration_s:.1f} s, {len(result.speakers)} speakers, "
                f"{n_ev} events -> {stem.with_suffix('.json')}"
            )
    finally:
        analyzer.close()
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "analyze":
        return run_analyze(args)
    if args.command == "models":
        from .models import list_models

        for name in list_models():
            print(name)
        return 0
    from .train import fer, ser

    module = ser if args.kind == "ser" else fer
    try:
        if args.command == "train":
            module.run_train(args)
        else:
            module.run_eval(args)
    except (FileNotFoundError, ValueError) as exc:
        print(f"emotrace: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
