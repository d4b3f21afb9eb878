"""Events a reviewer should look at, and the per-speaker call summary.

All detectors are pure functions over the fused timeline and the turns, and every event carries
the numbers that triggered it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .coaching.dynamics import RISE, SUSTAIN_S, detect_shifts, readings_of
from .labels import LABELS, NEGATIVE_LABELS
from .result import EmotionSegment, Event
from .segment import Segment
from .summary import SUMMARY_EVENT_KINDS, QuarterMean, SpeakerSummary, Trend

OVERTALK_MIN_S = 1.0  # s of both talking before it counts as overtalk
CUT_OFF_S = 2.0  # s: the interrupted speaker stops within this after the other cuts in
RATE_SPIKE_Z = 2.0  # speaker-relative z-score of speaking rate that counts as a spike
RATE_SPIKE_MIN_S = 2.0  # s; shorter turns give unreliable rates


def shift_events(
    segments: Iterable[Any],
    speaker: str,
    *,
    sustain_s: float = SUSTAIN_S,
    rise: float = RISE,
) -> list[Event]:
    """Escalations and de-escalations of one speaker, from the coaching dynamics
    (``coaching.dynamics.detect_shifts`` over the speaker's turns, or speech windows without
    turns): a sustained rise in tension to a different, tense emotion, never a blip, never while
    arousal falls, and the description names the real change ("neutral → angry, arousal +0.40").
    The event's params are the shift's (emotions and arousal before and after, the changes).
    segments: result segments (``EmotionSegment`` objects or their dicts), any speakers."""
    events = []
    for shift in detect_shifts(readings_of(segments, speaker), speaker, sustain_s=sustain_s,
                               rise=rise):  # fmt: skip
        evidence: dict[str, Any] = {k: v for k, v in shift.params.items() if k != "speaker"}
        evidence["tension_before"] = round(shift.tension_before, 3)
        evidence["tension_after"] = round(shift.tension_after, 3)
        events.append(Event(shift.kind, shift.segment, speaker, shift.description, evidence))
    return events


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


MIXED_CUT_SHARE = 0.5  # of ``min_cut_s``: the estimated overlap a cut-in on one channel needs
# (the overlap detector marks a shorter stretch than the voices truly share)


def overtalk_events(
    turns: list[tuple[str, Segment]], overlaps: list[Segment], *, min_cut_s: float, mixed: bool
) -> list[Event]:
    """Overtalk and interruptions of a call (``detect_overtalk``); on a mixed (one-channel)
    recording also the cut-ins seen as estimated overlap at a change of voice
    (``detect_mixed_cut_ins``, MIXED_CUT_SHARE of ``min_cut_s`` of it)."""
    events = detect_overtalk(turns, min_cut_s=min_cut_s)
    if mixed:
        events += detect_mixed_cut_ins(turns, overlaps, min_cut_s=min_cut_s * MIXED_CUT_SHARE)
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

    Diarization mostly gives one speaker per instant, so a cut-in shows as a change from A to
    B with no pause and an estimated stretch of overlapped speech at the change. The event is B
    interrupting A, with the estimated overlap as its span. Where the diarizer kept both voices
    of an overlap, B's turn may start inside A's: it is a cut-in only if B goes on after A
    stops (a turn of B's that ends inside A's is talk under A, not an interruption); the
    stretch searched runs from a second before the earlier of A's end and B's start to a
    second after the later.
    """
    events = []
    ordered = sorted(turns, key=lambda x: x[1].start)
    for (spk_a, a), (spk_b, b) in zip(ordered, ordered[1:]):
        if spk_a == spk_b or b.start - a.end > 0.05 or b.end <= a.end:
            continue
        change = Segment(min(a.end, b.start) - 1.0, max(a.end, b.start) + 1.0)
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


def detect_unanswered_questions(
    questions: Sequence[tuple[str, Segment, str, str]],
) -> list[Event]:
    """Events for questions left unanswered or asked again.

    questions: (speaker, span, question, reason) as the words stage finds them
    (``words.questions.unanswered_questions``); reason "no_reply" or "asked_again".
    """
    events = []
    for speaker, span, question, reason in questions:
        if reason == "asked_again":
            text = f"{speaker} asks again: “{question}”"
        else:
            text = f"{speaker}'s question got no reply: “{question}”"
        events.append(
            Event(
                "unanswered_question", span, speaker, text, {"question": question, "reason": reason}
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
