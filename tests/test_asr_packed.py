"""Packed, batched ASR: short turns share Whisper windows and every word comes back to its turn."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.segment import Segment
from analyzer.words.asr import Transcriber, pack_turns
from tests.conftest import SR, speak


def test_pack_turns_lays_pieces_out_in_windows_with_gaps():
    layout = pack_turns([10, 10, 10, 25, 40], window=35, gap=2)
    assert layout.starts == (0, 12, 24, 36, 63)
    # a window never holds more than 35 samples, a piece never straddles two, and a piece longer
    # than a window gets a window of its own
    assert layout.windows == ((0, 34), (36, 61), (63, 103))
    assert all(b - a <= 35 for a, b in layout.windows[:2])
    assert layout.total == 105 and layout.gap == 2
    assert pack_turns([]).windows == ()


@pytest.mark.slow
def test_packed_transcription_keeps_each_turn_its_own_words():
    sentences = [
        "Thank you for calling.",
        "My internet keeps dropping.",
        "Let me check that for you.",
        "It stopped working on Monday.",
    ]
    gap = np.zeros(int(0.6 * SR), np.float32)
    parts, turns, t = [gap], [], 0.6
    for text in sentences:
        clip = speak(text)
        parts += [clip, gap]
        turns.append(Segment(t, t + len(clip) / SR))
        t += len(clip) / SR + 0.6
    audio = np.concatenate(parts)
    blip = Segment(0.1, 0.2)  # too short to transcribe
    out = Transcriber(threads=1, packed=True).transcribe(audio, [*turns, blip])
    assert [o.segment for o in out] == [*turns, blip]
    keys = ["thank", "internet", "check", "monday"]
    for key, turn, o in zip(keys, turns, out):
        assert key in o.text.lower()
        others = [k for k in keys if k != key]
        assert not any(k in o.text.lower() for k in others)  # no word leaked into a neighbour
        assert o.words and all(
            turn.start - 1e-3 <= s <= e <= turn.end + 1e-3 for s, e, _ in o.words
        )
        assert 0.0 < o.confidence <= 1.0
    assert out[-1].text == "" and out[-1].confidence == 0.0
