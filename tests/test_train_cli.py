"""The training room as its own package: `emotrace train` / `eval` plugins, old import paths, and
an engine that loads none of it."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from analyzer.labels import LABELS
from analyzer.models import load_model
from train.cli import command_group, register_eval, register_train

SR = 16000


def write_manifest(folder: Path) -> Path:
    """Two synthetic speakers x 8 clips (the 7 labels and a second neutral one: the relative
    head needs 8 windows of a speaker), 1 s seeded buzzy vowels, plus one missing file."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    t = np.arange(SR) / SR
    rows = []
    for speaker, gender, f0 in (("s1", "male", 110.0), ("s2", "female", 210.0)):
        for k, label in enumerate((*LABELS, "neutral")):
            phase = 2 * np.pi * f0 * (1 + 0.08 * k) * t
            wave = sum(np.sin(h * phase) / h for h in range(1, 10)) * np.hanning(SR)
            wave = 0.2 * wave + 0.005 * rng.standard_normal(SR)
            sf.write(folder / f"{speaker}_{k}.wav", wave.astype(np.float32), SR)
            rows.append({"path": f"{speaker}_{k}.wav", "speaker": speaker, "gender": gender,
                         "label": label})  # fmt: skip
    rows.append({"path": "missing.wav", "speaker": "s2", "gender": "female", "label": "sad"})
    manifest = folder / "manifest.csv"
    with open(manifest, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["path", "speaker", "gender", "label"])
        writer.writeheader()
        writer.writerows(rows)
    return manifest


def plugin_parser() -> argparse.ArgumentParser:
    """An `emotrace`-like parser with only the training room's plugins registered."""
    parser = argparse.ArgumentParser(prog="emotrace")
    sub = parser.add_subparsers(dest="command", required=True)
    register_train(sub)
    register_eval(sub)
    return parser


def test_train_and_eval_ser_through_the_plugins(tmp_path: Path, capsys):
    manifest = write_manifest(tmp_path / "data")
    parser = plugin_parser()
    out, cache = tmp_path / "ser-plugin", tmp_path / "cache"
    args = parser.parse_args(
        [
            "train",
            "ser",
            "--manifest",
            str(manifest),
            "--out",
            str(out),
            "--channels",
            "clean",
            "--hidden",
            "0",
            "--epochs",
            "3",
            "--members",
            "1",
            "--gender-boosts",
            "1",
            "--cache-dir",
            str(cache),
        ]  # fmt: skip
    )
    assert args.func(args) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(out)
    assert load_model(out, "ser").name == "ser-plugin"  # checksummed and loadable
    args = parser.parse_args(
        ["eval", "ser", "--manifest", str(manifest), "--model", str(out), "--cache-dir", str(cache)]
    )
    assert args.func(args) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 16 and report["skipped"] == 1 and report["used_groups"] is True
    assert report["skipped_examples"] == {"unknown_label": [], "unreadable": ["missing.wav"]}


def test_plugin_errors_propagate_for_the_cli_to_report(tmp_path: Path):
    parser = plugin_parser()
    missing = tmp_path / "nowhere.csv"
    for command in (["train", "ser", "--manifest", str(missing), "--out", str(tmp_path / "m")],
                    ["eval", "ser", "--manifest", str(missing)]):  # fmt: skip
        args = parser.parse_args(command)
        with pytest.raises(FileNotFoundError, match="nowhere.csv"):
            args.func(args)
    args = parser.parse_args(
        ["train", "ser", "--manifest", str(missing), "--out", str(tmp_path / "m"), "--members", "0"]
    )
    with pytest.raises(ValueError, match="--members"):
        args.func(args)
    with pytest.raises(SystemExit) as usage:  # a kind is required: argparse's usage error
        parser.parse_args(["train"])
    assert usage.value.code == 2


def test_eval_is_shared_with_the_engines_kinds():
    parser = argparse.ArgumentParser(prog="emotrace")
    sub = parser.add_subparsers(dest="command", required=True)
    engine_eval = sub.add_parser("eval").add_subparsers(dest="kind", required=True)
    engine_eval.add_parser("diarization").set_defaults(func=lambda args: 0)
    register_eval(sub)  # adds ser and fer beside diarization instead of a conflicting "eval"
    assert set(engine_eval.choices) == {"diarization", "ser", "fer"}
    assert parser.parse_args(["eval", "diarization"]).func(None) == 0
    assert parser.parse_args(["eval", "fer", "--npz", "x.npz"]).npz == "x.npz"
    sub.add_parser("plain")
    with pytest.raises(ValueError, match="no subcommands"):
        command_group(sub, "plain", "")


