"""Small two-speaker calls for the team view's tests, scored by the engine's own scorecard.

An agent (S0) and a customer (S1) alternate 2-second turns; the customer turns angry halfway.
A *calm* agent stays neutral; a *mirroring* agent turns angry after the customer does (from
``mirror_from`` s), which the engine's ``score_call`` scores as low composure with evidence at
those turns. Nothing here is hand-written scorecard JSON.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analyzer.coaching import score_call
from analyzer.labels import LABELS, derive_valence_arousal
from analyzer.result import AnalysisResult, EmotionSegment, MediaInfo, Speaker
from analyzer.segment import Segment

TURN_S = 2.0


def _segment(spk: str, start: float, label: str) -> EmotionSegment:
    probs = np.full(len(LABELS), 0.04)
    probs[LABELS.index(label)] = 0.76
    probs = probs / probs.sum()
    valence, arousal = derive_valence_arousal(probs)
    return EmotionSegment(
        "turn",
        Segment(start, start + TURN_S),
        spk,
        label,
        dict(zip(LABELS, probs.round(4).tolist(), strict=True)),
        float(arousal),
        float(valence),
        0.8,
    )


def agent_call(
    media_path: str,
    *,
    duration: float = 16.0,
    mirror_from: float | None = None,
    customer_angry_from: float | None = None,
) -> AnalysisResult:
    """A scored two-speaker call. ``mirror_from``: the agent's turns from then on are angry
    (None: a calm agent). ``customer_angry_from``: the customer's turns from then on are angry
    (default: halfway)."""
    angry_from = duration / 2 if customer_angry_from is None else customer_angry_from
    turns, segments = [], []
    t, k = 0.0, 0
    while t + TURN_S <= duration:
        spk = "S0" if k % 2 == 0 else "S1"
        if spk == "S1":
            label = "angry" if t >= angry_from else "neutral"
        else:
            label = "angry" if mirror_from is not None and t >= mirror_from else "neutral"
        turns.append((spk, Segment(t, t + TURN_S)))
        segments.append(_segment(spk, t, label))
        t, k = t + TURN_S, k + 1
    speakers = [
        Speaker("S0", "agent", 0, talk_time_s=duration / 2, role_confidence=0.9),
        Speaker("S1", "customer", 1, talk_time_s=duration / 2, role_confidence=0.9),
    ]
    roles = {"S0": "agent", "S1": "customer"}
    card = score_call(turns, segments, roles, duration_s=duration)
    media = MediaInfo(media_path, duration, False, True, 2, 8000, container="wav")
    result = AnalysisResult(media, speakers, segments, [], turns)
    return dataclasses.replace(result, scorecard=card.to_dict(), turn_taking=card.turn_taking)
