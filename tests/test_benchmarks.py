"""The benchmark suite stays runnable: every script imports, and the speed benchmark's ser stage
prints its real-time factor."""

from __future__ import annotations

import importlib
import re

import pytest

from benchmarks import speed

SCRIPTS = (
    "benchmarks.batch",
    "benchmarks.coaching",
    "benchmarks.coaching_model",
    "benchmarks.diarization",
    "benchmarks.fer_baselines",
    "benchmarks.phrases",
    "benchmarks.redaction",
    "benchmarks.redaction_corpus",
    "benchmarks.screenshot",
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
        chunked=False, cache=str(tmp_path), calls=5,
    )  # fmt: skip
    assert [c[0] for c in d.embedded_calls(args)] == [f"call{i}" for i in range(5)]
    for i in (1, 3):  # gaps after a call that is still cached
        (tmp_path / f"test-1-short-any-{i:03d}.npz").unlink()
    assert [c[0] for c in d.embedded_calls(args)] == [f"call{i}" for i in range(5)]
