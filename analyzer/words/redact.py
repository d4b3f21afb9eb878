"""Redaction of personal data in English and Chinese call transcripts.

What is found (``Span.kind``):

* ``CARD``: payment card numbers, 13-19 digits passing the Luhn check.
* ``PHONE``: international numbers written with ``+CC``; US numbers written 3-3-4; Chinese mobiles
  (11 digits, ``1[3-9]``, with or without +86); numbers starting with 0 (landlines, UK mobiles);
  and any 7-15 digits right after a phone cue ("my number is", "call me on", "手机", "电话").
* ``EMAIL``: written (``a.b@c.com``), spoken (``a dot b at c dot com``, ``j o h n at ...``,
  ``lina 艾特 163 点 com``) and half-spoken (``li.na at qq dot com``, ``bob@gmail dot com``)
  addresses; a spoken "at" needs a spoken "dot"/"点" somewhere.
* ``ID``: Chinese resident ID numbers, 17 digits and a check character (ISO 7064 mod 11-2)
  with a plausible birth date inside; right after an ID cue ("身份证号", "ID number") any 15
  or 18 digits (old 15-digit IDs, and misread ones, are still someone's ID).
* ``ACCOUNT``: IBANs (mod-97 check; also read out a character at a time: "F R one four ...",
  "golf bravo 29 NWBK ...") and 6-30 digits after an account cue ("account number",
  "账号", "卡号") that are not a card.
* ``DOB``: a date right after a birth cue ("born on", "date of birth", "DOB", "出生日期", "生日").
* ``ADDRESS``: English "number + street name + street suffix"; Chinese "省/市/区 ... 路/街/大道
  + number 号".
* ``NAME``: names introduced by a name pattern ("my name is X Y", "this is X speaking",
  "我叫XX", "我是X先生/女士/小姐", "我姓X", "姓名：XX").

Digits may be written with spaces, dashes, dots or brackets, in full-width forms, spoken as English
words ("four one one one", "double five", "oh") or as Chinese digits (一二三, 幺 for one, 〇/零).
Ordinary numbers stay: prices, quantities, clock times, years, dates outside a birth cue, and
order/tracking/case numbers (a cue such as "order number" or "订单号" before a number keeps it
from being read as a phone or a card).

All offsets are character offsets into the text given. Patterns favour recall on identifiers that
carry a checksum (the checksum supplies the precision) and need a cue for the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .pii import (
    Span,
    digit_runs,
    find_addresses,
    find_dates_of_birth,
    find_emails,
    find_ibans,
    find_names,
    find_numbers,
    iban_valid,
    luhn_valid,
    normalise,
    resident_id_valid,
)

__all__ = [
    "KINDS",
    "PLACEHOLDERS",
    "NOT_APPLIED",
    "RedactedText",
    "RedactionReport",
    "Span",
    "find_personal_data",
    "iban_valid",
    "luhn_valid",
    "redact_lines",
    "redact_text",
    "redact_words",
    "resident_id_valid",
    "silence_audio",
]

KINDS = ("CARD", "PHONE", "EMAIL", "ID", "ACCOUNT", "DOB", "ADDRESS", "NAME")
PLACEHOLDERS = {kind: f"[{kind}]" for kind in KINDS}

SILENCE_RAMP_S = 0.005  # 5 ms fade at each edge of a silenced span, against clicks
BLEEP_HZ = 1000.0  # tone that replaces redacted speech in "bleep" mode
WORD_TIME_PAD_S = 0.2  # margin around ASR word times when silencing them
BLEEP_DBFS = -30.0  # its level: audible but not loud (note: above the -60 dBFS of "silence")


@dataclass(frozen=True)
class RedactedText:
    """A text with each span replaced by its placeholder; ``spans`` index the original text."""

    text: str
    spans: tuple[Span, ...]


# ------------------------------------------------------------------------------ public API


def find_personal_data(text: str, *, language: str | None = None) -> list[Span]:
    """Personal data in ``text``, as non-overlapping spans sorted by start.

    language: "en", "zh" or None. Accepted for symmetry with the other text functions; every
    pattern runs whatever it says, since code-switched speech is common in service calls and
    each pattern is specific to its script.
    Where two findings overlap, the longer one wins; at equal length the earlier detector
    (e-mail, IBAN, numbers, dates of birth, addresses, names) does.
    """
    norm = normalise(text)
    runs = digit_runs(norm)
    found: list[Span] = []
    found += find_emails(text, norm)
    found += find_ibans(text, norm)
    found += find_dates_of_birth(text, norm)
    found += find_numbers(text, norm, runs)
    found += find_addresses(text, norm)
    found += find_names(text, norm)
    ordered = sorted(enumerate(found), key=lambda item: (-(item[1].end - item[1].start), item[0]))
    kept: list[Span] = []
    for _, span in ordered:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept)


def redact_text(text: str, *, language: str | None = None) -> RedactedText:
    """``text`` with every span of personal data replaced by its placeholder (``[CARD]``...)."""
    spans = find_personal_data(text, language=language)
    pieces, cursor = [], 0
    for span in spans:
        pieces += [text[cursor : span.start], PLACEHOLDERS[span.kind]]
        cursor = span.end
    pieces.append(text[cursor:])
    return RedactedText("".join(pieces), tuple(spans))


def _is_cjk(char: str) -> bool:
    return "\u3000" <= char <= "\u9fff" or "\uff00" <= char <= "\uffef"


def join_words(words: Sequence[str]) -> tuple[str, list[tuple[int, int]]]:
    """Words joined into one text (a space between words, none between Chinese characters) and
    each word's character range in it."""
    text, ranges = "", []
    for word in words:
        word = word.strip()
        if text and word and not (_is_cjk(text[-1]) or _is_cjk(word[0])):
            text += " "
        ranges.append((len(text), len(text) + len(word)))
        text += word
    return text, ranges


