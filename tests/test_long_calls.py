"""Long calls: the whole-call stages work in blocks, with the results of working on it at once."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer import attribution
from analyzer.audio import vad as vad_module
from analyzer.audio.vad import VAD_CHUNK, VoiceActivityDetector
from analyzer.config import AnalysisConfig

SR = 16000


def _voice_like(seconds: float, seed: int) -> np.ndarray:
    """Bursts of a harmonic tone in noise: something the VAD scores above zero now and then."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    gate = (np.sin(2 * np.pi * 0.3 * t) > 0).astype(np.float32)
    tone = sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 420), start=1))
    return (0.2 * gate * tone + 0.01 * rng.standard_normal(len(t))).astype(np.float32)


def test_vad_in_groups_of_streams_gives_the_probabilities_of_one_batch(monkeypatch):
    audio = _voice_like(101.3, 0)  # 6 streams of 20 s, the last one short
    detector = VoiceActivityDetector()
    monkeypatch.setattr(vad_module, "GROUP_STREAMS", 1000)
    whole = detector.probabilities(audio)
    monkeypatch.setattr(vad_module, "GROUP_STREAMS", 4)
    grouped = detector.probabilities(audio)
    assert len(grouped) == int(np.ceil(len(audio) / VAD_CHUNK))
    assert grouped.max() > 0.5  # the test signal does reach the detector
    np.testing.assert_array_equal(grouped, whole)


def test_channel_checks_in_blocks_match_the_whole_signal(monkeypatch):
    # (the per-hop level helper this test also covered went with the level-only bleed rule:
    # bleed is now told by coherence, analyzer/audio/bleed.py)
    a, b = _voice_like(30.1, 1), _voice_like(30.1, 2)[::-1].copy()
    stereo = np.stack([a, b])
    monkeypatch.setattr(attribution, "BLOCK_SAMPLES", 1 << 14)  # many blocks and a ragged end
    assert attribution._correlation(a, b) == pytest.approx(np.corrcoef(a, b)[0, 1], abs=1e-9)
    assert attribution._correlation(a, np.zeros_like(a)) == 0.0
    config = AnalysisConfig()
    assert attribution.split_channels(stereo, config)  # two different signals
    assert not attribution.split_channels(np.stack([a, a + 1e-5]), config)  # one mix twice
    assert not attribution.split_channels(np.stack([a, 0.5 * a]), config)  # correlated copies


def test_loudness_in_blocks_matches_one_pass(monkeypatch):
    from analyzer.audio import prosody

    audio = _voice_like(13.37, 3)
    hop = SR // 100
    n = int(np.ceil(len(audio) / hop))
    padded = np.zeros(n * hop, np.float32)
    padded[: len(audio)] = audio
    energy = np.einsum("ij,ij->i", padded.reshape(n, hop), padded.reshape(n, hop))
    monkeypatch.setattr(prosody, "LOUDNESS_BLOCK_HOPS", 97)  # many blocks and a ragged end
    blocked = prosody.frame_loudness(audio, sr=SR)
    monkeypatch.setattr(prosody, "LOUDNESS_BLOCK_HOPS", 10**9)
    np.testing.assert_array_equal(blocked, prosody.frame_loudness(audio, sr=SR))
    per = 4  # hops in the 40 ms window
    window = np.convolve(np.concatenate([np.zeros(2), energy, np.zeros(4)]), np.ones(per), "valid")
    expected = 10 * np.log10(window[:n] / (per * hop) + 1e-12)
    np.testing.assert_allclose(blocked, expected, atol=1e-4)


def test_pitch_frames_are_gathered_like_the_padded_framing():
    from analyzer.audio.prosody import frame_rows, frame_signal

    audio = _voice_like(1.23, 4)[::2].copy()  # 8 kHz
    frames = frame_signal(audio, sr=8000)
    rows = np.array([0, 1, 7, len(frames) // 2, len(frames) - 2, len(frames) - 1])
    got = frame_rows(audio, rows, win=frames.shape[1], hop=80)
    np.testing.assert_array_equal(got, frames[rows])
