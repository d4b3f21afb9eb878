"""Long calls: the whole-call stages work in blocks, with the results of working on it at once."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer import attribution, diskaudio
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
    monkeypatch.setattr(diskaudio, "BLOCK", 1 << 12)
    stats = attribution.channel_stats_of(np.stack([a, b, np.zeros_like(a)]))
    taken = np.stack([a, b])[:, :: diskaudio.STATS_STEP]
    assert stats.corr[0, 1] == pytest.approx(np.corrcoef(taken)[0, 1], abs=1e-9)
    assert stats.rms[:2] == pytest.approx(taken.astype(np.float64).std(axis=1), rel=1e-9)
    assert stats.corr[0, 2] == 0.0 and stats.rms[2] == 0.0  # a constant channel
    with diskaudio.DiskAudio(2) as disk:
        for k in range(0, len(a), 5000):
            disk.append(np.stack([a, b])[:, k : k + 5000])
        assert np.allclose(disk.stats().corr, stats.corr[:2, :2], atol=1e-9)
    config = AnalysisConfig()
    assert attribution.split_channels(stereo, config)  # two different signals
    assert not attribution.split_channels(np.stack([a, a + 1e-5]), config)  # one mix twice
    assert not attribution.split_channels(np.stack([a, 0.5 * a]), config)  # correlated copies


def test_a_dead_line_or_a_flipped_copy_makes_one_mix_that_keeps_the_sound():
    a = _voice_like(12.3, 4)
    b = (0.1 * np.random.default_rng(5).standard_normal(len(a))).astype(np.float32)
    config = AnalysisConfig()
    dead = np.stack([a, 1e-6 * b])  # the other line is 60 dB under: no party on it
    assert not attribution.split_channels(dead, config)
    assert attribution.mixed_reason(dead).params == {"reason": "silent_channel", "channel": 1}
    assert np.allclose(attribution.mono_mix(dead), a)  # the dead line left out, level kept
    flipped = np.stack([a, -a])
    assert not attribution.split_channels(flipped, config)
    assert attribution.mixed_reason(flipped).params == {"reason": "inverted_copy"}
    assert np.allclose(attribution.mono_mix(flipped), a)  # the plain mean would cancel to 0
    quiet = np.stack([a, 0.01 * b])  # a quiet party 40 dB under is still a party
    assert attribution.split_channels(quiet, config) and attribution.mixed_reason(quiet) is None
    assert np.allclose(attribution.mono_mix(quiet), (a + 0.01 * b) / 2)
    assert np.allclose(attribution.mono_mix(np.zeros((2, 100))), 0)  # silence stays silence
    with diskaudio.DiskAudio(2) as disk:
        disk.append(flipped)
        assert np.allclose(disk.mono()[0][:], a)  # a long call mixes the same way, on disk
        assert attribution.mixed_reason(disk).code == "channels_mixed"


def test_a_surround_track_with_one_live_channel_is_one_mix():
    """A 5.1 track whose speech is all in the centre channel (the others digital silence with a
    dither 70 dB down) is one recording of that channel, diarized; two live channels of four are
    still two parties."""
    a = _voice_like(12.3, 6)
    dither = (1e-4 * np.random.default_rng(7).standard_normal((6, len(a)))).astype(np.float32)
    surround = dither.copy()
    surround[2] += a
    config = AnalysisConfig()
    assert not attribution.split_channels(surround, config)
    note = attribution.mixed_reason(surround)
    assert note.params == {"reason": "one_live_channel", "channel": 2}
    assert np.allclose(attribution.mono_mix(surround), surround[2])  # the dead ones left out
    four = dither[:4].copy()
    four[0] += a
    four[3] += _voice_like(12.3, 8)[::-1]
    assert attribution.split_channels(four, config) and attribution.mixed_reason(four) is None
    # One mix on every channel (one of them flipped) is one recording too.
    same = np.stack([a, a, -a, 0.5 * a]) + dither[:4]
    assert attribution.mixed_reason(same).params["reason"] == "copies"
    assert np.allclose(attribution.mono_mix(same), np.mean([a, a, a, 0.5 * a], axis=0), atol=1e-3)


def test_the_channel_checks_and_the_mix_share_one_pass_over_the_call(monkeypatch):
    """The whole-call statistics are made once per recording (the channel checks, the voice
    stage's mix and the speakers stage's mix all read them), and forgotten with the audio."""
    import gc

    passes = []
    real = attribution.channel_stats
    monkeypatch.setattr(
        attribution, "channel_stats", lambda *a, **k: passes.append(1) or real(*a, **k)
    )
    a = _voice_like(20.0, 9)
    stereo = np.stack([a, -a])
    assert not attribution.split_channels(stereo, AnalysisConfig())
    first = attribution.mono_mix(stereo)
    assert attribution.mono_mix(stereo) is first and attribution.mixed_reason(stereo)
    assert len(passes) == 1
    other = np.stack([a, 0.5 * a[::-1]])
    attribution.mono_mix(other)  # another recording: its own pass
    assert len(passes) == 2
    del stereo, first, other
    gc.collect()
    assert attribution._ONCE == {}  # nothing of a finished call is kept


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


def test_channel_roles_beyond_or_short_of_the_channels():
    audio = np.zeros((2, 16000 * 4), np.float32)
    probs = np.zeros((2, 4 * 100 // 2 + 1))  # a few hops of speech on each channel
    probs[0, 10:60], probs[1, 80:150] = 0.9, 0.9
    one = AnalysisConfig(channels=("agent",))
    assert attribution.channel_roles(2, one) == (["agent", "ch1"], ["agent", None])
    _, speakers, notes = attribution.channel_speakers(audio, probs, one, 4.0)
    assert [(s.id, s.role, s.role_confidence) for s in speakers] == [
        ("agent", "agent", 1.0),
        ("ch1", None, None),  # a channel without a given role has none (not "ch1")
    ]
    assert not notes
    three = AnalysisConfig(channels=("agent", "customer", "boss"))
    _, speakers, notes = attribution.channel_speakers(audio, probs, three, 4.0)
    assert [s.role for s in speakers] == ["agent", "customer"]
    assert [(n.code, n.params["names"]) for n in notes] == [("roles_ignored", "boss")]
