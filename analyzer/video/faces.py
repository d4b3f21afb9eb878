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
import ctypes
import math
import os
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Self

# MediaPipe's C++ logging (glog/absl) and TFLite: errors only. These are read when the library
# loads, so they are set before the import; the lines printed while a graph starts are hidden
# by ``_quiet_stderr`` (they bypass both).
os.environ.setdefault("GLOG_minloglevel", "2")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import mediapipe as mp  # noqa: E402
import numpy as np  # noqa: E402
from numpy.typing import NDArray  # noqa: E402

from ..config import FaceConfig as FaceConfig  # noqa: E402  (video/ re-exports it)
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
GALLERY_GRIDS = (2, 3)  # tile grids searched for the small faces of a gallery view (up to 3x3)
GALLERY_SEARCH_EVERY_S = 5.0  # s between gallery searches while no gallery is being followed
MIN_TILE_PX = 48  # px; tiles smaller than this are not searched
GALLERY_FACE_SHARE = 1 / 6  # faces all narrower than this share of the frame's width may be a
# gallery's (the whole frame often finds one or two of its faces, not all); a larger face is a
# camera's close-up and no tiles are searched
PIP_SEARCH_EVERY_S = 10.0  # s between searches of the tiles for a small face beside the faces the
# whole frame found (a picture-in-picture self view: FaceMesh's detector, which sees the frame
# shrunk to 128 px, finds a 110-160 px face in a corner of a 640 px frame in no frame)
PIP_MARGIN = 0.75  # margin around a small face's box, in box sizes, of the region followed
BESIDE_OVERLAP = 0.1  # share of a tile face's box inside a known face's box that makes it that face
PIP_FORGET_S = 10.0  # s a followed region may stay empty (the face away) before it is dropped
PIP_CONFIRM = 3  # analysed frames in a row a region must hold a face before its face counts
# (a tile searched alone can take a collar or a pattern for a face once; a real inset stays)
LOOK_CELLS = (6, 8)  # rows, columns of mean colour a frame's look is shrunk to
CUT_DISTANCE = 0.12  # median over the look's cells of the colour change (0-1) that makes two
# frames different pictures (another camera shown: a speaker view switching): a track does not
# go on in another picture than the one it was last seen in; a face leaving one tile of a
# gallery changes a minority of the cells and is no new picture
WARM_UP_PX = 64  # px side of the blank frame that opens a new graph
REGION_MARGIN = 0.5  # margin around the landmark box, in box sizes, of the region cut for align


