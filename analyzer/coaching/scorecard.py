"""The coaching scorecard: per speaker, every metric with its value, a plain explanation and the
time ranges that show it.

Contract (shared/CONTRACTS.md): ``{speaker id: {metric: {"value": number | string | null,
"unit": str, "explanation": {"code", "params", "text"}, "evidence": [[start, end], ...]}}}``
for every speaker. The metrics and their weights and thresholds come from a definition
(``scorecard.toml`` beside this module, documented there; a team may edit a copy).

Inputs are the engine's outputs only: turns, the fused per-turn readings (``segments`` as in the
result: kind, speaker, start, end, emotion, arousal, valence, probs), roles, and optionally the
transcript and per-turn speaking rates. Nothing here reads audio or imports the app.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..segment import Segment
from .dynamics import TENSE_LABELS, Reading, outcome, readings_of
from .turntaking import SpeakerTurnTaking, TurnTaking, measure_turn_taking, normalize_turns

DEFINITION_PATH = Path(__file__).with_name("scorecard.toml")
METRICS = (
    "interruptions", "talk_share", "composure", "empathy", "listening", "pace",
    "pace_mismatch", "response_latency_s", "backchannels", "customer_recovery",
)  # fmt: skip


@dataclass(frozen=True)
class Metric:
    """One scored metric of one speaker."""

    value: float | int | str | None
    unit: str
    code: str  # stable identifier of the explanation, for translation
    params: dict[str, Any]  # the numbers and names in the explanation
    text: str  # the English explanation
    evidence: tuple[Segment, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        value = self.value
        if isinstance(value, float):
            value = round(value, 4)
        return {
            "value": value,
            "unit": self.unit,
            "explanation": {"code": self.code, "params": _json(self.params), "text": self.text},
            "evidence": [[round(s.start, 3), round(s.end, 3)] for s in self.evidence],
        }


@dataclass(frozen=True)
class Scorecard:
    """Metrics per speaker, plus the turn-taking facts they were computed from."""

    speakers: dict[str, dict[str, Metric]]
    turn_taking: TurnTaking
    roles: dict[str, str | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {s: {k: m.to_dict() for k, m in ms.items()} for s, ms in self.speakers.items()}

    def value(self, speaker: str, metric: str) -> float | int | str | None:
        return self.speakers[speaker][metric].value


def load_definition(path: str | Path | None = None) -> dict[str, Any]:
    """The scorecard definition: the defaults of ``scorecard.toml`` updated by ``path``'s."""
    with open(DEFINITION_PATH, "rb") as fh:
        base = tomllib.load(fh)
    if path is None:
        return base
    with open(path, "rb") as fh:
        mine = tomllib.load(fh)
    unknown = [m for m in mine.get("metrics", []) if m not in METRICS]
    if unknown:
        raise ValueError(f"{path}: unknown scorecard metrics {unknown}; known: {list(METRICS)}")
    out = copy.deepcopy(base)
    for key, val in mine.items():
        if isinstance(val, dict) and isinstance(out.get(key), dict):
            out[key].update(val)
        else:
            out[key] = val
    return out


def score_call(
    turns: Iterable[tuple[Any, ...]],
    segments: Iterable[Any],
    roles: dict[str, str | None],
    *,
    transcript: Sequence[dict[str, Any]] | None = None,
    rates: Sequence[float | None] | None = None,
    duration_s: float | None = None,
    definition: dict[str, Any] | None = None,
) -> Scorecard:
    """Score every speaker of a call.

    turns: (speaker, start, end) or (speaker, Segment); segments: result segments (objects or
    dicts; "turn" readings are used, windows when a speaker has no turns); roles: speaker id ->
    "agent" | "customer" | None; transcript: lines {"start", "end", "speaker", "text"};
    rates: syllables per second per turn in the order of ``turns`` (default: read from the turn
    segments' prosody when present); definition: ``load_definition()`` by default.
    """
    d = definition or load_definition()
    turn_list = normalize_turns(turns)
    segs = list(segments)
    ids = sorted({s for s, _ in turn_list} | set(roles))
    if rates is None:
        rates = _rates_from_segments(segs, turn_list)
    tt = measure_turn_taking(turn_list, rates=rates, duration_s=duration_s, speakers=ids)
    readings = {s: readings_of(segs, s) for s in ids}
    out: dict[str, dict[str, Metric]] = {}
    for spk in ids:
        others = [o for o in ids if o != spk]
        other = max(others, key=lambda o: tt.speakers[o].talk_time_s) if others else None
        ctx = _Context(spk, other, tt, readings, transcript or [], d)
        metrics: dict[str, Metric] = {}
        for name in d.get("metrics", METRICS):
            if name == "customer_recovery" and roles.get(spk) != "customer":
                continue
            metrics[name] = _SCORERS[name](ctx)
        out[spk] = metrics
    return Scorecard(out, tt, dict(roles))


# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Context:
    speaker: str
    other: str | None
    tt: TurnTaking
    readings: dict[str, list[Reading]]
    transcript: Sequence[dict[str, Any]]
    d: dict[str, Any]

    @property
    def me(self) -> SpeakerTurnTaking:
        return self.tt.speakers[self.speaker]

    def facing(self) -> tuple[list[Segment], list[Reading]]:
        """The other's upset stretches (each extended by react_s) and the speaker's readings that
        overlap them."""
        if self.other is None:
            return [], []
        up = self.d["upset"]
        spans = [
            Segment(r.segment.start, r.segment.end + up["react_s"])
            for r in self.readings[self.other]
            if r.tension >= up["tension"]
        ]
        spans = _merge(spans)
        mine = [r for r in self.readings[self.speaker] if any(r.segment.overlaps(s) for s in spans)]
        return spans, mine

    def baseline(self, facing: list[Reading]) -> list[Reading]:
        """The speaker's own readings away from the upset side (their calm reference); the
        first reading when every reading faces it."""
        rest = [r for r in self.readings[self.speaker] if r not in facing]
        if rest:
            return rest
        return self.readings[self.speaker][:1]


def _interruptions(c: _Context) -> Metric:
    cuts = c.me.interruptions
    stopped = sum(1 for x in cuts if x.stopped)
    on = sorted({x.on for x in cuts})
    text = f"{c.speaker} cut in {len(cuts)} times"
    if cuts:
        text += f" on {', '.join(on)} ({stopped} made the other stop)"
    return Metric(
        len(cuts), "count", "interruptions",
        {"speaker": c.speaker, "count": len(cuts), "other_stopped": stopped, "on": on},
        text, tuple(x.span for x in cuts),
    )  # fmt: skip


def _talk_share(c: _Context) -> Metric:
    me = c.me
    text = f"{c.speaker} spoke {me.talk_share:.0%} of the call's speech ({me.talk_time_s:.0f} s)"
    ev = (me.longest_monologue,) if me.longest_monologue else ()
    return Metric(
        me.talk_share, "share", "talk_share",
        {"speaker": c.speaker, "talk_time_s": round(me.talk_time_s, 3),
         "longest_monologue_s": round(me.longest_monologue_s, 3)},
        text, ev,
    )  # fmt: skip


def _composure(c: _Context) -> Metric:
    p = c.d["composure"]
    spans, facing = c.facing()
    if not facing:
        why = "was never upset" if not spans else "got no reply while upset"
        return Metric(
            None, "score", "composure_not_measured", {"speaker": c.speaker, "other": c.other},
            f"not measured: the other side ({c.other}) {why}",
        )  # fmt: skip
    calm = c.baseline(facing)
    base = _wmean([r.tension for r in calm], calm)
    devs = []
    for r in facing:
        rel = max(0.0, r.tension - base)
        tense = _tense_prob(r)
        devs.append(p["relative_weight"] * rel + p["absolute_weight"] * tense)
    deviation = _wmean(devs, facing)
    value = float(np.clip(1.0 - deviation / p["scale"], 0.0, 1.0))
    # Evidence: every turn of the speaker facing the upset side, the ones that lost calm
    # (deviation >= evidence_min) first and worst first, then the rest in time order.
    worst = sorted(zip(devs, facing), key=lambda x: -x[0])
    lost = [r for dv, r in worst if dv >= p["evidence_min"]]
    ev = tuple(r.segment for r in lost + [r for r in facing if r not in lost])
    emotions = sorted({r.emotion for r in facing if r.emotion})
    text = (
        f"{c.speaker} while {c.other} was upset: tension {base:+.2f} at baseline, "
        f"{_wmean([r.tension for r in facing], facing):+.2f} when facing it "
        f"({', '.join(emotions)})"
    )
    return Metric(
        value, "score", "composure",
        {"speaker": c.speaker, "other": c.other, "baseline_tension": round(base, 3),
         "facing_tension": round(_wmean([r.tension for r in facing], facing), 3),
         "deviation": round(deviation, 3), "turns": len(facing)},
        text, ev,
    )  # fmt: skip


