"""The face stage's output: per-frame face presence and per-track arrays of cues and expression.

``FaceTimeline`` holds the analysed frame times and one ``FaceTrack`` per person seen; the engine
turns :meth:`FaceTimeline.rows` into ``result.FaceFrame`` rows, and the fusion stage reads
:meth:`FaceTimeline.evidence` per speaker segment.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, overload

import numpy as np
from numpy.typing import DTypeLike, NDArray

from ..arrays import BoolArray, FloatArray, IntArray
from ..evidence import Evidence
from ..labels import LABELS
from ..segment import Segment
from .cues import CUE_NAMES


@overload
def _frozen(a: None, dtype: DTypeLike = ...) -> None: ...
@overload
def _frozen(a: NDArray[Any], dtype: DTypeLike = ...) -> NDArray[Any]: ...
def _frozen(a: NDArray[Any] | None, dtype: DTypeLike = np.float64) -> NDArray[Any] | None:
    if a is None:
        return None
    a = np.array(a, dtype=dtype)  # a copy, so the caller's buffer stays theirs
    a.setflags(write=False)
    return a


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class FaceTrack:
    """One person's face over time: n observations (one per analysed frame it was seen in).

    times: float64 [n] seconds, increasing.
    frames: int64 [n], index of each observation's frame in ``FaceTimeline.times``.
    boxes: float64 [n, 4], landmark bounding box (x0, y0, x1, y1) in px.
    cues: name -> float64 [n], the cues of ``cues.CUE_NAMES`` (units there).
    quality: float64 [n] in [0, 1], how usable the face is (size, sharpness, pose, framing).
    confidence: float64 [n] in [0, 1], trust in this observation's emotion evidence: the model's
        confidence times ``quality``; without an expression model, ``quality`` alone.
    probs: float64 [n, 7] in ``LABELS`` order, temporally smoothed per track (weighted by
        ``confidence``; a row is NaN where its stretch of the track had no usable frame); None
        without a model.
    arousal, valence: float64 [n] in [-1, 1], smoothed like ``probs``; None without a model.
    raw_probs, raw_arousal, raw_valence: the model's per-frame output before smoothing (same
        shapes); None without a model.
    """

    id: int
    times: FloatArray
    frames: FloatArray
    boxes: FloatArray
    cues: dict[str, FloatArray]
    quality: FloatArray
    confidence: FloatArray
    probs: FloatArray | None = None
    arousal: FloatArray | None = None
    valence: FloatArray | None = None
    raw_probs: FloatArray | None = None
    raw_arousal: FloatArray | None = None
    raw_valence: FloatArray | None = None

    def __post_init__(self) -> None:
        n = len(self.times)
        object.__setattr__(self, "times", _frozen(self.times))
        object.__setattr__(self, "frames", _frozen(self.frames, np.int64))
        object.__setattr__(self, "boxes", _frozen(np.reshape(self.boxes, (n, 4))))
        object.__setattr__(self, "cues", {k: _frozen(v) for k, v in self.cues.items()})
        arrays = ("quality", "confidence", "arousal", "valence", "raw_arousal", "raw_valence")
        for name in (*arrays, "probs", "raw_probs"):
            object.__setattr__(self, name, _frozen(getattr(self, name)))
        for name in ("frames", *arrays):
            value = getattr(self, name)
            if value is not None and value.shape != (n,):
                raise ValueError(f"track {self.id}: {name} must have shape ({n},)")
        for name, value in self.cues.items():
            if value.shape != (n,):
                raise ValueError(f"track {self.id}: cue {name} must have shape ({n},)")
        for name in ("probs", "raw_probs"):
            value = getattr(self, name)
            if value is not None and value.shape != (n, len(LABELS)):
                raise ValueError(f"track {self.id}: {name} must have shape ({n}, {len(LABELS)})")

    def __len__(self) -> int:
        return len(self.times)

    @property
    def segment(self) -> Segment:
        """From the first observation to the last (end inclusive of the last frame's time)."""
        return Segment(float(self.times[0]), float(self.times[-1])) if len(self) else Segment(0, 0)

    def in_segment(self, segment: Segment) -> BoolArray:
        """bool [n]: observations with ``segment.start <= time < segment.end``."""
        return (self.times >= segment.start) & (self.times < segment.end)


@dataclass(frozen=True, eq=False)  # arrays inside: compare by identity
class FaceTimeline:
    """Every analysed frame of one video and the face tracks found in it.

    times: float64 [T] seconds of the analysed frames, increasing.
    faces: int64 [T], how many faces each frame holds (0: no face; cues are never guessed).
    tracks: the face tracks, ids 0, 1, 2... in order of first appearance.
    frame_size: (height, width) in px of the analysed frames, None when there were none.
    model: name of the expression model used, None for cues only.
    looks: float32 [T, LOOK_CELLS * 3], each analysed frame shrunk to a few cells of mean
    colour (``faces.frame_look``: what camera a speaker view shows), None when not kept.
    """

    times: FloatArray
    faces: IntArray
    tracks: tuple[FaceTrack, ...] = ()
    frame_size: tuple[int, int] | None = None
    model: str | None = None
    looks: FloatArray | None = None
    _by_id: dict[int, FaceTrack] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "times", _frozen(self.times))
        object.__setattr__(self, "faces", _frozen(self.faces, np.int64))
        object.__setattr__(self, "tracks", tuple(self.tracks))
        if self.faces.shape != self.times.shape:
            raise ValueError("faces must have the same shape as times")
        if self.looks is not None:
            object.__setattr__(self, "looks", _frozen(self.looks, np.float32))
            if self.looks.ndim != 2 or len(self.looks) != len(self.times):
                raise ValueError("looks must have one row per analysed frame")
        self._by_id.update({t.id: t for t in self.tracks})

    @property
    def has_face(self) -> BoolArray:
        """bool [T]: the frame holds at least one face."""
        return self.faces > 0

    @property
    def track_ids(self) -> list[int]:
        return [t.id for t in self.tracks]

    def track(self, track_id: int) -> FaceTrack:
        return self._by_id[int(track_id)]

    def cue_names(self) -> tuple[str, ...]:
        """Keys of every row's ``cues``: CUE_NAMES, quality, then arousal/valence with a model."""
        extra = ("arousal", "valence") if self.model is not None else ()
        return (*CUE_NAMES, "quality", *extra)

    def rows(self, speakers: dict[int, str] | None = None) -> Iterator[dict[str, Any]]:
        """One dict per (frame, face), in time order, with the keys of ``result.FaceFrame``.

        Frames without a face give one row with ``face`` False, ``track`` None and every cue NaN.
        ``speakers`` maps track ids to speaker ids (see ``assign_tracks_to_speakers``).
        ``probs`` (label -> float) and ``emotion`` come from the smoothed probabilities; with no
        model they are None and ``confidence`` is None.
        """
        speakers = speakers or {}
        names = self.cue_names()
        nan_cues = dict.fromkeys(names, math.nan)
        by_frame: list[list[tuple[FaceTrack, int]]] = [[] for _ in range(len(self.times))]
        for track in self.tracks:
            for i, frame in enumerate(track.frames):
                by_frame[frame].append((track, i))
        for frame, seen in enumerate(by_frame):
            time = float(self.times[frame])
            if not seen:
                yield {
                    "time": time,
                    "face": False,
                    "track": None,
                    "speaker": None,
                    "cues": dict(nan_cues),
                    "emotion": None,
                    "probs": None,
                    "confidence": None,
                }
                continue
            for track, i in sorted(seen, key=lambda s: s[0].id):
                cues = {name: float(track.cues[name][i]) for name in CUE_NAMES}
                cues["quality"] = float(track.quality[i])
                probs = emotion = confidence = None
                if track.probs is not None:
                    # arousal and valence come with the probabilities (see __post_init__)
                    assert track.arousal is not None and track.valence is not None
                    cues["arousal"] = float(track.arousal[i])
                    cues["valence"] = float(track.valence[i])
                    confidence = float(track.confidence[i])
                    if np.isfinite(track.probs[i]).all():
                        probs = {label: float(p) for label, p in zip(LABELS, track.probs[i])}
                        emotion = LABELS[int(np.argmax(track.probs[i]))]
                yield {
                    "time": time,
                    "face": True,
                    "track": track.id,
                    "speaker": speakers.get(track.id),
                    "cues": cues,
                    "emotion": emotion,
                    "probs": probs,
                    "confidence": confidence,
                }

    def evidence(self, track_ids: int | Iterable[int], segment: Segment) -> dict[str, Any] | None:
        """What one person's face shows during ``segment``, for fusion; None when it is not seen.

        track_ids: one track id, or several (the tracks of one speaker, e.g. a face lost and found
        again; they should not be on screen together). Unknown ids are ignored.
        Returns a dict:
          tracks: the ids seen in the segment; frames: their observations inside it;
          coverage: frames / analysed frames inside the segment, in [0, 1];
          quality: mean quality; confidence: mean of the observations' confidence (model
            confidence x quality; quality alone without a model), not scaled by coverage;
          cues: name -> mean over the segment (NaN-aware; NaN if never finite);
          cues_rel: name -> mean of (value - its track's median over the whole video): the
            person's own baseline makes the heuristic [0, 1] cues comparable across people;
          probs: label -> confidence-weighted mean of the UNSMOOTHED per-frame probabilities
            (fusion smooths on its own); emotion: its arg-max; arousal, valence: weighted means
            of the unsmoothed values; all four None without a model.
        """
        ids = [track_ids] if isinstance(track_ids, (int, np.integer)) else list(track_ids)
        tracks = [self._by_id[int(i)] for i in ids if int(i) in self._by_id]
        in_frames = int(((self.times >= segment.start) & (self.times < segment.end)).sum())
        masks = [t.in_segment(segment) for t in tracks]
        seen = [(t, m) for t, m in zip(tracks, masks) if m.any()]
        if not seen or in_frames == 0:
            return None
        n = sum(int(m.sum()) for _, m in seen)

        def gather(get: Callable[[FaceTrack], FloatArray | None]) -> FloatArray:
            return np.concatenate([np.asarray(get(t))[m] for t, m in seen])

        def nanmean(values: FloatArray) -> float:
            return float(np.nanmean(values)) if np.isfinite(values).any() else math.nan

        def baseline(values: FloatArray) -> float:
            return float(np.nanmedian(values)) if np.isfinite(values).any() else math.nan

        def cue(name: str, *, relative: bool = False) -> Callable[[FaceTrack], FloatArray]:
            def get(t: FaceTrack) -> FloatArray:
                values = t.cues[name]
                return values - baseline(values) if relative else values

            return get

        cues = {name: nanmean(gather(cue(name))) for name in CUE_NAMES}
        rel = {name: nanmean(gather(cue(name, relative=True))) for name in CUE_NAMES}
        confidence = gather(lambda t: t.confidence)
        out = {
            "tracks": [t.id for t, _ in seen],
            "frames": n,
            "coverage": min(1.0, n / in_frames),
            "quality": float(gather(lambda t: t.quality).mean()),
            "confidence": float(confidence.mean()),
            "cues": cues,
            "cues_rel": rel,
            "probs": None,
            "emotion": None,
            "arousal": None,
            "valence": None,
        }
        if all(t.raw_probs is not None for t, _ in seen):
            w = confidence / confidence.sum() if confidence.sum() > 0 else np.full(n, 1.0 / n)
            probs = w @ gather(lambda t: t.raw_probs)
            probs = (
                probs / probs.sum() if probs.sum() > 0 else np.full(len(LABELS), 1 / len(LABELS))
            )
            out["probs"] = {label: float(p) for label, p in zip(LABELS, probs)}
            out["emotion"] = LABELS[int(np.argmax(probs))]
            out["arousal"] = float(w @ gather(lambda t: t.raw_arousal))
            out["valence"] = float(w @ gather(lambda t: t.raw_valence))
        return out


def face_evidence(
    timeline: FaceTimeline, track_ids: int | Iterable[int], segment: Segment
) -> Evidence | None:
    """What one speaker's face tracks show during ``segment``, as fusion evidence.

    Confidence is the observations' mean confidence times the share of the segment's frames in
    which the face is seen; probabilities (when there is a model) are ``FaceTimeline.evidence``'s
    unsmoothed pooled ones in LABELS order. None when the face is not seen.
    """
    seen = timeline.evidence(track_ids, segment)
    if seen is None:
        return None
    probs = None
    if seen["probs"] is not None:
        probs = np.array([seen["probs"][k] for k in LABELS])
    details = {k: seen[k] for k in ("tracks", "coverage", "quality", "cues", "cues_rel")}
    conf = seen["confidence"] * seen["coverage"]
    return Evidence("face", conf, probs, seen["arousal"], seen["valence"], details)