def face_region(
    image: NDArray[Any], landmarks: NDArray[Any], *, margin: float = REGION_MARGIN
) -> tuple[NDArray[Any], NDArray[Any]]:
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
        with _quiet_stderr():
            self._mesh = mp.solutions.face_mesh.FaceMesh(
                static_image_mode=self.config.static_images,
                max_num_faces=self.config.max_faces,
                refine_landmarks=True,
                min_detection_confidence=self.config.min_detection_confidence,
                min_tracking_confidence=self.config.min_tracking_confidence,
            )
            _open_graph(self._mesh)
        # The graphs print start-up lines until their landmark model has run on a first face.
        self._started = False
        self._tiles: Any = None  # a still-image graph for gallery tiles, built on first use
        self._tiles_started = False

    def close(self) -> None:
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
        if self._tiles is not None:
            self._tiles.close()
            self._tiles = None

    def gallery_landmarks(
        self, image: NDArray[Any], grids: Sequence[int] = GALLERY_GRIDS
    ) -> tuple[NDArray[Any], int]:
        """Landmarks of the faces of a gallery view (a 2x2 or 3x3 grid of video tiles).

        FaceMesh's detector looks at the whole frame shrunk to 128 px, where the faces of a
        gallery are too small to be found; here each tile is searched alone and the grid that
        finds more faces wins. Returns (float64 [K, 478, 3] in frame pixels with K <=
        ``max_faces``, the grid's side n, 0 when no face was found).
        """
        if self._tiles is None:
            with _quiet_stderr():
                self._tiles = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=True,
                    max_num_faces=1,
                    refine_landmarks=True,
                    min_detection_confidence=self.config.min_detection_confidence,
                )
                _open_graph(self._tiles)
        with contextlib.nullcontext() if self._tiles_started else _quiet_stderr():
            found, n = self._search_tiles(image, grids)
        self._tiles_started = self._tiles_started or bool(n)
        return found, n

    def _search_tiles(self, image: NDArray[Any], grids: Sequence[int]) -> tuple[NDArray[Any], int]:
        h, w = image.shape[:2]
        best, best_n = np.zeros((0, 478, 3)), 0
        for n in grids:
            th, tw = h // n, w // n
            if min(th, tw) < MIN_TILE_PX:
                continue
            found = []
            for row in range(n):
                for col in range(n):
                    tile = np.ascontiguousarray(
                        image[row * th : (row + 1) * th, col * tw : (col + 1) * tw]
                    )
                    faces = self._tiles.process(tile).multi_face_landmarks or []
                    for face in faces:
                        pts = np.array([(p.x, p.y, p.z) for p in face.landmark])
                        found.append(pts * [tw, th, tw] + [col * tw, row * th, 0.0])
            if len(found) > len(best):
                best = np.array(found[: self.config.max_faces], dtype=np.float64)
                best_n = n
        return best, best_n

    def _inset_faces(
        self,
        image: NDArray[Any],
        pts: NDArray[Any],
        insets: list[list[float]],
        time: float,
        max_faces: int,
    ) -> NDArray[Any]:
        """``pts`` with the faces found in the followed regions ``insets`` (each searched alone,
        as a gallery tile is; a face the whole frame found is not added twice). A region's last
        sighting (its fifth value) is set to ``time`` where it holds a face, and its run of
        sightings (sixth) counted: its face is added from the PIP_CONFIRM-th frame in a row on;
        a region that misses before that is dropped (its sighting set to -inf)."""
        found = []
        for region in insets:
            x0, y0, x1, y1 = (int(v) for v in region[:4])
            crop = np.ascontiguousarray(image[y0:y1, x0:x1])
            if min(crop.shape[:2]) < MIN_TILE_PX // 2:  # off the frame (its size changed)
                region[4] = -math.inf
                continue
            with contextlib.nullcontext() if self._tiles_started else _quiet_stderr():
                faces = self._tiles.process(crop).multi_face_landmarks or []
            if not faces:
                if region[5] < PIP_CONFIRM:
                    region[4] = -math.inf
                continue
            region[4], region[5] = time, region[5] + 1
            if region[5] >= PIP_CONFIRM:
                xyz = np.array([(p.x, p.y, p.z) for p in faces[0].landmark])
                found.append(xyz * [x1 - x0, y1 - y0, x1 - x0] + [x0, y0, 0.0])
        extra = _beside(np.array(found).reshape(-1, 478, 3), pts)
        if not len(extra):
            return pts
        joined: NDArray[Any] = np.concatenate([pts, extra])[:max_faces]
        return joined

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def landmarks(self, image: NDArray[Any]) -> NDArray[Any]:
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
        with contextlib.nullcontext() if self._started else _quiet_stderr():
            found = self._mesh.process(np.ascontiguousarray(image)).multi_face_landmarks or []
        self._started = self._started or bool(found)
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
        with _quiet_stderr():
            self._mesh.reset()  # no face carried over from the previous file (a new graph)
            _open_graph(self._mesh)
        self._started = False
        crop_size = cfg.crop_size or getattr(self.model, "input_size", None) or align.FACE_SIZE
        tracker = FaceTracker(max_gap_s=cfg.max_gap_s, min_iou=cfg.min_iou, max_shift=cfg.max_shift)
        one_blas_thread = _blas_limiter()
        times: list[float] = []
        counts: list[int] = []
        observed: list[
            dict[str, NDArray[Any]]
        ] = []  # per frame with faces: frame, track, box, cues, quality
        crops: list[NDArray[Any]] = []
        groups: list[str] = []
        scores: list[EmotionScores] = []
        frame_size = None
        index = -1
        grid = 0  # the gallery grid (n x n) where the last search found faces; 0: none
        searched_at = -math.inf  # time of the last gallery search, s
        insets: list[list[float]] = []  # followed regions of small faces: x0, y0, x1, y1, the
        # time the face was last seen there, the frames in a row it was seen since found
        inset_searched_at = -math.inf  # time of the last search for them, s
        looks: list[NDArray[np.float32]] = []
        last_look: dict[int, NDArray[np.float32]] = {}  # track id -> look where last seen
        for index, frame in enumerate(frames):
            image = frame.image
            frame_size = frame_size or (int(image.shape[0]), int(image.shape[1]))
            look = frame_look(image)
            looks.append(look)
            with one_blas_thread():
                pts = self.landmarks(image)
                if (
                    cfg.gallery
                    and _gallery_sized(pts, image.shape[1])
                    and (grid or frame.time - searched_at >= GALLERY_SEARCH_EVERY_S)
                ):
                    tiled, n = self.gallery_landmarks(image, (grid,) if grid else GALLERY_GRIDS)
                    searched_at = frame.time
                    # The tiles' faces win when they are more (the whole frame found only some
                    # of a gallery's faces, or none); the grid is kept while they do.
                    if len(tiled) > len(pts):
                        pts, grid = tiled, n
                    else:
                        grid = 0
                elif cfg.gallery and len(pts) < cfg.max_faces:
                    if not insets and frame.time - inset_searched_at >= PIP_SEARCH_EVERY_S:
                        inset_searched_at = frame.time
                        tiled, _ = self.gallery_landmarks(image, GALLERY_GRIDS)
                        insets = [
                            [*_inset_region(face, image.shape), frame.time, 0]
                            for face in _beside(tiled, pts)
                        ]
                    pts = self._inset_faces(image, pts, insets, frame.time, cfg.max_faces)
                    insets = [r for r in insets if frame.time - r[4] <= PIP_FORGET_S]
                times.append(float(frame.time))
                counts.append(len(pts))
                if len(pts):
                    # A face in another picture than where a track was last seen does not go
                    # on with it (a speaker view cut to another camera); the same picture
                    # back after a blank does.
                    changed = [
                        t
                        for t, seen in last_look.items()
                        if look_distance(look, seen) > CUT_DISTANCE
                    ]
                    tracker.end(changed)
                    for t in changed:
                        del last_look[t]
                    obs, regions = self._observe(image, pts, frame.time, tracker)
                    last_look.update({int(t): look for t in obs["track"]})
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
            looks=np.array(looks, dtype=np.float32).reshape(len(looks), math.prod(LOOK_CELLS) * 3),
        )

    def _observe(
        self,
        image: NDArray[Any],
        pts: NDArray[Any],
        time: float,
        tracker: FaceTracker,
    ) -> tuple[dict[str, NDArray[Any]], list[tuple[NDArray[Any], NDArray[Any]]]]:
        """Track ids, boxes, cues and quality of one frame's K faces (landmarks [K, 478, 3]).

        Returns ({"track": [K], "box": [K, 4], "cues": [K, C], "quality": [K]}, the K face
        regions with their shifted landmarks for alignment).
        """
        boxes = landmark_boxes(pts)
        ids = tracker.update(time, boxes)
        cues = compute_cues(pts, image_size=(int(image.shape[0]), int(image.shape[1])))
        regions = [face_region(image, p) for p in pts]
        quality = np.array([align.face_quality(r, p) for r, p in regions])
        obs = {
            "track": ids,
            "box": boxes,
            "cues": np.column_stack([cues[name] for name in CUE_NAMES]),
            "quality": quality,
        }
        return obs, regions

    def _predict(self, crops: Sequence[NDArray[Any]], groups: Sequence[str]) -> EmotionScores:
        if self.model is None:
            raise RuntimeError("no expression model")
        out = self.model.predict(np.stack(crops), groups=list(groups))
        if len(out) != len(crops):
            raise RuntimeError(f"expression model returned {len(out)} rows for {len(crops)} faces")
        return out

    def _build_tracks(
        self, times: NDArray[Any], obs: dict[str, NDArray[Any]], scores: EmotionScores | None
    ) -> tuple[FaceTrack, ...]:
        """Split the flat observations into per-track arrays and smooth the expression scores."""
        tracks = []
        for tid in np.unique(obs["track"]):
            idx = np.flatnonzero(obs["track"] == tid)  # already in time order
            t = times[obs["frame"][idx]]
            quality = np.clip(obs["quality"][idx], 0.0, 1.0)
            extra: dict[str, NDArray[Any]] = {}
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


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment: MediaPipe's and TFLite's native start-up
    lines ("Created TensorFlow Lite XNNPACK delegate", "W0000 ... feedback manager") are written
    there directly, past Python's logging."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr (embedded, captured)
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        _flush_c_stdio()  # what C code buffered while hidden goes to /dev/null, not later
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _open_graph(graph: Any) -> None:
    """Run a blank frame through a new MediaPipe graph: its calculators open (and log) on their
    own threads after the graph starts, and ``process`` returns only once the graph is idle."""
    graph.process(np.zeros((WARM_UP_PX, WARM_UP_PX, 3), np.uint8))


