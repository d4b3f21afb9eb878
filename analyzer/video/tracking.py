"""Face tracks over time: associate each frame's faces with the faces of the frames before.

Faces are matched by their landmark bounding boxes (x0, y0, x1, y1 in px): two boxes belong to one
person when they overlap enough (IoU) or when the centre moved less than a fraction of the face's
size, and their sizes differ by less than a factor MAX_SIZE_RATIO. Conflicts are resolved by
minimum total centre shift (Hungarian assignment). A track that has not been seen for more than
``max_gap_s`` seconds ends; a face seen after that starts a new track with a new id.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..arrays import FloatArray, IntArray

MAX_SIZE_RATIO = 2.0  # a face more than twice or less than half as large is another face


def box_iou(a: FloatArray, b: FloatArray) -> FloatArray:
    """Intersection over union of boxes a [P, 4] and b [D, 4] (x0, y0, x1, y1); float64 [P, D]."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)[:, None]
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)[None]
    w = np.clip(np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0]), 0, None)
    h = np.clip(np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1]), 0, None)
    inter = w * h
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _size(boxes: FloatArray) -> FloatArray:
    """Geometric mean of width and height, px, [N]."""
    out: FloatArray = np.sqrt(
        np.clip(boxes[:, 2] - boxes[:, 0], 1e-9, None)
        * np.clip(boxes[:, 3] - boxes[:, 1], 1e-9, None)
    )
    return out


def match_boxes(
    previous: FloatArray, current: FloatArray, *, min_iou: float = 0.2, max_shift: float = 0.6
) -> list[tuple[int, int]]:
    """Pairs (i, j) saying that ``current[j]`` continues ``previous[i]``.

    previous [P, 4], current [D, 4]: boxes in px. A pair is allowed when IoU >= min_iou or the
    centre moved at most ``max_shift`` face sizes, and the sizes differ by less than
    MAX_SIZE_RATIO; among allowed pairs the assignment minimises the total centre shift.
    """
    from scipy.optimize import linear_sum_assignment

    previous = np.asarray(previous, dtype=np.float64).reshape(-1, 4)
    current = np.asarray(current, dtype=np.float64).reshape(-1, 4)
    if len(previous) == 0 or len(current) == 0:
        return []
    size_p, size_c = _size(previous), _size(current)
    centre_p = 0.5 * (previous[:, :2] + previous[:, 2:])
    centre_c = 0.5 * (current[:, :2] + current[:, 2:])
    shift = np.linalg.norm(centre_p[:, None] - centre_c[None], axis=2)
    shift /= np.sqrt(size_p[:, None] * size_c[None])  # in face sizes
    ratio = size_p[:, None] / size_c[None]
    allowed = (box_iou(previous, current) >= min_iou) | (shift <= max_shift)
    allowed &= (ratio < MAX_SIZE_RATIO) & (ratio > 1.0 / MAX_SIZE_RATIO)
    cost = np.where(allowed, shift, 1e6)
    rows, cols = linear_sum_assignment(cost)
    return [(int(i), int(j)) for i, j in zip(rows, cols) if allowed[i, j]]


@dataclass
class FaceTracker:
    """Gives each frame's faces stable integer track ids (0, 1, 2... in order of appearance).

    One tracker per video; feed frames in time order through :meth:`update`.
    """

    max_gap_s: float = 1.0  # a track unseen for longer than this ends, seconds
    min_iou: float = 0.2  # box overlap at or above which a face continues a track
    max_shift: float = 0.6  # centre shift (face sizes) up to which a face continues a track
    _boxes: dict[int, FloatArray] = field(default_factory=dict, repr=False)  # id -> last box
    _seen: dict[int, float] = field(default_factory=dict, repr=False)  # id -> last time, s
    _next_id: int = 0

    def end(self, ids: Iterable[int]) -> None:
        """End these tracks (a cut to another picture: a face there is not the one before)."""
        for tid in ids:
            self._boxes.pop(int(tid), None)
            self._seen.pop(int(tid), None)

    def update(self, time: float, boxes: FloatArray) -> IntArray:
        """Track ids (int64 [D]) for the D face boxes [D, 4] (px) seen at ``time`` seconds."""
        boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        for tid in [t for t, seen in self._seen.items() if time - seen > self.max_gap_s]:
            del self._boxes[tid], self._seen[tid]
        live = list(self._boxes)
        previous = np.array([self._boxes[t] for t in live]).reshape(-1, 4)
        ids = np.full(len(boxes), -1, dtype=np.int64)
        for i, j in match_boxes(previous, boxes, min_iou=self.min_iou, max_shift=self.max_shift):
            ids[j] = live[i]
        for j in np.flatnonzero(ids < 0):
            ids[j] = self._next_id
            self._next_id += 1
        for j, tid in enumerate(ids):
            self._boxes[int(tid)] = boxes[j]
            self._seen[int(tid)] = float(time)
        return ids
