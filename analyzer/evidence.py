"""What one modality says about one speaker over one segment: the hand-off to fusion.

Each modality builds its own ``Evidence`` next to its model (``audio.ser.voice_evidence``,
``audio.prosody.prosody_evidence``, ``video.timeline.face_evidence``,
``words.cues.words_evidence``); fusion combines them without knowing how they were made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .labels import LABELS, UNCERTAIN


@dataclass(frozen=True)
class Evidence:
    """One modality's say about one segment."""

    modality: str  # "voice", "face", "prosody" or "text"
    confidence: float  # [0, 1], availability already folded in
    probs: NDArray[Any] | None = None  # [7] in LABELS order, or None (prosody has no categories)
    arousal: float | None = None
    valence: float | None = None
    details: dict[str, Any] | None = None  # raw numbers for the reviewer (features, cues)
    # the model declined to name an emotion ("uncertain"): fusion takes its probs as no
    # evidence for a label (CONTRACTS.md); they still stand in when nothing else has any
    uncertain: bool = False

    def to_dict(self, weight: float) -> dict[str, Any]:
        out: dict[str, Any] = {
            "confidence": round(float(self.confidence), 4),
            "weight": round(float(weight), 4),
            "arousal": None if self.arousal is None else round(float(self.arousal), 4),
            "valence": None if self.valence is None else round(float(self.valence), 4),
        }
        if self.probs is not None:
            out["probs"] = {k: round(float(p), 4) for k, p in zip(LABELS, self.probs)}
            out["emotion"] = UNCERTAIN if self.uncertain else LABELS[int(np.argmax(self.probs))]
        if self.details:
            out.update(self.details)
        return out
