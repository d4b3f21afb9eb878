"""emotrace: offline analysis of emotion in recorded voice and video calls.

    from analyzer import analyze
    result = analyze("call.wav")
    result.to_dataframe()

This module is the public API that the command line, the review app and users import.
Importing it loads no web, storage, plotting or training code.
"""

from .config import SAMPLE_RATE, AnalysisConfig, FaceConfig, OptionSpec, option_specs
from .export import (
    FORMATS,
    SUFFIXES,
    export_call,
    speaker_turns,
    vtt_cues,
    write_combined,
    write_rttm,
    write_vtt,
)
from .labels import LABELS, NEGATIVE_LABELS
from .media import (
    DecodedAudio,
    MediaError,
    MediaInfo,
    decode_audio,
    iter_video_frames,
    load_audio,
    probe_media,
)
from .models import EmotionScores, ModelError, list_models, load_model
from .notes import Note
from .pipeline import STEPS, Analyzer, Progress, analyze
from .result import (
    EVENT_KINDS,
    AnalysisResult,
    EmotionSegment,
    Event,
    FaceFrame,
    Speaker,
    speaker_name,
)
from .segment import Segment, TimeGrid
from .settings import Settings
from .summary import SpeakerSummary

load_media = load_audio  # the name the architecture notes use for decoding a call's audio

__version__ = "0.1.0"

__all__ = [
    "EVENT_KINDS",
    "FORMATS",
    "SUFFIXES",
    "LABELS",
    "NEGATIVE_LABELS",
    "SAMPLE_RATE",
    "STEPS",
    "AnalysisConfig",
    "AnalysisResult",
    "Analyzer",
    "DecodedAudio",
    "EmotionScores",
    "EmotionSegment",
    "Event",
    "FaceConfig",
    "FaceFrame",
    "MediaError",
    "MediaInfo",
    "ModelError",
    "Note",
    "OptionSpec",
    "Progress",
    "Segment",
    "Settings",
    "Speaker",
    "SpeakerSummary",
    "TimeGrid",
    "analyze",
    "decode_audio",
    "export_call",
    "iter_video_frames",
    "list_models",
    "load_audio",
    "load_media",
    "load_model",
    "option_specs",
    "probe_media",
    "speaker_name",
    "speaker_turns",
    "vtt_cues",
    "write_combined",
    "write_rttm",
    "write_vtt",
]
