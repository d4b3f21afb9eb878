"""The call library: saves, filters, annotations, deletes, crashes, concurrency, migrations."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from fake_results import make_result, write_tone_wav
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from review.store import SCHEMA_VERSION, CallFilter, Store, StoreError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def wav(tmp_path):
    return write_tone_wav(tmp_path / "in.wav", 1.0)


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "home") as s:
        yield s


def test_saved_call_survives_reopening(store, wav):
    record = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="call one")
    assert Path(record.media_path).read_bytes() == wav.read_bytes()  # a copy, not a move
    assert record.roles == ("agent", "customer") and record.n_events == 2
    assert record.negative_share == pytest.approx(1 / 3, abs=1e-6)
    note = store.add_annotation(record.id, author="ben", kind="note", text="listen", start=3.5)
    store.close()

    again = Store(store.home)
    [found] = again.list_calls()
    assert found == record
    result = again.load_result(record.id)
    # The stored result names the recording, not the (temporary) path it was analysed from.
    assert result.to_dict() == make_result("call one").to_dict()
    assert Path(record.media_path).name == "media.wav"
    [note_again] = again.list_annotations(record.id)
    assert note_again == note and note_again.end == 3.5
    again.close()


def test_filters(store, wav):
    angry = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="Angry customer")
    calm = store.add_call(
        make_result(str(wav), angry_customer=False, duration=30.0),
        wav,
        uploaded_by="ben",
        name="calm call",
    )

    def ids(f):
        return {c.id for c in store.list_calls(f)}

    assert ids(CallFilter()) == {angry.id, calm.id}
    assert ids(CallFilter(text="ANGRY")) == {angry.id}
    assert ids(CallFilter(min_negative=0.2)) == {angry.id}
    assert ids(CallFilter(min_duration_s=20)) == {calm.id}
    assert ids(CallFilter(max_duration_s=20)) == {angry.id}
    assert ids(CallFilter(role="Customer")) == {angry.id, calm.id}
    assert ids(CallFilter(role="supervisor")) == set()
    assert ids(CallFilter(event_kind="escalation")) == {angry.id, calm.id}
    assert ids(CallFilter(event_kind="overtalk")) == set()
    assert ids(CallFilter(uploaded_by="ben")) == {calm.id}
    today = angry.created_at[:10]
    assert ids(CallFilter(date_from=today, date_to=today)) == {angry.id, calm.id}
    assert ids(CallFilter(date_to="2000-01-01")) == set()
    assert store.list_calls()[0].id == calm.id  # newest first


def test_annotations_are_validated_and_kept_apart_from_model_output(store, wav):
    record = store.add_call(make_result(str(wav)), wav, uploaded_by="ana")
    before = Path(record.result_path).read_bytes()
    fix = store.add_annotation(
        record.id,
        author="ana",
        kind="label_correction",
        start=6,
        end=8,
        speaker="S1",
        corrected_label="sad",
    )
    flag = store.add_annotation(record.id, author="ana", kind="coaching_flag", text="good")
    assert fix.corrected_label == "sad" and flag.start is None
    assert Path(record.result_path).read_bytes() == before
    with pytest.raises(StoreError, match="label"):
        store.add_annotation(record.id, author="ana", kind="label_correction", start=1)
    with pytest.raises(StoreError, match="kind"):
        store.add_annotation(record.id, author="ana", kind="opinion", text="x")
    with pytest.raises(StoreError, match="start <= end"):
        store.add_annotation(record.id, author="ana", kind="note", text="x", start=5, end=2)
    with pytest.raises(StoreError, match="no call"):
        store.add_annotation("nope", author="ana", kind="note", text="x")
    store.delete_annotation(fix.id)
    assert [a.id for a in store.list_annotations(record.id)] == [flag.id]


def test_delete_removes_row_annotations_and_derived_files(store, wav):
    record = store.add_call(make_result(str(wav)), wav, uploaded_by="ana")
    store.add_annotation(record.id, author="ana", kind="note", text="x", start=1)
    (store.derived_dir(record.id) / "subtitles.en.vtt").write_text("WEBVTT\n")
    folder = record.folder
    assert folder.exists()
    store.delete_call(record.id)
    assert not folder.exists()
    assert store.list_calls() == [] and store.list_annotations() == []
    assert wav.exists()  # the user's original file is never touched
    with pytest.raises(StoreError):
        store.get_call(record.id)


def test_failure_mid_save_leaves_no_call(store, wav, monkeypatch):
    def broken_insert(record):
        raise OSError("disk full")

    monkeypatch.setattr(store, "_insert_call", broken_insert)
    with pytest.raises(OSError):
        store.add_call(make_result(str(wav)), wav, uploaded_by="ana")
    assert store.list_calls() == []
    assert list(store.calls_dir.iterdir()) == []


CRASH_SCRIPT = """
import os, sys
sys.path[:0] = [{root!r}, {tests!r}]
from fake_results import make_result
from review.store import Store
store = Store({home!r})
store._insert_call = lambda record: os._exit(3)  # the process dies before the row exists
store.add_call(make_result({wav!r}), {wav!r}, uploaded_by="ana")
"""


def test_hard_crash_mid_save_leaves_no_half_written_call(store, wav):
    script = CRASH_SCRIPT.format(
        root=str(ROOT), tests=str(ROOT / "tests"), home=str(store.home), wav=str(wav)
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, timeout=120, check=False
    )
    assert proc.returncode == 3, proc.stderr.decode()
    reopened = Store(store.home)
    assert reopened.list_calls() == []
    leftovers = list(reopened.calls_dir.iterdir())
    assert len(leftovers) == 1  # the files were written, the row never was
    assert reopened.sweep(older_than_s=3600) == []  # too young: could be a save in progress
    assert reopened.sweep(older_than_s=0) == leftovers
    assert list(reopened.calls_dir.iterdir()) == []
    reopened.close()


def test_concurrent_writes_from_threads(store, wav):
    errors = []

    def worker(k):
        try:
            for i in range(4):
                rec = store.add_call(make_result(str(wav), seed=i), wav, uploaded_by=f"u{k}")
                store.add_annotation(rec.id, author=f"u{k}", kind="note", text=str(i), start=i)
        except (OSError, ValueError, SQLAlchemyError) as exc:  # pragma: no cover - reported
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    assert len(store.list_calls()) == 12 and len(store.list_annotations()) == 12


WRITER_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {tests!r}]
from fake_results import make_result
from review.store import Store
store = Store({home!r})
for i in range(3):
    rec = store.add_call(make_result({wav!r}, seed=i), {wav!r}, uploaded_by=sys.argv[1])
    store.add_annotation(rec.id, author=sys.argv[1], kind="note", text="x", start=1.0)
"""


