"""Emotion dynamics per speaker: the arc, escalations and de-escalations, the customer's outcome.

Readings are a speaker's turns (or, without turns, speech windows) with their fused emotion,
arousal and valence. ``"uncertain"`` readings and readings without arousal are no evidence and
are skipped. Tension is the one-number view used throughout: (arousal - valence) / 2 in [-1, 1];
neutral 0, angry 0.7, fearful 0.6, happy -0.18, sad 0.05 (calm sadness is not escalation).

An escalation is a sustained rise, not a blip: from some turn on, the speaker's tension over at
least SUSTAIN_S of speech (and SUSTAIN_TURNS turns) sits RISE above their level over the
preceding BASELINE_S, most of it (HELD_SHARE) stays above half that rise, arousal does not fall,
and the dominant emotion after is a tense one (angry, fearful, disgust) different from the one
before. So a calm speaker (all neutral or happy turns) never escalates, "fearful -> fearful" is
no event, and every description names the real change ("neutral -> angry, arousal +0.40").
A de-escalation is the mirror image, from a tense dominant emotion to a different one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..segment import Segment

TENSE_LABELS = frozenset({"angry", "fearful", "disgust"})
BASELINE_S = 20.0  # s of preceding speech that set the level a change is measured from
SUSTAIN_S = 4.0  # s of speech the new level must hold
SUSTAIN_TURNS = 2  # readings the new level must hold
RISE = 0.3  # tension change (scale [-1, 1]) that counts as escalation or de-escalation
HELD_SHARE = 0.7  # share of the sustained speech that stays beyond half the change
UPSET_TENSION = 0.3  # tension at or above this is upset (angry 0.7, fearful 0.6, disgust 0.48)
CALM_TENSION = 0.15  # tension at or below this is calm again
RECOVERY_HOLD_S = 4.0  # s of speech the calm must hold to count as recovery
PEAK_TOLERANCE = 0.05  # readings this close to the highest tension belong to the peak


@dataclass(frozen=True)
class Reading:
    """One stretch of a speaker's speech with its fused emotion."""

    segment: Segment
    emotion: str | None
    arousal: float
    valence: float
    probs: dict[str, float]

    @property
    def tension(self) -> float:
        return (self.arousal - self.valence) / 2.0


@dataclass(frozen=True)
class Shift:
    """An escalation or de-escalation of one speaker."""

    kind: str  # "escalation" | "de-escalation"
    speaker: str
    segment: Segment  # from the first changed turn to the end of the sustained part
    emotion_before: str | None
    emotion_after: str | None
    arousal_before: float
    arousal_after: float
    tension_before: float
    tension_after: float

    @property
    def code(self) -> str:
        return self.kind.replace("-", "_")

    @property
    def params(self) -> dict[str, Any]:
        return {
            "speaker": self.speaker,
            "emotion_before": self.emotion_before,
            "emotion_after": self.emotion_after,
            "arousal_before": round(self.arousal_before, 3),
            "arousal_after": round(self.arousal_after, 3),
            "arousal_change": round(self.arousal_after - self.arousal_before, 3),
            "tension_change": round(self.tension_after - self.tension_before, 3),
        }

    @property
    def description(self) -> str:
        verb = "escalates" if self.kind == "escalation" else "calms down"
        return (
            f"{self.speaker} {verb}: {self.emotion_before} → {self.emotion_after}, "
            f"arousal {self.arousal_after - self.arousal_before:+.2f}"
        )


@dataclass(frozen=True)
class Outcome:
    """How a speaker (the customer) ends up: recovered, not_recovered, worsened, or None when
    they were never upset and did not get worse."""

    value: str | None
    start_tension: float | None
    peak_tension: float | None
    end_tension: float | None
    peak: Segment | None
    recovered_at: float | None  # s; when the lasting calm began
    time_to_recovery_s: float | None  # from the end of the peak reading to recovered_at


@dataclass(frozen=True)
class Arc:
    """A speaker's emotional course through the call."""

    speaker: str
    readings: tuple[Reading, ...]
    shifts: tuple[Shift, ...]
    outcome: Outcome


