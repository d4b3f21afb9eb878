"""`emotrace eval diarization` (analyzer.evaluate) and RTTM export, on small handmade references."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
from fake_results import make_result

from analyzer import write_rttm
from analyzer.evaluate import evaluate_diarization, read_hypothesis, read_rttm, register
from analyzer.segment import Segment
from train.cli import register_eval

# make_result's turns: S0 speaks [0, 2], [4, 6], [8, 10]; S1 speaks [2, 4], [6, 8], [10, 12].
REFERENCE = """\
;; a handmade reference: A is S0, B is S1 (other names on purpose)
SPEAKER call 1 0.00 2.00 <NA> <NA> A <NA> <NA>
SPEAKER call 1 2.00 2.00 <NA> <NA> B <NA> <NA>
SPEAKER call 1 4.00 2.00 <NA> <NA> A <NA> <NA>
SPEAKER call 1 6.00 2.00 <NA> <NA> B <NA> <NA>
SPEAKER call 1 8.00 2.00 <NA> <NA> A <NA> <NA>
SPEAKER call 1 10.00 2.00 <NA> <NA> B <NA> <NA>
"""


def _one_voice_rttm(path: Path, file_id: str) -> Path:
    """A hypothesis that hears one voice all along: half of the reference is confused."""
    path.write_text(f"SPEAKER {file_id} 1 0.000 12.000 <NA> <NA> X <NA> <NA>\n")
    return path


def _parser(order: tuple[str, ...]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="emotrace")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = {"engine": register, "train": register_eval}
    for name in order:
        plugins[name](sub)
    return parser


def test_rttm_export_round_trips_the_turns(tmp_path: Path):
    result = make_result("/calls/call.wav")
    path = write_rttm(result, tmp_path / "call.wav.rttm")
    lines = path.read_text().splitlines()
    assert lines[0] == "SPEAKER call 1 0.000 2.000 <NA> <NA> S0 <NA> <NA>"
    assert read_rttm(path) == {"call": sorted(result.turns, key=lambda t: t[1].start)}


def test_read_rttm_skips_other_lines_and_rejects_broken_ones(tmp_path: Path):
    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE + "SPKR-INFO call 1 <NA> <NA> <NA> unknown A <NA> <NA>\n")
    turns = read_rttm(ref)["call"]
    assert len(turns) == 6 and turns[1] == ("B", Segment(2.0, 4.0))
    ref.write_text("SPEAKER call 1 zero 2.0 <NA> <NA> A <NA> <NA>\n")
    with pytest.raises(ValueError, match="ref.rttm:1"):
        read_rttm(ref)
    for start, duration in (("nan", "2"), ("-1", "2"), ("0", "inf"), ("1e9", "2")):
        ref.write_text(REFERENCE + f"SPEAKER call 1 {start} {duration} <NA> <NA> A <NA> <NA>\n")
        with pytest.raises(ValueError, match="ref.rttm:8: start and duration"):
            read_rttm(ref)
    ref.write_text(REFERENCE, encoding="utf-8-sig")  # a byte-order mark: the first turn kept
    assert len(read_rttm(ref)["call"]) == 6


@pytest.mark.parametrize("collar", ["-1", "nan", "inf"])
def test_a_collar_out_of_range_is_a_usage_error(tmp_path: Path, capsys, collar: str):
    from analyzer.cli import main

    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE)
    hyp = _one_voice_rttm(tmp_path / "hyp.rttm", "call")
    assert main(["eval", "diarization", "--ref", str(ref), str(hyp), "--collar", collar]) == 2
    assert "--collar" in capsys.readouterr().err.strip().splitlines()[-1]


def test_result_json_against_the_reference_scores_zero(tmp_path: Path):
    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE)
    result_json = tmp_path / "call.wav.json"
    make_result("/calls/call.wav").save_json(result_json)
    rows, pooled = evaluate_diarization(read_rttm(ref), read_hypothesis(result_json))
    assert rows[0]["file"] == "call"
    assert pooled == {
        "der": 0.0, "missed": 0.0, "false_alarm": 0.0, "confusion": 0.0,
        "collar": 0.25, "files": 1,
    }  # fmt: skip


@pytest.mark.parametrize("collar", [0.0, 0.25])
def test_one_voice_for_two_speakers_confuses_half(tmp_path: Path, collar: float):
    # the collar trims every turn alike (0.25 s at each end), so the share stays one half
    hyp = read_hypothesis(_one_voice_rttm(tmp_path / "hyp.rttm", "call"))
    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE)
    _, pooled = evaluate_diarization(read_rttm(ref), hyp, collar_s=collar)
    assert pooled["confusion"] == pytest.approx(0.5, abs=1e-3)
    assert pooled["der"] == pytest.approx(0.5, abs=1e-3)
    assert pooled["missed"] == pooled["false_alarm"] == 0.0
    assert pooled["collar"] == collar


def test_files_pool_by_speaker_time_and_unknown_files_are_refused(tmp_path: Path):
    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE + REFERENCE.replace(" call ", " other "))
    good = read_hypothesis(_write_json(make_result("call.wav"), tmp_path / "a.json"))
    bad = read_hypothesis(_one_voice_rttm(tmp_path / "b.rttm", "other"))
    rows, pooled = evaluate_diarization(read_rttm(ref), good | bad, collar_s=0.0)
    assert [r["der"] for r in rows] == [0.0, pytest.approx(0.5, abs=1e-3)]
    assert pooled["der"] == pytest.approx(0.25, abs=1e-3) and pooled["files"] == 2
    stray = read_hypothesis(_one_voice_rttm(tmp_path / "c.rttm", "stray"))
    with pytest.raises(ValueError, match="no reference turns for file 'stray'"):
        evaluate_diarization(read_rttm(ref), good | stray)


def _write_json(result, path: Path) -> Path:
    result.save_json(path)
    return path


@pytest.mark.parametrize("order", [("engine", "train"), ("train", "engine")])
def test_eval_group_is_shared_whichever_plugin_loads_first(tmp_path: Path, capsys, order):
    parser = _parser(order)
    assert parser.parse_args(["eval", "fer", "--npz", "x.npz"]).npz == "x.npz"
    ref = tmp_path / "ref.rttm"
    ref.write_text(REFERENCE)
    result_json = _write_json(make_result("call.wav"), tmp_path / "call.wav.json")
    args = parser.parse_args(["eval", "diarization", "--ref", str(ref), str(result_json)])
    assert args.func(args) == 0
    last = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(last) == {"der", "missed", "false_alarm", "confusion", "collar", "files"}
    assert last["der"] == 0.0 and last["collar"] == 0.25 and last["files"] == 1
    # --rttm names the reference as well (the option's name in issue 17)
    one_voice = _one_voice_rttm(tmp_path / "hyp.rttm", "call")
    args = parser.parse_args(["eval", "diarization", "--rttm", str(ref), str(one_voice)])
    assert args.ref == ref and args.func(args) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["confusion"] == 0.5


def test_the_entry_point_is_declared():
    text = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    assert 'eval-diarization = "analyzer.evaluate:register"' in text
