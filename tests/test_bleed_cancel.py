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
        def channel_probabilities(self, x):
            heard.extend(np.asarray(x).copy())
            return np.zeros((len(x), int(np.ceil(x.shape[1] / 512))), np.float32)

    a = loud_talker(seed=31) + noise(32)
    b = noise(33) + delayed(a, 0.02) * 10 ** (-25 / 20)
    probs, levels = Analyzer._voice(SimpleNamespace(vad=Vad()), np.stack([a, b]), True)  # type: ignore[arg-type]
    assert probs.shape[0] == 2 and len(heard) == 2
    assert levels is not None and levels.shape == probs.shape
    talk = span(0.6, 5.4)
    assert db(heard[1][talk]) < db(b[talk]) - 15


def test_the_leak_goes_as_soon_as_the_interrupted_side_stops_and_the_cutter_is_untouched():
    """b cuts in on a (2.0-3.0 s), louder than a, and stops; a keeps leaking into b's channel
    before and after: the line's filter is fitted on b's bleed-only frames, so the leak right
    after b's own voice ends is taken away at once (a fit over a window that still holds b's
    voice left it there for a quarter of a second), and b's first syllable is not bent."""
    a = loud_talker(seed=51) + noise(52)
    own_b = noise(53)
    cut, stop = 2.0, 3.0
    own_b[span(cut, stop)] += at_db(voice(stop - cut, f0=210, seed=54), 6)[: int((stop - cut) * SR)]
    g = 10 ** (-25 / 20)
    audio = np.stack([a + delayed(own_b, 0.02) * g, own_b + delayed(a, 0.02) * g])
    out = cancel_bleed(audio, sr=SR).audio[1]
    after = span(stop + 0.02, stop + 0.25)  # b silent again, a still talking
    leak = audio[1][after] - own_b[after]
    assert db(out[after] - own_b[after]) < db(leak) - 20
    onset = span(cut, cut + 0.2)  # b's first syllable over a's leak
    assert db(out[onset] - own_b[onset]) < db(own_b[onset]) - 20


def test_taking_the_leak_away_never_adds_power_to_a_frame():
    """A source that does not leak at all into a quiet target (independent noise): whatever
    the fit finds, the target comes out no louder than it went in, frame by frame."""
    rng = np.random.default_rng(61)
    a = loud_talker(seed=62) + noise(63)
    b = (rng.normal(size=len(a)) * 1e-3).astype(np.float32)
    out = cancel_bleed(np.stack([a, b]), sr=SR).audio[1]
    frames = len(b) // 1024
    before = (b[: frames * 1024].reshape(frames, -1) ** 2).sum(axis=1)
    after = (out[: frames * 1024].reshape(frames, -1) ** 2).sum(axis=1)
    assert np.all(after <= before * 1.2)


@pytest.mark.parametrize("n, win", [(40, 7), (40, 8), (5, 9), (1, 3), (12, 1)])
def test_moving_sum_is_the_clipped_centred_window_sum(n, win):
    rng = np.random.default_rng(n * 10 + win)
    x = rng.normal(size=(n, 3)) + 1j * rng.normal(size=(n, 3))
    half = win // 2
    want = np.array([x[max(0, i - half) : max(0, i - half + win)].sum(axis=0) for i in range(n)])
    got = bleed._moving_sum(x, win)
    assert got.shape == x.shape and np.allclose(got, want, rtol=0, atol=1e-12)
    # Some rows only: the same values as those rows of the whole (same running sum).
    rows = slice(n // 3, n - n // 4)
    assert np.array_equal(bleed._moving_sum(x, win, rows), got[rows])
    assert bleed._moving_sum(x, win, slice(2, 2)).shape == (0, 3)


def test_the_line_filter_is_numpys_complex_division_bounded_to_one():
    """``_line_filter`` works on the real and imaginary parts in place; its values are
    exactly those of the plain complex formula (division by the real power, |H| <= 1)."""
    rng = np.random.default_rng(7)
    shape = (50, 40)
    s_ts = (rng.normal(size=shape) + 1j * rng.normal(size=shape)) * 10 ** rng.uniform(-9, 3, shape)
    s_ss = np.abs(rng.normal(size=shape)) * 10 ** rng.uniform(-9, 3, shape)
    s_ss[::7] = 0.0
    want = np.where(s_ss > 0, s_ts / np.maximum(s_ss, 1e-20), 0.0)
    want /= np.maximum(np.abs(want), 1.0)
    assert np.array_equal(bleed._line_filter(s_ts.copy(), s_ss), want)
    weight = rng.uniform(size=(shape[0], 1))
    assert np.array_equal(bleed._times_real(s_ts, weight), s_ts * weight)
    band = s_ts[:, 5:30]  # a strided view (the band of a spectrum) works as well
    assert np.array_equal(bleed._times_real(band, weight), band * weight)