def test_concurrent_writes_from_processes(tmp_path, wav):
    home = tmp_path / "shared-home"  # both processes create and migrate the same new database
    script = WRITER_SCRIPT.format(
        root=str(ROOT), tests=str(ROOT / "tests"), home=str(home), wav=str(wav)
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, name], stderr=subprocess.PIPE)
        for name in ("p1", "p2")
    ]
    for p in procs:
        assert p.wait(timeout=120) == 0, p.stderr.read().decode()
    with Store(home) as store:
        calls = store.list_calls()
        assert len(calls) == 6 and {c.uploaded_by for c in calls} == {"p1", "p2"}
        assert len(store.list_annotations()) == 6
        assert store.schema_version() == SCHEMA_VERSION


def test_schema_version_recorded_and_old_database_migrated(tmp_path, wav):
    home = tmp_path / "old"
    old = Store(home, migrate=False)
    assert old.schema_version() == 0
    old.migrate(target=1)  # a database as the first release wrote it
    assert old.schema_version() == 1
    call_dir = old.calls_dir / "c1"
    make_result(str(wav)).save_json(call_dir / "result.json")
    with old.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO calls VALUES ('c1', 'old call', 'ana', '2025-01-02T03:04:05+00:00', "
                ':media, :result, 12.0, \'["agent", "customer"]\', 0.33, 2)'
            ),
            {"media": str(wav), "result": str(call_dir / "result.json")},
        )
    old.close()

    store = Store(home)  # opening migrates
    assert store.schema_version() == SCHEMA_VERSION
    [call] = store.list_calls(CallFilter(event_kind="interruption"))
    assert call.id == "c1" and call.event_kinds == ("escalation", "interruption")
    assert store.list_calls(CallFilter(date_to="2025-01-02"))[0].id == "c1"
    store.add_annotation("c1", author="ben", kind="note", text="after upgrade", start=0.0)
    store.close()


def test_newer_database_is_refused(tmp_path):
    home = tmp_path / "future"
    Store(home).close()
    with Store(home, migrate=False) as s, s.engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": SCHEMA_VERSION + 1})
    with pytest.raises(StoreError, match="newer"):
        Store(home)


def test_result_json_is_complete_json(store, wav):
    record = store.add_call(make_result(str(wav)), wav, uploaded_by="ana")
    data = json.loads(Path(record.result_path).read_text(encoding="utf-8"))
    assert data["schema_version"] and len(data["segments"]) > 0
    assert not any(p.name.startswith(".") for p in record.folder.iterdir())  # no temp files left
    assert os.path.basename(record.media_path) == "media.wav"


def test_old_import_paths_are_aliases_of_the_review_package():
    """``analyzer.store`` and friends moved to ``review``; the old paths stay for one release."""
    code = (
        "import sys, warnings\n"
        "import analyzer\n"
        "assert not {'gradio', 'sqlalchemy', 'plotly', 'review'} & set(sys.modules), 'too much'\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import analyzer.store, analyzer.auth, analyzer.i18n, analyzer.views, analyzer.plots\n"
        "import review.store, review.auth, review.i18n, review.views, review.plots\n"
        "assert analyzer.store is review.store and analyzer.auth is review.auth\n"
        "assert analyzer.views is review.views and analyzer.plots is review.plots\n"
        "assert analyzer.i18n is review.i18n\n"
        "print(sorted(str(w.message).split()[0] for w in caught))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
    ).stdout
    moved = ("auth", "i18n", "plots", "store", "views")
    assert out.strip() == str([f"analyzer.{m}" for m in moved])