def _empathy(c: _Context) -> Metric:
    p = c.d["empathy"]
    spans, facing = c.facing()
    parts: dict[str, float] = {}
    params: dict[str, Any] = {"speaker": c.speaker, "other": c.other}
    evidence: list[Segment] = []
    lines = [x for x in c.transcript if x.get("speaker") == c.speaker]
    if lines and spans:
        found = []
        for line in lines:
            seg = Segment(float(line["start"]), float(line["end"]))
            if any(seg.overlaps(s) for s in spans):
                hits = _empathy_phrases(line.get("text", ""))
                if hits:
                    found += hits
                    evidence.append(seg)
        parts["phrases"] = min(1.0, len(found) / p["phrases_full"])
        params["phrases"] = found
    if facing:
        # The replies to the upset side are what warmth and accommodation judge.
        evidence += [r.segment for r in facing if r.segment not in evidence]
        base = c.baseline(facing)
        dv = _wmean([r.valence for r in facing], facing) - _wmean([r.valence for r in base], base)
        parts["warmth"] = float(np.clip(1.0 + min(0.0, dv) / p["warmth_scale"], 0.0, 1.0))
        da = _wmean([r.arousal for r in facing], facing) - _wmean([r.arousal for r in base], base)
        parts["accommodation"] = float(
            np.clip(1.0 - max(0.0, da) / p["accommodation_scale"], 0.0, 1.0)
        )
        params["valence_change"] = round(dv, 3)
        params["arousal_change"] = round(da, 3)
    if not parts:
        return Metric(
            None, "score", "empathy_not_measured", params,
            f"not measured: {c.other} was never upset and there are no words",
        )  # fmt: skip
    weights = {k: p[f"{k}_weight"] for k in parts}
    value = sum(parts[k] * weights[k] for k in parts) / sum(weights.values())
    params["parts"] = {k: round(v, 3) for k, v in parts.items()}
    text = f"{c.speaker}'s replies to the upset side: " + ", ".join(
        f"{k} {v:.2f}" for k, v in parts.items()
    )
    return Metric(value, "score", "empathy", params, text, tuple(evidence))


def _listening(c: _Context) -> Metric:
    p = c.d["listening"]
    me = c.me
    other_min = (c.tt.speakers[c.other].talk_time_s / 60.0) if c.other else 0.0
    cuts = len(me.interruptions)
    parts: dict[str, float] = {}
    if other_min > 0:
        parts["interruptions"] = 1.0 - min(1.0, cuts / other_min / p["interruptions_per_min_full"])
        parts["backchannels"] = min(
            1.0, len(me.backchannels) / other_min / p["backchannels_per_min_full"]
        )
    cut_s = sum(x.span.duration for x in me.interruptions)
    if me.talk_time_s > 0:
        parts["overtalk"] = 1.0 - min(1.0, cut_s / me.talk_time_s / p["overtalk_share_full"])
    lat = me.response_latency_s
    if lat is not None:
        lo, hi = p["latency_ok_s"]
        if lat < lo:
            parts["latency"] = 0.5
        elif lat <= hi:
            parts["latency"] = 1.0
        else:
            parts["latency"] = float(np.clip(1 - (lat - hi) / (p["latency_bad_s"] - hi), 0, 1))
    if not parts:
        return Metric(None, "score", "listening_not_measured", {"speaker": c.speaker},
                      "not measured: the other side did not speak")  # fmt: skip
    weights = {k: p[f"{k}_weight"] for k in parts}
    value = sum(parts[k] * weights[k] for k in parts) / sum(weights.values())
    text = (
        f"{c.speaker}: {cuts} cut-ins, {cut_s:.1f} s talking over, {len(me.backchannels)} "
        "backchannels, median reply gap " + ("n/a" if lat is None else f"{lat:.1f} s")
    )
    return Metric(
        value, "score", "listening",
        {"speaker": c.speaker, "interruptions": cuts, "overtalk_s": round(cut_s, 3),
         "backchannels": len(me.backchannels),
         "response_latency_s": None if lat is None else round(lat, 3),
         "parts": {k: round(v, 3) for k, v in parts.items()}},
        text, _listening_evidence(c, p),
    )  # fmt: skip


