"""Coaching: roles, turn-taking facts, emotion dynamics and the scorecard on made-up calls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from analyzer.coaching import (
    METRICS,
    detect_shifts,
    guess_roles,
    load_definition,
    measure_turn_taking,
    outcome,
    readings_of,
    score_call,
)
from analyzer.labels import LABELS, derive_valence_arousal


def reading(speaker: str, start: float, end: float, emotion: str, *, sure: float = 0.8) -> dict:
    """A fused turn as the result stores it: ``sure`` of the mass on ``emotion``, rest spread."""
    probs = np.full(len(LABELS), (1 - sure) / (len(LABELS) - 1))
    probs[LABELS.index(emotion)] = sure
    valence, arousal = derive_valence_arousal(probs)
    return {
        "kind": "turn",
        "speaker": speaker,
        "start": start,
        "end": end,
        "emotion": emotion,
        "arousal": float(arousal),
        "valence": float(valence),
        "probs": dict(zip(LABELS, probs.tolist())),
    }


def call(agent_mood: str, *, seed: int = 0) -> tuple[list, list]:
    """A 60 s call: the customer starts calm, turns angry for four turns, calms down again.
    ``agent_mood``: "calm" (every agent turn neutral) or "mirroring" (angry while the customer
    is). Turns alternate with 0.5 s gaps; both calls share the customer's turns."""
    rng = np.random.default_rng(seed)
    cust_moods = ["neutral", "neutral", "angry", "angry", "angry", "angry", "neutral", "neutral"]
    turns, segs, t = [], [], 0.0
    for k, mood in enumerate(cust_moods):
        a_len = float(rng.uniform(2.5, 4.0))
        a_mood = "neutral"
        if agent_mood == "mirroring" and k >= 2 and cust_moods[k - 1] == "angry":
            a_mood = "angry"
        turns.append(("agent", t, t + a_len))
        segs.append(reading("agent", t, t + a_len, a_mood))
        t += a_len + 0.5
        c_len = float(rng.uniform(3.0, 4.5))
        turns.append(("customer", t, t + c_len))
        segs.append(reading("customer", t, t + c_len, mood))
        t += c_len + 0.5
    return turns, segs


# ---- roles ----------------------------------------------------------------------------------
def test_roles_right_when_the_customer_says_hello_first():
    turns = [
        ("ch0", 0.2, 0.8),  # "hello?"
        ("ch1", 1.3, 5.0),  # "thank you for calling ..., how can I help you?"
        ("ch0", 5.5, 11.0),
        ("ch1", 11.4, 14.0),
    ]
    guess = guess_roles(turns)
    assert guess.agent == "ch1"
    assert guess.roles == {"ch0": "customer", "ch1": "agent"}
    assert 0.7 < guess.confidence < 1.0
    assert "caller_opened" in {c["code"] for c in guess.cues}


def test_roles_right_when_the_agent_greets_first():
    turns = [("ch1", 0.3, 3.8), ("ch0", 4.2, 11.0), ("ch1", 11.5, 14.0), ("ch0", 14.5, 16.0)]
    guess = guess_roles(turns)
    assert guess.agent == "ch1" and guess.confidence > 0.7


def test_greeting_words_decide_when_timing_cannot():
    turns = [("a", 0.0, 1.0), ("b", 1.5, 2.5), ("a", 3.0, 4.0), ("b", 4.5, 5.5)]
    en = [
        {"start": 0.0, "end": 1.0, "speaker": "a", "text": "Hi, is this the bank?"},
        {"start": 1.5, "end": 2.5, "speaker": "b", "text": "Customer service, how can I help?"},
    ]
    assert guess_roles(turns, transcript=en).agent == "b"
    zh = [
        {"start": 0.0, "end": 1.0, "speaker": "a", "text": "喂？"},
        {"start": 1.5, "end": 2.5, "speaker": "b", "text": "您好，请问有什么可以帮您？"},
    ]
    guess = guess_roles(turns, transcript=zh)
    assert guess.agent == "b" and guess.confidence > 0.9