def redact_words(
    words: Sequence[tuple[float, float, str]], *, language: str | None = None
) -> tuple[list[tuple[float, float, str]], list[list[Any]]]:
    """Redact timed words: (start_s, end_s, word) in order.

    The words are joined into a text (see ``join_words``), personal data is found in it, and
    every word that a span touches is replaced: the words of one span become one word spanning
    their times with the span's placeholder. Returns (the redacted words, the time spans
    [[start_s, end_s, kind], ...]) ready for ``silence_audio`` and the result's ``redaction``.
    """
    text, ranges = join_words([w for _, _, w in words])
    spans = find_personal_data(text, language=language)
    out: list[tuple[float, float, str]] = []
    time_spans: list[list[Any]] = []
    i = 0
    for span in spans:
        while i < len(words) and ranges[i][1] <= span.start:
            out.append(tuple(words[i]))  # type: ignore[arg-type]
            i += 1
        first = i
        while i < len(words) and ranges[i][0] < span.end:
            i += 1
        if (
            i == first
        ):  # the span lies in the gaps between words (cannot happen with stripped words)
            continue
        start_s, end_s = float(words[first][0]), float(words[i - 1][1])
        out.append((start_s, end_s, PLACEHOLDERS[span.kind]))
        time_spans.append([start_s, end_s, span.kind])
    out += [tuple(w) for w in words[i:]]  # type: ignore[misc]
    return out, time_spans


