"""Line bleed versus a quiet second talker on channel-separated audio (analyzer.audio.bleed)."""

from __future__ import annotations

import numpy as np

from analyzer.audio.augment import telephone_channel
from analyzer.audio.bleed import bleed_mask, detect_bleed, level_bleed_mask
from analyzer.audio.vad import VAD_HOP_S

SR = 16000


def voice(seconds: float, *, f0: float, seed: int) -> np.ndarray:
    """A speech-like signal: a glottal pulse train (f0 drifting +-20 %) through resonances that
    change every syllable (150-250 ms), syllables at one level with a syllable-rate envelope.
    float32 [n]."""
    from scipy.signal import lfilter

    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    out = np.zeros(n, dtype=np.float64)
    t = 0
    while t < n:
        syl = int(rng.uniform(0.15, 0.25) * SR)
        f = f0 * rng.uniform(0.8, 1.2)
        phase = np.cumsum(np.full(syl, f / SR))
        pulses = (np.diff(np.floor(phase), prepend=0) > 0).astype(float)
        src = pulses + 0.05 * rng.normal(size=syl)
        for formant in rng.uniform([300, 900, 2200], [800, 1800, 3200]):
            r = np.exp(-np.pi * 120 / SR)
            a = [1, -2 * r * np.cos(2 * np.pi * formant / SR), r * r]
            src = lfilter([1 - r], a, src)
        src /= np.sqrt(np.mean(src**2)) + 1e-12  # syllables at one level, as in a voice
        env = np.sin(np.linspace(0, np.pi, syl)) ** 0.5
        end = min(n, t + syl)
        out[t:end] = (src * env)[: end - t]
        t = end
    return (out / np.sqrt(np.mean(out**2))).astype(np.float32)


def at_db(x: np.ndarray, db: float, ref_rms: float = 0.1) -> np.ndarray:
    return (x / np.sqrt(np.mean(x**2) + 1e-12) * ref_rms * 10 ** (db / 20)).astype(np.float32)


def delayed(x: np.ndarray, seconds: float) -> np.ndarray:
    d = int(round(seconds * SR))
    out = np.zeros_like(x)
    out[d:] = x[: len(x) - d]
    return out


def hops(seconds: float) -> int:
    return int(np.ceil(seconds * SR / (VAD_HOP_S * SR)))


def hop_range(n: int, start: float, end: float) -> np.ndarray:
    t = (np.arange(n) + 0.5) * VAD_HOP_S
    return (t >= start) & (t < end)


DUR = 6.0


def loud_talker(seed: int = 1) -> np.ndarray:
    a = at_db(voice(DUR, f0=120, seed=seed), 0.0)
    a[: int(0.5 * SR)] = 0  # half a second of silence at each end
    a[-int(0.5 * SR) :] = 0
    return a