def _flush_c_stdio() -> None:
    try:
        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):  # no C library to ask (not Linux/macOS)
        pass


def _blas_limiter() -> Callable[[], contextlib.AbstractContextManager[Any]]:
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


def detect_faces(image: NDArray[Any], *, max_faces: int = 4) -> NDArray[Any]:
    """FaceMesh landmarks of every face in one still image: float64 [K, 478, 3] in px.

    A one-off convenience (builds and frees a graph each call); for many images or a video use a
    ``FaceAnalyzer``.
    """
    with FaceAnalyzer(FaceConfig(max_faces=max_faces, static_images=True)) as analyzer:
        return analyzer.landmarks(image)


def _gallery_sized(pts: NDArray[Any], width: int) -> bool:
    """Whether every face of ``pts`` (float [K, 478, 3] px; none counts) is narrow enough to be
    one tile of a gallery (GALLERY_FACE_SHARE of the frame ``width``)."""
    if not len(pts):
        return True
    widths = pts[:, :, 0].max(axis=1) - pts[:, :, 0].min(axis=1)
    return bool((widths < GALLERY_FACE_SHARE * width).all())


def frame_look(image: NDArray[Any]) -> NDArray[np.float32]:
    """A frame (RGB uint8 [H, W, 3]) shrunk to LOOK_CELLS of mean colour, in 0-1: float32
    [rows * columns * 3]."""
    rows, cols = LOOK_CELLS
    small = cv2.resize(np.ascontiguousarray(image), (cols, rows), interpolation=cv2.INTER_AREA)
    look: NDArray[np.float32] = (small.astype(np.float32) / 255.0).reshape(-1)
    return look


