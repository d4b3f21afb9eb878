"""Line-bleed cancellation before the VAD (analyzer.audio.bleed.cancel_bleed)."""

from __future__ import annotations

import numpy as np
import pytest
from test_bleed import DUR, SR, at_db, delayed, loud_talker, noise, voice

from analyzer.audio import bleed
from analyzer.audio.augment import telephone_channel
from analyzer.audio.bleed import cancel_bleed


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


def span(start: float, end: float) -> slice:
    return slice(int(start * SR), int(end * SR))


@pytest.mark.parametrize("telephone", [False, True])
def test_bleed_at_minus_25_db_is_cancelled_and_the_backchannel_kept(telephone):
    a = loud_talker(seed=21)
    start, end = 2.5, 3.2
    own_b = noise(22)
    mm = at_db(voice(end - start, f0=220, seed=23), -20)
    own_b[span(start, start + (end - start))][: len(mm)] += mm
    own_a = a + noise(24)
    if telephone:
        own_a = telephone_channel(own_a)
        own_b = telephone_channel(own_b)
    g = 10 ** (-25 / 20)
    audio = np.stack([own_a + delayed(own_b, 0.02) * g, own_b + delayed(own_a, 0.02) * g])
    out = cancel_bleed(audio, sr=SR)
    assert out.lags_s[(1, 0)] == pytest.approx(0.02, abs=1e-3)
    bleed_only = span(0.6, 2.3)  # a talks, b has nothing of its own
    leak = audio[1][bleed_only] - own_b[bleed_only]
    left = out.audio[1][bleed_only] - own_b[bleed_only]
    assert db(left) < db(leak) - 20  # the leak is gone (the raw channel holds it at -25 dB)
    # The backchannel under the loud talker is still there, nearly untouched.
    bc = span(start + 0.05, end - 0.05)
    assert db(out.audio[1][bc] - own_b[bc]) < db(own_b[bc]) - 10
    # The loud talker's own channel keeps its voice.
    talk = span(0.6, 5.4)
    assert db(out.audio[0][talk] - audio[0][talk]) < db(audio[0][talk]) - 30


def test_a_lone_channel_is_rebuilt_exactly_block_by_block(monkeypatch):
    a = voice(DUR, f0=140, seed=5) * 0.1
    audio = np.stack([a, np.zeros_like(a)])
    whole = cancel_bleed(audio).audio
    assert np.max(np.abs(whole[0] - a)) < 1e-5
    monkeypatch.setattr(bleed, "CANCEL_BLOCK_HOPS", 7)
    blocks = cancel_bleed(audio).audio
    assert np.max(np.abs(blocks - whole)) < 1e-5


def test_mono_and_empty_audio_pass_through():
    a = voice(1.0, f0=120, seed=6)
    assert np.array_equal(cancel_bleed(a[None, :]).audio, a[None, :])
    assert cancel_bleed(np.zeros((2, 0), np.float32)).audio.shape == (2, 0)


def test_the_engine_voice_stage_hears_the_cancelled_channels():
    """``Analyzer._voice`` on split channels runs the VAD on the channels after cancellation:
    the quiet channel it hears no longer carries the talker's leak."""
    from types import SimpleNamespace

    from analyzer.pipeline import Analyzer

    heard = []

    class Vad:
        def probabilities(self, x):
            heard.append(np.asarray(x).copy())
            return np.zeros(int(np.ceil(len(x) / 512)), np.float32)

    a = loud_talker(seed=31) + noise(32)
    b = noise(33) + delayed(a, 0.02) * 10 ** (-25 / 20)
    probs, levels = Analyzer._voice(SimpleNamespace(vad=Vad()), np.stack([a, b]), True)  # type: ignore[arg-type]
    assert probs.shape[0] == 2 and len(heard) == 2
    assert levels is not None and levels.shape == probs.shape
    talk = span(0.6, 5.4)
    assert db(heard[1][talk]) < db(b[talk]) - 15
