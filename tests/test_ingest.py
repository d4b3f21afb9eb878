"""emotrace library import: a batch output folder into a real library (SQLite file + folder)."""

from __future__ import annotations

import argparse
import shutil
import tomllib
from pathlib import Path

import pytest
from fake_results import make_result, write_tone_wav

from analyzer.batch import resume
from analyzer.hashing import content_hash
from analyzer.naming import output_path
from review.ingest import import_batch
from review.store import Store

ROOT = Path(__file__).resolve().parents[1]


def _finish(out: Path, stem: str, recording: Path, *, seed: int) -> str:
    """Write one call's result and finished record as `emotrace batch` does; its call id."""
    result = make_result(str(recording), duration=2.0, seed=seed)
    result.save_json(output_path(out, stem, ".json"))
    call_id = content_hash(recording)
    agent = "lee" if stem == "sub/b.wav" else None  # as a manifest's agent column gives it
    resume.write_record(
        out, stem, call_id=call_id, fp="f" * 64, file=stem, path=str(recording), agent=agent
    )
    return call_id


@pytest.fixture
def batch_folder(tmp_path):
    """A batch output folder of five finished calls: two plain ones, one whose input is gone,
    one whose result was edited after the batch, one recording given twice under two names."""
    rec, out = tmp_path / "rec", tmp_path / "out"
    rec.mkdir()
    files = {}
    for i, name in enumerate(("a.wav", "sub/b.wav", "gone.wav", "edited.wav")):
        (rec / name).parent.mkdir(parents=True, exist_ok=True)
        files[name] = write_tone_wav(rec / name, seconds=1.0 + 0.25 * i)
    ids = {name: _finish(out, name, path, seed=i) for i, (name, path) in enumerate(files.items())}
    shutil.copyfile(files["a.wav"], rec / "a-copy.wav")
    ids["a-copy.wav"] = _finish(out, "a-copy.wav", rec / "a-copy.wav", seed=9)
    (rec / "gone.wav").unlink()
    edited = output_path(out, "edited.wav", ".json")
    edited.write_bytes(edited.read_bytes() + b" ")  # still valid JSON, no longer the batch's
    return out, ids


def _command(argv: list[str], capsys) -> tuple[int, str, str]:
    from review.ingest import register

    parser = argparse.ArgumentParser(prog="emotrace")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    status = args.func(args)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_import_stores_results_with_media_where_reachable_and_is_idempotent(
    batch_folder, tmp_path, capsys
):
    out, ids = batch_folder
    home = tmp_path / "library"
    status, stdout, stderr = _command(
        ["library", "import", str(out), "--home", str(home), "--user", "ann"], capsys
    )
    assert status == 1  # one call failed, the others are imported
    assert stderr.splitlines()[0].startswith("emotrace: edited.wav: result edited.wav.json changed")
    assert stderr.splitlines()[-1] == "emotrace: 1 of 5 calls failed to import"
    lines = stdout.splitlines()
    # a.wav and a-copy.wav are one recording: whichever comes second is skipped, in one line
    assert [x for x in lines if x.startswith("skipped ")] == [
        next(x for x in lines if x.startswith("skipped a.wav: already in the library as a-copy"))
    ]
    assert [x for x in lines if x.startswith("note: ")] == [
        f"note: gone.wav: imported without its recording (input not reachable at "
        f"{out.parent / 'rec' / 'gone.wav'})"
    ]
    assert lines[-1].startswith(
        "5 calls: 3 imported (1 without recording), 1 already in the library, 1 failed"
    )

    with Store(home) as store:
        calls = {c.name: c for c in store.list_calls()}
        assert set(calls) == {"a-copy.wav", "sub/b.wav", "gone.wav"}
        for name in ("a-copy.wav", "sub/b.wav"):
            record = calls[name]
            assert content_hash(record.media_path) == ids[name] == record.content_hash
            assert Path(record.media_path).is_relative_to(home)  # a copy, not the input
            assert store.load_result(record.id).media.duration_s == pytest.approx(2.0)
        assert calls["sub/b.wav"].agent == "lee" and calls["a-copy.wav"].agent == ""
        gone = calls["gone.wav"]
        assert gone.media_path == "" and gone.content_hash == ids["gone.wav"]
        assert store.load_result(gone.id).media.path == "gone.wav"  # no path of the batch host
        assert {(e.user, e.action) for e in store.list_audit()} == {("ann", "upload")}
        assert len(store.list_audit()) == 3

    # Again, with the edited result put right: nothing is stored twice, edited.wav comes in.
    edited = output_path(out, "edited.wav", ".json")
    edited.write_bytes(edited.read_bytes()[:-1])
    assert content_hash(edited) == resume.read_record(out, "edited.wav")["result_sha256"]
    status, stdout, stderr = _command(["library", "import", str(out), "--home", str(home)], capsys)
    assert status == 0 and stderr == ""
    assert sum(x.startswith("skipped ") for x in stdout.splitlines()) == 4
    assert stdout.splitlines()[-1].startswith(
        "5 calls: 1 imported (0 without recording), 4 already"
    )
    with Store(home) as store:
        assert sorted(c.name for c in store.list_calls()) == [
            "a-copy.wav", "edited.wav", "gone.wav", "sub/b.wav",
        ]  # fmt: skip


