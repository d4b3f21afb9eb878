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