def test_role_override_always_wins():
    turns = [("ch1", 0.3, 3.8), ("ch0", 4.2, 11.0)]
    guess = guess_roles(turns, override={"ch0": "agent", "ch1": "customer"})
    assert guess.agent == "ch0" and guess.confidence == 1.0


# ---- turn-taking ----------------------------------------------------------------------------
def test_interruptions_counted_with_who_and_whether_the_other_stopped():
    turns = [
        ("customer", 0.0, 5.0),
        ("agent", 4.0, 8.0),  # cut-in, the customer stops at 5.0: stopped
        ("customer", 9.0, 15.0),
        ("agent", 11.0, 11.5),  # "mm-hm" under the customer: a backchannel, no cut-in
        ("agent", 13.5, 16.0),  # cut-in, the customer stops at 15.0
        ("customer", 17.0, 25.0),
        ("agent", 19.0, 21.0),  # tries to cut in, the customer talks on: not stopped
        ("customer", 26.0, 28.0),
        ("agent", 27.9, 30.0),  # 0.1 s overlap at the hand-over: no cut-in
    ]
    tt = measure_turn_taking(turns, duration_s=30.0)
    agent = tt.speakers["agent"]
    assert len(agent.interruptions) == 3
    assert [i.stopped for i in agent.interruptions] == [True, True, False]
    assert all(i.on == "customer" for i in agent.interruptions)
    assert agent.interruptions[0].span.start == 4.0 and agent.interruptions[0].span.end == 5.0
    assert len(agent.backchannels) == 1 and agent.backchannels[0].start == 11.0
    assert len(tt.speakers["customer"].interruptions) == 0
    assert len(tt.speakers["customer"].interrupted) == 3


def test_turn_taking_facts_add_up():
    turns = [("a", 0.0, 4.0), ("b", 5.0, 6.0), ("b", 6.5, 9.0), ("a", 10.5, 12.0), ("b", 25, 26)]
    rates = [4.0, 5.0, 5.0, 4.0, 6.0]
    tt = measure_turn_taking(turns, rates=rates, duration_s=30.0)
    a, b = tt.speakers["a"], tt.speakers["b"]
    assert a.talk_time_s == pytest.approx(5.5) and b.talk_time_s == pytest.approx(4.5)
    assert a.talk_share == pytest.approx(5.5 / 10.0)
    assert b.response_latency_s == pytest.approx(7.0)  # replies after 1.0 s and 13.0 s
    assert [round(x[1], 3) for x in b.latencies] == [1.0, 13.0]
    assert a.response_latency_s == pytest.approx(1.5)
    assert b.longest_monologue == (b.longest_monologue.__class__(5.0, 9.0))
    assert [(s.start, s.end) for s in tt.holds] == [(12.0, 25.0)]
    assert [(s.start, s.end) for s in tt.silences] == [(12.0, 25.0), (26.0, 30.0)]
    assert a.rate_syll_s == pytest.approx(4.0)
    assert a.rate_mismatch == pytest.approx(abs(4.0 - b.rate_syll_s) / b.rate_syll_s)


# ---- dynamics -------------------------------------------------------------------------------
def test_customer_escalation_names_the_real_change():
    _, segs = call("calm")
    shifts = detect_shifts(readings_of(segs, "customer"), "customer")
    kinds = [s.kind for s in shifts]
    assert kinds == ["escalation", "de-escalation"]
    esc = shifts[0]
    assert (esc.emotion_before, esc.emotion_after) == ("neutral", "angry")
    assert esc.arousal_after - esc.arousal_before > 0.4
    assert "neutral → angry, arousal +0." in esc.description


def test_no_escalation_for_an_agent_whose_turns_are_all_neutral():
    for seed in range(5):
        _, segs = call("calm", seed=seed)
        # Even when neutral turns wobble in arousal, nothing is an escalation.
        rng = np.random.default_rng(seed)
        for s in segs:
            if s["speaker"] == "agent":
                s["arousal"] += float(rng.uniform(-0.3, 0.3))
        assert detect_shifts(readings_of(segs, "agent"), "agent") == []