def noise(seed: int, db: float = -70.0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return at_db(rng.normal(size=int(DUR * SR)).astype(np.float32), db)


def masks(n: int, a_on: tuple[float, float], b_on: list[tuple[float, float]]) -> np.ndarray:
    active = np.zeros((2, n), dtype=bool)
    active[0] = hop_range(n, *a_on)
    for span in b_on:
        active[1] |= hop_range(n, *span)
    return active


def test_bleed_at_minus_25_db_with_20_ms_delay_is_rejected():
    a = loud_talker()
    b = at_db(delayed(a, 0.02), -25) + noise(2)
    n = hops(DUR)
    active = masks(n, (0.5, 5.5), [(0.5, 5.5)])  # the VAD hears the bleed as speech
    ev = detect_bleed(active, np.stack([a, b]))
    assert ev.mask[1][active[1]].mean() > 0.97
    assert not ev.mask[0].any()  # the talker's own channel is never bleed
    assert abs(ev.lags_s[(1, 0)] - 0.02) < 0.001


def test_bleed_through_a_telephone_line_at_8_khz_is_rejected():
    a = telephone_channel(loud_talker(seed=3))
    bleed = telephone_channel(delayed(a, 0.02))  # the leak goes through the line too
    b = at_db(bleed, -25) + noise(4)
    active = masks(hops(DUR), (0.5, 5.5), [(0.5, 5.5)])
    mask = bleed_mask(active, np.stack([a, b]))
    assert mask[1][active[1]].mean() > 0.95
    assert not mask[0].any()


def test_quiet_backchannel_under_loud_speech_is_kept():
    a = loud_talker(seed=5)
    b = noise(6)
    start, end = 2.0, 2.6
    mm = at_db(voice(end - start, f0=210, seed=7), -20)
    b[int(start * SR) : int(start * SR) + len(mm)] += mm
    n = hops(DUR)
    active = masks(n, (0.5, 5.5), [(start, end)])
    mask = bleed_mask(active, np.stack([a, b]))
    assert not mask[1].any()
    # The level-only rule throws this backchannel away: it is 20 dB below the other side.
    rms_db = np.stack(
        [
            10 * np.log10(np.mean(np.resize(x, n * 512).reshape(n, 512) ** 2, axis=1) + 1e-10)
            for x in (a, b)
        ]
    )
    assert level_bleed_mask(active, rms_db)[1][hop_range(n, start, end)].mean() > 0.5


def test_backchannel_kept_on_a_line_that_also_bleeds():
    a = loud_talker(seed=8)
    b = at_db(delayed(a, 0.02), -25) + noise(9)
    start, end = 2.5, 3.3
    mm = at_db(voice(end - start, f0=220, seed=10), -20)
    b[int(start * SR) : int(start * SR) + len(mm)] += mm
    n = hops(DUR)
    active = masks(n, (0.5, 5.5), [(0.5, 5.5)])
    mask = bleed_mask(active, np.stack([a, b]))
    inside = hop_range(n, start + 0.1, end - 0.1)
    outside = active[1] & ~hop_range(n, start - 0.4, end + 0.4)
    assert (~mask[1][inside]).mean() > 0.8  # the backchannel stays speech
    assert mask[1][outside].mean() > 0.97  # the bleed around it goes


def test_two_real_talkers_at_once_are_both_kept():
    a = loud_talker(seed=11)
    b = noise(13)
    barge = at_db(voice(2.0, f0=200, seed=12), -6)  # a barge-in, somewhat quieter
    b[int(2.0 * SR) : int(2.0 * SR) + len(barge)] += barge
    n = hops(DUR)
    active = masks(n, (0.5, 5.5), [(2.0, 4.0)])
    assert not bleed_mask(active, np.stack([a, b])).any()


def test_one_channel_or_no_activity_gives_an_empty_mask():
    a = loud_talker()
    n = hops(DUR)
    assert not bleed_mask(np.ones((1, n), bool), a[None, :]).any()
    assert not bleed_mask(np.zeros((2, n), bool), np.stack([a, a * 0.01])).any()


def test_channel_turns_keep_the_backchannel_and_drop_the_bleed():
    from analyzer.audio.speakers import channel_turns

    a = loud_talker(seed=14)
    b = at_db(delayed(a, 0.02), -25) + noise(15)
    start, end = 2.5, 3.2
    mm = at_db(voice(end - start, f0=220, seed=16), -20)
    b[int(start * SR) : int(start * SR) + len(mm)] += mm
    n = hops(DUR)
    active = masks(n, (0.5, 5.5), [(0.5, 5.5)])  # the detector hears speech on both lines
    probs = np.where(active, 0.95, 0.02)
    turns = channel_turns(probs, audio=np.stack([a, b]), duration_s=DUR, ids=["customer", "agent"])
    agent = turns.of("agent")
    assert len(agent) == 1, agent  # only the backchannel, not the bleed around it
    assert abs(agent[0].start - start) < 0.25 and abs(agent[0].end - end) < 0.25
    assert turns.overlaps == [agent[0].intersection(turns.of("customer")[0])]