def test_consent_is_recorded_and_retention_purges_old_and_refused_calls(store, wav):
    from datetime import UTC, datetime, timedelta

    from review.store import SCHEMA_VERSION as version

    assert version >= 4 and store.schema_version() == version
    old, refused, recent = (
        store.add_call(make_result(str(wav)), wav, uploaded_by="ana") for _ in range(3)
    )
    with store.engine.begin() as conn:  # the first call was stored 40 days ago
        when = (datetime.now(UTC) - timedelta(days=40)).replace(microsecond=0).isoformat()
        conn.execute(
            text("UPDATE calls SET created_at = :t WHERE id = :id"), {"t": when, "id": old.id}
        )
    assert store.consent(recent.id) is None
    store.set_consent(recent.id, "refused", by="ana")
    store.set_consent(recent.id, "given", by="ben")  # changed later: the last word counts
    store.set_consent(refused.id, "refused", by="ana")
    assert store.consent(recent.id) == "given" and store.consent(refused.id) == "refused"
    with pytest.raises(StoreError, match="consent must be"):
        store.set_consent(recent.id, "maybe", by="ana")
    with pytest.raises(StoreError):
        store.set_consent("no-such-call", "given", by="ana")

    assert store.purge_expired(None) == [refused.id]  # no retention: only the refused call goes
    assert store.purge_expired(30) == [old.id]
    assert [c.id for c in store.list_calls()] == [recent.id]
    assert not (store.calls_dir / old.id).exists() and not (store.calls_dir / refused.id).exists()
    assert store.consent(refused.id) is None  # its consent row went with it
    assert store.purge_expired(30) == []


def test_team_settings_are_validated_audited_and_kept(store, wav):
    assert store.team_settings() == {
        "redact_default": False,
        "conversations": False,
        "phone_one_voice": False,
        "retention_days": None,
        "agent_pattern": "",
    }
    store.set_team_setting("redact_default", True, by="root")
    store.set_team_setting("conversations", True, by="root")
    store.set_team_setting("phone_one_voice", True, by="root")
    store.set_team_setting("retention_days", 30, by="root")
    store.set_team_setting("agent_pattern", r"^(?P<agent>[a-z]+)_", by="root")
    for key, value, message in [
        ("redact_default", "yes", "true or false"),
        ("conversations", 1, "conversations must be true or false"),
        ("phone_one_voice", "no", "phone_one_voice must be true or false"),
        ("retention_days", 0, "positive"),
        ("retention_days", "abc", "number of days"),
        ("retention_days", float("nan"), "positive"),
        ("agent_pattern", "(", "not a valid regular expression"),
        ("agent_pattern", "^[a-z]+_", "named group"),
        ("colour", "red", "unknown team setting"),
    ]:
        with pytest.raises(StoreError, match=message):
            store.set_team_setting(key, value, by="root")
    store.close()

    again = Store(store.home)
    assert again.team_settings() == {
        "redact_default": True,
        "conversations": True,
        "phone_one_voice": True,
        "retention_days": 30.0,
        "agent_pattern": r"^(?P<agent>[a-z]+)_",
    }
    changes = [e.detail for e in again.list_audit() if e.action == "settings"]
    assert changes == [
        'agent_pattern="^(?P<agent>[a-z]+)_"',
        "retention_days=30.0",
        "phone_one_voice=true",
        "conversations=true",
        "redact_default=true",
    ]
    again.close()


def test_agent_comes_from_the_upload_or_the_team_pattern(store, wav):
    store.set_team_setting("agent_pattern", r"^(?P<agent>[a-z]+)_\d+", by="root")
    by_name = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="mia_0412.wav")
    given = store.add_call(
        make_result(str(wav)), wav, uploaded_by="ana", name="mia_0413.wav", agent=" Leo "
    )
    unmatched = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="Call 7.wav")
    assert (by_name.agent, given.agent, unmatched.agent) == ("mia", "Leo", "")
    assert [c.id for c in store.list_calls(CallFilter(agent="mia"))] == [by_name.id]
    assert store.agents() == ["Leo", "mia"]
    moved = store.set_agent(unmatched.id, "mia", by="ben")
    assert moved.agent == "mia" and store.get_call(unmatched.id).agent == "mia"
    assert {c.id for c in store.list_calls(CallFilter(agent="mia"))} == {by_name.id, moved.id}
    with pytest.raises(StoreError):
        store.set_agent("no-such-call", "mia", by="ben")


def test_retention_deletions_are_audited_with_their_reason(store, wav):
    refused = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="r.wav")
    store.set_consent(refused.id, "refused", by="ana")
    assert store.purge_expired(None, by="root") == [refused.id]
    [entry] = [e for e in store.list_audit() if e.action == "delete"]
    assert (entry.user, entry.call_id) == ("root", refused.id)
    assert entry.detail == "r.wav (consent refused)"
