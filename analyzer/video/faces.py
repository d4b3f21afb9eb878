"""The face stage: find faces in video frames, track them, read cues and (optionally) expression.

``FaceAnalyzer`` holds one MediaPipe FaceMesh graph (478 landmarks with irises), is built once and
reused across files, and turns a stream of ``media.VideoFrame`` into a ``FaceTimeline``:

    frames -> FaceMesh landmarks (px) -> track ids (tracking.FaceTracker)
           -> cues (cues.compute_cues) + quality (align.face_quality)
           -> aligned crops -> expression model (optional) -> per-track smoothing

Frames with no face are recorded as such and never filled in. The expression model is any
``models.EmotionModel``; without one the stage yields cues only.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Self

import numpy as np

from ..labels import LABELS
from ..media import VideoFrame
from ..models import EmotionModel, EmotionScores
from .cues import CUE_NAMES, compute_cues, landmark_boxes
from .timeline import FaceTimeline, FaceTrack
from .tracking import FaceTracker

Progress = Callable[[str, int, int], None]  # (step, done, total); total may be an estimate

PROGRESS_EVERY = 10  # frames between progress reports
# Fallback quality when align.face_quality is missing: face size and yaw ramps.
QUALITY_SIZE_PX = (16.0, 48.0)  # px landmark-box size: quality 0 at or below, 1 from
QUALITY_YAW_DEG = (25.0, 60.0)  # |yaw| in degrees: quality 1 up to, 0 from


@dataclass(frozen=True)
class FaceConfig:
    """Options of the face stage."""

    max_faces: int = 4  # most faces looked for per frame
    min_detection_confidence: float = 0.5  # FaceMesh's face detector threshold
    min_tracking_confidence: float = 0.5  # FaceMesh's landmark tracking threshold
    static_images: bool = False  # detect afresh in every frame (unrelated images; slower)
    max_gap_s: float = 1.0  # a face track unseen for longer than this ends, seconds
    min_iou: float = 0.2  # landmark-box overlap at or above which a face continues a track
    max_shift: float = 0.6  # centre shift, in face sizes, up to which a face continues a track
    smoothing_s: float = 1.0  # half-life of the per-track smoothing of expression scores, s
    batch_size: int = 256  # aligned crops per expression-model call
    crop_size: int | None = None  # px side of aligned crops; None: model.input_size or align's

    def __post_init__(self) -> None:
        if not 1 <= self.max_faces <= 16:
            raise ValueError("max_faces must be between 1 and 16")
        if self.max_gap_s < 0 or self.smoothing_s < 0:
            raise ValueError("max_gap_s and smoothing_s must not be negative")
        if self.batch_size < 1:
            raise ValueError("batch_size must be at least 1")


def _optional_module(name: str) -> ModuleType | None:
    """``analyzer.video.<name>`` if that module exists, else None (errors inside it still raise)."""
    full = f"{__package__}.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name != full:
            raise
        return None


def smooth_series(times: np.ndarray, values: np.ndarray, *, half_life_s: float) -> np.ndarray:
    """Zero-phase exponential smoothing of an irregularly sampled series.

    times [n] s increasing, values [n] or [n, k]. The mean of a forward and a backward
    exponential moving average whose weight on the past halves every ``half_life_s`` seconds
    (so gaps in a track decay properly). Rows that sum to 1 still sum to 1. Returns float64, the
    shape of ``values``.
    """
    values = np.asarray(values, dtype=np.float64)
    flat = values.reshape(len(values), -1)
    n = len(flat)
    if n < 2 or half_life_s <= 0:
        return values.copy()
    keep = 0.5 ** (np.diff(np.asarray(times, dtype=np.float64)) / half_life_s)  # [n-1]
    fwd, bwd = flat.copy(), flat.copy()
    for i in range(1, n):
        fwd[i] = keep[i - 1] * fwd[i - 1] + (1.0 - keep[i - 1]) * flat[i]
    for i in range(n - 2, -1, -1):
        bwd[i] = keep[i] * bwd[i + 1] + (1.0 - keep[i]) * flat[i]
    return (0.5 * (fwd + bwd)).reshape(values.shape)


def _ramp(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def simple_quality(face_size: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Fallback face quality in [0, 1], [K]: a size ramp (QUALITY_SIZE_PX) times a yaw ramp.

    face_size [K] px, yaw [K] degrees. Used only when ``align.face_quality`` is not available.
    """
    q = _ramp(np.asarray(face_size, float), *QUALITY_SIZE_PX)
    q = q * (1.0 - _ramp(np.abs(np.asarray(yaw, float)), *QUALITY_YAW_DEG))
    return np.nan_to_num(q, nan=0.0)


