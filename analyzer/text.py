"""Deprecated location of the words modality: use ``analyzer.words`` (kept for one release).

``analyzer.words.cues`` holds ``text_evidence`` and ``repeated_complaints``, ``analyzer.words.asr``
the ``Transcriber``, ``analyzer.words.lexicons`` the phrase lists.
"""

from __future__ import annotations

from .words.asr import MIN_TURN_S, SAMPLE_RATE_HZ, Transcriber, TurnText, collapse_loops
from .words.cues import (
    _HAN,
    _LATIN_WORD,
    LANGUAGE_EN,
    LANGUAGE_ZH,
    ZH_VALENCE_DEAD_ZONE,
    arousal_hint,
    detect_language,
    repeated_complaints,
    text_evidence,
    text_valence,
)
from .words.lexicons import (
    COMPLAINT_PHRASES_EN,
    COMPLAINT_PHRASES_ZH,
    EMPATHY_PHRASES_EN,
    EMPATHY_PHRASES_ZH,
    NEGATION_BEFORE,
)

__all__ = [
    "COMPLAINT_PHRASES_EN",
    "COMPLAINT_PHRASES_ZH",
    "EMPATHY_PHRASES_EN",
    "EMPATHY_PHRASES_ZH",
    "LANGUAGE_EN",
    "LANGUAGE_ZH",
    "MIN_TURN_S",
    "NEGATION_BEFORE",
    "SAMPLE_RATE_HZ",
    "ZH_VALENCE_DEAD_ZONE",
    "Transcriber",
    "TurnText",
    "_HAN",
    "_LATIN_WORD",
    "arousal_hint",
    "collapse_loops",
    "detect_language",
    "repeated_complaints",
    "text_evidence",
    "text_valence",
]
