"""Events a reviewer should look at, and the per-speaker call summary.

All detectors are pure functions over the fused timeline and the turns, and every event carries
the numbers that triggered it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .labels import LABELS, NEGATIVE_LABELS
from .result import EmotionSegment, Event
from .segment import Segment
from .summary import SUMMARY_EVENT_KINDS, QuarterMean, SpeakerSummary, Trend

BASELINE_S = 20.0  # s of a speaker's preceding speech that set the level a shift is measured from
OVERTALK_MIN_S = 1.0  # s of both talking before it counts as overtalk
CUT_OFF_S = 2.0  # s: the interrupted speaker stops within this after the other cuts in
RATE_SPIKE_Z = 2.0  # speaker-relative z-score of speaking rate that counts as a spike
RATE_SPIKE_MIN_S = 2.0  # s; shorter turns give unreliable rates


def detect_shifts(
    windows: list[EmotionSegment],
    *,
    speaker: str,
    min_shift_s: float,
    threshold: float,
) -> list[Event]:
    """Escalations and de-escalations of one speaker: sustained shifts, not blips.

    windows: this speaker's grid windows in time order. A shift at time t needs the median
    arousal (or valence) over [t, t + min_shift_s] of speech windows to differ from the median of
    the speaker's previous BASELINE_S by at least ``threshold``; escalation is arousal up or
    valence down, de-escalation the reverse. Consecutive detections merge into one event that
    spans the sustained part.
    """
    speech = [w for w in windows if w.speech and w.arousal is not None]
    if len(speech) < 4:
        return []
    t = np.array([w.segment.middle for w in speech])
    a = np.array([w.arousal for w in speech], dtype=float)
    v = np.array([np.nan if w.valence is None else w.valence for w in speech], dtype=float)
    score = np.nan_to_num(a) - np.nan_to_num(v)  # up = more aroused and/or more negative
    found: list[tuple[float, float, str, dict[str, Any]]] = []
    lo = np.searchsorted(t, t - BASELINE_S, side="left")
    hi = np.searchsorted(t, t + min_shift_s, side="right")
    for i in range(len(t)):
        before = slice(lo[i], i)
        after = slice(i, hi[i])
        if i - lo[i] < 3 or hi[i] - i < 3 or t[hi[i] - 1] - t[i] < 0.6 * min_shift_s:
            continue
        delta = np.median(score[after]) - np.median(score[before])
        if abs(delta) < threshold:
            continue
        # Must hold: most of the following windows sit beyond half the shift.
        ref = np.median(score[before])
        held = np.mean(np.sign(delta) * (score[after] - ref) > abs(delta) / 2)
        if held < 0.7:
            continue
        kind = "escalation" if delta > 0 else "de-escalation"
        evidence: dict[str, Any] = {
            "arousal_before": float(np.median(a[before])),
            "arousal_after": float(np.median(a[after])),
            "valence_before": float(np.nanmedian(v[before]))
            if np.isfinite(v[before]).any()
            else None,
            "valence_after": float(np.nanmedian(v[after])) if np.isfinite(v[after]).any() else None,
            "shift": float(delta),
            "emotion_before": _dominant(speech, before),
            "emotion_after": _dominant(speech, after),
        }
        found.append((float(t[i]), float(t[hi[i] - 1]), kind, evidence))
    events: list[Event] = []
    for start, end, kind, evidence in found:
        last = events[-1] if events else None
        if last is not None and last.kind == kind and start <= last.end:
            if abs(evidence["shift"]) > abs(last.evidence["shift"]):
                evidence = evidence | {"onset": last.evidence.get("onset", last.start)}
            else:
                evidence = last.evidence
            events[-1] = Event(
                kind, Segment(last.start, max(end, last.end)), speaker, last.description, evidence
            )
            continue
        if last is not None and start < last.end:
            continue
        verb = "rises" if kind == "escalation" else "settles"
        labels = ""
        if evidence["emotion_before"] and evidence["emotion_after"]:
            labels = f"{evidence['emotion_before']} -> {evidence['emotion_after']}, "
        desc = (
            f"{speaker}: emotion {verb} ({labels}arousal {evidence['arousal_before']:+.2f} -> "
            f"{evidence['arousal_after']:+.2f})"
        )
        events.append(Event(kind, Segment(start, end), speaker, desc, evidence))
    return events


def _dominant(windows: list[EmotionSegment], part: slice) -> str | None:
    labels = [w.emotion for w in windows[part] if w.emotion in LABELS]  # not "uncertain"
    if not labels:
        return None
    return max(set(labels), key=labels.count)


def detect_silences(
    silences: list[Segment], *, min_s: float, turns: Sequence[tuple[str, Segment]]
) -> list[Event]:
    """Silences of at least ``min_s`` where nobody speaks; evidence names who spoke around it."""
    events = []
    for gap in silences:
        if gap.duration < min_s:
            continue
        before = [s for s, seg in turns if seg.end <= gap.start + 1e-6]
        after = [s for s, seg in turns if seg.start >= gap.end - 1e-6]
        events.append(
            Event(
                "long_silence",
                gap,
                None,
                f"{gap.duration:.1f} s of silence",
                {
                    "duration_s": gap.duration,
                    "before": before[-1] if before else None,
                    "after": after[0] if after else None,
                },
            )
        )
    return events


def detect_overtalk(turns: list[tuple[str, Segment]], *, min_cut_s: float) -> list[Event]:
    """Overtalk (both speak for OVERTALK_MIN_S or more) and interruptions (who cut in on whom).

    An interruption: B starts while A is talking, they overlap for at least ``min_cut_s``, and A
    stops within CUT_OFF_S after B started (A gave up the floor). Otherwise a long overlap is
    overtalk.
    """
    events: list[Event] = []
    ordered = sorted(turns, key=lambda x: x[1].start)
    for i, (spk_a, a) in enumerate(ordered):
        for spk_b, b in ordered[i + 1 :]:
            if b.start >= a.end:
                break
            if spk_b == spk_a or b.start <= a.start:
                continue
            inter = a.intersection(b)
            if inter is None or inter.duration < min_cut_s:
                continue
            cut_off = a.end <= b.start + CUT_OFF_S and b.end > a.end
            evidence = {
                "overlap_s": inter.duration,
                "interrupted_turn_start": a.start,
                "interrupted_turn_end": a.end,
            }
            if cut_off:
                events.append(
                    Event(
                        "interruption",
                        inter,
                        spk_b,
                        f"{spk_b} cut in on {spk_a} ({inter.duration:.1f} s overlap)",
                        evidence,
                        other=spk_a,
                    )
                )
            elif inter.duration >= OVERTALK_MIN_S:
                events.append(
                    Event(
                        "overtalk",
                        inter,
                        spk_b,
                        f"{spk_a} and {spk_b} talk at once for {inter.duration:.1f} s",
                        evidence,
                        other=spk_a,
                    )
                )
    return events


def detect_mixed_cut_ins(
    turns: list[tuple[str, Segment]], overlaps: list[Segment], *, min_cut_s: float
) -> list[Event]:
    """Interruptions in single-channel audio, where turns never overlap on paper.

    Diarization gives one speaker per instant, so a cut-in shows as a change from A to B with
    no pause and an estimated stretch of overlapped speech at the change. The event is B
    interrupting A, with the estimated overlap as its span.
    """
    events = []
    ordered = sorted(turns, key=lambda x: x[1].start)
    for (spk_a, a), (spk_b, b) in zip(ordered, ordered[1:]):
        if spk_a == spk_b or b.start - a.end > 0.05:
            continue
        change = Segment(a.end - 1.0, b.start + 1.0)
        mixed = [o for o in overlaps if o.overlaps(change) and o.duration >= min_cut_s]
        if not mixed:
            continue
        span = Segment(min(o.start for o in mixed), max(o.end for o in mixed))
        events.append(
            Event(
                "interruption", span, spk_b,
                f"{spk_b} cut in on {spk_a} (estimated {span.duration:.1f} s overlap)",
                {"overlap_s": span.duration, "estimated": True,
                 "interrupted_turn_start": a.start, "interrupted_turn_end": a.end},
                other=spk_a,
            )
        )  # fmt: skip
    return events


def detect_rate_spikes(turn_segments: list[EmotionSegment]) -> list[Event]:
    """Turns spoken much faster than the speaker's own usual rate in this call."""
    events = []
    for seg in turn_segments:
        prosody = seg.modalities.get("prosody", {})
        z = prosody.get("z", {}).get("rate_syll_s")
        if z is None or seg.segment.duration < RATE_SPIKE_MIN_S or z < RATE_SPIKE_Z:
            continue
        rate = prosody.get("features", {}).get("rate_syll_s")
        events.append(
            Event(
                "rate_spike",
                seg.segment,
                seg.speaker,
                f"{seg.speaker} speaks fast ({rate:.1f} syll/s, z={z:+.1f})",
                {"rate_syll_s": rate, "z": z},
            )
        )
    return events


