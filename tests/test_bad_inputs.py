"""The bad-input corpus through the real command line (issue 12).

Every input of ``bad_inputs.build_corpus`` goes through ``analyzer.cli.main`` in one batch: each
one gets a correct result or one ``emotrace: <file>: <cause>`` line, never a traceback; nothing
is half-written; no result of another input is lost. Output folders that are read-only or full
are real tmpfs mounts when the test may mount them (root), else simulated (said in the skip or
the test id).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from bad_inputs import SR, Case, build_corpus, signal

import analyzer.pipeline as pipeline_module
from analyzer.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def shared(monkeypatch, analyzer):
    """The CLI's Analyzer replaced by the session's one (models load once for all tests); each
    run keeps the config its flags give."""

    class SharedAnalyzer:
        def __init__(self, config=None):
            self.config = config or analyzer.config

        def analyze(self, path, *, progress=None):
            return analyzer.analyze(path, config=self.config, progress=progress)

        def close(self) -> None:
            return None

    monkeypatch.setattr(pipeline_module, "Analyzer", SharedAnalyzer)
    return SharedAnalyzer


def run_cli(capsys, *argv: str | os.PathLike) -> tuple[int, list[str], list[str]]:
    """(exit status, stdout lines, stderr lines) of one in-process ``emotrace`` run."""
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out.splitlines(), err.splitlines()


def assert_no_traceback(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert "Traceback" not in text and 'File "' not in text, text


def leftovers(folder: Path) -> list[str]:
    """Temporary files an atomic write might have left (hidden ``.name.*`` files)."""
    return sorted(p.name for p in folder.rglob(".*"))


def check_cases(cases: list[Case], out: Path, stdout: list[str], stderr: list[str]) -> None:
    """Each case: its one-line error (and no result), or its result (with the asked-for note)."""
    for case in cases:
        stem = case.path.name + ("~2" if case.path.parent.name == "again" else "")
        result = out / f"{stem}.json"
        mine = [line for line in stderr if line.startswith(f"emotrace: {case.path}: ")]
        if case.expect == "error":
            assert len(mine) == 1, (case.path.name, stderr)
            assert case.words in mine[0], (case.path.name, mine[0])
            assert not result.exists(), case.path.name
        else:
            assert not mine, (case.path.name, mine)
            assert result.exists(), (case.path.name, stderr[-5:])
            data = json.loads(result.read_text(encoding="utf-8"))
            assert Path(data["media"]["path"]).name == case.path.name
            assert data["media"]["duration_s"] > 0
            if case.words:
                assert any(case.words in note["message"] for note in data["notes"]), data["notes"]
            assert any(line.startswith(f"{case.path.name}: ") for line in stdout), case.path


@pytest.mark.slow
def test_corpus_through_the_cli(tmp_path, capsys, shared):
    cases = build_corpus(tmp_path / "in")
    assert len(cases) >= 60
    out = tmp_path / "out"
    failed = 0
    for video in (False, True):
        batch = [c for c in cases if c.video == video]
        flags = ["--fps", "2"] if video else ["--no-video"]
        rc, stdout, stderr = run_cli(
            capsys, "analyze", *[c.path for c in batch], "--out", out, "--quiet", *flags
        )
        assert_no_traceback(stdout + stderr)
        errors = sum(c.expect == "error" for c in batch)
        failed += errors
        assert rc == (1 if errors else 0)
        if errors:
            assert stderr[-1] == f"emotrace: {errors} of {len(batch)} inputs failed"
        # Every stderr line is one input's one-line error or the count.
        assert all(line.startswith("emotrace: ") for line in stderr), stderr
        check_cases(batch, out, stdout, stderr)
    assert failed >= 15
    assert leftovers(out) == []
    results = sorted(p.name for p in out.iterdir())
    assert len(results) == sum(c.expect == "ok" for c in cases)


@pytest.mark.slow
def test_sixty_inputs_with_colliding_names_all_kept(tmp_path, capsys, shared):
    names = ["call.wav"] * 20 + ["call.v1.wav"] * 20 + ["short_0.1s.wav"] * 10 + ["call.wav~2"] * 10
    inputs = []
    for i, name in enumerate(names):
        folder = tmp_path / "in" / f"d{i:02d}"
        folder.mkdir(parents=True)
        path = folder / name
        sf.write(path, signal(0.5, seed=i)[:, 0] * (0.5 + i / 200), SR, format="WAV")
        inputs.append(path)
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(capsys, "analyze", *inputs, "--out", out, "--quiet")
    assert rc == 0, stderr
    assert_no_traceback(stderr)
    results = sorted(out.glob("*.json"))
    assert len(results) == 60 and leftovers(out) == []
    assert {Path(json.loads(p.read_text())["media"]["path"]) for p in results} == set(inputs)
    # The whole name is kept; repeats are numbered in input order; a real ``call.wav~2`` input
    # never shares a name with the second ``call.wav``.
    assert (out / "call.wav.json").exists() and (out / "call.v1.wav.json").exists()
    assert (out / "short_0.1s.wav.json").exists() and not (out / "short_0.json").exists()
    first = json.loads((out / "call.wav.json").read_text())["media"]["path"]
    assert Path(first) == inputs[0]
    second = json.loads((out / "call.wav~3.json").read_text())["media"]["path"]
    assert Path(second) == inputs[1]  # call.wav~2 is another input's own name
    own = json.loads((out / "call.wav~2.json").read_text())["media"]["path"]
    assert Path(own) == inputs[50]
    # A second run over the same inputs lands on the same names (overwriting its own results).
    before = {p.name for p in results}
    rc, _, _ = run_cli(capsys, "analyze", *inputs[:3], "--out", out, "--quiet")
    assert rc == 0 and {p.name for p in out.glob("*.json")} == before


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--fps", "0"], "--fps"),
        (["--fps", "1000"], "--fps"),
        (["--fps", "nan"], "--fps"),
        (["--fps", "fast"], "--fps"),
        (["--max-minutes", "-1"], "--max-minutes"),
        (["--speakers", "99"], "--speakers"),
        (["--min-speakers", "0"], "--min-speakers"),
        (["--min-speakers", "two"], "--min-speakers"),
        (["--transcript", "/nowhere/calls.srt"], "--transcript"),
        (["--lexicons", "/nowhere/lexicons"], "--lexicons"),
        (["--channels", "a,a"], "--channels"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path, capsys, flags, words):
    wav = tmp_path / "a.wav"
    sf.write(wav, signal(0.5)[:, 0], SR)
    rc, _, stderr = run_cli(capsys, "analyze", wav, "--out", tmp_path / "out", *flags)
    assert rc == 2
    assert_no_traceback(stderr)
    assert "error:" in stderr[-1] and words in stderr[-1]
    assert not (tmp_path / "out").exists()


def test_out_naming_a_file_and_no_inputs_are_usage_errors(tmp_path, capsys):
    wav = tmp_path / "a.wav"
    sf.write(wav, signal(0.5)[:, 0], SR)
    rc, _, stderr = run_cli(capsys, "analyze", wav, "--out", wav)
    assert rc == 2 and "--out" in stderr[-1] and "not a folder" in stderr[-1]
    assert_no_traceback(stderr)
    rc, _, stderr = run_cli(capsys, "analyze", "--out", tmp_path / "o")
    assert rc == 2 and "error:" in stderr[-1]
    rc, _, stderr = run_cli(capsys, "analyze", wav, "--out", wav / "sub")
    assert rc == 2 and "--out" in stderr[-1]
    assert_no_traceback(stderr)


def test_config_validation_is_a_usage_error(tmp_path, capsys, monkeypatch):
    """A value that passes its flag's parser but not the config's own check: exit 2, one line."""
    import analyzer.config as config_module

    wav = tmp_path / "a.wav"
    sf.write(wav, signal(0.5)[:, 0], SR)
    real = config_module.option_specs

    def loose_fps():  # the flag's own check removed: the config's check is the last guard
        return [replace(s, parse=float) if s.name == "fps" else s for s in real()]

    monkeypatch.setattr(config_module, "option_specs", loose_fps)
    rc, _, stderr = run_cli(capsys, "analyze", wav, "--out", tmp_path / "o", "--fps", "99")
    assert rc == 2 and "fps must be in (0, 30]" in stderr[-1]
    assert_no_traceback(stderr)


def test_every_failure_of_one_input_is_caught_and_the_batch_goes_on(
    tmp_path, capsys, shared, monkeypatch
):
    inputs = []
    for name in ("a.wav", "memory.wav", "boom.wav", "value.wav", "z.wav"):
        sf.write(tmp_path / name, signal(0.5)[:, 0], SR)
        inputs.append(tmp_path / name)
    real = shared.analyze

    def analyze(self, path, *, progress=None):
        name = Path(path).name
        if name == "memory.wav":
            raise MemoryError("29 GiB")
        if name == "boom.wav":
            raise RuntimeError("something unexpected\nover two lines")
        if name == "value.wav":
            raise ValueError("Audio buffer is not finite everywhere")
        return real(self, path, progress=progress)

    monkeypatch.setattr(shared, "analyze", analyze)
    out = tmp_path / "out"
    rc, stdout, stderr = run_cli(capsys, "analyze", *inputs, "--out", out, "--quiet")
    assert rc == 1
    assert_no_traceback(stderr)
    assert stderr == [
        f"emotrace: {inputs[1]}: not enough memory to analyse it",
        f"emotrace: {inputs[2]}: unexpected error (RuntimeError: something unexpected over two "
        "lines)",
        f"emotrace: {inputs[3]}: cannot be analysed (Audio buffer is not finite everywhere)",
        "emotrace: 3 of 5 inputs failed",
    ]
    assert sorted(p.name for p in out.iterdir()) == ["a.wav.json", "z.wav.json"]
    # --debug: the same, with the traceback before each one-line error.
    rc, _, stderr = run_cli(capsys, "analyze", inputs[2], "--out", out, "--quiet", "--debug")
    assert rc == 1 and "Traceback" in "\n".join(stderr)
    assert stderr[-2].startswith(f"emotrace: {inputs[2]}: unexpected error")


def test_a_result_never_overwrites_an_input(tmp_path, capsys, shared):
    wav = tmp_path / "a.wav"
    sf.write(wav, signal(0.5)[:, 0], SR)
    victim = tmp_path / "a.wav.json"  # an input of this run, where a.wav's result would go
    victim.write_bytes(wav.read_bytes())
    rc, _, stderr = run_cli(capsys, "analyze", wav, victim, "--out", tmp_path, "--quiet")
    assert rc == 1 and "would overwrite an input" in stderr[0]
    assert victim.read_bytes() == wav.read_bytes()


@contextlib.contextmanager
def tmpfs(path: Path, options: str):
    """A tmpfs mounted at ``path`` (root only); skips the test where mounting is not allowed."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.decode().strip()})")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=False)