def silence_audio(
    audio: NDArray[np.floating[Any]],
    sr: int,
    spans: Iterable[Sequence[Any]],
    *,
    mode: str = "silence",
    pad_s: float = 0.0,
) -> NDArray[np.float32]:
    """A copy of ``audio`` with the time spans of personal data made unintelligible.

    audio: float samples, [samples] or [channels, samples] (time on the last axis), in [-1, 1].
    sr: samples per second. spans: (start_s, end_s, ...) in seconds; extra items (the kind) are
    ignored. mode: "silence" (default) sets the span to zero, with a 5 ms fade outside each edge
    so no click is left, which keeps the span below -60 dBFS as the contract asks; "bleep"
    replaces it with a 1 kHz tone at ``BLEEP_DBFS`` (audible, so it does not meet that bound).
    pad_s: seconds added before and after each span; ASR word times are often a tenth of a
    second or two off, so a caller working from them should pass about ``WORD_TIME_PAD_S``.
    """
    if mode not in ("silence", "bleep"):
        raise ValueError(f"mode must be 'silence' or 'bleep', not {mode!r}")
    out = np.array(audio, dtype=np.float32, copy=True)
    n = out.shape[-1]
    ramp = int(round(SILENCE_RAMP_S * sr))
    for span in spans:
        start = max(0, int(round((float(span[0]) - pad_s) * sr)))
        end = min(n, int(round((float(span[1]) + pad_s) * sr)))
        if end <= start:
            continue
        if mode == "bleep":
            t = np.arange(end - start) / sr
            out[..., start:end] = 10 ** (BLEEP_DBFS / 20) * np.sin(2 * np.pi * BLEEP_HZ * t)
            continue
        out[..., start:end] = 0.0
        if ramp:
            before = out[..., max(0, start - ramp) : start]
            before *= np.linspace(1.0, 0.0, before.shape[-1], endpoint=False)
            after = out[..., end : min(n, end + ramp)]
            after *= np.linspace(0.0, 1.0, after.shape[-1], endpoint=False)
    return out


# ------------------------------------------------------------------------------ transcripts


@dataclass(frozen=True)
class RedactionReport:
    """What was redacted in a call: counts per kind and the time spans (seconds) of each finding,
    as the result's ``redaction`` block (CONTRACTS)."""

    applied: bool
    counts: dict[str, int]
    spans: tuple[tuple[float, float, str], ...]

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> RedactionReport:
        """The report of a result's ``redaction`` block; not applied when the block is absent
        (results written before redaction existed)."""
        if not d:
            return NOT_APPLIED
        spans = tuple((float(s), float(e), str(k)) for s, e, k in d.get("spans", []))
        counts = {str(k): int(n) for k, n in d.get("counts", {}).items()}
        return cls(bool(d.get("applied", False)), counts, spans)

    def to_dict(self) -> dict[str, Any]:
        return {
            "applied": self.applied,
            "counts": dict(self.counts),
            "spans": [[round(s, 3), round(e, 3), k] for s, e, k in self.spans],
        }


NOT_APPLIED = RedactionReport(False, {}, ())


def redact_lines(lines: Sequence[Any]) -> tuple[list[Any], RedactionReport]:
    """Redact transcript lines (anything with ``start``, ``end``, ``text``, ``words`` fields, such
    as ``TranscriptLine``): each line's text gets placeholders; its words, when it has word times,
    are redacted with ``redact_words`` and give the exact time spans; a line without word times
    gives its whole time span for every finding (the audio cannot be cut finer, so the safe side
    is all of it). Returns (the redacted lines, the report)."""
    out, spans = [], []
    counts = dict.fromkeys(KINDS, 0)
    for line in lines:
        redacted = redact_text(line.text)
        for span in redacted.spans:
            counts[span.kind] += 1
        words = line.words
        if words:
            words, time_spans = redact_words(words)
            spans += [(s, e, k) for s, e, k in time_spans]
            # a finding in the text that the words missed still silences its whole line
            if len(time_spans) < len(redacted.spans):
                spans += [(line.start, line.end, s.kind) for s in redacted.spans[len(time_spans) :]]
            words = tuple(words)
        else:
            spans += [(line.start, line.end, s.kind) for s in redacted.spans]
        out.append(replace(line, text=redacted.text, words=words))
    counts = {k: n for k, n in counts.items() if n}
    return out, RedactionReport(True, counts, tuple(sorted(spans)))