def readings_of(segments: Iterable[Any], speaker: str, *, kind: str = "turn") -> list[Reading]:
    """A speaker's readings, in time order, from result segments (``EmotionSegment`` objects or
    their ``to_dict`` form). Falls back to speech windows when the speaker has no turns of
    ``kind``. Uncertain readings and readings without arousal/valence are left out."""
    rows = [_as_dict(s) for s in segments]
    mine = [r for r in rows if r["speaker"] == speaker]
    chosen = [r for r in mine if r["kind"] == kind]
    if not chosen:
        chosen = [r for r in mine if r["kind"] == "window" and r.get("speech", True)]
    out = []
    for r in sorted(chosen, key=lambda r: r["start"]):
        if r.get("emotion") in (None, "uncertain") or r.get("arousal") is None:
            continue
        out.append(
            Reading(
                Segment(float(r["start"]), float(r["end"])),
                r.get("emotion"),
                float(r["arousal"]),
                float(r["valence"]) if r.get("valence") is not None else 0.0,
                dict(r.get("probs") or {}),
            )
        )
    return out


def speaker_arc(readings: Sequence[Reading], speaker: str) -> Arc:
    """Shifts and outcome of one speaker's readings (time order)."""
    return Arc(speaker, tuple(readings), tuple(detect_shifts(readings, speaker)), outcome(readings))


def detect_shifts(
    readings: Sequence[Reading], speaker: str, *, sustain_s: float = SUSTAIN_S, rise: float = RISE
) -> list[Shift]:
    """Escalations and de-escalations (see the module docstring): the new level holds over at
    least ``sustain_s`` of speech and differs from the baseline by at least ``rise`` tension."""
    shifts: list[Shift] = []
    i = 1
    n = len(readings)
    while i < n:
        before = _span_before(readings, i)
        after = _span_after(readings, i, sustain_s)
        if before is None or after is None:
            i += 1
            continue
        found = _shift_at(readings, before, after, speaker, rise)
        if found is None:
            i += 1
            continue
        # Extend over the following readings that keep the new level.
        ref = _wmedian(readings[before], "tension")
        half = ref + (found.tension_after - ref) / 2
        sign = 1 if found.kind == "escalation" else -1
        end = after.stop
        while end < n and sign * (readings[end].tension - half) > 0:
            end += 1
        # The shift starts with the first reading past half-way to the new level, not with a
        # reading of the old level that the sustained span happened to open with.
        first = next((k for k in range(i, end) if sign * (readings[k].tension - half) > 0), i)
        seg = Segment(readings[first].segment.start, readings[end - 1].segment.end)
        shifts.append(
            Shift(
                found.kind, speaker, seg, found.emotion_before, found.emotion_after,
                found.arousal_before, found.arousal_after, found.tension_before,
                found.tension_after,
            )
        )  # fmt: skip
        i = end
    return shifts


def outcome(readings: Sequence[Reading]) -> Outcome:
    """Recovered, not recovered or worsened: start, peak and end tension of the speaker.

    Start: the readings of the first BASELINE_S of speech; end: those of the last SUSTAIN_S (at
    least two readings); peak: the highest reading. Worsened: the end is RISE above the start and
    upset. Recovered: upset at some point (peak at least UPSET_TENSION) and calm at the end (at most
    CALM_TENSION). Not recovered: upset and still not calm at the end. None: never upset.
    """
    if not readings:
        return Outcome(None, None, None, None, None, None, None)
    start = _wmedian(readings[_first_speech(readings, BASELINE_S)], "tension")
    end_part = _last_speech(readings, SUSTAIN_S)
    end = _wmedian(readings[end_part], "tension")
    tension = np.array([r.tension for r in readings])
    # The peak: the last reading near the highest level (recovery is timed from its end).
    k = int(np.flatnonzero(tension >= tension.max() - PEAK_TOLERANCE)[-1])
    peak = readings[k].tension
    value: str | None = None
    recovered_at = time_to = None
    if end >= start + RISE and end >= UPSET_TENSION:
        value = "worsened"
    elif peak >= UPSET_TENSION:
        value = "recovered" if end <= CALM_TENSION else "not_recovered"
        if value == "recovered":
            recovered_at = _lasting_calm(readings, k)
            if recovered_at is not None:
                time_to = max(0.0, recovered_at - readings[k].segment.end)
    return Outcome(value, start, peak, end, readings[k].segment, recovered_at, time_to)


# ---------------------------------------------------------------------------------------------
def _as_dict(s: Any) -> dict[str, Any]:
    if isinstance(s, dict):
        return s
    seg = s.segment
    return {
        "kind": s.kind,
        "speaker": s.speaker,
        "start": seg.start,
        "end": seg.end,
        "emotion": s.emotion,
        "arousal": s.arousal,
        "valence": s.valence,
        "probs": s.probs,
        "speech": getattr(s, "speech", True),
    }