def _two_inputs(tmp_path: Path) -> list[Path]:
    inputs = []
    for name in ("first.wav", "second.wav"):
        sf.write(tmp_path / name, signal(0.5)[:, 0], SR)
        inputs.append(tmp_path / name)
    return inputs


def _check_write_failures(rc, stderr, inputs, out, reason):
    assert rc == 1
    assert_no_traceback(stderr)
    assert stderr[-1] == "emotrace: 2 of 2 inputs failed"
    for path, line in zip(inputs, stderr[:2]):
        assert line.startswith(f"emotrace: {path}: cannot write ") and reason in line
    assert not list(out.glob("*.json")) and leftovers(out) == []


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_read_only_output_folder_real_mount(tmp_path, capsys, shared):
    inputs = _two_inputs(tmp_path)
    with tmpfs(tmp_path / "ro", "ro,size=1m") as out:
        rc, _, stderr = run_cli(capsys, "analyze", *inputs, "--out", out, "--quiet")
        _check_write_failures(rc, stderr, inputs, out, "Read-only file system")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_full_output_folder_real_mount(tmp_path, capsys, shared):
    inputs = _two_inputs(tmp_path)
    with tmpfs(tmp_path / "full", "size=64k") as out:
        with contextlib.suppress(OSError), open(out / "filler", "wb") as fh:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        rc, _, stderr = run_cli(capsys, "analyze", *inputs, "--out", out, "--quiet", "--csv")
        _check_write_failures(rc, stderr, inputs, out, "No space left on device")


