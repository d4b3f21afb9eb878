"""``emotrace eval diarization --ref REF.rttm RESULT...``: diarization error rate of our results.

``--rttm REF.rttm`` is another name for ``--ref``.

The engine's own plugin (entry point ``eval-diarization`` in pyproject.toml): it adds the
``diarization`` kind to the ``eval`` group, which it shares with the training room's
``eval ser|fer`` (``analyzer.commands.command_group``). Hypotheses are result JSON files
(``emotrace analyze`` output, their speech ``turns``) or RTTM files (``--rttm`` output).
Scoring is ``analyzer.audio.der``: 10 ms frames, best one-to-one speaker mapping, frames within
the collar of a reference boundary not scored. Several files pool into one DER (speaker-time of
all files together). One JSON line per file, then the pooled one last:
``{"der", "missed", "false_alarm", "confusion", "collar", "files"}``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .audio.der import diarization_error_rate
from .commands import SubParsers, UsageError, command_group
from .export import rttm_file_id
from .result import AnalysisResult
from .segment import Segment

COLLAR_S = 0.25  # s either side of each reference boundary left unscored (the usual collar)
MAX_TIME_S = 7 * 24 * 3600.0  # a turn later than a week into a recording is a broken line

Turns = list[tuple[str, Segment]]  # (speaker id, segment)


def read_rttm(path: str | Path) -> dict[str, Turns]:
    """The ``SPEAKER`` lines of an RTTM file as turns per file id (other line types skipped).

    Fields: type, file id, channel, start (s), duration (s), NA, NA, speaker, NA, NA. Start and
    duration must be finite, not negative and within MAX_TIME_S (else a ValueError naming the
    line); a byte-order mark before the first line is ignored.
    """
    out: dict[str, Turns] = {}
    text = Path(path).read_text(encoding="utf-8-sig")
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields or fields[0] != "SPEAKER":
            continue
        try:
            file_id, start, duration, speaker = (
                fields[1],
                float(fields[3]),
                float(fields[4]),
                fields[7],
            )
        except (IndexError, ValueError):
            raise ValueError(
                f"{path}:{number}: not an RTTM SPEAKER line: {line.strip()!r}"
            ) from None
        if not (0 <= start <= MAX_TIME_S and 0 <= duration <= MAX_TIME_S):  # also NaN
            raise ValueError(
                f"{path}:{number}: start and duration must be seconds from 0 to {MAX_TIME_S:g}, "
                f"got {fields[3]} and {fields[4]}"
            )
        if duration > 0:
            out.setdefault(file_id, []).append((speaker, Segment(start, start + duration)))
    return out


def read_hypothesis(path: str | Path) -> dict[str, Turns]:
    """Turns per file id from an RTTM file or an analysis result JSON (one file id)."""
    path = Path(path)
    if path.suffix.lower() == ".rttm":
        return read_rttm(path)
    try:
        result = AnalysisResult.from_json(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise ValueError(f"{path}: not an emotrace result JSON ({exc})") from None
    return {rttm_file_id(result): list(result.turns)}


def _match(file_id: str, reference: dict[str, Turns]) -> str | None:
    """The reference file id for a hypothesis file id: the same id, else the id without its
    extension (``call.wav`` -> ``call``); None when neither is there."""
    for candidate in (file_id, Path(file_id).stem):
        if candidate in reference:
            return candidate
    return None


def evaluate_diarization(
    reference: dict[str, Turns], hypotheses: dict[str, Turns], *, collar_s: float = COLLAR_S
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per-file scores and the pooled score of ``hypotheses`` against ``reference``.

    A hypothesis file id must name a reference file (or, with one file on each side, the two are
    paired whatever their ids); reference files without a hypothesis are not scored.
    """
    if not hypotheses:
        raise ValueError("no hypothesis turns to score")
    pairs: list[tuple[str, str]] = []
    for file_id in hypotheses:
        ref_id = _match(file_id, reference)
        if ref_id is None and len(reference) == 1 and len(hypotheses) == 1:
            ref_id = next(iter(reference))
        if ref_id is None:
            known = ", ".join(sorted(reference)) or "none"
            raise ValueError(f"no reference turns for file {file_id!r} (reference has: {known})")
        pairs.append((file_id, ref_id))
    rows: list[dict[str, Any]] = []
    totals = {"missed_s": 0.0, "false_alarm_s": 0.0, "confusion_s": 0.0, "reference_s": 0.0}
    for file_id, ref_id in pairs:
        scores = diarization_error_rate(reference[ref_id], hypotheses[file_id], collar_s=collar_s)
        rows.append({"file": file_id} | {k: round(scores[k], 4) for k in ("der", "missed",
                     "false_alarm", "confusion", "reference_s")})  # fmt: skip
        for key in totals:
            totals[key] += scores[key]
    speech = max(totals["reference_s"], 0.01)  # one 10 ms frame, as der.py's floor
    missed, false_alarm = totals["missed_s"] / speech, totals["false_alarm_s"] / speech
    confusion = totals["confusion_s"] / speech
    pooled = {
        "der": round(missed + false_alarm + confusion, 4),
        "missed": round(missed, 4),
        "false_alarm": round(false_alarm, 4),
        "confusion": round(confusion, 4),
        "collar": collar_s,
        "files": len(pairs),
    }
    return rows, pooled


def run_eval_diarization(args: argparse.Namespace) -> int:
    """Print one JSON line per scored file, then the pooled scores as the last line."""
    if not 0 <= args.collar <= 10:  # also NaN
        raise UsageError(f"--collar must be seconds from 0 to 10, not {args.collar}")
    reference = read_rttm(args.ref)
    if not reference:
        raise ValueError(f"{args.ref}: no SPEAKER lines")
    hypotheses: dict[str, Turns] = {}
    for path in args.results:
        for file_id, turns in read_hypothesis(path).items():
            if file_id in hypotheses:
                raise ValueError(f"{path}: file {file_id!r} is given twice")
            hypotheses[file_id] = turns
    rows, pooled = evaluate_diarization(reference, hypotheses, collar_s=args.collar)
    for row in rows:
        print(json.dumps(row))
    print(json.dumps(pooled))
    return 0


def register(subparsers: SubParsers[argparse.ArgumentParser]) -> None:
    """Add ``emotrace eval diarization`` (the ``emotrace.commands`` entry point)."""
    group = command_group(subparsers, "eval", "evaluate against labelled data")
    p = group.add_parser("diarization", help="diarization error rate against a reference RTTM")
    p.add_argument(
        "--ref", "--rttm", dest="ref", required=True, type=Path, metavar="REF.rttm",
        help="reference turns (RTTM)",
    )  # fmt: skip
    p.add_argument(
        "results", nargs="+", type=Path, metavar="RESULT",
        help="result JSON files of `emotrace analyze`, or RTTM files",
    )  # fmt: skip
    p.add_argument(
        "--collar", type=float, default=COLLAR_S,
        help=f"seconds either side of reference boundaries left unscored (default {COLLAR_S})",
    )  # fmt: skip
    p.set_defaults(func=run_eval_diarization)