def _speech(readings: Sequence[Reading], part: slice) -> float:
    """Seconds of speech the readings in ``part`` add: each up to where the next reading starts,
    so overlapping grid windows (3 s long, 0.5 s apart) count their hop, not their length
    (three angry windows are a 1.5 s blip, not 9 s of anger); turns count whole."""
    total = 0.0
    for i in range(*part.indices(len(readings))):
        seg = readings[i].segment
        end = seg.end
        if i + 1 < len(readings):
            end = min(end, max(seg.start, readings[i + 1].segment.start))
        total += end - seg.start
    return total


def _span_before(readings: Sequence[Reading], i: int) -> slice | None:
    t = readings[i].segment.start
    lo = i
    while lo > 0 and readings[lo - 1].segment.start >= t - BASELINE_S:
        lo -= 1
    return slice(lo, i) if lo < i else None


def _span_after(readings: Sequence[Reading], i: int, sustain_s: float) -> slice | None:
    hi, n = i, len(readings)
    while hi < n and (hi - i < SUSTAIN_TURNS or _speech(readings, slice(i, hi)) < sustain_s):
        hi += 1
    part = slice(i, hi)
    if hi - i < SUSTAIN_TURNS or _speech(readings, part) < sustain_s:
        return None
    return part


def _shift_at(
    readings: Sequence[Reading], before: slice, after: slice, speaker: str, rise: float
) -> Shift | None:
    t0, t1 = _wmedian(readings[before], "tension"), _wmedian(readings[after], "tension")
    a0, a1 = _wmedian(readings[before], "arousal"), _wmedian(readings[after], "arousal")
    e0, e1 = _dominant(readings[before]), _dominant(readings[after])
    delta = t1 - t0
    if abs(delta) < rise or e0 == e1:
        return None
    sign = 1 if delta > 0 else -1
    dur = np.array([r.segment.duration for r in readings[after]])
    beyond = np.array([sign * (r.tension - t0) > abs(delta) / 2 for r in readings[after]])
    if (dur * beyond).sum() < HELD_SHARE * dur.sum():
        return None
    if sign > 0 and (a1 < a0 or e1 not in TENSE_LABELS):
        return None
    if sign < 0 and e0 not in TENSE_LABELS:
        return None
    kind = "escalation" if sign > 0 else "de-escalation"
    return Shift(kind, speaker, Segment(0, 0), e0, e1, a0, a1, t0, t1)


def _wmedian(readings: Sequence[Reading], attr: str) -> float:
    vals = np.array([getattr(r, attr) for r in readings], dtype=float)
    w = np.array([r.segment.duration for r in readings], dtype=float)
    order = np.argsort(vals)
    cum = np.cumsum(w[order])
    return float(vals[order][np.searchsorted(cum, cum[-1] / 2)])


def _dominant(readings: Sequence[Reading]) -> str | None:
    time: dict[str, float] = {}
    for r in readings:
        if r.emotion is not None:
            time[r.emotion] = time.get(r.emotion, 0.0) + r.segment.duration
    return max(time, key=lambda k: time[k]) if time else None


def _first_speech(readings: Sequence[Reading], seconds: float) -> slice:
    total, k = 0.0, 0
    while k < len(readings) and (total < seconds or k < 1):
        total += readings[k].segment.duration
        k += 1
    # Never let the start swallow the whole call when it is short.
    return slice(0, max(1, min(k, len(readings) // 3 or 1)))


def _last_speech(readings: Sequence[Reading], seconds: float) -> slice:
    total, k = 0.0, len(readings)
    while k > 0 and (total < seconds or len(readings) - k < 2):
        k -= 1
        total += readings[k].segment.duration
    return slice(k, len(readings))


def _lasting_calm(readings: Sequence[Reading], peak: int) -> float | None:
    """Start of the first run of calm readings after the peak that holds RECOVERY_HOLD_S of
    speech (or lasts to the end of the call)."""
    for i in range(peak + 1, len(readings)):
        if readings[i].tension > CALM_TENSION:
            continue
        j, held = i, 0.0
        while j < len(readings) and readings[j].tension <= CALM_TENSION:
            held += readings[j].segment.duration
            j += 1
        if held >= RECOVERY_HOLD_S or j == len(readings):
            return readings[i].segment.start
    return None
