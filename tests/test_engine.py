"""The engine end to end: the sample call, the JSON contract, the CLI, fusion and events."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import soundfile as sf
from conftest import SR, one_voice, speak

from analyzer import AnalysisConfig, AnalysisResult
from analyzer.cli import main as cli
from analyzer.events import detect_overtalk, shift_events
from analyzer.fusion import Evidence, fuse, smooth_series
from analyzer.labels import LABELS
from analyzer.result import EmotionSegment
from analyzer.segment import Segment


@pytest.fixture(scope="module")
def call_result(analyzer, sample_call):
    return analyzer.analyze(sample_call)


def test_sample_call_speakers_turns_and_silence(call_result, sample_call):
    truth = json.loads(sample_call.with_suffix(".truth.json").read_text())
    r = call_result
    assert {(s.id, s.role, s.channel) for s in r.speakers} == {
        ("agent", "agent", 0),
        ("customer", "customer", 1),
    }
    # Each true turn is covered by detected speech of the right speaker.
    for t in truth["turns"]:
        seg = Segment(t["start"], t["end"])
        mine = sum(seg.overlap(g) for s, g in r.turns if s == t["speaker"])
        assert mine > 0.7 * seg.duration, t
    # The long silence the script put in (the agent's hold) is reported as an event.
    [gap] = truth["silences_over_5s"]
    silences = [e for e in r.events if e.kind == "long_silence"]
    assert len(silences) == 1
    assert abs(silences[0].start - gap["start"]) < 0.5 and abs(silences[0].end - gap["end"]) < 0.5
    # The customer cuts in on the agent once in the script, and only there.
    [cut] = truth["interruptions"]
    cuts = [e for e in r.events if e.kind == "interruption"]
    assert [(e.speaker, e.other) for e in cuts] == [(cut["speaker"], cut["other"])]
    assert abs(cuts[0].start - cut["start"]) < 0.5


def test_sample_call_tells_its_story(call_result, sample_call):
    """The sample's customer escalates in the angry turns and calms down; the agent stays composed.

    The speech model was trained on these RAVDESS actors, so this guards the bundled demo (and
    the README's words about it), not the model's accuracy.
    """
    truth = json.loads(sample_call.with_suffix(".truth.json").read_text())
    r = call_result
    angry = [t for t in truth["turns"] if t["emotion"] == "angry"]
    assert angry and all(t["speaker"] == "customer" for t in angry)
    heard: dict[str, list] = {}  # the customer's detected turns by the emotion the script put there
    for s in r.segments_of("turn", "customer"):
        mid = (s.start + s.end) / 2
        [t] = [
            t
            for t in truth["turns"]
            if t["speaker"] == "customer" and t["start"] <= mid <= t["end"]
        ]
        heard.setdefault(t["emotion"], []).append(s)
    assert {s.emotion for s in heard["angry"]} == {"angry"}
    calm_again = [s for s in heard["neutral"] if s.start > angry[-1]["end"]]
    assert calm_again and all(s.emotion != "angry" and s.arousal < 0.3 for s in calm_again)
    assert "angry" not in {s.emotion for s in r.segments_of("turn", "agent")}
    # Events: the customer rises into the first angry turn and settles after the last one.
    [rise] = [e for e in r.events if e.kind == "escalation" and e.speaker == "customer"]
    assert rise.start < angry[0]["end"]
    [settle] = [e for e in r.events if e.kind == "de-escalation" and e.speaker == "customer"]
    # Shift events are read from turns (coaching.dynamics): the settling starts with the
    # customer's first turn after the last angry one.
    calm_turn = min(t["start"] for t in truth["turns"]
                    if t["speaker"] == "customer" and t["start"] > angry[-1]["end"])  # fmt: skip
    assert angry[-1]["start"] < settle.start < calm_turn + 0.5
    assert r.scorecard["customer"]["customer_recovery"]["value"] == "recovered"
    assert r.scorecard["agent"]["composure"]["value"] > 0.8


def test_sample_agent_is_not_said_to_escalate(call_result):
    # The old shift events scored arousal minus valence and called the agent's happy goodbye
    # (arousal +0.44, valence +0.11) an escalation; the coaching dynamics need a tense emotion.
    assert [e for e in call_result.events if e.kind == "escalation" and e.speaker == "agent"] == []


def test_grid_and_turn_segments(call_result, sample_call):
    truth = json.loads(sample_call.with_suffix(".truth.json").read_text())
    r = call_result
    for spk in ("agent", "customer"):
        windows = r.segments_of("window", spk)
        starts = np.array([w.start for w in windows])
        assert np.allclose(np.diff(starts), 0.5)  # hop <= 0.5 s by contract
        assert windows[-1].end >= r.media.duration_s - 0.5
        turns = r.segments_of("turn", spk)
        assert len(turns) >= 4
        for s in turns:
            # Every speech turn is heard by the voice model: seven scores, summing to one, and
            # the label is the highest of them.
            assert {"prosody", "voice"} <= set(s.modalities) and s.speech
            assert s.arousal is None or -1 <= s.arousal <= 1
            assert s.probs is not None and set(s.probs) == set(LABELS), s
            assert abs(sum(s.probs.values()) - 1) < 1e-3
            assert s.emotion in LABELS and s.emotion == max(s.probs, key=s.probs.get)
    # Windows where a speaker is silent carry no speech evidence.
    hold = truth["silences_over_5s"][0]  # nobody speaks during the hold
    silent = [
        w
        for w in r.segments_of("window", "agent")
        if hold["start"] + 0.5 <= w.start and w.end <= hold["end"] - 0.5
    ]
    assert silent and all(not w.speech and "voice" not in w.modalities for w in silent)


def test_result_round_trips_and_tables(call_result, tmp_path):
    r = call_result
    path = r.save_json(tmp_path / "r.json")
    # Written piece by piece, the file holds exactly the text to_json gives.
    assert path.read_bytes() == r.to_json(indent=1).encode("utf-8")
    back = AnalysisResult.from_json(path.read_text())
    assert back.to_dict() == r.to_dict()
    frame = r.to_dataframe()
    assert len(frame) == len(r.segments)
    assert {"start", "end", "speaker", "emotion", "arousal", "p_angry"} <= set(frame.columns)
    r.write_csv(tmp_path / "r.csv")
    r.write_parquet(tmp_path / "r.parquet")
    import pandas as pd

    assert len(pd.read_parquet(tmp_path / "r.parquet")) == len(r.segments)
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind


def test_a_failed_save_leaves_the_earlier_file_whole(call_result, tmp_path):
    path = call_result.save_json(tmp_path / "r.json")
    before = path.read_bytes()
    broken = dataclasses.replace(call_result, models={**call_result.models, "x": float("nan")})
    with pytest.raises(ValueError):
        broken.save_json(path)  # NaN is not JSON: the dump fails part-way through
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]  # no temporary file left


def test_cli_contract_and_errors(tmp_path, sample_call, capsys):
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF" + bytes(100))
    rc = cli(
        [
            "analyze",
            str(tmp_path / "missing.wav"),
            str(junk),
            str(sample_call),
            "--out",
            str(tmp_path / "out"),
            "--quiet",
            "--csv",
        ]
    )
    assert rc == 1  # some inputs failed...
    err = capsys.readouterr().err.strip().splitlines()
    assert any("missing.wav: file not found" in line for line in err)
    assert any("junk.wav" in line for line in err)
    data = json.loads((tmp_path / "out" / "sample_call.wav.json").read_text())  # ...others did not
    assert (tmp_path / "out" / "sample_call.wav.csv").is_file()
    assert {"schema_version", "media", "speakers", "segments", "events"} <= set(data)
    assert {"duration_s", "has_video", "channels", "sample_rate"} <= set(data["media"])
    assert data["media"]["channels"] == 2 and data["media"]["sample_rate"] == 8000
    for s in data["speakers"]:
        assert {"id", "role", "channel"} <= set(s)
    kinds = {s["kind"] for s in data["segments"]}
    assert kinds == {"turn", "window"}
    for s in data["segments"]:
        assert {
            "kind",
            "start",
            "end",
            "speaker",
            "emotion",
            "probs",
            "arousal",
            "valence",
            "confidence",
            "modalities",
        } <= set(s)
        assert s["start"] == round(s["start"], 3)


def test_channel_roles_can_be_given(analyzer, sample_call, tmp_path):
    cfg = analyzer.config.replace(channels=("customer", "agent"))  # deliberately swapped
    r = analyzer.analyze(sample_call, config=cfg)
    assert r.speaker("customer").channel == 0 and r.speaker("agent").channel == 1
    assert r.turns[0][0] == "customer"  # channel 0 speaks first


def test_agent_is_guessed_from_the_channel_that_opens(analyzer, tmp_path):
    agent = speak("Thank you for calling, this is Maria, how can I help?", "en-us+f3")
    customer = speak("Hi, I have a problem with my bill this month.", "en+m3")
    n = len(agent) + len(customer) + SR
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    right[: len(agent)] = agent  # the agent is on the RIGHT channel here
    left[len(agent) + SR // 2 : len(agent) + SR // 2 + len(customer)] = customer
    path = tmp_path / "swapped.wav"
    sf.write(path, np.stack([left, right], axis=1), SR)
    r = analyzer.analyze(path)
    assert r.speaker("agent").channel == 1 and r.speaker("customer").channel == 0
    assert any("agent channel guessed" in n for n in r.notes)


def test_agent_found_when_the_customer_says_hello_first(analyzer, tmp_path):
    hello = speak("Hello?", "en+m3")
    agent = speak(
        "Thank you for calling customer service, this is Maria, how can I help?", "en-us+f3"
    )
    customer = speak("Hi, I have a problem with my bill this month.", "en+m3")
    n = len(hello) + len(agent) + len(customer) + 2 * SR
    left, right = np.zeros(n, np.float32), np.zeros(n, np.float32)
    left[: len(hello)] = hello  # the caller on the LEFT channel opens the call
    a0 = len(hello) + SR // 2
    right[a0 : a0 + len(agent)] = agent
    c0 = a0 + len(agent) + SR // 2
    left[c0 : c0 + len(customer)] = customer
    path = tmp_path / "hello_first.wav"
    sf.write(path, np.stack([left, right], axis=1), SR)
    r = analyzer.analyze(path)
    assert r.speaker("agent").channel == 1 and r.speaker("customer").channel == 0
    assert 0.5 < r.speaker("agent").role_confidence <= 1.0
    # Turn-taking facts and the scorecard come with every result, for every speaker.
    assert set(r.turn_taking.speakers) == {"agent", "customer"}
    assert set(r.scorecard) == {"agent", "customer"}
    assert r.scorecard["customer"]["customer_recovery"]["unit"] == "outcome"
    assert r.scorecard["agent"]["interruptions"]["value"] == 0
    rows = r.scorecard_rows()
    assert {row["metric"] for row in rows} >= {"talk_share", "composure", "listening"}
    r.write_csv(tmp_path / "card.csv", what="scorecard")
    import pandas as pd

    card = pd.read_csv(tmp_path / "card.csv")
    assert len(card) == len(rows) and {"speaker", "metric", "value", "evidence"} <= set(card)
    back = AnalysisResult.from_dict(r.to_dict())
    assert back.to_dict() == r.to_dict()


def test_silent_recording_gives_an_empty_but_valid_result(analyzer, tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SR * 4, np.float32), SR)
    r = analyzer.analyze(path)
    assert r.turns == [] and any("no speech" in n for n in r.notes)
    json.loads(r.to_json())


def test_no_face_video_gives_no_face_rows(analyzer, tmp_path):
    from test_media import write_video

    words = speak("There is nobody on camera in this recording.")
    frames = [np.full((96, 128, 3), 120, np.uint8) for _ in range(int(len(words) / SR * 10))]
    path = tmp_path / "wall.mp4"
    write_video(path, frames, fps=10, audio=words)
    r = analyzer.analyze(path)
    assert r.media.has_video and r.faces
    assert all(not f.face and f.track is None for f in r.faces)
    assert all(np.isnan(v) for f in r.faces for v in f.cues.values())
    assert all("face" not in s.modalities for s in r.segments)
    assert any("no face" in n for n in r.notes)


def test_video_call_links_the_face_to_the_voice(analyzer, sample_video):
    truth = json.loads(sample_video.with_suffix(".truth.json").read_text())
    r = analyzer.analyze(sample_video)
    gap = Segment(truth["no_face"]["start"], truth["no_face"]["end"])
    inside = [f for f in r.faces if gap.start + 0.2 < f.time < gap.end - 0.2]
    assert inside and all(not f.face for f in inside)
    outside = [f for f in r.faces if f.time < gap.start - 0.3]
    assert outside and all(f.face for f in outside)
    assert r.speakers[0].face_track is not None
    assert any("face" in s.modalities for s in r.segments if s.kind == "turn")


# ---- fusion and events on hand-made evidence -------------------------------------------------
def onehot(label: str, p: float = 0.9) -> np.ndarray:
    v = np.full(len(LABELS), (1 - p) / (len(LABELS) - 1))
    v[LABELS.index(label)] = p
    return v


def test_fusion_weighs_by_confidence_and_availability():
    angry_voice = Evidence("voice", 0.9, onehot("angry"), 0.8, -0.6)
    happy_face = Evidence("face", 0.2, onehot("happy"), 0.4, 0.8)
    f = fuse([angry_voice, happy_face])
    assert f.emotion == "angry" and f.weights["voice"] > f.weights["face"]
    absent_face = Evidence("face", 0.0, onehot("happy"), 0.4, 0.8)
    assert np.allclose(fuse([angry_voice, absent_face]).probs, fuse([angry_voice]).probs)
    nothing = fuse([])
    assert nothing.probs is None and nothing.confidence == 0.0 and nothing.emotion is None
    prosody_only = fuse([Evidence("prosody", 0.5, None, 0.7, None)])
    assert prosody_only.probs is None and prosody_only.arousal == pytest.approx(0.7)


def test_uncertain_voice_is_no_evidence_for_a_label():
    unsure = Evidence("voice", 0.8, onehot("fearful", 0.3), 0.5, -0.5, uncertain=True)
    alone = fuse([unsure])
    # nothing else names a label: the segment is "uncertain", its probs still the voice's seven
    assert alone.uncertain and alone.emotion == "uncertain"
    assert np.allclose(alone.probs, onehot("fearful", 0.3))
    assert unsure.to_dict(1.0)["emotion"] == "uncertain"
    # a face that does name one decides the label; the uncertain voice takes no part in it
    face = Evidence("face", 0.6, onehot("happy", 0.7), 0.4, 0.8)
    both = fuse([unsure, face])
    assert not both.uncertain and both.emotion == "happy"
    assert np.allclose(both.probs, fuse([face]).probs)
    sure = fuse([Evidence("voice", 0.8, onehot("fearful", 0.3), 0.5, -0.5)])
    assert not sure.uncertain and sure.emotion == "fearful"


def test_summary_and_shift_labels_skip_uncertain_turns():
    from analyzer.coaching.dynamics import _dominant, readings_of
    from analyzer.events import summarize

    def seg(start: float, emotion: str | None) -> EmotionSegment:
        return EmotionSegment(
            kind="turn",
            segment=Segment(start, start + 2.0),
            speaker="S1",
            emotion=emotion,
            probs={k: 1 / len(LABELS) for k in LABELS},
            arousal=0.0,
            valence=0.0,
            confidence=0.5,
            modalities={},
            overlap=False,
            speech=True,
        )

    turns = [seg(0, "angry"), seg(2, "uncertain"), seg(4, "uncertain"), seg(6, "neutral")]
    summary = summarize("S1", turns, turns, 8.0, [])
    shares = summary.to_dict()["emotion_share"]
    assert set(shares) == set(LABELS)  # no "uncertain" share: it is no evidence
    assert shares["angry"] == pytest.approx(0.5) and shares["neutral"] == pytest.approx(0.5)
    readings = readings_of(turns, "S1")  # the shift events' readings: no uncertain ones
    assert [r.emotion for r in readings] == ["angry", "neutral"]
    assert _dominant(readings[:1]) == "angry"


def test_smoothing_removes_a_blip_but_keeps_a_step():
    t = np.arange(40) * 0.5
    labels = ["neutral"] * 20 + ["angry"] * 20
    labels[8] = "happy"  # a one-window blip
    probs = np.stack([onehot(x, 0.8) for x in labels])
    values = np.stack([[0.0 if x == "neutral" else 0.8, 0.0] for x in labels])
    p, _ = smooth_series(t, probs, values, np.full(40, 0.8), half_life_s=1.5)
    out = [LABELS[i] for i in p.argmax(axis=1)]
    assert out[8] == "neutral"
    assert out[:20] == ["neutral"] * 20 and out[21:] == ["angry"] * 19


def window(t: float, arousal: float, valence: float, label: str) -> EmotionSegment:
    return EmotionSegment("window", Segment(t, t + 3), "customer", label, {}, arousal, valence, 0.8)


def test_escalation_needs_a_sustained_shift():
    calm = [window(i * 0.5, -0.2, 0.1, "neutral") for i in range(60)]
    angry = [window(30 + i * 0.5, 0.7, -0.6, "angry") for i in range(30)]
    events = shift_events(calm + angry, "customer")  # speech windows: no turns
    assert [e.kind for e in events] == ["escalation"]
    assert 28 <= events[0].start <= 31
    assert events[0].evidence["emotion_after"] == "angry"
    blip = calm[:30] + [window(15 + i * 0.5, 0.7, -0.6, "angry") for i in range(3)] + calm[33:]
    assert shift_events(blip, "customer") == []


def test_interruption_versus_overtalk():
    cut = detect_overtalk([("agent", Segment(0, 6)), ("customer", Segment(5, 9))], min_cut_s=0.3)
    assert [(e.kind, e.speaker, e.other) for e in cut] == [("interruption", "customer", "agent")]
    both = detect_overtalk([("agent", Segment(0, 10)), ("customer", Segment(4, 6))], min_cut_s=0.3)
    assert [e.kind for e in both] == ["overtalk"]
    backchannel = detect_overtalk(
        [("agent", Segment(0, 10)), ("customer", Segment(4, 4.2))], min_cut_s=0.3
    )
    assert backchannel == []


def test_config_rejects_bad_options():
    with pytest.raises(ValueError):
        AnalysisConfig(hop_s=1.0)
    with pytest.raises(ValueError):
        AnalysisConfig(fps=0)


def test_cut_in_on_mono_audio_from_estimated_overlap():
    from analyzer.events import detect_mixed_cut_ins

    turns = [("S1", Segment(0, 5.0)), ("S2", Segment(5.0, 9.0)), ("S1", Segment(10, 12))]
    events = detect_mixed_cut_ins(turns, [Segment(4.7, 5.1)], min_cut_s=0.15)
    assert [(e.kind, e.speaker, e.other) for e in events] == [("interruption", "S2", "S1")]
    # A change after a pause, or with no estimated overlap, is no interruption.
    assert detect_mixed_cut_ins(turns, [], min_cut_s=0.15) == []
    assert detect_mixed_cut_ins(turns, [Segment(9.2, 9.5)], min_cut_s=0.15) == []


def test_mono_cut_in_with_both_voices_kept_in_the_overlap():
    """The diarizer keeps both voices of a detected overlap, so B's turn can start well inside
    A's (it crashed here once: the searched stretch came out reversed)."""
    from analyzer.events import detect_mixed_cut_ins

    # B starts 2.3 s before A stops and goes on after: a cut-in
    turns = [("S1", Segment(0.0, 5.0)), ("S2", Segment(2.7, 9.0))]
    events = detect_mixed_cut_ins(turns, [Segment(2.7, 3.2)], min_cut_s=0.15)
    assert [(e.kind, e.speaker, e.other) for e in events] == [("interruption", "S2", "S1")]
    assert events[0].segment == Segment(2.7, 3.2)
    # B's short turn inside A's (talk under A that A carries on through): no interruption
    under = [("S1", Segment(0.0, 8.0)), ("S2", Segment(3.0, 3.6)), ("S1", Segment(8.2, 9.0))]
    assert detect_mixed_cut_ins(under, [Segment(3.0, 3.6)], min_cut_s=0.15) == []


def test_one_voice_on_a_mixed_recording_carries_the_count_caveat(analyzer, tmp_path):
    from analyzer.attribution import ONE_VOICE_NOTE_S, _one_voice_note

    voice = one_voice()
    assert len(voice) / SR > ONE_VOICE_NOTE_S + 2
    path = tmp_path / "one_voice.wav"
    sf.write(path, voice, SR)
    r = analyzer.analyze(path)
    assert len(r.speakers) == 1
    note = next(n for n in r.notes if n.code == "one_voice_counted")
    assert note.params["speech_s"] >= ONE_VOICE_NOTE_S and "number of speakers" in note
    # Told how many voices there are (or at least two), the engine adds no caveat.
    told = analyzer.analyze(path, config=analyzer.config.replace(num_speakers=1))
    assert "one_voice_counted" not in [n.code for n in told.notes]
    # A short recording, two voices, a given count or a floor of two: no caveat either.
    cfg = analyzer.config
    assert _one_voice_note(1, ONE_VOICE_NOTE_S - 1, cfg) is None
    assert _one_voice_note(2, 120.0, cfg) is None
    assert _one_voice_note(1, 120.0, cfg.replace(min_speakers=2)) is None
    assert _one_voice_note(1, 120.0, cfg) is not None


def _phone_line(audio: np.ndarray) -> np.ndarray:
    """16 kHz audio as a phone line passes it: down to 8 kHz and back (nothing above 4 kHz)."""
    from scipy.signal import resample_poly

    return resample_poly(resample_poly(audio, 1, 2), 2, 1).astype(np.float32)


def test_a_long_telephone_recording_is_looked_at_as_a_conversation():
    from analyzer.attribution import PHONE_MIN_SPEECH_S, fewest_voices

    rng = np.random.default_rng(3)
    wide = (0.1 * rng.standard_normal(90 * SR)).astype(np.float32)
    line = _phone_line(wide)

    def floor(audio: np.ndarray, speech_s: float, **cfg) -> int:
        return fewest_voices(AnalysisConfig(**cfg), speech_s, lambda a, b: audio[a:b], len(audio))

    assert floor(line, PHONE_MIN_SPEECH_S) == 2
    assert floor(wide, 120.0) == 1  # not through a phone line: the voices decide
    assert floor(line, PHONE_MIN_SPEECH_S - 1) == 1  # under a minute of speech (a voicemail)
    assert floor(line, 120.0, num_speakers=1) == 1  # the user's count stands
    assert floor(line, 120.0, phone_conversation=False) == 1
    assert floor(line, 120.0, min_speakers=3) == 3  # a higher floor of the user's stands


def test_one_voice_on_a_long_phone_line_is_split_and_says_how_to_undo_it(analyzer, tmp_path):
    from analyzer.attribution import PHONE_MIN_SPEECH_S

    voice = _phone_line(one_voice(3))
    assert len(voice) / SR > PHONE_MIN_SPEECH_S + 5
    path = tmp_path / "voicemail.wav"
    sf.write(path, voice[::2], SR // 2)  # an 8 kHz file, as phone systems write them
    r = analyzer.analyze(path)
    note = next(n for n in r.notes if n.code == "phone_conversation")
    assert len(r.speakers) >= 2 and note.params["voices"] == len(r.speakers)
    assert note.params["speech_s"] >= PHONE_MIN_SPEECH_S and "set to 1" in note.message
    assert "one_voice_counted" not in [n.code for n in r.notes]
    # Told it is one voice, the engine keeps it whole and says nothing.
    told = analyzer.analyze(path, config=analyzer.config.replace(num_speakers=1))
    assert len(told.speakers) == 1
    assert "phone_conversation" not in [n.code for n in told.notes]


def test_roles_named_for_a_mixed_recording_are_that_many_voices(analyzer, tmp_path):
    from analyzer.attribution import _named_floor

    path = tmp_path / "one_voice.wav"
    sf.write(path, one_voice(), SR)
    named = analyzer.analyze(path, config=analyzer.config.replace(channels=("agent", "customer")))
    assert sorted(s.role for s in named.speakers) == ["agent", "customer"]
    assert "one_voice_counted" not in [n.code for n in named.notes]
    cfg = AnalysisConfig(channels=("agent", "customer"))
    assert _named_floor(cfg).min_speakers == 2
    assert _named_floor(cfg.replace(num_speakers=1)).min_speakers == 1  # the count given stands
    assert _named_floor(AnalysisConfig()).min_speakers == 1
    assert _named_floor(cfg.replace(min_speakers=3)).min_speakers == 3


def test_the_count_caveat_reads_in_chinese():
    from analyzer.attribution import _one_voice_note
    from analyzer.config import AnalysisConfig
    from review.views import note_text

    note = _one_voice_note(1, 42.4, AnalysisConfig())
    assert note is not None
    text = note_text(note.to_dict(), "zh")
    assert "42 秒" in text and "说话人数设为 2" in text
    assert note_text(note.to_dict(), "en") == note.message
    from analyzer.attribution import _phone_note

    phone = _phone_note(2, 75.2).to_dict()
    assert "75 秒" in note_text(phone, "zh") and "说话人数设为 1" in note_text(phone, "zh")


def _alternating_call(changes_at_long_pauses: bool, seed: int = 0):
    """Turns and speech segments of a 40-segment two-voice call: every pause is short (0.2 s)
    or long (0.9 s) at random; with ``changes_at_long_pauses`` the voice changes exactly at
    the long ones (talkers taking turns), otherwise at random segments (a mood coming and
    going whatever the pause)."""
    from analyzer.audio.turns import Turns
    from analyzer.segment import Segment

    rng = np.random.default_rng(seed)
    long_gap = rng.random(40) < 0.4
    t, voice, turns, speech = 0.0, 0, [], []
    for k in range(40):
        if k:
            t += 0.9 if long_gap[k] else 0.2
            change = long_gap[k] if changes_at_long_pauses else rng.random() < 0.4
            voice = 1 - voice if change else voice
        seg = Segment(t, t + 2.0)
        speech.append(seg)
        turns.append((f"S{voice + 1}", seg))
        t = seg.end
    return Turns(turns, []), speech


def test_voices_whose_changes_follow_the_pauses_are_not_flagged():
    from analyzer.attribution import uncertain_voices_note
    from analyzer.audio.speakers import UNCERTAIN_TIE, voices_tie
    from review.views import note_text

    turns, speech = _alternating_call(True)
    assert voices_tie(turns, speech) > UNCERTAIN_TIE
    assert uncertain_voices_note(turns, speech) is None
    mixed, speech2 = _alternating_call(False)
    tie = voices_tie(mixed, speech2)
    assert tie is not None and tie < UNCERTAIN_TIE
    note = uncertain_voices_note(mixed, speech2)
    assert note is not None and note.code == "voices_uncertain"
    assert note.params["voices"] == 2 and note.params["tie"] == round(tie, 2)
    assert "mixed up" in note.message
    assert "请先核对说话人标签" in note_text(note.to_dict(), "zh")
    # too little speech to judge, one voice, or voices anchored by faces: no note
    assert uncertain_voices_note(mixed, speech2[:20]) is None  # 40 s of speech
    one = type(mixed)([("S1", s) for s in speech2], [])
    assert voices_tie(one, speech2) is None and uncertain_voices_note(one, speech2) is None
    seen = type(mixed)(mixed.turns, [], seen_voices=2)
    assert uncertain_voices_note(seen, speech2) is None
