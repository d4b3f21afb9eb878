"""emotrace: offline analysis of emotion in recorded voice and video calls.

    from analyzer import analyze
    result = analyze("call.wav")
    result.to_dataframe()
"""

from .config import AnalysisConfig
from .labels import LABELS
from .media import MediaError, load_audio, probe_media
from .models import EmotionScores, ModelError, list_models, load_model
from .pipeline import Analyzer, analyze
from .result import AnalysisResult, EmotionSegment, Event, FaceFrame, MediaInfo, Speaker
from .segment import Segment

__version__ = "0.1.0"

__all__ = [
    "LABELS",
    "AnalysisConfig",
    "AnalysisResult",
    "Analyzer",
    "EmotionScores",
    "EmotionSegment",
    "Event",
    "FaceFrame",
    "MediaError",
    "MediaInfo",
    "ModelError",
    "Segment",
    "Speaker",
    "analyze",
    "list_models",
    "load_audio",
    "load_model",
    "probe_media",
]