class FaceAnalyzer:
    """FaceMesh plus tracking, cues and optional expression; build once, call once per video.

    model: an expression model (``models.EmotionModel`` of kind "fer") fed aligned grey crops,
    or None for cues only. Call :meth:`close` (or use ``with``) to free the graph.
    """

    def __init__(self, config: FaceConfig | None = None, *, model: EmotionModel | None = None):
        import mediapipe as mp

        self.config = config or FaceConfig()
        self.model = model
        self._mesh = mp.solutions.face_mesh.FaceMesh(
            static_image_mode=self.config.static_images,
            max_num_faces=self.config.max_faces,
            refine_landmarks=True,
            min_detection_confidence=self.config.min_detection_confidence,
            min_tracking_confidence=self.config.min_tracking_confidence,
        )

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def landmarks(self, image: np.ndarray) -> np.ndarray:
        """FaceMesh landmarks of every face in one RGB uint8 [H, W, 3] (or grey [H, W]) image.

        Returns float64 [K, 478, 3] in pixels: x, y in the image, z = FaceMesh depth times the
        image width (larger is farther). K = 0 when no face is found. In video mode the graph
        tracks faces from the previous call, so feed one video's frames in order.
        """
        if self._mesh is None:
            raise RuntimeError("FaceAnalyzer is closed")
        image = np.asarray(image)
        if image.ndim == 2:
            image = np.repeat(image[:, :, None], 3, axis=2)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"image must be uint8 [H, W, 3] RGB, got {image.dtype} {image.shape}")
        h, w = image.shape[:2]
        found = self._mesh.process(np.ascontiguousarray(image)).multi_face_landmarks or []
        if not found:
            return np.zeros((0, 478, 3))
        pts = np.array([[(p.x, p.y, p.z) for p in face.landmark] for face in found])
        return pts * np.array([w, h, w], dtype=np.float64)

    def analyze(
        self,
        frames: Iterable[VideoFrame],
        *,
        total: int | None = None,
        progress: Progress | None = None,
    ) -> FaceTimeline:
        """Analyse one video's frames (in time order) into a ``FaceTimeline``.

        total: expected number of frames (e.g. duration * fps) for progress reports; it may be an
        estimate. progress(step, done, total) is called with step "faces" every PROGRESS_EVERY
        frames and at the end.
        """
        cfg = self.config
        if self._mesh is None:
            raise RuntimeError("FaceAnalyzer is closed")
        self._mesh.reset()  # no face carried over from the previous file
        align = _optional_module("align")
        if self.model is not None and align is None:
            raise RuntimeError("an expression model needs analyzer.video.align for its crops")
        crop_size = (
            cfg.crop_size
            or getattr(self.model, "input_size", None)
            or (align.FACE_SIZE if align is not None else 48)
        )
        tracker = FaceTracker(max_gap_s=cfg.max_gap_s, min_iou=cfg.min_iou, max_shift=cfg.max_shift)
        times: list[float] = []
        counts: list[int] = []
        obs_frame: list[np.ndarray] = []
        obs_track: list[np.ndarray] = []
        obs_box: list[np.ndarray] = []
        obs_cues: list[np.ndarray] = []
        obs_quality: list[np.ndarray] = []
        crops: list[np.ndarray] = []
        groups: list[str] = []
        scores: list[EmotionScores] = []
        frame_size = None
        index = -1
        for index, frame in enumerate(frames):
            image = frame.image
            frame_size = frame_size or (int(image.shape[0]), int(image.shape[1]))
            pts = self.landmarks(image)
            times.append(float(frame.time))
            counts.append(len(pts))
            if len(pts):
                boxes = landmark_boxes(pts)
                ids = tracker.update(frame.time, boxes)
                cues = compute_cues(pts, image_size=image.shape[:2])
                if align is not None:
                    quality = np.array([align.face_quality(image, p) for p in pts])
                else:
                    quality = simple_quality(cues["face_size"], cues["yaw"])
                obs_frame.append(np.full(len(pts), index))
                obs_track.append(ids)
                obs_box.append(boxes)
                obs_cues.append(np.column_stack([cues[name] for name in CUE_NAMES]))
                obs_quality.append(quality)
                if self.model is not None:
                    crops.extend(align.align_face(image, p, size=crop_size) for p in pts)
                    groups.extend(str(t) for t in ids)
                    if len(crops) >= cfg.batch_size:
                        scores.append(self._predict(crops, groups))
                        crops, groups = [], []
            if progress is not None and (index + 1) % PROGRESS_EVERY == 0:
                progress("faces", index + 1, max(total or 0, index + 1))
        if crops:
            scores.append(self._predict(crops, groups))
        if progress is not None:
            progress("faces", index + 1, index + 1)

        n_cues = len(CUE_NAMES)
        observations = {
            "frame": np.concatenate(obs_frame) if obs_frame else np.zeros(0, np.int64),
            "track": np.concatenate(obs_track) if obs_track else np.zeros(0, np.int64),
            "box": np.concatenate(obs_box) if obs_box else np.zeros((0, 4)),
            "cues": np.concatenate(obs_cues) if obs_cues else np.zeros((0, n_cues)),
            "quality": np.concatenate(obs_quality) if obs_quality else np.zeros(0),
        }
        model_scores = _concat_scores(scores) if self.model is not None else None
        tracks = self._build_tracks(np.asarray(times), observations, model_scores)
        return FaceTimeline(
            times=np.asarray(times, dtype=np.float64),
            faces=np.asarray(counts, dtype=np.int64),
            tracks=tracks,
            frame_size=frame_size,
            model=None if self.model is None else str(getattr(self.model, "name", "model")),
        )

    def _predict(self, crops: Sequence[np.ndarray], groups: Sequence[str]) -> EmotionScores:
        out = self.model.predict(np.stack(crops), groups=list(groups))
        if len(out) != len(crops):
            raise RuntimeError(f"expression model returned {len(out)} rows for {len(crops)} faces")
        return out

    def _build_tracks(
        self, times: np.ndarray, obs: dict, scores: EmotionScores | None
    ) -> tuple[FaceTrack, ...]:
        """Split the flat observations into per-track arrays and smooth the expression scores."""
        expression = _optional_module("expression") if scores is not None else None
        smooth_track = getattr(expression, "smooth_track", None)
        tracks = []
        for tid in np.unique(obs["track"]):
            idx = np.flatnonzero(obs["track"] == tid)  # already in time order
            t = times[obs["frame"][idx]]
            quality = np.clip(obs["quality"][idx], 0.0, 1.0)
            extra: dict = {}
            confidence = quality
            if scores is not None:
                raw = scores.probs[idx].astype(np.float64)
                confidence = np.clip(scores.confidence[idx], 0.0, 1.0) * quality
                # Probabilities and (arousal, valence) smoothed together along the track.
                av = np.column_stack([scores.arousal[idx], scores.valence[idx]]).astype(float)
                stacked = np.concatenate([raw, av], axis=1)
                half = self.config.smoothing_s
                if smooth_track is not None:
                    # expression.smooth_track weighs frames by trust and does not bridge gaps.
                    smoothed = smooth_track(t, stacked, half_life_s=half, weights=confidence)
                else:
                    smoothed = smooth_series(t, stacked, half_life_s=half)
                smoothed = np.asarray(smoothed, dtype=np.float64)
                extra = {
                    "probs": smoothed[:, : len(LABELS)],
                    "raw_probs": raw,
                    "arousal": smoothed[:, len(LABELS)],
                    "valence": smoothed[:, len(LABELS) + 1],
                    "raw_arousal": av[:, 0],
                    "raw_valence": av[:, 1],
                }
            tracks.append(
                FaceTrack(
                    id=int(tid),
                    times=t,
                    frames=obs["frame"][idx],
                    boxes=obs["box"][idx],
                    cues={name: obs["cues"][idx, c] for c, name in enumerate(CUE_NAMES)},
                    quality=quality,
                    confidence=confidence,
                    **extra,
                )
            )
        return tuple(tracks)