def look_distance(a: NDArray[Any], b: NDArray[Any]) -> float:
    """The median over the cells of two looks (``frame_look``) of their mean colour change."""
    cells = np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).reshape(-1, 3)
    return float(np.median(cells.mean(axis=1)))


def _beside(found: NDArray[Any], pts: NDArray[Any]) -> NDArray[Any]:
    """The faces of ``found`` (float [K, 478, 3] px) whose box lies mostly outside every box of
    the faces ``pts``: a face the whole frame found, or a part of it seen in a tile, is not a
    new face (a box sharing more than BESIDE_OVERLAP of its area with one of them)."""
    if not len(found) or not len(pts):
        return found
    new, old = landmark_boxes(found), landmark_boxes(pts)
    wide = np.maximum(0.0, np.minimum(new[:, None, 2], old[None, :, 2])
                      - np.maximum(new[:, None, 0], old[None, :, 0]))  # fmt: skip
    high = np.maximum(0.0, np.minimum(new[:, None, 3], old[None, :, 3])
                      - np.maximum(new[:, None, 1], old[None, :, 1]))  # fmt: skip
    area = np.maximum((new[:, 2] - new[:, 0]) * (new[:, 3] - new[:, 1]), 1e-9)
    shared = (wide * high).max(axis=1) / area
    kept: NDArray[Any] = found[shared <= BESIDE_OVERLAP]
    return kept


def _inset_region(face: NDArray[Any], shape: tuple[int, ...]) -> tuple[float, float, float, float]:
    """The region (x0, y0, x1, y1 px) followed for a small face (landmarks [478, 3] px): its box
    grown by PIP_MARGIN box sizes on every side, inside the frame (``shape`` [H, W, ...])."""
    (x0, y0), (x1, y1) = face[:, :2].min(axis=0), face[:, :2].max(axis=0)
    side = max(x1 - x0, y1 - y0)
    h, w = shape[:2]
    return (
        max(0.0, x0 - PIP_MARGIN * side),
        max(0.0, y0 - PIP_MARGIN * side),
        min(float(w), x1 + PIP_MARGIN * side),
        min(float(h), y1 + PIP_MARGIN * side),
    )


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