def test_emotrace_eval_ser_through_the_command_line(tmp_path: Path, capsys):
    """The installed `emotrace` finds the plugin (after `pip install -e .` registers its entry
    points): the shipped model on the synthetic manifest, then a one-line error."""
    from analyzer.cli import main

    manifest = write_manifest(tmp_path / "data")
    assert main(["eval", "ser", "--manifest", str(manifest), "--no-groups"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["n"] == 16 and report["used_groups"] is False
    assert set(report["per_speaker"]) == {"s1", "s2"}
    assert main(["eval", "ser", "--manifest", str(tmp_path / "nowhere.csv")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("emotrace:") and "nowhere.csv" in err[-1]
    assert not any("Traceback" in line for line in err)


def test_engine_imports_no_training_code():
    code = (
        "import sys, analyzer, analyzer.pipeline, analyzer.cli; "
        "loaded = sorted(m for m in sys.modules if m == 'train' or m.startswith('train.') "
        "or m.startswith('analyzer.train') or m == 'analyzer.audio.augment'); "
        "assert not loaded, loaded"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


def test_old_import_paths_are_deprecated_aliases_of_the_moved_modules():
    code = """
import warnings

warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    from analyzer.audio import augment
    from analyzer.train import heads
    from analyzer.train.ser import train_ser
import train.augment, train.heads, train.ser
assert augment is train.augment and heads is train.heads
assert train_ser is train.ser.train_ser  # one module object, not a second copy
messages = [str(w.message) for w in caught if w.category is DeprecationWarning]
assert any("analyzer.train is deprecated" in m for m in messages), messages
assert any("analyzer.audio.augment is deprecated" in m for m in messages), messages
try:
    import analyzer.train.no_such_module
except ModuleNotFoundError:
    pass
else:
    raise AssertionError("a module that never existed was found")
"""
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


TINY = ["--channels", "clean", "--hidden", "0", "--epochs", "2", "--members", "1",
        "--gender-boosts", "1"]  # fmt: skip


def test_train_ser_never_overwrites_a_model_unasked_nor_leaves_half_a_folder(tmp_path, capsys):
    from analyzer.cli import main
    from train.ser import _published

    manifest = write_manifest(tmp_path / "data")
    cache = ["--cache-dir", str(tmp_path / "cache")]
    base = ["train", "ser", "--manifest", str(manifest), *TINY, *cache]
    with pytest.raises(SystemExit):  # no default folder to write into (it was a shipped model)
        plugin_parser().parse_args(["train", "ser", "--manifest", str(manifest)])
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    for flags, words in (
        (["--out", str(kept)], "--overwrite"),
        (["--out", str(tmp_path / "m"), "--epochs", "0"], "--epochs"),
        (["--out", str(tmp_path / "m"), "--channels", " "], "--channels"),
        (["--out", str(tmp_path / "m"), "--channels", "clean,radio"], "radio"),
        (["--out", str(tmp_path / "m"), "--gender-boosts", "abc"], "--gender-boosts"),
        (["--out", str(kept / "notes.txt")], "not a folder"),
    ):
        assert main([*base, *flags]) == 2, flags  # a usage error, before anything is read
        assert words in capsys.readouterr().err.strip().splitlines()[-1]
    assert (kept / "notes.txt").read_text() == "mine" and not (tmp_path / "m").exists()
    out = tmp_path / "model"
    assert main([*base, "--out", str(out)]) == 0
    first = (out / "head.npz").read_bytes()
    (out / "MODEL_CARD.md").write_text("# our model\n")  # a card written by hand
    again = [*base, "--init", str(out), "--out", str(out)]
    assert main(again) == 2 and "--init" in capsys.readouterr().err  # adapting in place
    assert main([*base, "--out", str(out), "--overwrite", "--epochs", "3"]) == 0
    assert (out / "head.npz").read_bytes() != first  # replaced ...
    assert (out / "MODEL_CARD.md").read_text() == "# our model\n"  # ... the card kept
    assert load_model(out, "ser").name == "model"
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(OSError, match="No space"), _published(out) as staging:
        (staging / "head.npz").write_bytes(b"half")
        raise OSError(28, "No space left on device")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old model stands
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_eval_ser_scores_the_engines_model_and_says_when_nothing_was_scored(tmp_path, capsys):
    from analyzer.cli import main
    from analyzer.models import DEFAULT_MODELS

    parser = plugin_parser()
    args = parser.parse_args(["eval", "ser", "--manifest", "m.csv"])
    assert args.model == DEFAULT_MODELS["ser"]  # not version 1, which heard actors 17-20
    manifest = write_manifest(tmp_path / "data")
    rows = manifest.read_text().splitlines()
    sf.write(tmp_path / "data" / "nan.wav", np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    sf.write(tmp_path / "data" / "blip.wav", np.zeros(16, np.float32), SR)  # 1 ms
    extra = ["nan.wav,s1,male,sad", "blip.wav,s1,male,sad"]
    bom = tmp_path / "data" / "excel.csv"  # a spreadsheet's "CSV UTF-8": with a BOM, CRLF
    bom.write_text("\r\n".join([*rows, *extra]) + "\r\n", encoding="utf-8-sig")
    for channel in ("clean", "telephone"):
        assert main(["eval", "ser", "--manifest", str(bom), "--channel", channel]) == 0
        report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert report["n"] == 17 and report["skipped"] == 2  # NaN samples read as silence
        assert report["skipped_examples"]["unreadable"] == ["missing.wav", "blip.wav"]
        assert np.isfinite(report["ece"])
    shouted = tmp_path / "data" / "upper.csv"
    shouted.write_text("path,label\ns1_0.wav,Angry\ns1_1.wav,HAPPY\n")
    assert main(["eval", "ser", "--manifest", str(shouted)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert "no clip could be scored" in err and "'Angry'" in err