def _listening_evidence(c: _Context, p: dict[str, Any]) -> tuple[Segment, ...]:
    """The moments listening is judged on: the speaker's cut-ins, then the replies slower than
    ``latency_ok_s`` allows (slowest first), then the backchannels."""
    slow = sorted((x for x in c.me.latencies if x[1] > p["latency_ok_s"][1]), key=lambda x: -x[1])
    return (
        tuple(x.span for x in c.me.interruptions)
        + tuple(g for g, _ in slow)
        + tuple(c.me.backchannels)
    )


def _longest_turns(c: _Context, speaker: str | None, k: int = 3) -> tuple[Segment, ...]:
    """The speaker's ``k`` longest turns (where a speech-weighted rate is mostly measured)."""
    if speaker is None:
        return ()
    turns = sorted(c.readings[speaker], key=lambda r: -r.segment.duration)[:k]
    return tuple(r.segment for r in turns)


def _pace(c: _Context) -> Metric:
    rate = c.me.rate_syll_s
    if rate is None:
        return Metric(None, "syll/s", "pace_not_measured", {"speaker": c.speaker},
                      "not measured: no speaking rate")  # fmt: skip
    return Metric(rate, "syll/s", "pace", {"speaker": c.speaker, "rate_syll_s": round(rate, 3)},
                  f"{c.speaker} speaks {rate:.1f} syllables per second",
                  _longest_turns(c, c.speaker))  # fmt: skip


def _pace_mismatch(c: _Context) -> Metric:
    mm = c.me.rate_mismatch
    if mm is None:
        return Metric(None, "ratio", "pace_mismatch_not_measured", {"speaker": c.speaker},
                      "not measured: no speaking rate on one side")  # fmt: skip
    other = c.tt.speakers[c.other].rate_syll_s if c.other else None
    return Metric(
        mm, "ratio", "pace_mismatch",
        {"speaker": c.speaker, "other": c.other, "mismatch": round(mm, 3),
         "rate_syll_s": round(c.me.rate_syll_s or 0.0, 3),
         "other_rate_syll_s": None if other is None else round(other, 3)},
        f"{c.speaker}'s pace differs from {c.other}'s by {mm:.0%}",
        _longest_turns(c, c.speaker, 2) + _longest_turns(c, c.other, 2),
    )  # fmt: skip


def _response_latency(c: _Context) -> Metric:
    lat = c.me.response_latency_s
    if lat is None:
        return Metric(None, "s", "response_latency_not_measured", {"speaker": c.speaker},
                      f"not measured: {c.speaker} never took the floor after a pause")  # fmt: skip
    longest = sorted(c.me.latencies, key=lambda x: -x[1])[:3]
    return Metric(
        lat, "s", "response_latency",
        {"speaker": c.speaker, "median_s": round(lat, 3), "replies": len(c.me.latencies),
         "longest_s": round(longest[0][1], 3)},
        f"{c.speaker} replies after a median {lat:.1f} s ({len(c.me.latencies)} replies)",
        tuple(g for g, _ in longest),
    )  # fmt: skip


def _backchannels(c: _Context) -> Metric:
    bc = c.me.backchannels
    return Metric(
        len(bc), "count", "backchannels", {"speaker": c.speaker, "count": len(bc)},
        f"{c.speaker} gave {len(bc)} short listening signals (\"mm-hm\") while the other talked",
        tuple(bc),
    )  # fmt: skip


