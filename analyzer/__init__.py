"""emotrace: offline analysis of emotion in recorded voice and video calls."""

from .labels import LABELS
from .models import EmotionScores, ModelError, list_models, load_model
from .segment import Segment

__version__ = "0.1.0"

__all__ = ["LABELS", "EmotionScores", "ModelError", "Segment", "list_models", "load_model"]
