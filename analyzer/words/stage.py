"""The words stage after speech-to-text: per-turn text (from the built-in transcriber or an imported
transcript) redacted when asked, turned into phrase and sentiment evidence per turn, the call's
transcript lines, and the report of what was redacted.

Redaction happens here, before any evidence is computed, so every later consumer (fusion details,
the result JSON, CSV/Parquet, VTT, ELAN, TextGrid, the store) only ever sees placeholders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from ..segment import Segment
from .cues import repeated_complaints, text_evidence
from .lexicons import Lexicon
from .redact import NOT_APPLIED, RedactionReport, redact_lines
from .transcripts import TranscriptLine
from .turns import lines_from_turns, words_per_turn


@dataclass(frozen=True)
class WordsResult:
    """What the words stage hands on.

    texts: speaker -> per turn, the ``text_evidence`` dict with ``text`` and ``asr_confidence``
    added (None where nothing was said). complaints: stretches of repeated complaints, as
    ``repeated_complaints`` gives them. transcript: the call's lines in time order (redacted when
    asked). redaction: what was redacted, and where (``NOT_APPLIED`` without redaction).
    """

    texts: dict[str, list[dict[str, Any] | None]]
    complaints: list[tuple[str, Segment, list[str]]]
    transcript: tuple[TranscriptLine, ...]
    redaction: RedactionReport
    notes: tuple[str, ...] = ()  # for the result's notes: where the words came from


def words_from_asr(
    turn_texts: Mapping[str, Sequence[Any]],
    *,
    redact: bool = False,
    complaint_window_s: float = 300.0,
    lexicon: Lexicon | None = None,
) -> WordsResult:
    """Words of a call transcribed turn by turn by the built-in transcriber.

    turn_texts: speaker -> one ``TurnText`` (``segment``, ``text``, ``words``, ``confidence``)
    per turn. redact: replace personal data by placeholders before anything is computed.
    lexicon: the phrase lexicons (the built-in ones when None). The transcript has one line per
    turn with text.
    """
    redaction = NOT_APPLIED
    if redact:
        turn_texts, redaction = _redacted_turns(turn_texts)
    lines = lines_from_turns(turn_texts)
    texts, complaints = _evidence(turn_texts, complaint_window_s, lexicon)
    return WordsResult(texts, complaints, tuple(lines), redaction)


def words_from_transcript(
    lines: Sequence[TranscriptLine],
    turns: Mapping[str, Sequence[Segment]],
    *,
    redact: bool = False,
    complaint_window_s: float = 300.0,
    lexicon: Lexicon | None = None,
) -> WordsResult:
    """Words of a call from an imported transcript.

    lines: the transcript's lines with the analyzer's speaker ids (``assign_speakers``).
    turns: speaker -> that speaker's turns. The lines are redacted first (when asked), then cut
    to the turns (``words_per_turn``), so evidence and transcript say the same.
    """
    redaction = NOT_APPLIED
    if redact:
        lines, redaction = redact_lines(lines)
    texts, complaints = _evidence(words_per_turn(lines, turns), complaint_window_s, lexicon)
    return WordsResult(texts, complaints, tuple(lines), redaction)


def _evidence(
    turn_texts: Mapping[str, Sequence[Any]], complaint_window_s: float, lexicon: Lexicon | None
) -> tuple[dict[str, list[dict[str, Any] | None]], list[tuple[str, Segment, list[str]]]]:
    texts: dict[str, list[dict[str, Any] | None]] = {}
    for spk, items in turn_texts.items():
        texts[spk] = [
            text_evidence(t.text.strip(), lexicon=lexicon)
            | {"text": t.text.strip(), "asr_confidence": t.confidence}
            if t.text.strip()
            else None
            for t in items
        ]
    heard = [
        (spk, item.segment, evidence)
        for spk, items in turn_texts.items()
        for item, evidence in zip(items, texts[spk])
        if evidence is not None
    ]
    return texts, repeated_complaints(heard, window_s=complaint_window_s)


def _redacted_turns(
    turn_texts: Mapping[str, Sequence[Any]],
) -> tuple[dict[str, list[Any]], RedactionReport]:
    """Each turn's text and words with personal data replaced, and the report."""
    out: dict[str, list[Any]] = {}
    counts: dict[str, int] = {}
    spans: list[tuple[float, float, str]] = []
    for spk, items in turn_texts.items():
        lines = [
            TranscriptLine(t.segment.start, t.segment.end, spk, t.text, "", tuple(t.words) or None)
            for t in items
        ]
        redacted, report = redact_lines(lines)
        for kind, n in report.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        spans += report.spans
        out[spk] = [
            replace(t, text=line.text, words=tuple(line.words or ()))
            for t, line in zip(items, redacted)
        ]
    return out, RedactionReport(True, counts, tuple(sorted(spans)))