def _customer_recovery(c: _Context) -> Metric:
    oc = outcome(c.readings[c.speaker])
    params = {
        "speaker": c.speaker,
        "start_tension": _r(oc.start_tension),
        "peak_tension": _r(oc.peak_tension),
        "end_tension": _r(oc.end_tension),
        "time_to_recovery_s": _r(oc.time_to_recovery_s),
    }
    ev = tuple(s for s in (oc.peak,) if s is not None)
    if oc.value is None:
        text = f"{c.speaker} was not upset in this call"
        code = "customer_not_upset"
    elif oc.value == "recovered":
        after = (
            f" {oc.time_to_recovery_s:.0f} s after the peak"
            if oc.time_to_recovery_s is not None
            else ""
        )
        text = f"{c.speaker} calmed down{after} (tension {oc.peak_tension:+.2f} → "
        text += f"{oc.end_tension:+.2f})"
        code = "customer_recovered"
        if oc.recovered_at is not None:
            ev += (Segment(oc.recovered_at, oc.recovered_at),)
    elif oc.value == "worsened":
        text = f"{c.speaker} ends the call more upset than they began "
        text += f"(tension {oc.start_tension:+.2f} → {oc.end_tension:+.2f})"
        code = "customer_worsened"
    else:
        text = f"{c.speaker} is still upset at the end (tension {oc.end_tension:+.2f})"
        code = "customer_not_recovered"
    return Metric(oc.value, "outcome", code, params, text, ev)


_SCORERS = {
    "interruptions": _interruptions,
    "talk_share": _talk_share,
    "composure": _composure,
    "empathy": _empathy,
    "listening": _listening,
    "pace": _pace,
    "pace_mismatch": _pace_mismatch,
    "response_latency_s": _response_latency,
    "backchannels": _backchannels,
    "customer_recovery": _customer_recovery,
}


# ---------------------------------------------------------------------------------------------
def _tense_prob(r: Reading) -> float:
    if r.probs:
        return float(sum(r.probs.get(k, 0.0) for k in TENSE_LABELS))
    return 1.0 if r.emotion in TENSE_LABELS else 0.0


def _wmean(values: Sequence[float], readings: Sequence[Reading]) -> float:
    w = np.array([r.segment.duration for r in readings], dtype=float)
    v = np.asarray(values, dtype=float)
    if len(v) == 0:
        return 0.0
    return float(np.average(v, weights=w)) if w.sum() > 0 else float(v.mean())


def _merge(spans: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for s in sorted(spans):
        if out and s.start <= out[-1].end:
            out[-1] = Segment(out[-1].start, max(out[-1].end, s.end))
        else:
            out.append(s)
    return out


def _empathy_phrases(text: str) -> list[str]:
    from ..words.cues import text_evidence

    return [m["phrase"] for m in text_evidence(text)["empathy"]]


def _rates_from_segments(segs: list[Any], turns: list[tuple[str, Segment]]) -> list[float | None]:
    """Per turn, the speaking rate that the prosody stage stored on the matching turn segment."""
    by_key = {}
    for s in segs:
        d = s if isinstance(s, dict) else None
        if d is None:
            if getattr(s, "kind", None) != "turn":
                continue
            key = (s.speaker, round(s.segment.start, 3), round(s.segment.end, 3))
            mods = s.modalities
        else:
            if d.get("kind") != "turn":
                continue
            key = (d["speaker"], round(d["start"], 3), round(d["end"], 3))
            mods = d.get("modalities") or {}
        rate = ((mods.get("prosody") or {}).get("features") or {}).get("rate_syll_s")
        if rate is not None:
            by_key[key] = float(rate)
    return [by_key.get((s, round(g.start, 3), round(g.end, 3))) for s, g in turns]


def _r(x: float | None) -> float | None:
    return None if x is None else round(float(x), 3)


def _json(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        return round(float(obj), 4)
    if isinstance(obj, np.integer):
        return int(obj)
    return obj
