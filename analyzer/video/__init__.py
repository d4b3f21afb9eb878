"""video/: faces, landmarks, expression cues and facial emotion from the video stream.

Public API of the face stage: build a ``FaceAnalyzer`` once, run ``analyze(frames)`` per video to
get a ``FaceTimeline``, then ``assign_tracks_to_speakers`` to link face tracks to voices.
"""

from ..config import FaceConfig
from .cues import CUE_NAMES, CUE_RANGES, compute_cues, face_cues, head_pose
from .faces import FaceAnalyzer, analyze_faces, detect_faces
from .speakers import assign_tracks_to_speakers, speech_correlation
from .timeline import FaceTimeline, FaceTrack
from .tracking import FaceTracker

__all__ = [
    "CUE_NAMES",
    "CUE_RANGES",
    "FaceAnalyzer",
    "FaceConfig",
    "FaceTimeline",
    "FaceTrack",
    "FaceTracker",
    "analyze_faces",
    "assign_tracks_to_speakers",
    "compute_cues",
    "detect_faces",
    "face_cues",
    "head_pose",
    "speech_correlation",
]