def test_falling_arousal_or_same_label_is_not_an_escalation():
    segs = [reading("c", 4.0 * k, 4.0 * k + 3.5, "fearful", sure=0.5) for k in range(4)]
    segs += [reading("c", 16.0 + 4.0 * k, 19.5 + 4.0 * k, "fearful", sure=1.0) for k in range(4)]
    assert detect_shifts(readings_of(segs, "c"), "c") == []  # fearful -> fearful
    segs = [reading("c", 4.0 * k, 4.0 * k + 3.5, "neutral") for k in range(4)]
    segs += [reading("c", 16.0 + 4.0 * k, 19.5 + 4.0 * k, "sad") for k in range(4)]
    assert detect_shifts(readings_of(segs, "c"), "c") == []  # arousal falls


def test_customer_outcomes():
    _, segs = call("calm")
    oc = outcome(readings_of(segs, "customer"))
    assert oc.value == "recovered" and oc.time_to_recovery_s is not None
    assert oc.time_to_recovery_s < 10.0
    angry_end = [reading("c", 4.0 * k, 4.0 * k + 3.5, "angry") for k in range(6)]
    assert outcome(readings_of(angry_end, "c")).value == "not_recovered"
    worse = [reading("c", 4.0 * k, 4.0 * k + 3.5, "neutral") for k in range(4)]
    worse += [reading("c", 16.0 + 4.0 * k, 19.5 + 4.0 * k, "angry") for k in range(3)]
    assert outcome(readings_of(worse, "c")).value == "worsened"
    calm = [reading("c", 4.0 * k, 4.0 * k + 3.5, "neutral") for k in range(6)]
    assert outcome(readings_of(calm, "c")).value is None


# ---- scorecard ------------------------------------------------------------------------------
def test_composure_ranks_the_calm_agent_above_the_mirroring_one():
    roles = {"agent": "agent", "customer": "customer"}
    for seed in range(3):
        turns, calm = call("calm", seed=seed)
        _, mirroring = call("mirroring", seed=seed)
        c = score_call(turns, calm, roles).value("agent", "composure")
        m = score_call(turns, mirroring, roles).value("agent", "composure")
        assert c > 0.8 and m < 0.3, (c, m)
    card = score_call(turns, mirroring, roles)
    worst = card.speakers["agent"]["composure"].evidence
    angry = [(s["start"], s["end"]) for s in mirroring if s["speaker"] == "agent"]
    angry = [se for se, s in zip(angry, [s for s in mirroring if s["speaker"] == "agent"])
             if s["emotion"] == "angry"]  # fmt: skip
    assert {(e.start, e.end) for e in worst} == set(angry)


def test_scorecard_json_follows_the_contract():
    turns, segs = call("calm")
    transcript = [
        {"start": turns[5][1], "end": turns[5][2], "speaker": "agent",
         "text": "I'm so sorry, I understand how frustrating this is."},
    ]  # fmt: skip
    card = score_call(
        turns, segs, {"agent": "agent", "customer": "customer"}, transcript=transcript
    )
    data = json.loads(json.dumps(card.to_dict()))
    assert set(data) == {"agent", "customer"}
    assert list(data["agent"]) == [m for m in METRICS if m != "customer_recovery"]
    assert list(data["customer"]) == list(METRICS)
    for metrics in data.values():
        for m in metrics.values():
            assert set(m) == {"value", "unit", "explanation", "evidence"}
            assert set(m["explanation"]) == {"code", "params", "text"}
            assert isinstance(m["explanation"]["text"], str) and m["explanation"]["text"]
            assert m["value"] is None or isinstance(m["value"], (int, float, str))
            assert all(len(e) == 2 and e[0] <= e[1] for e in m["evidence"])
    agent = data["agent"]
    assert agent["interruptions"]["value"] == 0 and agent["interruptions"]["unit"] == "count"
    assert 0 < agent["talk_share"]["value"] < 1
    assert agent["empathy"]["explanation"]["params"]["phrases"]
    assert agent["pace"]["value"] is None  # no rates given: not measured, and said so
    assert agent["pace"]["explanation"]["code"] == "pace_not_measured"
    assert data["customer"]["customer_recovery"]["value"] == "recovered"


