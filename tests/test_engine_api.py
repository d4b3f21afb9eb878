"""The engine's public seams: time grid, options from the config, settings, CLI plugins."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from analyzer import AnalysisConfig, Segment, Settings, SpeakerSummary, TimeGrid, option_specs
from analyzer import cli as cli_module
from analyzer.config import add_options, config_from_args, option_default

ROOT = Path(__file__).resolve().parents[1]


def test_time_grid_one_rounding_rule():
    frames = TimeGrid(0.01)
    # 0.29 / 0.01 is 28.999999999999996 in floating point: still frame 29.
    assert frames.index(0.29) == 29
    assert frames.index(0.2949) == 29 and frames.index(0.0) == 0
    assert frames.end_index(0.291) == 30 and frames.end_index(0.29) == 29
    assert frames.cover(Segment(0.105, 0.2)) == slice(10, 20)
    samples = TimeGrid.rate(16000)
    assert samples.slice(Segment(1.0, 1.5)) == slice(16000, 24000)
    assert samples.time(16000) == pytest.approx(1.0)
    windows = TimeGrid(0.5).windows(4.2, 3.0)
    assert [w.start for w in windows] == [0.0, 0.5, 1.0]
    assert windows[-1].end == pytest.approx(4.0)
    assert TimeGrid(0.5).windows(1.0, 3.0) == [Segment(0.0, 1.0)]
    with pytest.raises(ValueError):
        TimeGrid(0.0)


def test_cli_flags_come_from_the_config():
    specs = {s.flag: s for s in option_specs()}
    assert {"--fps", "--speakers", "--channels", "--mono", "--no-video", "--transcribe"} <= set(
        specs
    )
    assert specs["--fps"].default == AnalysisConfig().fps == option_default("fps")
    parser = argparse.ArgumentParser()
    add_options(parser)
    default = config_from_args(parser.parse_args([]))
    assert default == AnalysisConfig()
    given = config_from_args(
        parser.parse_args(
            ["--fps", "2", "--mono", "--no-video", "--speakers", "3", "--ser-model", "none"]
        )
    )
    assert (given.fps, given.split_channels, given.video) == (2.0, False, False)
    assert (given.num_speakers, given.ser_model, given.fer_model) == (3, None, "default")
    with pytest.raises(SystemExit):
        parser.parse_args(["--speakers", "9"])


def test_config_dict_keeps_the_schema_keys():
    data = AnalysisConfig(channels=("agent", "customer")).to_dict()
    assert data["sample_rate"] == 16000 and data["extras"] == {}
    assert data["channels"] == ["agent", "customer"] and "face" not in data
    assert AnalysisConfig().face.max_faces == 9  # a 3x3 gallery view


def test_settings_read_every_variable():
    env = {
        "EMOTRACE_HOME": "/data/et",
        "EMOTRACE_PORT": "9000",
        "EMOTRACE_MAX_MINUTES": "30",
        "EMOTRACE_TRANSCRIBE": "1",
        "EMOTRACE_MODELS": "/a:/b",
        "EMOTRACE_MIN_SPEAKERS": "2",
        "EMOTRACE_PHONE_ONE_VOICE": "1",
    }
    s = Settings.from_env(env)
    assert (s.home, s.port, s.max_minutes, s.transcribe) == (Path("/data/et"), 9000, 30.0, True)
    assert s.model_dirs == (Path("/a"), Path("/b")) and s.host == "127.0.0.1"
    assert s.min_speakers == 2 and Settings.from_env({}).min_speakers == 1
    assert s.phone_one_voice is True and Settings.from_env({}).phone_one_voice is False
    assert Settings.from_env({}).transcribe is False
    with pytest.raises(ValueError, match="EMOTRACE_PORT"):
        Settings.from_env({"EMOTRACE_PORT": "http"})


def test_plugin_commands_are_discovered_and_errors_are_one_line(monkeypatch, capsys):
    def register(subparsers):
        cmd = subparsers.add_parser("hello")
        cmd.add_argument("--fail", action="store_true")

        def run(args):
            if args.fail:
                raise ValueError("no such corpus")
            print("hi")
            return 0

        cmd.set_defaults(func=run)

    class Plugin:
        def load(self):
            return register

    monkeypatch.setattr(cli_module, "entry_points", lambda group: [Plugin()])
    assert cli_module.main(["hello"]) == 0
    assert capsys.readouterr().out.strip() == "hi"
    assert cli_module.main(["hello", "--fail"]) == 1
    assert capsys.readouterr().err.strip() == "emotrace: error: no such corpus"


def test_speaker_summary_round_trip_and_dict_access():
    d = {
        "talk_time_s": 3.0,
        "turns": 2,
        "emotion_share": {"neutral": 1.0},
        "negative_share": 0.0,
        "quarters": [
            {"start": 0.0, "end": 1.0, "arousal": None, "valence": 0.1, "speech_windows": 2}
        ],
        "trend": {"arousal": None, "valence": None, "direction": "unknown"},
        "events": {"escalation": 1},
        "complaint_phrases": 0,
        "empathy_phrases": 1,
        "transcribed_turns": 2,
    }
    s = SpeakerSummary.from_dict(d)
    assert s.to_dict() == d and s.quarters[0].valence == 0.1
    assert s["trend"]["direction"] == "unknown" and s.get("emotion_share") == {"neutral": 1.0}
    assert SpeakerSummary.from_dict({"trend": {"direction": "steady"}}).trend.direction == "steady"


def test_import_analyzer_stays_light():
    code = (
        "import json, sys, analyzer; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'gradio', 'sqlalchemy', 'plotly', 'train', 'torch', 'mediapipe'} "
        "or m.startswith('analyzer.train'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(out.stdout) == []


def test_text_module_still_re_exports_the_words_package():
    from analyzer import text, words

    assert text.text_evidence is words.text_evidence
    assert text.repeated_complaints is words.repeated_complaints


def test_schema_2_notes_and_events_carry_code_and_params_and_1x_still_reads():
    from analyzer import AnalysisResult, Note, Segment
    from analyzer.result import SCHEMA_VERSION, Event

    event = Event("overtalk", Segment(1.0, 2.5), "agent", "both talk", {"seconds": 1.5}, "customer")
    data = event.to_dict()
    assert data["code"] == "overtalk"
    assert data["params"] == {
        "speaker": "agent",
        "other": "customer",
        "duration_s": 1.5,
        "seconds": 1.5,
    }
    result = AnalysisResult.from_dict(
        {
            "schema_version": "1.0",
            "media": {
                "path": "x.wav",
                "duration_s": 3.0,
                "has_video": False,
                "channels": 1,
                "sample_rate": 16000,
            },
            "speakers": [],
            "segments": [],
            "events": [],
            "notes": ["a plain 1.x note"],
        }
    )
    assert result.notes == ["a plain 1.x note"]
    result.notes.append(Note("truncated_input", "decoded 1.0 s", decoded_s=1.0))
    written = result.to_dict()
    assert SCHEMA_VERSION == "2.0" and written["schema_version"] == "2.0"
    assert written["notes"] == [
        {"code": "note", "params": {}, "message": "a plain 1.x note"},
        {"code": "truncated_input", "params": {"decoded_s": 1.0}, "message": "decoded 1.0 s"},
    ]
    again = AnalysisResult.from_dict(written)
    assert again.notes[1].code == "truncated_input"
    with pytest.raises(ValueError, match="unsupported schema_version"):
        AnalysisResult.from_dict({"schema_version": "3.0", "media": {"path": "x.wav"}})