def test_import_without_media_and_by_reference(batch_folder, tmp_path):
    out, ids = batch_folder
    with Store(tmp_path / "results-only") as store:
        outcomes = list(import_batch(out, store, with_media=False))
        assert {o.status for o in outcomes} == {"imported", "skipped", "failed"}
        assert all(not o.media for o in outcomes)
        assert {c.media_path for c in store.list_calls()} == {""}
    with Store(tmp_path / "linked") as store:
        outcomes = list(import_batch(out, store, copy_media=False))
        linked = store.get_call(next(o.call_id for o in outcomes if o.file == "sub/b.wav"))
        assert linked.media_path == str(out.parent / "rec" / "sub" / "b.wav")
        assert linked.content_hash == ids["sub/b.wav"]


def test_changed_input_is_imported_without_media(batch_folder, tmp_path):
    out, _ = batch_folder
    write_tone_wav(out.parent / "rec" / "sub" / "b.wav", seconds=3.0)  # other bytes, same path
    with Store(tmp_path / "library") as store:
        got = {o.file: o for o in import_batch(out, store)}
    assert got["sub/b.wav"].status == "imported" and not got["sub/b.wav"].media
    assert "changed after the batch" in got["sub/b.wav"].reason


def test_a_folder_that_is_no_batch_output_is_a_usage_error(tmp_path, capsys):
    (tmp_path / "plain").mkdir()
    status, _, stderr = _command(
        ["library", "import", str(tmp_path / "plain"), "--home", str(tmp_path / "lib")], capsys
    )
    assert status == 2
    assert stderr.strip() == (
        f"emotrace: library import: {tmp_path / 'plain'}: not an emotrace batch output folder "
        "(no .emotrace-batch/done)"
    )


def test_imported_call_without_media_opens_in_the_review_without_a_player(batch_folder, tmp_path):
    from fake_results import FakeAnalyzer

    from analyzer import AnalysisConfig
    from review import views
    from review.ui.common import AppContext
    from review.ui.served import ServedFiles
    from review.ui.view import show_call

    out, _ = batch_folder
    with Store(tmp_path / "library") as store:
        outcomes = {o.file: o for o in import_batch(out, store)}
        ctx = AppContext(
            store,
            FakeAnalyzer(),
            views.UploadLimits(),
            AnalysisConfig(),
            (),
            served=ServedFiles(tmp_path / "served"),
        )
        view = show_call(ctx, outcomes["gone.wav"].call_id, "en")
        assert "imported without its recording" in view.player and "<audio" not in view.player
        assert view.timeline is not None
        played = show_call(ctx, outcomes["sub/b.wav"].call_id, "zh")
        assert "<audio" in played.player


def test_library_command_is_an_entry_point():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        points = tomllib.load(fh)["project"]["entry-points"]["emotrace.commands"]
    assert points["library"] == "review.ingest:register"