def test_scorecard_definition_can_be_edited(tmp_path):
    path = tmp_path / "team.toml"
    path.write_text('metrics = ["interruptions", "composure"]\n[composure]\nscale = 2.0\n')
    d = load_definition(path)
    assert d["composure"]["scale"] == 2.0 and d["composure"]["relative_weight"] == 0.6
    turns, segs = call("mirroring")
    card = score_call(turns, segs, {"agent": "agent", "customer": "customer"}, definition=d)
    assert list(card.speakers["agent"]) == ["interruptions", "composure"]
    assert card.value("agent", "composure") > 0.5  # a lenient team scale
    path.write_text('metrics = ["charm"]\n')
    with pytest.raises(ValueError, match="charm"):
        load_definition(path)


def _mono_attribution(turns):
    from analyzer.attribution import SpeakerAttribution
    from analyzer.audio.turns import Turns
    from analyzer.result import Speaker
    from analyzer.segment import Segment

    items = sorted(((s, Segment(a, b)) for s, a, b in turns), key=lambda t: t[1].start)
    ids = sorted({s for s, _, _ in turns})
    speakers = [Speaker(s, None, None, source="diarization") for s in ids]
    return SpeakerAttribution(
        Turns(items, []), speakers, np.zeros((1, 10), np.float32), {s: 0 for s in ids}, False
    )


def test_roles_of_a_diarized_call_guessed_given_and_left_alone():
    from dataclasses import replace

    from analyzer.attribution import diarized_roles
    from analyzer.config import AnalysisConfig

    # S2 says a short "hello?" and S1 answers with the greeting: S1 is the agent
    attr = _mono_attribution(
        [("S2", 0.5, 1.1), ("S1", 1.6, 5.8), ("S2", 6.3, 12.0), ("S1", 12.5, 16.0)]
    )
    guessed = diarized_roles(attr, AnalysisConfig())
    roles = {s.id: (s.role, s.role_confidence) for s in guessed.speakers}
    assert roles["S1"][0] == "agent" and roles["S2"][0] == "customer"
    assert 0.5 < roles["S1"][1] == roles["S2"][1] < 1
    note = guessed.notes[-1]
    assert note.code == "agent_speaker_guessed" and note.params["speaker"] == "S1"
    # the words outvote the opening's shape: S2 greets like an agent, S1 talks like a caller
    lines = [
        {"start": 0.5, "end": 1.1, "speaker": "S2", "text": "thank you for calling"},
        {"start": 1.6, "end": 5.8, "speaker": "S1", "text": "hi, I'm calling about my bill"},
    ]
    worded = diarized_roles(attr, AnalysisConfig(), lines)
    assert worded.speakers[1].role == "agent"
    # the note quotes why S2 won (its words), not the opening cues that favoured S1
    assert "greets like an agent" in worded.notes[-1].params["cues"]
    assert "first substantial turn" not in worded.notes[-1].params["cues"]
    # given names go to the voices in the order they are first heard (S2 first)
    given = diarized_roles(attr, AnalysisConfig(channels=("customer", "agent", "boss")))
    assert [(s.id, s.role, s.role_confidence) for s in given.speakers] == [
        ("S1", "agent", 1.0),
        ("S2", "customer", 1.0),
    ]
    assert [n.code for n in given.notes] == ["roles_by_first_speech", "roles_ignored"]
    # one voice, guessing off, or a channel-split call: no role invented
    alone = _mono_attribution([("S1", 0.0, 3.0)])
    assert diarized_roles(alone, AnalysisConfig()).speakers[0].role is None
    assert diarized_roles(attr, AnalysisConfig(detect_agent=False)) is attr
    assert diarized_roles(replace(attr, split=True), AnalysisConfig()).split
