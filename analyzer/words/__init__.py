"""words/: the words modality. Speech-to-text of speech turns (``asr``), what the words say
(``cues``: language, valence, complaint and empathy phrases) and the phrase lexicons.

The transcriber needs ``faster-whisper`` and is imported only when used.
"""

from .cues import (
    COMPLAINT_VALENCE,
    LANGUAGE_EN,
    LANGUAGE_ZH,
    arousal_hint,
    detect_language,
    repeated_complaints,
    text_evidence,
    text_valence,
    words_evidence,
)
from .lexicons import (
    COMPLAINT_PHRASES_EN,
    COMPLAINT_PHRASES_ZH,
    EMPATHY_PHRASES_EN,
    EMPATHY_PHRASES_ZH,
)

__all__ = [
    "COMPLAINT_PHRASES_EN",
    "COMPLAINT_PHRASES_ZH",
    "COMPLAINT_VALENCE",
    "EMPATHY_PHRASES_EN",
    "EMPATHY_PHRASES_ZH",
    "LANGUAGE_EN",
    "LANGUAGE_ZH",
    "arousal_hint",
    "detect_language",
    "repeated_complaints",
    "text_evidence",
    "text_valence",
    "words_evidence",
]