def detect_repeated_complaints(
    stretches: Sequence[tuple[str, Segment, list[str]]],
) -> list[Event]:
    """Events for a speaker who complains in two or more turns close together.

    stretches: (speaker, span, complaint phrases in order), as the words stage finds them
    (``words.repeated_complaints``).
    """
    events = []
    for speaker, span, phrases in stretches:
        quoted = ", ".join(f'"{p}"' for p in phrases[:4])
        events.append(
            Event(
                "repeated_complaint",
                span,
                speaker,
                f"{speaker} complains {len(phrases)} times: {quoted}",
                {"phrases": phrases, "count": len(phrases)},
            )
        )
    return events


def summarize(
    speaker: str,
    turns: list[EmotionSegment],
    windows: list[EmotionSegment],
    duration_s: float,
    events: list[Event],
) -> SpeakerSummary:
    """Call summary for one speaker: emotion shares, quarter means and first-to-last trend."""
    total = sum(s.segment.duration for s in turns if s.emotion in LABELS)  # not "uncertain"
    shares = {label: 0.0 for label in LABELS}
    for s in turns:
        if s.emotion in LABELS and total > 0:
            shares[s.emotion] += s.segment.duration / total
    quarters = []
    for q in range(4):
        lo, hi = q * duration_s / 4, (q + 1) * duration_s / 4
        sel = [w for w in windows if w.speech and lo <= w.segment.middle < hi]
        ar = [w.arousal for w in sel if w.arousal is not None]
        va = [w.valence for w in sel if w.valence is not None]
        quarters.append(
            QuarterMean(
                lo,
                hi,
                float(np.mean(ar)) if ar else None,
                float(np.mean(va)) if va else None,
                len(sel),
            )
        )
    present = [q for q in quarters if q.arousal is not None]
    trend = Trend()
    if len(present) >= 2:
        first, last = present[0], present[-1]
        da = last.arousal - first.arousal  # type: ignore[operator]
        dv = (last.valence or 0.0) - (first.valence or 0.0)
        direction = (
            "worsening"
            if dv < -0.1 or da > 0.2
            else "improving"
            if dv > 0.1 or da < -0.2
            else "steady"
        )
        trend = Trend(da, dv, direction)
    negative = sum(shares[k] for k in NEGATIVE_LABELS)
    words = [s.modalities["text"] for s in turns if "text" in s.modalities]
    return SpeakerSummary(
        talk_time_s=float(sum(s.segment.duration for s in turns)),
        turns=len(turns),
        emotion_share=shares,
        negative_share=negative,
        quarters=tuple(quarters),
        trend=trend,
        events={
            kind: sum(1 for e in events if e.speaker == speaker and e.kind == kind)
            for kind in SUMMARY_EVENT_KINDS
        },
        complaint_phrases=sum(len(w.get("complaints", [])) for w in words),
        empathy_phrases=sum(len(w.get("empathy", [])) for w in words),
        transcribed_turns=len(words),
    )