def test_full_output_folder_simulated(tmp_path, capsys, shared, monkeypatch):
    """Where no tmpfs can be mounted: ENOSPC raised by the rename of every atomic write."""
    inputs = _two_inputs(tmp_path)
    out = tmp_path / "out"

    def full(src, dst):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    import analyzer.result as result_module

    monkeypatch.setattr(result_module.os, "replace", full)
    rc, _, stderr = run_cli(capsys, "analyze", *inputs, "--out", out, "--quiet")
    monkeypatch.undo()
    _check_write_failures(rc, stderr, inputs, out, "No space left on device")


def test_duration_limit_is_enforced_while_decoding(tmp_path, capsys, shared):
    """A Matroska file written as a live stream has no duration in its header: the limit still
    stops it (decoding stops a few seconds past the limit), and an honest header is refused
    before decoding."""
    from bad_inputs import encode_audio

    from analyzer.media import probe_media

    live = encode_audio(
        tmp_path / "live.mkv", signal(40.0, 16000), 16000, "aac", options={"live": "1"}
    )
    assert probe_media(live).duration_s == 0.0  # the header says nothing
    honest = tmp_path / "honest.wav"
    sf.write(honest, signal(40.0)[:, 0], SR)
    out = tmp_path / "out"
    rc, _, stderr = run_cli(
        capsys, "analyze", live, honest, "--out", out, "--quiet", "--max-minutes", "0.25"
    )
    assert rc == 1
    assert stderr == [
        f"emotrace: {live}: is longer than the limit of 0.25 min (decoding stopped there)",
        f"emotrace: {honest}: is 0.7 min long; the limit is 0.25 min",
        "emotrace: 2 of 2 inputs failed",
    ]
    rc, _, stderr = run_cli(
        capsys, "analyze", live, "--out", out, "--quiet", "--max-minutes", "1", "--no-video"
    )
    assert rc == 0, stderr
    saved = json.loads((out / "live.mkv.json").read_text())
    assert abs(saved["media"]["duration_s"] - 40.0) < 0.2


