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

import contextlib
from collections.abc import Callable, Iterable, Sequence
from typing import Self

import mediapipe as mp
import numpy as np

from ..config import FaceConfig
from ..dsp import smooth_track
from ..labels import LABELS
from ..media import VideoFrame
from ..models import EmotionModel, EmotionScores
from . import align
from .cues import CUE_NAMES, compute_cues, landmark_boxes
from .timeline import FaceTimeline, FaceTrack
from .tracking import FaceTracker

Progress = Callable[[str, int, int], None]  # (step, done, total); total may be an estimate

PROGRESS_EVERY = 10  # frames between progress reports
REGION_MARGIN = 0.5  # margin around the landmark box, in box sizes, of the region cut for align


def face_region(
    image: np.ndarray, landmarks: np.ndarray, *, margin: float = REGION_MARGIN
) -> tuple[np.ndarray, np.ndarray]:
    """Cut one face's neighbourhood out of a frame: (region [h, w(, 3)], landmarks shifted into it).

    The region is the landmark box grown by ``margin`` box sizes on each side, clipped to the
    frame. align's crop and quality computed on it match those on the whole frame (a landmark
    outside the frame stays outside the region; the aligned crop differs by about one grey level
    on average, from the shifted pre-shrink grid) while resampling touches a few thousand pixels
    instead of the whole frame. landmarks [478, 2|3] px; the shift applies to x and y.
    """
    h, w = image.shape[:2]
    lo, hi = landmarks[:, :2].min(axis=0), landmarks[:, :2].max(axis=0)
    pad = margin * (hi - lo).max()
    x0, y0 = (int(np.clip(np.floor(v - pad), 0, n)) for v, n in zip(lo, (w, h)))
    x1, y1 = (int(np.clip(np.ceil(v + pad) + 1, 0, n)) for v, n in zip(hi, (w, h)))
    if x1 <= x0 or y1 <= y0:  # the face lies entirely outside the frame
        return image, landmarks
    shifted = np.array(landmarks, dtype=np.float64)
    shifted[:, 0] -= x0
    shifted[:, 1] -= y0
    return image[y0:y1, x0:x1], shifted


class FaceAnalyzer:
    """FaceMesh plus tracking, cues and optional expression; build once, call once per video.

    model: an expression model (``models.EmotionModel`` of kind "fer") fed aligned grey crops,
    or None for cues only. Call :meth:`close` (or use ``with``) to free the graph.
    """

    def __init__(self, config: FaceConfig | None = None, *, model: EmotionModel | None = None):
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
        crop_size = cfg.crop_size or getattr(self.model, "input_size", None) or align.FACE_SIZE
        tracker = FaceTracker(max_gap_s=cfg.max_gap_s, min_iou=cfg.min_iou, max_shift=cfg.max_shift)
        one_blas_thread = _blas_limiter()
        times: list[float] = []
        counts: list[int] = []
        observed: list[dict] = []  # per frame with faces: frame, track, box, cues, quality
        crops: list[np.ndarray] = []
        groups: list[str] = []
        scores: list[EmotionScores] = []
        frame_size = None
        index = -1
        for index, frame in enumerate(frames):
            image = frame.image
            frame_size = frame_size or (int(image.shape[0]), int(image.shape[1]))
            with one_blas_thread():
                pts = self.landmarks(image)
                times.append(float(frame.time))
                counts.append(len(pts))
                if len(pts):
                    obs, regions = self._observe(image, pts, frame.time, tracker)
                    observed.append(obs | {"frame": np.full(len(pts), index)})
                    if self.model is not None:
                        crops.extend(align.align_face(r, p, size=crop_size) for r, p in regions)
                        groups.extend(str(t) for t in obs["track"])
            if len(crops) >= cfg.batch_size:
                scores.append(self._predict(crops, groups))
                crops, groups = [], []
            if progress is not None and (index + 1) % PROGRESS_EVERY == 0:
                progress("faces", index + 1, max(total or 0, index + 1))
        if crops:
            scores.append(self._predict(crops, groups))
        if progress is not None:
            progress("faces", index + 1, index + 1)

        empty = {
            "frame": np.zeros(0, np.int64),
            "track": np.zeros(0, np.int64),
            "box": np.zeros((0, 4)),
            "cues": np.zeros((0, len(CUE_NAMES))),
            "quality": np.zeros(0),
        }
        observations = {
            key: np.concatenate([o[key] for o in observed]) if observed else value
            for key, value in empty.items()
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

    def _observe(
        self,
        image: np.ndarray,
        pts: np.ndarray,
        time: float,
        tracker: FaceTracker,
    ) -> tuple[dict, list[tuple[np.ndarray, np.ndarray]]]:
        """Track ids, boxes, cues and quality of one frame's K faces (landmarks [K, 478, 3]).

        Returns ({"track": [K], "box": [K, 4], "cues": [K, C], "quality": [K]}, the K face
        regions with their shifted landmarks for alignment).
        """
        boxes = landmark_boxes(pts)
        ids = tracker.update(time, boxes)
        cues = compute_cues(pts, image_size=image.shape[:2])
        regions = [face_region(image, p) for p in pts]
        quality = np.array([align.face_quality(r, p) for r, p in regions])
        obs = {
            "track": ids,
            "box": boxes,
            "cues": np.column_stack([cues[name] for name in CUE_NAMES]),
            "quality": quality,
        }
        return obs, regions

    def _predict(self, crops: Sequence[np.ndarray], groups: Sequence[str]) -> EmotionScores:
        out = self.model.predict(np.stack(crops), groups=list(groups))
        if len(out) != len(crops):
            raise RuntimeError(f"expression model returned {len(out)} rows for {len(crops)} faces")
        return out

    def _build_tracks(
        self, times: np.ndarray, obs: dict, scores: EmotionScores | None
    ) -> tuple[FaceTrack, ...]:
        """Split the flat observations into per-track arrays and smooth the expression scores."""
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
                # Weighed by trust in each frame, never bridging a gap in the track.
                smoothed = smooth_track(
                    t, stacked, half_life_s=self.config.smoothing_s, weights=confidence
                )
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


def _blas_limiter() -> Callable[[], contextlib.AbstractContextManager]:
    """A context factory that holds BLAS to one thread while a frame is analysed.

    The stage only does tiny matrix algebra (3x3 inverses in align); OpenBLAS threads woken for
    it fight FaceMesh's own threads for the cores. Measured on 2 busy cores: a 3x3 inverse took
    3 ms instead of 50 us and FaceMesh 25 ms instead of 16 ms per frame. The limit is lifted
    between frames, so the expression model keeps its threads. No-op without threadpoolctl.
    """
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return contextlib.nullcontext
    controller = ThreadpoolController()
    return lambda: controller.limit(limits=1, user_api="blas")


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
