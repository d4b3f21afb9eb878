"""The eGeMAPS-like clip statistics of the issue 15 feature comparison (research code)."""

import numpy as np

from train.experiments.ser_generalisation.prosodic_features import NAMES, clip_features


def _voice(f0: float, seconds: float = 1.5, sr: int = 16000) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 8))
    return (0.1 * wave).astype(np.float32)


def test_a_steady_voice_has_its_pitch_and_is_voiced():
    feats, speech_s = clip_features(_voice(200.0))
    assert feats.shape == (len(NAMES),)
    value = dict(zip(NAMES, feats, strict=True))
    assert abs(value["f0_st_mean"] - 12 * np.log2(200 / 27.5)) < 0.3
    assert value["f0_st_std"] < 0.3
    assert value["voiced_ratio"] > 0.9
    assert value["pause_ratio"] == 0.0
    assert 1.3 < speech_s <= 1.6


def test_a_higher_voice_reads_higher_and_a_louder_one_louder():
    low, _ = clip_features(_voice(120.0))
    high, _ = clip_features(_voice(240.0) * 4)
    k_f0, k_loud = NAMES.index("f0_st_mean"), NAMES.index("loud_db_mean")
    assert abs((high[k_f0] - low[k_f0]) - 12.0) < 0.5  # an octave is 12 semitones
    assert abs((high[k_loud] - low[k_loud]) - 20 * np.log10(4)) < 1.5


def test_silence_gives_no_values_and_no_speech():
    feats, speech_s = clip_features(np.zeros(16000, np.float32))
    assert np.isnan(feats).all()
    assert speech_s == 0.0
