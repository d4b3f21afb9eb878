"""Time on one axis: seconds as float, and one frozen interval type."""

from __future__ import annotations

from dataclasses import dataclass


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


def to_seconds(index: int | float, rate: float) -> float:
    """Convert a frame or sample index at ``rate`` (per second) to seconds."""
    return float(index) / float(rate)


def to_index(seconds: float, rate: float) -> int:
    """Convert seconds to the nearest frame or sample index at ``rate`` (per second)."""
    return int(round(seconds * rate))


class SegmentIndex:
    """Many segments as arrays, for fast overlap queries (the fusion grid asks thousands)."""

    def __init__(self, segments: list[Segment]) -> None:
        import numpy as np

        self.segments = list(segments)
        self.starts = np.array([s.start for s in self.segments], dtype=np.float64)
        self.ends = np.array([s.end for s in self.segments], dtype=np.float64)

    def __len__(self) -> int:
        return len(self.segments)

    def overlaps(self, seg: Segment):
        """Seconds each indexed segment shares with ``seg``: float64 [len(self)]."""
        import numpy as np

        return np.clip(np.minimum(self.ends, seg.end) - np.maximum(self.starts, seg.start), 0, None)

    def total(self, seg: Segment) -> float:
        """Seconds of ``seg`` covered by the indexed segments (assumed mutually disjoint)."""
        return float(self.overlaps(seg).sum()) if len(self) else 0.0
