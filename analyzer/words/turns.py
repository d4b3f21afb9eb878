"""Imported transcript lines laid onto the analyzer's speech turns.

The words modality reads text per speech turn (the turns voice, prosody and speech emotion use),
so an imported transcript is cut to those turns: each word with a time goes to the turn of its
speaker that holds its middle; a line without word times goes, whole, to the turn of its speaker
it overlaps most. Words that fall in no turn of their speaker are not lost: they go to the
nearest turn of that speaker within ``MAX_GAP_S``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..segment import Segment
from .transcripts import TranscriptLine, Word, detect_language, join_tokens

MAX_GAP_S = 1.0  # a word this close to a turn of its speaker still belongs to it
IMPORTED_CONFIDENCE = 0.9  # trust in a team's own transcript: no ASR score comes with it


@dataclass(frozen=True)
class TurnWords:
    """The imported words of one speech turn.

    segment: the turn (seconds). text: its words in order ("" when none). words: (start_s,
    end_s, word) when the transcript had word times, else (). confidence: ``IMPORTED_CONFIDENCE``
    when there is text, else 0. Field names match the built-in transcriber's ``TurnText``.
    """

    segment: Segment
    text: str
    words: tuple[tuple[float, float, str], ...]
    confidence: float


def _nearest(turns: Sequence[Segment], start: float, end: float) -> int | None:
    """Index of the turn overlapping [start, end] most, else the nearest within MAX_GAP_S."""
    best: int | None = None
    best_score = 0.0
    for k, turn in enumerate(turns):
        shared = min(turn.end, end) - max(turn.start, start)
        point = start == end and turn.start <= start < turn.end
        score = max(shared, 0.0) + (1e-6 if point else 0.0)
        if score > best_score:
            best, best_score = k, score
    if best is not None:
        return best
    gaps = [(max(turn.start - end, start - turn.end), k) for k, turn in enumerate(turns)]
    if not gaps:
        return None
    gap, nearest = min(gaps)
    return nearest if gap <= MAX_GAP_S else None


def words_per_turn(
    lines: Sequence[TranscriptLine], turns: Mapping[str, Sequence[Segment]]
) -> dict[str, list[TurnWords]]:
    """The transcript's text of each speaker's turns.

    lines: transcript lines whose ``speaker`` is one of ``turns``' keys (see
    ``assign_speakers``); lines of other or unknown speakers are skipped. turns: speaker id ->
    that speaker's turns in time order. Returns speaker id -> one ``TurnWords`` per turn, in
    the same order.
    """
    pieces: dict[str, list[list[tuple[float, str, Word | None]]]] = {
        speaker: [[] for _ in spk_turns] for speaker, spk_turns in turns.items()
    }
    for line in lines:
        speaker = line.speaker
        if speaker is None or speaker not in turns or not turns[speaker]:
            continue
        spk_turns = turns[speaker]
        if line.words:
            for word in line.words:
                middle = 0.5 * (word[0] + word[1])
                k = _nearest(spk_turns, middle, middle)
                if k is not None:
                    pieces[speaker][k].append((word[0], word[2], word))
        else:
            k = _nearest(spk_turns, line.start, line.end)
            if k is not None:
                pieces[speaker][k].append((line.start, line.text, None))
    out: dict[str, list[TurnWords]] = {}
    for speaker, spk_turns in turns.items():
        out[speaker] = []
        for turn, parts in zip(spk_turns, pieces[speaker]):
            parts.sort(key=lambda p: p[0])
            text = join_tokens([p[1] for p in parts])
            words = tuple(p[2] for p in parts if p[2] is not None)
            out[speaker].append(TurnWords(turn, text, words, IMPORTED_CONFIDENCE if text else 0.0))
    return out


def lines_from_turns(turn_texts: Mapping[str, Sequence[TurnWords]]) -> list[TranscriptLine]:
    """Transcript lines from per-turn text (the built-in transcriber's ``TurnText`` or
    ``TurnWords``): one line per turn with text, in time order, language detected per line."""
    lines = []
    for speaker, texts in turn_texts.items():
        for turn in texts:
            if not turn.text.strip():
                continue
            words = tuple(turn.words) if turn.words else None
            lines.append(
                TranscriptLine(
                    turn.segment.start,
                    turn.segment.end,
                    speaker,
                    turn.text,
                    detect_language(turn.text),
                    words,
                )
            )
    return sorted(lines, key=lambda line: (line.start, line.end, line.speaker or ""))
