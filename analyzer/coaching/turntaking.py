"""Turn-taking facts per speaker: who talked how much, who cut in on whom, who listened.

Input is the call's speech turns, ``(speaker, start, end)`` in seconds (or ``(speaker,
Segment)``), as the speaker stage gives them: on channel-separated calls turns of two speakers
overlap where both talk. Optional per-turn speaking rates (syllables per second) give pace.

Definitions (constants below, all overridable by keyword):

* backchannel: a turn of at most BACKCHANNEL_MAX_S while another speaker holds the floor (that
  speaker talks within FLOOR_REACH_S before it starts and after it ends); "mm-hm", "对". It is
  listening, not a turn: it counts as talk time but never as an interruption or a reply;
* interruption (cut-in): a turn that is not a backchannel and starts while another speaker's turn
  is under way, overlapping it by at least ``min_overlap_s``; ``stopped`` says whether the
  interrupted speaker gave up the floor (their turn ends within CUT_OFF_S after the cut-in
  starts, before the interrupter's turn ends);
* overtalk: seconds in which this speaker and another talk at once;
* response latency: for each turn taken after another speaker's turn ended (no overlap), the gap
  between that end and this start; the speaker's figure is the median;
* monologue: one speaker's turns joined across pauses shorter than MONOLOGUE_GAP_S in which
  nobody else takes a (non-backchannel) turn;
* silence: a gap of at least SILENCE_MIN_S in which nobody speaks; a hold is one of at least
  HOLD_MIN_S.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..segment import Segment

BACKCHANNEL_MAX_S = 1.0  # s; longest utterance that still counts as a backchannel
FLOOR_REACH_S = 1.0  # s; the other speaker talking this close around it holds the floor
MIN_OVERLAP_S = 0.3  # s of both talking before a start counts as a cut-in
CUT_OFF_S = 2.0  # s; the interrupted speaker stops within this after the cut-in: they yielded
MONOLOGUE_GAP_S = 1.5  # s; pauses shorter than this do not end a monologue
SILENCE_MIN_S = 2.0  # s of nobody speaking that counts as a silence
HOLD_MIN_S = 10.0  # s of nobody speaking that counts as a hold


@dataclass(frozen=True)
class Interruption:
    """``by`` started talking while ``on`` was talking; ``span`` is their overlap."""

    by: str
    on: str
    span: Segment
    stopped: bool  # the interrupted speaker gave up the floor

    def to_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "on": self.on,
            "start": round(self.span.start, 3),
            "end": round(self.span.end, 3),
            "stopped": self.stopped,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Interruption:
        return cls(d["by"], d["on"], Segment(d["start"], d["end"]), bool(d["stopped"]))


@dataclass(frozen=True)
class SpeakerTurnTaking:
    """Turn-taking facts of one speaker in one call (times in seconds)."""

    speaker: str
    talk_time_s: float  # seconds of speech (backchannels included)
    talk_share: float  # 0-1 of all speakers' speech
    turns: int  # turns, backchannels not counted
    interruptions: tuple[Interruption, ...]  # this speaker's cut-ins on others
    interrupted: tuple[Interruption, ...]  # others' cut-ins on this speaker
    overtalk_s: float  # seconds this speaker talked while another did too
    backchannels: tuple[Segment, ...]
    response_latency_s: float | None  # median gap before replying; None: never replied
    latencies: tuple[tuple[Segment, float], ...]  # (gap, seconds) per reply
    longest_monologue: Segment | None
    rate_syll_s: float | None  # speech-weighted speaking rate; None without rates
    rate_mismatch: float | None  # |own rate - others' rate| / others' rate

    @property
    def longest_monologue_s(self) -> float:
        return self.longest_monologue.duration if self.longest_monologue else 0.0

    def to_dict(self) -> dict[str, Any]:
        r = _round3
        return {
            "speaker": self.speaker,
            "talk_time_s": r(self.talk_time_s),
            "talk_share": r(self.talk_share),
            "turns": self.turns,
            "interruptions": [i.to_dict() for i in self.interruptions],
            "interrupted": [i.to_dict() for i in self.interrupted],
            "overtalk_s": r(self.overtalk_s),
            "backchannels": [[r(s.start), r(s.end)] for s in self.backchannels],
            "response_latency_s": r(self.response_latency_s),
            "longest_monologue_s": r(self.longest_monologue_s),
            "longest_monologue": None
            if self.longest_monologue is None
            else [r(self.longest_monologue.start), r(self.longest_monologue.end)],
            "rate_syll_s": r(self.rate_syll_s),
            "rate_mismatch": r(self.rate_mismatch),
            "latencies": [[r(g.start), r(g.end)] for g, _ in self.latencies],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SpeakerTurnTaking:
        mono = d.get("longest_monologue")
        return cls(
            speaker=d["speaker"],
            talk_time_s=d["talk_time_s"],
            talk_share=d["talk_share"],
            turns=d["turns"],
            interruptions=tuple(Interruption.from_dict(x) for x in d.get("interruptions", [])),
            interrupted=tuple(Interruption.from_dict(x) for x in d.get("interrupted", [])),
            overtalk_s=d["overtalk_s"],
            backchannels=tuple(Segment(a, b) for a, b in d.get("backchannels", [])),
            response_latency_s=d.get("response_latency_s"),
            latencies=tuple((Segment(a, b), round(b - a, 3)) for a, b in d.get("latencies", [])),
            longest_monologue=None if mono is None else Segment(mono[0], mono[1]),
            rate_syll_s=d.get("rate_syll_s"),
            rate_mismatch=d.get("rate_mismatch"),
        )


@dataclass(frozen=True)
class TurnTaking:
    """The call's turn-taking: per speaker facts and the silences between everyone's speech."""

    speakers: dict[str, SpeakerTurnTaking]
    silences: tuple[Segment, ...]  # nobody speaks for SILENCE_MIN_S or more
    holds: tuple[Segment, ...]  # the silences of HOLD_MIN_S or more
    overlap_s: float  # seconds in which two or more speak at once
    duration_s: float
    extras: dict[str, Any] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, Any]:
        r = _round3
        return {
            "speakers": {k: v.to_dict() for k, v in self.speakers.items()},
            "silences": [[r(s.start), r(s.end)] for s in self.silences],
            "holds": [[r(s.start), r(s.end)] for s in self.holds],
            "overlap_s": r(self.overlap_s),
            "duration_s": r(self.duration_s),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TurnTaking:
        return cls(
            speakers={k: SpeakerTurnTaking.from_dict(v) for k, v in d.get("speakers", {}).items()},
            silences=tuple(Segment(a, b) for a, b in d.get("silences", [])),
            holds=tuple(Segment(a, b) for a, b in d.get("holds", [])),
            overlap_s=d.get("overlap_s", 0.0),
            duration_s=d.get("duration_s", 0.0),
        )


TurnLike = tuple[Any, ...]  # (speaker, start, end) or (speaker, Segment)
Items = list[tuple[str, Segment]]  # (speaker, Segment), sorted by start


def _round3(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def normalize_turns(turns: Iterable[TurnLike]) -> list[tuple[str, Segment]]:
    """(speaker, Segment) pairs sorted by start from (speaker, start, end) or (speaker, Segment)."""
    out = []
    for t in turns:
        if len(t) == 2:
            spk, seg = t
            seg = seg if isinstance(seg, Segment) else Segment(float(seg[0]), float(seg[1]))
        else:
            spk, seg = t[0], Segment(float(t[1]), float(t[2]))
        out.append((str(spk), seg))
    out.sort(key=lambda x: (x[1].start, x[0]))
    return out


def measure_turn_taking(
    turns: Iterable[TurnLike],
    *,
    rates: Sequence[float | None] | None = None,
    duration_s: float | None = None,
    speakers: Sequence[str] | None = None,
    min_overlap_s: float = MIN_OVERLAP_S,
    backchannel_max_s: float = BACKCHANNEL_MAX_S,
    silence_min_s: float = SILENCE_MIN_S,
    hold_min_s: float = HOLD_MIN_S,
) -> TurnTaking:
    """Turn-taking facts of a call (see the module docstring for each definition).

    turns: (speaker, start, end) or (speaker, Segment); rates: syllables per second per turn, in
    the order given (None where unknown); duration_s: the call's length (default: last turn end);
    speakers: ids to report even if silent (default: those with turns).
    """
    raw = list(turns)
    rate_of: dict[tuple[str, float, float], float] = {}
    if rates is not None:
        for (spk, (a, b)), rate in zip(_pairs(raw), rates):
            if rate is not None and np.isfinite(rate):
                rate_of[(str(spk), float(a), float(b))] = float(rate)
    items = normalize_turns(raw)
    ids = list(speakers) if speakers else sorted({s for s, _ in items})
    duration = duration_s if duration_s is not None else max((g.end for _, g in items), default=0.0)

    backchannel = [_is_backchannel(i, items, backchannel_max_s) for i in range(len(items))]
    cut_ins = _cut_ins(items, backchannel, min_overlap_s)
    latencies = _latencies(items, backchannel)
    talk = {s: sum(g.duration for k, g in items if k == s) for s in ids}
    total = sum(talk.values())
    overtalk = {s: _overtalk(items, s) for s in ids}
    rate_by = {s: _mean_rate(items, s, rate_of) for s in ids}

    out: dict[str, SpeakerTurnTaking] = {}
    for s in ids:
        others = [r for o in ids if o != s and (r := rate_by[o]) is not None]
        other_rate = float(np.mean(others)) if others else None
        own_rate = rate_by[s]
        mismatch = None
        if own_rate is not None and other_rate:
            mismatch = abs(own_rate - other_rate) / other_rate
        lat = tuple(x for x in latencies if x[0] == s)
        out[s] = SpeakerTurnTaking(
            speaker=s,
            talk_time_s=talk[s],
            talk_share=talk[s] / total if total > 0 else 0.0,
            turns=sum(1 for i, (k, _) in enumerate(items) if k == s and not backchannel[i]),
            interruptions=tuple(c for c in cut_ins if c.by == s),
            interrupted=tuple(c for c in cut_ins if c.on == s),
            overtalk_s=overtalk[s],
            backchannels=tuple(g for i, (k, g) in enumerate(items) if k == s and backchannel[i]),
            response_latency_s=float(np.median([x[2] for x in lat])) if lat else None,
            latencies=tuple((x[1], x[2]) for x in lat),
            longest_monologue=_longest_monologue(items, backchannel, s),
            rate_syll_s=own_rate,
            rate_mismatch=mismatch,
        )
    gaps = _silences(items, duration, silence_min_s)
    return TurnTaking(
        speakers=out,
        silences=tuple(gaps),
        holds=tuple(g for g in gaps if g.duration >= hold_min_s),
        overlap_s=_union_length(_pairwise_overlaps(items)),
        duration_s=float(duration),
    )


# ---------------------------------------------------------------------------------------------
def _pairs(raw: list[TurnLike]) -> list[tuple[str, tuple[float, float]]]:
    out = []
    for t in raw:
        if len(t) == 2:
            seg = t[1]
            pair = (seg.start, seg.end) if isinstance(seg, Segment) else (seg[0], seg[1])
            out.append((t[0], pair))
        else:
            out.append((t[0], (t[1], t[2])))
    return out


def _holds_floor(items: Items, i: int, who: str, reach: float) -> bool:
    """Whether ``who`` talks within ``reach`` before turn i starts and after it ends."""
    seg = items[i][1]
    before = any(k == who and g.start < seg.start and g.end >= seg.start - reach for k, g in items)
    after = any(k == who and g.end > seg.end and g.start <= seg.end + reach for k, g in items)
    return before and after


def _is_backchannel(i: int, items: Items, max_s: float) -> bool:
    spk, seg = items[i]
    if seg.duration > max_s:
        return False
    others = {k for k, _ in items if k != spk}
    return any(_holds_floor(items, i, o, FLOOR_REACH_S) for o in others)


def _cut_ins(items: Items, backchannel: list[bool], min_overlap_s: float) -> list[Interruption]:
    found = []
    for j, (by, b) in enumerate(items):
        if backchannel[j]:
            continue
        # The turn under way when b starts, by someone else, that b overlaps enough.
        victims = [
            (on, a)
            for i, (on, a) in enumerate(items)
            if on != by and not backchannel[i] and a.start < b.start < a.end
        ]
        for on, a in victims:
            inter = a.intersection(b)
            if inter is None or inter.duration < min_overlap_s:
                continue
            stopped = bool(a.end <= b.start + CUT_OFF_S and a.end < b.end)
            found.append(Interruption(by, on, inter, stopped))
            break
    return found


def _latencies(items: Items, backchannel: list[bool]) -> list[tuple[str, Segment, float]]:
    """(speaker, gap, seconds) for each turn that takes the floor after another's turn ended."""
    out = []
    floor = [(k, g) for i, (k, g) in enumerate(items) if not backchannel[i]]
    for n, (spk, seg) in enumerate(floor):
        if n == 0:
            continue
        prev = [(k, g) for k, g in floor[:n]]
        last_other = max((g.end for k, g in prev if k != spk), default=None)
        last_own = max((g.end for k, g in prev if k == spk), default=-np.inf)
        if last_other is None or last_other > seg.start or last_own > last_other:
            continue  # an overlap start (cut-in), or the speaker already had the floor
        out.append((spk, Segment(last_other, seg.start), seg.start - last_other))
    return out


