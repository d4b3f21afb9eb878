"""Small, seeded AnalysisResult objects and media for the store, export and app tests.

They exercise the storage and export paths without running the engine; the end-to-end tests use
the real ``analyzer.analyze`` on the bundled sample.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from analyzer.labels import LABELS, derive_valence_arousal
from analyzer.result import AnalysisResult, EmotionSegment, Event, MediaInfo, Speaker
from analyzer.segment import Segment


def write_tone_wav(path: Path, seconds: float = 2.0, rate: int = 8000) -> Path:
    """A stereo 16-bit WAV: a tone on the left, a quieter other tone on the right."""
    n = int(seconds * rate)
    tt = np.arange(n) / rate
    left = 0.3 * np.sin(2 * np.pi * 220 * tt)
    right = 0.2 * np.sin(2 * np.pi * 330 * tt)
    data = (np.stack([left, right], axis=1) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(data.tobytes())
    return path


def make_result(
    media_path: str = "call.wav",
    *,
    duration: float = 12.0,
    seed: int = 0,
    angry_customer: bool = True,
) -> AnalysisResult:
    """Two speakers alternating 2-second turns; the customer turns angry in the second half."""
    rng = np.random.default_rng(seed)
    speakers = [
        Speaker("S0", "agent", 0, talk_time_s=duration / 2),
        Speaker("S1", "customer", 1, talk_time_s=duration / 2),
    ]
    segments, turns = [], []
    t = 0.0
    k = 0
    while t + 2.0 <= duration:
        spk = "S0" if k % 2 == 0 else "S1"
        label = "angry" if (spk == "S1" and angry_customer and t >= duration / 2) else "neutral"
        probs = np.full(len(LABELS), 0.05)
        probs[LABELS.index(label)] = 0.7
        probs = probs / probs.sum()
        val, aro = derive_valence_arousal(probs)
        seg = Segment(t, t + 2.0)
        turns.append((spk, seg))
        segments.append(
            EmotionSegment(
                "turn",
                seg,
                spk,
                label,
                dict(zip(LABELS, probs.round(4).tolist(), strict=True)),
                float(aro),
                float(val),
                float(0.6 + 0.3 * rng.random()),
                modalities={
                    "voice": {"probs": {label: 0.7}, "confidence": 0.8, "weight": 0.6},
                    "prosody": {"arousal": float(aro), "pitch_hz": 180.0, "weight": 0.4},
                    "face": {},
                },
            )
        )
        t += 2.0
        k += 1
    for spk in ("S0", "S1"):
        for w0 in np.arange(0.0, duration - 2.9, 0.5):
            aro = float(np.tanh(w0 / duration - 0.3 + 0.1 * rng.standard_normal()))
            segments.append(
                EmotionSegment(
                    "window",
                    Segment(float(w0), float(w0) + 3.0),
                    spk,
                    "neutral",
                    {label: (1.0 if label == "neutral" else 0.0) for label in LABELS},
                    aro,
                    -aro / 2,
                    0.5,
                )
            )
    events = [
        Event(
            "escalation",
            Segment(duration / 2, duration),
            "S1",
            "customer arousal rises",
            {"delta_arousal": 0.5},
            None,
        ),
        Event("interruption", Segment(3.9, 4.4), "S1", "customer cuts in", {}, "S0"),
    ]
    summary = {
        "S0": {"emotion_share": {"neutral": 1.0}, "trend": {"direction": "steady"}},
        "S1": {  # the customer's turns above: angry in the second half, or never
            "emotion_share": {"neutral": 0.5, "angry": 0.5} if angry_customer else {"neutral": 1.0},
            "trend": {"direction": "worsening" if angry_customer else "steady"},
        },
    }
    media = MediaInfo(str(media_path), duration, False, True, 2, 8000, container="wav")
    return AnalysisResult(
        media, speakers, segments, events, turns, [], summary, ["synthetic result for tests"]
    )


class FakeAnalyzer:
    """Stands in for ``analyzer.Analyzer``: same call shape, instant synthetic results."""

    def __init__(self) -> None:
        self.calls = []

    def analyze(self, path, *, config=None, progress=None):
        from analyzer.media import probe_media

        info = probe_media(path)
        self.calls.append((path, config))
        for k in range(3):
            if progress:
                progress("fake", k + 1, 3)
        return make_result(str(path), duration=max(info.duration_s, 4.0))