@pytest.mark.slow
def test_the_installed_command_in_a_subprocess(tmp_path):
    """The real process: exit statuses, the last line, and nothing else on stderr (no traceback,
    no MediaPipe/TFLite start-up lines) even with a face video analysed."""
    from bad_inputs import write_video
    from skimage.data import astronaut

    good = tmp_path / "-dash.wav"
    sf.write(good, signal(0.5)[:, 0], SR)
    face = np.ascontiguousarray(astronaut()[:480, 40:400])
    video = write_video(tmp_path / "face.mp4", [face] * 4, fps=4, audio=signal()[:, 0])
    empty = tmp_path / "通话.wav"
    empty.write_bytes(b"")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "analyzer.cli", "analyze", "--out", str(tmp_path / "out")]
    done = subprocess.run(
        [*cmd, "--quiet", "--fps", "2", "--", str(good), str(video), str(empty)],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines() == [
        f"emotrace: {empty}: file is empty (0 bytes)",
        "emotrace: 1 of 3 inputs failed",
    ]
    assert (tmp_path / "out" / "-dash.wav.json").exists()
    faces = json.loads((tmp_path / "out" / "face.mp4.json").read_text())["faces"]
    assert any(row["track"] is not None for row in faces)
    done = subprocess.run(
        [*cmd, "--fps", "0", str(good)], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert (
        done.stderr.strip().splitlines()[-1].startswith("emotrace analyze: error: argument --fps")
    )


def test_notes_carry_code_and_params(tmp_path):
    from analyzer.media import decode_audio
    from analyzer.notes import Note, note_dict

    y = signal()[:, 0].copy()
    y[10:20] = np.nan
    sf.write(tmp_path / "n.wav", y, SR, subtype="FLOAT")
    (note,) = decode_audio(tmp_path / "n.wav").notes
    assert isinstance(note, Note) and isinstance(note, str)
    assert note_dict(note) == {
        "code": "nonfinite_samples",
        "params": {"file": "n.wav", "count": 10},
        "message": "10 NaN or infinite samples in n.wav were replaced with silence",
    }
    assert str(tmp_path) not in note  # the file's name only, never a (server's) folder
    assert json.dumps([note]) == json.dumps([note.message])


def test_a_broken_plugin_does_not_break_analyze(tmp_path, capsys, monkeypatch):
    import analyzer.cli as cli_module

    class Broken:
        name = "broken"

        def load(self):
            raise ImportError("cannot import name 'x' from 'somewhere'")

    monkeypatch.setattr(cli_module, "entry_points", lambda group: [Broken()])
    empty = tmp_path / "e.wav"
    empty.write_bytes(b"")
    rc, _, stderr = run_cli(capsys, "analyze", empty, "--out", tmp_path / "o", "--quiet")
    assert rc == 1 and stderr[0] == f"emotrace: {empty}: file is empty (0 bytes)"
    rc, _, stderr = run_cli(capsys, "broken", "--any", "thing")
    assert rc == 1 and stderr == [
        "emotrace: error: the 'broken' command could not be loaded "
        "(ImportError: cannot import name 'x' from 'somewhere')"
    ]


def test_a_video_that_outlasts_its_audio_is_analysed_to_the_audio_end(tmp_path):
    """8 s of a face over 3 s of sound: the faces stop where the call (its audio) ends, and a
    note says the video went on (face rows used to run past the end of every timeline)."""
    from bad_inputs import write_video
    from skimage.data import astronaut

    from analyzer import Analyzer
    from analyzer.config import AnalysisConfig

    face = np.ascontiguousarray(astronaut()[:480, 40:400])
    path = write_video(tmp_path / "long picture.mp4", [face] * 40, fps=5, audio=signal(3.0)[:, 0])
    result = Analyzer(AnalysisConfig(ser_model=None, fer_model=None)).analyze(path)
    end = result.media.duration_s
    assert 2.9 < end < 3.3
    assert result.faces and max(row.time for row in result.faces) <= end + 0.2 + 1e-6
    assert any(row.face for row in result.faces)
    notes = {n.code: n for n in result.notes}
    assert notes["video_outlasts_audio"].params["audio_end_s"] == pytest.approx(end, abs=1e-3)
    # A video that ends with its audio gets no such note.
    even = write_video(tmp_path / "even.mp4", [face] * 15, fps=5, audio=signal(3.0)[:, 0])
    assert "video_outlasts_audio" not in [
        n.code for n in Analyzer(AnalysisConfig(ser_model=None, fer_model=None)).analyze(even).notes
    ]
