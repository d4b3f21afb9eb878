"""Issue 15 research: eGeMAPS-like statistics of one clip, as the feature comparison cached them.

The statistics are product code now (``analyzer.audio.voicestats``, which documents what they
measure); this module keeps the research interface, ``clip_features(wave) -> (features, active
seconds)``, so the extraction scripts and their caches stay as they were. The values are the
ones this module computed before it became a wrapper (``tests/test_voicestats.py`` checks them).
"""

from __future__ import annotations

import numpy as np

from analyzer.audio.voicestats import NAMES, describe_clip

__all__ = ["NAMES", "clip_features"]


def clip_features(wave: np.ndarray) -> tuple[np.ndarray, float]:
    """(features [len(NAMES)] float32 with NaN where undefined, active speech seconds).

    wave: float32 mono at 16 kHz. Pitch in semitones re 27.5 Hz, loudness in dBFS, slopes per
    second, segment lengths in seconds, spectral slopes in dB/kHz, centroid in Hz.
    """
    stats = describe_clip(wave)
    return stats.values, stats.active_s
