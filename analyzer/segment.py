"""Time on one axis: seconds as float, and one frozen interval type."""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True, order=True)
class Segment:
    """A half-open time interval [start, end) in seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Segment end {self.end} is before its start {self.start}")

    @property
    def duration(self) -> float:
        return self.end - self.start

    @property
    def middle(self) -> float:
        return 0.5 * (self.start + self.end)

    def overlaps(self, other: Segment) -> bool:
        return self.start < other.end and other.start < self.end

    def intersection(self, other: Segment) -> Segment | None:
        start, end = max(self.start, other.start), min(self.end, other.end)
        return Segment(start, end) if start < end else None

    def overlap(self, other: Segment) -> float:
        """Seconds shared with ``other`` (0 when disjoint)."""
        return max(0.0, min(self.end, other.end) - max(self.start, other.start))

    def contains(self, t: float) -> bool:
        return self.start <= t < self.end


# Frame and sample indices from times: a time belongs to the frame whose span holds it, up to
# float error. The tolerance absorbs round-off such as 0.29 / 0.01 = 28.999999999999996 (frame 29),
# far below any real offset (a millionth of a frame).
INDEX_TOLERANCE = 1e-6  # frames


@dataclass(frozen=True)
class TimeGrid:
    """Frames (or samples) every ``step`` seconds from 0: frame i starts at ``i * step``.

    The one place that converts between seconds and indices (one rounding rule, see
    INDEX_TOLERANCE) and that cuts a stretch of time into fixed windows. Like pyannote's
    SlidingWindow: ``TimeGrid.rate(16000)`` for samples, ``TimeGrid(0.01)`` for a 10 ms frame grid.
    """

    step: float  # s between consecutive frames

    def __post_init__(self) -> None:
        if not self.step > 0:
            raise ValueError(f"TimeGrid step must be positive, got {self.step}")

    @classmethod
    def rate(cls, per_second: float) -> TimeGrid:
        """The grid of a sample or frame rate (per second)."""
        return cls(1.0 / per_second)

    def index(self, t: float) -> int:
        """The frame whose span [i step, (i + 1) step) holds ``t`` seconds."""
        return int(math.floor(t / self.step + INDEX_TOLERANCE))

    def end_index(self, t: float) -> int:
        """One past the last frame that starts before ``t`` seconds (an exclusive end)."""
        return int(math.ceil(t / self.step - INDEX_TOLERANCE))

    def frames(self, seconds: float) -> int:
        """How many whole frames fit in ``seconds`` (a length, e.g. a window, in frames)."""
        return self.index(seconds)

    def count(self, seconds: float) -> int:
        """Frames needed to cover ``seconds`` from 0 (the last one may be partial)."""
        return self.end_index(seconds)

    def slice(self, seg: Segment) -> builtins.slice:
        """Indices of the frames from the one holding ``seg.start`` up to ``seg.end``: the
        frames a signal slice ``x[grid.slice(seg)]`` of the segment takes."""
        return slice(self.index(seg.start), self.index(seg.end))

    def cover(self, seg: Segment) -> builtins.slice:
        """Indices of every frame that ``seg`` touches (ends rounded outwards)."""
        return slice(self.index(seg.start), self.end_index(seg.end))

    def time(self, index: int | float) -> float:
        """Start of frame ``index`` in seconds."""
        return float(index) * self.step

    def windows(self, duration: float, window_s: float) -> list[Segment]:
        """Windows of ``window_s`` starting every ``step`` seconds over [0, duration]; the last
        one ends at ``duration`` (one window, possibly shorter, when the call is shorter)."""
        starts = np.arange(0.0, max(duration - window_s, 0.0) + 1e-9, self.step)
        if len(starts) == 0:
            starts = np.array([0.0])
        return [Segment(float(s), float(min(duration, s + window_s))) for s in starts]


class SegmentIndex:
    """Many segments as arrays, for fast overlap queries (the fusion grid asks thousands)."""

    def __init__(self, segments: list[Segment]) -> None:
        self.segments = list(segments)
        self.starts = np.array([s.start for s in self.segments], dtype=np.float64)
        self.ends = np.array([s.end for s in self.segments], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.segments)

    def overlaps(self, seg: Segment) -> NDArray[Any]:
        """Seconds each indexed segment shares with ``seg``: float64 [len(self)]."""
        shared: NDArray[Any] = np.clip(
            np.minimum(self.ends, seg.end) - np.maximum(self.starts, seg.start), 0, None
        )
        return shared

    def total(self, seg: Segment) -> float:
        """Seconds of ``seg`` covered by the indexed segments (assumed mutually disjoint)."""
        return float(self.overlaps(seg).sum()) if len(self) else 0.0