def _concat_scores(parts: list[EmotionScores]) -> EmotionScores:
    if not parts:
        return EmotionScores.empty()
    return EmotionScores(
        probs=np.concatenate([p.probs for p in parts]).reshape(-1, len(LABELS)),
        arousal=np.concatenate([p.arousal for p in parts]),
        valence=np.concatenate([p.valence for p in parts]),
        confidence=np.concatenate([p.confidence for p in parts]),
    )


def detect_faces(image: np.ndarray, *, max_faces: int = 4) -> np.ndarray:
    """FaceMesh landmarks of every face in one still image: float64 [K, 478, 3] in px.

    A one-off convenience (builds and frees a graph each call); for many images or a video use a
    ``FaceAnalyzer``.
    """
    with FaceAnalyzer(FaceConfig(max_faces=max_faces, static_images=True)) as analyzer:
        return analyzer.landmarks(image)


def analyze_faces(
    frames: Iterable[VideoFrame],
    *,
    config: FaceConfig | None = None,
    model: EmotionModel | None = None,
    total: int | None = None,
    progress: Progress | None = None,
) -> FaceTimeline:
    """One video through a fresh ``FaceAnalyzer`` (see :meth:`FaceAnalyzer.analyze`)."""
    with FaceAnalyzer(config, model=model) as analyzer:
        return analyzer.analyze(frames, total=total, progress=progress)
