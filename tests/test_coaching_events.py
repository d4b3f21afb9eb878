"""The engine's emitted escalation events come from the coaching dynamics, and every scorecard
metric points at the moments it judged."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from test_coaching import call, reading

from analyzer.coaching import dynamics, score_call
from analyzer.config import AnalysisConfig
from analyzer.events import shift_events
from analyzer.pipeline import Analyzer
from analyzer.result import EmotionSegment
from analyzer.segment import Segment


def turns_of(moods: list[tuple[str, str]], *, turn_s: float = 3.0) -> list[dict]:
    """Alternating turns (speaker, emotion) with 0.5 s gaps."""
    out, t = [], 0.0
    for speaker, mood in moods:
        out.append(reading(speaker, t, t + turn_s, mood))
        t += turn_s + 0.5
    return out


def test_escalation_event_is_a_sustained_rise_and_names_the_change():
    segs = turns_of([("customer", m) for m in ["neutral"] * 4 + ["angry"] * 4])
    events = shift_events(segs, "customer")
    assert [e.kind for e in events] == ["escalation"]
    e = events[0]
    assert e.code == "escalation" and e.speaker == "customer"
    assert "neutral → angry" in e.description
    assert e.params["emotion_before"] == "neutral" and e.params["emotion_after"] == "angry"
    assert e.params["arousal_change"] > 0
    assert 13.0 <= e.start <= 14.5  # the first angry turn


def test_no_escalation_event_for_calm_blips_same_emotion_or_falling_arousal():
    calm = turns_of([("agent", m) for m in ["neutral", "happy"] * 5])
    assert shift_events(calm, "agent") == []
    blip = turns_of([("agent", m) for m in ["neutral"] * 4 + ["angry"] + ["neutral"] * 4])
    assert [e.kind for e in shift_events(blip, "agent")] == []
    fearful = turns_of([("c", "fearful")] * 8)
    assert shift_events(fearful, "c") == []  # "fearful -> fearful" is no event
    falling = turns_of([("c", m) for m in ["angry"] * 4 + ["sad"] * 4])
    assert all(e.kind != "escalation" for e in shift_events(falling, "c"))


def test_engine_emits_the_dynamics_shifts_only():
    """Analyzer._events over a made-up call: the calm agent gets no escalation event, the
    customer gets the escalation and the calming down, as the dynamics module finds them."""
    turns, segs = call("calm", seed=3)
    pairs = [(s, Segment(a, b)) for s, a, b in turns]
    attr = SimpleNamespace(
        turns=SimpleNamespace(turns=pairs, overlaps=[]), split=True, ids=["agent", "customer"]
    )
    objs = [
        EmotionSegment("turn", Segment(r["start"], r["end"]), r["speaker"], r["emotion"],
                       r["probs"], r["arousal"], r["valence"], 0.8)
        for r in segs
    ]  # fmt: skip
    cfg = AnalysisConfig()
    words = SimpleNamespace(complaints=[], transcript=())  # a call without words
    events = Analyzer._events(None, attr, objs, words, turns[-1][2], cfg)  # type: ignore[arg-type]
    shifts = [(e.kind, e.speaker) for e in events if e.kind in ("escalation", "de-escalation")]
    assert shifts == [("escalation", "customer"), ("de-escalation", "customer")]
    found = dynamics.detect_shifts(dynamics.readings_of(segs, "customer"), "customer")
    assert [e.start for e in events if e.speaker == "customer" and "escalation" in e.kind] == [
        s.segment.start for s in found
    ]


def test_config_defaults_are_the_dynamics_rules():
    cfg = AnalysisConfig()
    assert cfg.min_shift_s == dynamics.SUSTAIN_S and cfg.shift_threshold == dynamics.RISE


def covered(evidence: list, spans: list[tuple[float, float]]) -> bool:
    return all(any(a <= s < b or a < e <= b for s, e in evidence) for a, b in spans)


def test_composure_and_empathy_evidence_are_the_agent_turns_facing_the_upset_customer():
    turns, segs = call("calm", seed=1)
    card = score_call(turns, segs, {"agent": "agent", "customer": "customer"}).to_dict()
    agent = card["agent"]
    angry = [(r["start"], r["end"]) for r in segs if r["speaker"] == "customer"
             and r["emotion"] == "angry"]  # fmt: skip
    facing = [(round(r["start"], 3), round(r["end"], 3)) for r in segs if r["speaker"] == "agent"
              and any(r["start"] < b + 5.0 and r["end"] > a for a, b in angry)]  # fmt: skip
    assert facing  # the calm agent replied while the customer was angry
    for metric in ("composure", "empathy"):
        ev = [tuple(x) for x in agent[metric]["evidence"]]
        assert sorted(ev) == sorted(facing), (metric, ev, facing)
    # A mirroring agent's angry turns lead the composure evidence.
    turns, segs = call("mirroring", seed=1)
    card = score_call(turns, segs, {"agent": "agent", "customer": "customer"}).to_dict()
    first = card["agent"]["composure"]["evidence"][0]
    lead = [r for r in segs if r["speaker"] == "agent" and abs(r["start"] - first[0]) < 1e-3]
    assert lead and lead[0]["emotion"] == "angry"


def test_pace_listening_and_mismatch_point_at_moments():
    turns, segs = call("calm", seed=2)
    rates = list(np.linspace(3.0, 5.0, len(turns)))
    card = score_call(
        turns, segs, {"agent": "agent", "customer": "customer"}, rates=rates
    ).to_dict()
    agent = card["agent"]
    agent_turns = sorted(
        ((round(a, 3), round(b, 3)) for s, a, b in turns if s == "agent"), key=lambda x: x[0] - x[1]
    )
    assert [tuple(x) for x in agent["pace"]["evidence"]] == agent_turns[:3]
    assert len(agent["pace_mismatch"]["evidence"]) == 4
    for row in agent.values():
        if row["value"] is not None and row["explanation"]["code"] in (
            "composure",
            "empathy",
            "pace",
            "pace_mismatch",
            "talk_share",
            "customer_recovery",
        ):
            assert row["evidence"], row


def test_an_escalation_starts_where_the_new_level_begins():
    """A short calm turn, then a long wait, then sustained anger: the sustained span after the
    calm turn is mostly angry, but the event starts with the first angry turn (where a reviewer
    must land to hear it), not with the calm turn before it."""
    segments = [
        reading("customer", 4.8, 7.6, "neutral"),
        reading("customer", 7.9, 9.2, "neutral"),
        reading("customer", 23.2, 26.7, "angry"),
        reading("customer", 30.8, 34.4, "angry"),
        reading("customer", 36.5, 43.4, "angry"),
    ]
    [event] = shift_events(segments, "customer")
    assert event.kind == "escalation"
    assert (event.start, event.end) == (23.2, 43.4)
