"""words/: the words modality. Speech-to-text of speech turns (``asr``), transcripts made
elsewhere (``transcripts``, cut to our turns by ``turns``), what the words say (``cues``:
language, valence, complaint and empathy phrases), the editable phrase lexicons (``lexicons``,
TOML files in ``lexicons/``), redaction of personal data (``redact``, patterns in ``pii``) and
the stage that ties them together for the engine (``stage``).

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
    Lexicon,
    LexiconError,
    PhraseMatch,
    load_lexicon,
)
from .redact import (
    RedactedText,
    RedactionReport,
    Span,
    find_personal_data,
    redact_text,
    redact_words,
    silence_audio,
)
from .transcripts import (
    Transcript,
    TranscriptError,
    TranscriptLine,
    assign_speakers,
    read_transcript,
)

__all__ = [
    "Lexicon",
    "LexiconError",
    "PhraseMatch",
    "RedactedText",
    "RedactionReport",
    "Span",
    "Transcript",
    "TranscriptError",
    "TranscriptLine",
    "assign_speakers",
    "find_personal_data",
    "load_lexicon",
    "read_transcript",
    "redact_text",
    "redact_words",
    "silence_audio",
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
