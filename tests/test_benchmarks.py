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
