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
