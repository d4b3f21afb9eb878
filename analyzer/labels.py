"""The product's emotion label set and its mapping onto the arousal/valence plane."""

from __future__ import annotations

import numpy as np

from .arrays import FloatArray

# Order is part of the model contract: every emotion model emits probabilities in this order.
LABELS: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fearful", "disgust", "surprised")
# A segment's emotion when the speech model declines to name one (CONTRACTS.md); its probs stay
# over LABELS. Fusion, summaries and events treat it as no evidence for any label.
UNCERTAIN = "uncertain"

# Circumplex coordinates (valence, arousal) per label, both in [-1, 1]. Placed after Russell's
# circumplex of affect; used to *derive* arousal/valence from categorical probabilities when a model
# does not learn them directly. Neutral sits at the origin on purpose.
CIRCUMPLEX: dict[str, tuple[float, float]] = {
    "neutral": (0.0, 0.0),
    "happy": (0.8, 0.45),
    "sad": (-0.65, -0.55),
    "angry": (-0.6, 0.8),
    "fearful": (-0.6, 0.6),
    "disgust": (-0.7, 0.25),
    "surprised": (0.25, 0.75),
}

NEGATIVE_LABELS: frozenset[str] = frozenset({"sad", "angry", "fearful", "disgust"})


def derive_valence_arousal(probs: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Expected (valence, arousal) under ``probs``.

    probs: float array [..., 7] in ``LABELS`` order (rows sum to 1).
    Returns two arrays of shape ``probs.shape[:-1]``, each in [-1, 1].
    """
    coords = np.array([CIRCUMPLEX[label] for label in LABELS], dtype=np.float64)  # [7, 2]
    va = np.asarray(probs, dtype=np.float64) @ coords
    return np.clip(va[..., 0], -1.0, 1.0), np.clip(va[..., 1], -1.0, 1.0)