def _overtalk(items: Items, spk: str) -> float:
    mine = [g for k, g in items if k == spk]
    theirs = [g for k, g in items if k != spk]
    spans = [i for a in mine for b in theirs if (i := a.intersection(b)) is not None]
    return _union_length(spans)


def _pairwise_overlaps(items: Items) -> list[Segment]:
    out = []
    for i, (ka, a) in enumerate(items):
        for kb, b in items[i + 1 :]:
            if b.start >= a.end:
                break
            if ka != kb and (inter := a.intersection(b)) is not None:
                out.append(inter)
    return out


def _union_length(spans: list[Segment]) -> float:
    total, end = 0.0, -np.inf
    for s in sorted(spans):
        if s.end <= end:
            continue
        total += s.end - max(s.start, end)
        end = s.end
    return total


def _mean_rate(
    items: Items, spk: str, rate_of: dict[tuple[str, float, float], float]
) -> float | None:
    pairs = [
        (rate_of[(k, g.start, g.end)], g.duration)
        for k, g in items
        if k == spk and (k, g.start, g.end) in rate_of
    ]
    if not pairs:
        return None
    r, w = np.array(pairs).T
    return float(np.average(r, weights=w)) if w.sum() > 0 else float(r.mean())


def _longest_monologue(items: Items, backchannel: list[bool], spk: str) -> Segment | None:
    """Own turns joined across short pauses in which nobody else takes the floor."""
    best: Segment | None = None
    run: Segment | None = None
    for i, (k, g) in enumerate(items):
        if backchannel[i]:
            continue
        if k != spk:
            if run is not None and g.start >= run.end - 1e-9:
                best = run if best is None or run.duration > best.duration else best
                run = None
            continue
        if run is not None and g.start - run.end < MONOLOGUE_GAP_S:
            run = Segment(run.start, max(run.end, g.end))
        else:
            if run is not None:
                best = run if best is None or run.duration > best.duration else best
            run = g
    if run is not None:
        best = run if best is None or run.duration > best.duration else best
    return best


def _silences(items: Items, duration: float, min_s: float) -> list[Segment]:
    gaps, t = [], 0.0
    for _, g in sorted(items, key=lambda x: x[1].start):
        if g.start - t >= min_s:
            gaps.append(Segment(t, g.start))
        t = max(t, g.end)
    if duration - t >= min_s:
        gaps.append(Segment(t, duration))
    return gaps
