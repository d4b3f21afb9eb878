"""The per-speaker call summary: talk time, emotion shares, quarter means, trend, event counts.

Typed, computed once by the engine (``analyzer.events.summarize``) and stored in
``AnalysisResult.summary``; the review app displays it and never recomputes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SUMMARY_EVENT_KINDS = ("escalation", "de-escalation", "interruption", "rate_spike")


@dataclass(frozen=True)
class QuarterMean:
    """Mean arousal and valence of one speaker's speech windows in one quarter of the call."""

    start: float  # s
    end: float  # s
    arousal: float | None  # None without a speech window with arousal
    valence: float | None
    speech_windows: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "arousal": self.arousal,
            "valence": self.valence,
            "speech_windows": self.speech_windows,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> QuarterMean:
        return cls(
            d.get("start", 0.0),
            d.get("end", 0.0),
            d.get("arousal"),
            d.get("valence"),
            d.get("speech_windows", 0),
        )


@dataclass(frozen=True)
class Trend:
    """First-to-last change of a speaker's quarter means, and its plain-language direction."""

    arousal: float | None = None
    valence: float | None = None
    direction: str = "unknown"  # "worsening", "improving", "steady" or "unknown"

    def to_dict(self) -> dict[str, Any]:
        return {"arousal": self.arousal, "valence": self.valence, "direction": self.direction}

    @classmethod
    def from_dict(cls, d: dict[str, Any] | str | None) -> Trend:
        if isinstance(d, str):
            return cls(direction=d)
        d = d or {}
        return cls(d.get("arousal"), d.get("valence"), d.get("direction", "unknown"))


@dataclass(frozen=True)
class SpeakerSummary:
    """The call summary of one speaker (``AnalysisResult.summary[speaker id]``).

    ``to_dict`` gives the JSON keys of schema 1.0. For code written against that dict, item
    access (``summary["trend"]``, ``summary.get("emotion_share")``) returns the JSON value.
    """

    talk_time_s: float = 0.0  # s of speech turns
    turns: int = 0
    emotion_share: dict[str, float] = field(default_factory=dict)  # label -> share of turn time
    negative_share: float = 0.0  # share of turn time with a negative emotion
    quarters: tuple[QuarterMean, ...] = ()
    trend: Trend = field(default_factory=Trend)
    events: dict[str, int] = field(default_factory=dict)  # kind -> count of this speaker's
    complaint_phrases: int = 0
    empathy_phrases: int = 0
    transcribed_turns: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "talk_time_s": self.talk_time_s,
            "turns": self.turns,
            "emotion_share": dict(self.emotion_share),
            "negative_share": self.negative_share,
            "quarters": [q.to_dict() for q in self.quarters],
            "trend": self.trend.to_dict(),
            "events": dict(self.events),
            "complaint_phrases": self.complaint_phrases,
            "empathy_phrases": self.empathy_phrases,
            "transcribed_turns": self.transcribed_turns,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeakerSummary:
        """Read ``to_dict`` output; missing keys (older or partial summaries) get defaults."""
        return cls(
            talk_time_s=d.get("talk_time_s", 0.0),
            turns=d.get("turns", 0),
            emotion_share=dict(d.get("emotion_share") or d.get("shares") or {}),
            negative_share=d.get("negative_share", 0.0),
            quarters=tuple(QuarterMean.from_dict(q) for q in d.get("quarters", [])),
            trend=Trend.from_dict(d.get("trend")),
            events=dict(d.get("events", {})),
            complaint_phrases=d.get("complaint_phrases", 0),
            empathy_phrases=d.get("empathy_phrases", 0),
            transcribed_turns=d.get("transcribed_turns", 0),
        )

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)
