"""The benchmark suite stays runnable: every script imports, and the speed benchmark's ser stage
prints its real-time factor."""

from __future__ import annotations

import importlib
import re

import pytest

from benchmarks import simcalls, speed

SCRIPTS = (
    "benchmarks.batch",
    "benchmarks.coaching",
    "benchmarks.coaching_model",
    "benchmarks.diarization",
    "benchmarks.fer_baselines",
    "benchmarks.mono_roles",
    "benchmarks.phrases",
    "benchmarks.redaction",
    "benchmarks.redaction_corpus",
    "benchmarks.screenshot",
    "benchmarks.ser_calls",
    "benchmarks.ser_eval_heldout",
    "benchmarks.simcalls",
    "benchmarks.coaching_calls",
    "benchmarks.speed",
    "train.experiments.ser_experiments",
    "train.experiments.ser_generalisation.extract",
    "train.experiments.ser_variants",
    "train.speaker_projection",
    "train.overlap",
)


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_and_experiment_scripts_import(name):
    module = importlib.import_module(name)
    libraries = ("benchmarks.simcalls", "benchmarks.coaching_calls")
    assert module.__doc__ and (name in libraries or hasattr(module, "main"))


def test_speed_ser_stage_prints_a_real_time_factor(capsys):
    assert speed.main(["--stage", "ser", "--ser-seconds", "6", "--repeats", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("2 windows x 3.0 s = 6 s of speech")
    rtf = float(re.fullmatch(r"RTF (\d+\.\d+)", lines[-1]).group(1))
    assert 0 < rtf < 1  # faster than real time, even on a busy 2-core machine


def test_speed_faces_stage_times_the_face_stage_with_and_without_the_inset_search(capsys):
    import json

    from analyzer.video import faces

    shipped = faces.PIP_SEARCH_EVERY_S
    assert speed.main(["--stage", "faces", "--repeats", "1"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["video_s"] > 10
    assert 0 < out["inset_search_off"] < 1 and 0 < out["inset_search_on"] < 1
    assert faces.PIP_SEARCH_EVERY_S == shipped  # the shipped setting is put back


def test_speed_options_belong_to_their_stage():
    args = speed.build_parser().parse_args(["--stage", "engine", "--minutes", "0.5"])
    assert args.minutes == 0.5 and args.ser_seconds == 60.0 and args.calls == 300
    with pytest.raises(SystemExit):
        speed.build_parser().parse_args(["--stage", "video"])


def test_batch_benchmark_measures_a_child_and_what_its_sampling_cost():
    import sys

    from benchmarks import batch

    code = "import time; time.sleep(0.6); print('RESULT {\"audio_s\": 1.0}')"
    run = batch.measure([sys.executable, "-c", code], every_s=0.1)
    assert run["audio_s"] == 1.0 and run["wall_s"] >= 0.6
    assert set(run["cpu_s"]) == {"driver", "workers", "ray other"}
    assert 0 <= run["sampler_cpu_s"] < run["wall_s"]
    assert batch.THROUGHPUT_SAMPLE_S > batch.SAMPLE_EVERY_S  # the throughput runs sample less


def test_diarization_talk_time_parts_add_up_to_the_found_talk_time():
    from analyzer.segment import Segment
    from benchmarks.diarization import talk_time_errors, talk_time_parts

    ref = [("a", Segment(0.0, 10.0)), ("b", Segment(9.0, 20.0))]
    # Found: a's voice 0-8 s (8-10 s of a heard as b: 9-10 s is overlap, given to b only),
    # b's voice 8-21 s (1 s false alarm at 20-21, 1 s taken from a at 8-9).
    hyp = [("x", Segment(0.0, 8.0)), ("y", Segment(8.0, 21.0))]
    parts = talk_time_parts(ref, hyp, 21.0)
    errors = talk_time_errors(ref, hyp, 21.0)
    for spk, (true, missed, away, false_alarm, taken) in parts.items():
        assert true == errors[spk][0]
        assert abs(true - missed - away + false_alarm + taken - errors[spk][1]) < 1e-9
    assert parts["a"] == (10.0, 0.0, 2.0, 0.0, 0.0)  # 8-10 s heard as b's voice
    assert parts["b"] == (11.0, 0.0, 0.0, 1.0, 1.0)  # 20-21 s nobody, 8-9 s a's speech


def test_diarization_cache_with_gaps_keeps_each_call_at_its_index(tmp_path, monkeypatch):
    """A cache missing some calls (another run filled the rest) is completed with the calls of
    those indices, not with the calls after the last one simulated."""
    import argparse

    import numpy as np

    from benchmarks import diarization as d

    def fake_calls(rows, *, n, **kw):
        for i in range(n):  # call i: one voice named after its index, 1 s of audio
            ref = [(f"call{i}", d.Segment(0.1, 0.9))]
            yield f"call{i}", np.full(d.SR, 0.01 * (i + 1), np.float32), ref, {}

    class Encoder:
        def embed_windows(self, audio, speech):
            return np.zeros((1, 2), int), np.zeros(1, int), np.ones((1, 4), np.float32)

    class Vad:
        def mixed_probabilities(self, audio, band_limited):
            return np.ones(32)

    monkeypatch.setattr(d, "make_calls", fake_calls)
    monkeypatch.setattr(d, "load_manifest", lambda: [])
    monkeypatch.setattr(d, "VoiceActivityDetector", Vad)
    monkeypatch.setattr(d, "SpeakerEncoder", Encoder)
    args = argparse.Namespace(
        validation=False, speakers=1, length="short", gender="any", telephone=False,
        chunked=False, cache=str(tmp_path), calls=5, room=False, vad_threshold=0.5, moods="call",
    )  # fmt: skip
    assert [c[0] for c in d.embedded_calls(args)] == [f"call{i}" for i in range(5)]
    for i in (1, 3):  # gaps after a call that is still cached
        (tmp_path / f"test-1-short-any-{i:03d}.npz").unlink()
    assert [c[0] for c in d.embedded_calls(args)] == [f"call{i}" for i in range(5)]
    # A room and another speech threshold are sets of their own in the cache.
    room = argparse.Namespace(**{**vars(args), "room": True, "vad_threshold": 0.4, "calls": 1})
    assert [c[0] for c in d.embedded_calls(room)] == ["call0"]
    assert (tmp_path / "test-1-short-any-room-vad0.4-000.npz").is_file()


def test_a_room_mixes_each_voice_through_its_own_response():
    import numpy as np

    from benchmarks.simcalls import SR, in_room

    rng = np.random.default_rng(0)
    tracks = np.zeros((2, 2 * SR), np.float32)
    tracks[0, : SR // 2] = 0.3 * rng.standard_normal(SR // 2)  # one voice, then the other
    tracks[1, SR : SR + SR // 2] = 0.3 * rng.standard_normal(SR // 2)
    mixed = in_room(tracks, seed=3)
    assert mixed.shape == (2 * SR,) and mixed.dtype == np.float32 and np.isfinite(mixed).all()
    assert np.array_equal(mixed, in_room(tracks, seed=3))  # seeded: the same room again
    assert not np.allclose(mixed, in_room(tracks, seed=4))
    # The reverberant tail reaches past each voice's end, and noise lies under the silences.
    after = mixed[SR // 2 + SR // 20 : SR // 2 + SR // 5]
    assert np.sqrt(np.mean(after**2)) > 0.01
    assert 0 < np.sqrt(np.mean(mixed[-SR // 4 :] ** 2)) < 0.05


def test_diarization_speaker_ranges_are_sets_of_their_own_and_bad_counts_are_refused(monkeypatch):
    import argparse

    import numpy as np

    from benchmarks import diarization as d

    assert d.parse_speakers("2") == 2
    assert d.parse_speakers("1-4") == (1, 4)
    assert d.parse_speakers("3-3") == 3  # a range of one count is that count's set
    for bad in ("0", "5", "4-1", "1-5", "two", "1-"):
        with pytest.raises(argparse.ArgumentTypeError):
            d.parse_speakers(bad)
    fixed = {d._seed_base(v, k, "short", "any") for v in (False, True) for k in (1, 2, 3, 4)}
    ranged = {d._seed_base(v, (1, 4), "short", "any") for v in (False, True)}
    assert len(ranged) == 2 and not ranged & fixed
    # each call of a range draws its own count, so a set holds several (seeded, repeatable);
    # the simulation itself is left out (no clips here): only the casts are looked at
    overlaps = []

    def fake_call(rows, cast, *, overlap_prob, **kw):
        overlaps.append((len(cast), overlap_prob))
        return np.zeros(d.SR, np.float32), [(a, d.Segment(0.0, 1.0)) for a in cast]

    monkeypatch.setattr(d, "simulate_call", fake_call)

    def casts():
        calls = d.make_calls([], n=12, validation=True, speakers=(1, 4), length="short")
        return [name.split("+") for name, *_ in calls]

    drawn = casts()
    assert {len(c) for c in drawn} <= {1, 2, 3, 4} and len({len(c) for c in drawn}) >= 3
    assert all(len(set(c)) == len(c) and set(c) <= set(d.VALIDATION_ACTORS) for c in drawn)
    assert casts() == drawn
    assert all((p > 0) == (k > 1) for k, p in overlaps)  # one voice never overlaps itself


def test_ser_calls_judges_each_turn_by_who_truly_spoke_and_weighs_it_by_length():
    from benchmarks.ser_calls import mono_speaker_errors, score_call, summarise, truth_of

    ref = [("a", (0.0, 2.0)), ("b", (2.5, 4.0)), ("a", (4.2, 6.0))]
    assert truth_of((0.1, 1.0), ref) == "a" and truth_of((1.8, 3.9), ref) == "b"
    assert truth_of((6.5, 7.0), ref) is None  # nobody spoke there: not judged

    def turn(spk, a, b, voice, fused):
        return {"kind": "turn", "speaker": spk, "start": a, "end": b, "emotion": fused,
                "modalities": {"voice": {"emotion": voice}}}  # fmt: skip

    result = {"segments": [
        turn("S1", 0.0, 2.0, "angry", "angry"),  # right
        turn("S2", 2.5, 4.0, "uncertain", "neutral"),  # withheld: wrong, not covered
        turn("S2", 4.2, 6.0, "angry", "angry"),  # a's turn given to S2; still a's label
        {"kind": "window", "speaker": "S1", "start": 0.0, "end": 3.0, "emotion": "sad"},
        turn("S1", 6.5, 7.0, "sad", "sad"),  # silence in the reference
    ]}  # fmt: skip
    rows = score_call(result, ref, {"a": "angry", "b": "neutral"})
    assert [r[1] for r in rows] == ["angry", "neutral", "angry"]
    fig = summarise(rows)
    assert fig["turns"] == 3 and fig["seconds"] == 5.3
    assert fig["voice_accuracy"] == round(3.8 / 5.3, 3)  # by seconds, "uncertain" wrong
    assert fig["voice_coverage"] == round(3.8 / 5.3, 3)
    assert fig["fused_accuracy"] == 1.0
    assert fig["recall"] == {"neutral": 0.0, "angry": 1.0}
    total, wrong = mono_speaker_errors(result, ref)
    # S2's seconds: 1.5 of b, 1.8 of a -> S2 stands for a; b's 1.5 s went to the wrong voice
    assert total == pytest.approx(5.3) and wrong == pytest.approx(1.5)


@pytest.mark.skipif(
    not (simcalls.DATA / "speech" / "manifest.csv").is_file(),
    reason="needs the shared speech clips",
)
def test_simulated_call_tracks_are_the_mono_call_split_by_speaker():
    import numpy as np

    from benchmarks.simcalls import SR, load_manifest, simulate_call

    rows = load_manifest()
    kw = dict(n_turns=4, seed=3, emotions={"ravdess_17": {"sad"}, "ravdess_18": {"happy"}})
    mono, ref = simulate_call(rows, ["ravdess_17", "ravdess_18"], **kw)
    tracks, ref2 = simulate_call(rows, ["ravdess_17", "ravdess_18"], tracks=True, **kw)
    assert ref == ref2 and tracks.shape == (2, len(mono))
    # the tracks share the noise floor, so their sum carries it twice: compare the speech
    noise = tracks.sum(axis=0) - mono
    assert np.abs(noise).max() < 0.01
    for k, spk in enumerate(["ravdess_17", "ravdess_18"]):
        own = [g for s, g in ref if s == spk]
        other = [g for s, g in ref if s != spk]

        def loud(g, x=tracks[k]):
            return float(np.abs(x[int(g.start * SR) : int(g.end * SR)]).max())

        assert min(loud(g) for g in own) > 0.01  # each speaker's speech on their own track
        quiet = [g for g in other if not any(o.start < g.end and g.start < o.end for o in own)]
        assert quiet and max(loud(g) for g in quiet) < 0.01  # and not on the other's


def test_read_calls_alternate_each_speakers_turns_on_their_own_track():
    import numpy as np

    from benchmarks.ser_calls import SR, alternate, neutral_share

    a = [np.full(SR, 0.5, np.float32), np.full(SR // 2, 0.5, np.float32)]
    b = [np.full(2 * SR, -0.5, np.float32)]
    tracks, ref = alternate(["a", "b"], [a, b], seed=1)
    assert tracks.shape[0] == 2 and [s for s, _ in ref] == ["a", "b", "a"]
    spans = [span for _, span in ref]
    assert all(e1 < s2 for (_, e1), (s2, _) in zip(spans, spans[1:]))  # gaps, no overlap
    assert spans[0][1] - spans[0][0] == 1.0 and spans[1][1] - spans[1][0] == 2.0
    for spk, (s, e) in ref:
        own = 0 if spk == "a" else 1
        mid = int((s + e) / 2 * SR)
        assert abs(tracks[own, mid]) > 0.4 and abs(tracks[1 - own, mid]) < 0.01
    rows = [
        (2.0, "neutral", "neutral", None, "a"),
        (1.0, "neutral", "sad", None, "a"),
        (1.0, "neutral", "uncertain", None, "b"),
        (1.0, "neutral", None, None, "b"),
    ]
    assert neutral_share(rows) == 0.8  # one second of five read as an emotion


def test_mono_roles_judges_the_voice_named_agent_by_the_agents_reference_speech():
    from types import SimpleNamespace

    from analyzer.result import Speaker
    from analyzer.segment import Segment
    from benchmarks.mono_roles import call_row, figures

    spec = SimpleNamespace(agent_first=False, telephone=True)
    call = SimpleNamespace(
        spec=spec,
        agent_turns=[(Segment(2.0, 6.0), "neutral"), (Segment(9.0, 12.0), "neutral")],
        customer_turns=[(Segment(0.0, 1.0), "neutral"), (Segment(6.5, 8.5), "angry")],
    )
    turns = [("S1", Segment(0.0, 1.0)), ("S2", Segment(2.0, 6.0)), ("S1", Segment(6.5, 8.5)),
             ("S2", Segment(9.0, 12.0))]  # fmt: skip

    def result(role_of_s2: str) -> SimpleNamespace:
        other = "customer" if role_of_s2 == "agent" else "agent"
        speakers = [Speaker("S1", other, None, role_confidence=0.8),
                    Speaker("S2", role_of_s2, None, role_confidence=0.8)]  # fmt: skip
        return SimpleNamespace(speakers=speakers, turns=turns, events=[])

    right, wrong = call_row(result("agent"), call), call_row(result("customer"), call)
    assert right["role_right"] and not wrong["role_right"] and right["voices"] == 2
    merged = SimpleNamespace(
        speakers=[Speaker("S1", None, None)], turns=[("S1", Segment(0.0, 12.0))], events=[]
    )
    assert not call_row(merged, call)["role_right"]  # one voice for both: no agent named
    f = figures([right, wrong, call_row(merged, call)])
    assert f["role_right"] == 1 / 3 and f["two_voices"] == 2 / 3
    assert f["role_right_two_voices"] == 0.5 and f["confidence_right"] == 0.8


def test_cut_ins_are_scored_by_who_cuts_in_and_when():
    from types import SimpleNamespace

    from analyzer.result import Event, Speaker
    from analyzer.segment import Segment
    from benchmarks.mono_roles import call_row, cut_in_figures
    from benchmarks.simcalls import cut_ins, cut_ins_found

    # The customer cuts in at 5.3 s on the agent's turn (2-6 s) and goes on after it; the
    # agent's "mm" at 7.0-7.3 s under the customer's turn is no cut-in.
    ref = [("agent", Segment(2.0, 6.0)), ("customer", Segment(5.3, 8.5)),
           ("agent", Segment(7.0, 7.3)), ("agent", Segment(9.0, 12.0))]  # fmt: skip
    assert cut_ins(ref) == [("customer", 5.3)]
    # Found by an event of the same cutter within the match window; the wrong cutter or a
    # far event does not find it and counts as an event without a cut-in.
    assert cut_ins_found([("customer", 5.3)], [("customer", 5.6)]) == ([True], 0)
    assert cut_ins_found([("customer", 5.3)], [("agent", 5.6)]) == ([False], 1)
    assert cut_ins_found([("customer", 5.3)], [("customer", 9.0)]) == ([False], 1)
    call = SimpleNamespace(
        spec=SimpleNamespace(agent_first=True, telephone=False),
        agent_turns=[(g, "neutral") for r, g in ref if r == "agent"],
        customer_turns=[(g, "angry") for r, g in ref if r == "customer"],
    )
    cut = Event("interruption", Segment(5.4, 5.9), "S2", "S2 cut in on S1", other="S1")
    stray = Event("interruption", Segment(10.0, 10.4), "S1", "S1 cut in on S2", other="S2")
    result = SimpleNamespace(
        speakers=[Speaker("S1", "agent", None, role_confidence=0.9), Speaker("S2", None, None)],
        turns=[("S1", Segment(2.0, 5.9)), ("S2", Segment(5.9, 8.5)), ("S1", Segment(9.0, 12.0))],
        events=[cut, stray],
    )
    row = call_row(result, call)
    assert row["cuts_by"] == ["customer"] and row["cuts_found"] == [True]
    assert row["cuts_unmatched"] == 1
    f = cut_in_figures([row])
    assert f["cut_ins_customer_found"] == 1.0 and f["calls_customer_cut_in_found"] == 1.0
    assert f["cut_ins_found_where_two_voices"] == 1.0 and f["unmatched_cut_ins_per_call"] == 1.0


def test_diarization_benchmark_names_a_mono_cut_in_by_the_actor_who_cuts_in():
    from analyzer.audio.turns import Turns
    from analyzer.segment import Segment
    from benchmarks.diarization import engine_cut_ins

    ref = [("ravdess_03", Segment(1.0, 5.0)), ("ravdess_07", Segment(4.5, 8.0))]
    # The diarizer hands over from S2 to S1 with no pause and marks 0.4 s of overlap there.
    hyp = Turns([("S2", Segment(1.0, 4.8)), ("S1", Segment(4.8, 8.0))], [Segment(4.5, 4.9)])
    assert engine_cut_ins(ref, hyp) == [("ravdess_07", 4.5)]
    # Without the overlap a handover is no cut-in.
    assert engine_cut_ins(ref, Turns(hyp.turns, [])) == []


def test_mono_talk_time_counts_seconds_of_two_voices_at_once():
    from analyzer.segment import Segment
    from benchmarks.mono_talk_time import _two_at_once

    turns = [("a", Segment(0.0, 3.0)), ("b", Segment(2.0, 4.5)), ("a", Segment(4.0, 5.0))]
    assert _two_at_once(turns) == 1.5  # 2.0-3.0 and 4.0-4.5
    assert _two_at_once([("a", Segment(0.0, 3.0)), ("a", Segment(1.0, 2.0))]) == 0.0  # one voice
    assert _two_at_once([]) == 0.0
