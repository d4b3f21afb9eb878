"""Redacted audio: with --redact the spans of personal data are silent (below -60 dBFS) in the
``<input file name>.redacted.wav`` written beside the JSON, and every other sample is unchanged."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from analyzer.cli import main
from tests.conftest import SR, speak

GAP_S = 0.4
MARGIN_S = 0.2 + 0.005 + 0.002  # WORD_TIME_PAD_S, the 5 ms fade, and rounding to samples


def _timed_words(text: str, start: float, end: float) -> list[dict[str, object]]:
    """The words of ``text`` spread evenly over [start, end] (a transcript with word times)."""
    words = text.split()
    step = (end - start) / len(words)
    return [
        {"start": round(start + i * step, 3), "end": round(start + (i + 1) * step, 3), "word": w}
        for i, w in enumerate(words)
    ]


def _peak_dbfs(x: np.ndarray) -> float:
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return -np.inf if peak == 0.0 else 20 * np.log10(peak)


@pytest.mark.slow
def test_spoken_card_number_is_silent_in_the_redacted_audio(tmp_path):
    card = ", ".join(["four one one one"] + ["one one one one"] * 3)
    pieces = [
        ("Hello, my card number is", "Hello, my card number is"),
        (card, "4111 1111 1111 1111"),
        ("thank you, that is all for today, goodbye", "thank you, that is all for today, goodbye"),
    ]
    gap = np.zeros(int(GAP_S * SR), np.float32)
    audio, times, t = [gap], [], GAP_S
    for spoken, _ in pieces:
        clip = speak(spoken)
        audio += [clip, gap]
        times.append((t, t + len(clip) / SR))
        t += len(clip) / SR + GAP_S
    call = tmp_path / "call.v1.wav"
    sf.write(call, np.concatenate(audio), SR, subtype="PCM_16")
    words = [w for (_, text), (s, e) in zip(pieces, times) for w in _timed_words(text, s, e)]
    text = " ".join(w["word"] for w in words)  # type: ignore[misc]
    transcript = tmp_path / "call.v1.json"
    transcript.write_text(
        json.dumps([{"start": times[0][0], "end": times[-1][1], "text": text, "words": words}])
    )

    out = tmp_path / "out"
    argv = ["analyze", str(call), "--out", str(out), "--transcript", str(transcript), "--quiet"]
    assert main(argv + ["--redact"]) == 0
    redacted_path = out / "call.v1.wav.redacted.wav"
    assert redacted_path.exists()
    original, sr = sf.read(call, dtype="int16")
    redacted, sr2 = sf.read(redacted_path, dtype="int16")
    assert sr2 == sr == SR and redacted.shape == original.shape

    card_start, card_end = times[1]
    span = slice(int(card_start * SR), int(card_end * SR))
    assert _peak_dbfs(original[span] / 32768.0) > -30  # there was speech to silence
    assert _peak_dbfs(redacted[span] / 32768.0) < -60
    keep = np.ones(len(original), bool)
    keep[int((card_start - MARGIN_S) * SR) : int((card_end + MARGIN_S) * SR)] = False
    assert np.array_equal(redacted[keep], original[keep])  # the rest is untouched
    assert not np.array_equal(redacted, original)

    # the JSON says the same span; without --redact no redacted audio is written
    (json_path,) = out.glob("*.json")  # call.v1.wav.json once the CLI names it so
    result = json.loads(json_path.read_text())
    assert result["redaction"]["counts"] == {"CARD": 1}
    plain = tmp_path / "plain"
    assert main([*argv[:3], str(plain), *argv[4:]]) == 0
    assert not list(plain.glob("*.redacted.wav"))
