"""The Analyze tab's batch queue and intake fields, and the admins' Settings tab, through their
handlers on a real store file (a fake engine, except where the real one's words are the point).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import gradio as gr
import pytest
from fake_results import FakeAnalyzer, make_result, write_tone_wav
from sqlalchemy import text

from analyzer import AnalysisConfig
from analyzer.words import read_transcript
from review import auth, views
from review.i18n import t
from review.store import Store
from review.ui import analyze_tab, intake, settings_tab
from review.ui.common import AppContext

ADMIN = SimpleNamespace(username="ada")
REVIEWER = SimpleNamespace(username="rex")
CARD = "4111 1111 1111 1111"


class TranscriptReadingAnalyzer(FakeAnalyzer):
    """The fake engine, reading ``config.transcript`` as the real one does (so a malformed one
    fails with the engine's own error)."""

    def analyze(self, path, *, config=None, progress=None):
        if config is not None and config.transcript:
            read_transcript(config.transcript)
        return super().analyze(path, config=config, progress=progress)


@pytest.fixture
def ctx(tmp_path):
    users = auth.Users(
        {"ada": "$2b$x", "rex": "$2b$x"}, "test", {"ada": auth.ADMIN, "rex": auth.REVIEWER}
    )
    with Store(tmp_path / "home") as store:
        yield AppContext(
            store, TranscriptReadingAnalyzer(), views.UploadLimits(), AnalysisConfig(), (), users
        )


def run(ctx, files, transcripts=None, *, redact=None, consent=None, agent=None, request=ADMIN):
    """Every update of one Analyze run: (status, call to open, queue table, files, transcripts)."""
    return list(
        analyze_tab.analyze_files(
            ctx,
            [str(f) for f in files],
            "auto",
            0,
            5,
            "en",
            request,
            lambda *a, **k: None,
            [str(f) for f in transcripts or []],
            redact,
            consent,
            agent,
        )
    )


def rows(update) -> list[dict]:
    table = update[2]
    return [dict(zip(["file", "transcript", "state", "detail", "id"], r)) for r in table.values]


def write_srt(path, words, *, bad=False):
    time_line = "00:00:00,500 --> garbage" if bad else "00:00:00,500 --> 00:00:03,000"
    path.write_text(f"1\n{time_line}\n{words}\n", encoding="utf-8")
    return path


def test_transcripts_pair_by_name_or_alone():
    assert intake.pair_transcripts(["/u/a/call.wav"], ["/u/b/other.srt"]) == (
        {0: "/u/b/other.srt"},
        [],
    )
    paired, unpaired = intake.pair_transcripts(
        ["/u/1/a.wav", "/u/2/b.mp4", "/u/3/c.wav"],
        ["/u/4/b.vtt", "/u/5/a.wav.srt", "/u/6/zzz.json"],
    )
    assert paired == {0: "/u/5/a.wav.srt", 1: "/u/4/b.vtt"} and unpaired == ["/u/6/zzz.json"]


def test_a_batch_shows_each_file_live_done_and_failed(ctx, tmp_path):
    good = write_tone_wav(tmp_path / "good.wav", 4.0)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav" * 40)
    updates = run(ctx, [good, bad])
    first = rows(updates[0])
    assert [r["state"] for r in first] == ["queued", "queued"]
    assert updates[0][3] is None and updates[0][4] is None  # the upload fields are emptied
    running = [rows(u)[0]["state"] for u in updates if rows(u)[0]["state"].startswith("running")]
    # The running row names the stage and its percent, and moves on while the file runs.
    assert running[0] == t("q_running", "en", stage="decoding", percent=0)
    assert len(set(running)) >= 3
    assert any(rows(u)[1]["state"] == "queued" and u is not updates[0] for u in updates)
    status, to_open, *_ = updates[-1]
    done, failed = rows(updates[-1])
    assert done["state"] == t("q_done", "en") and done["id"]
    assert ctx.store.get_call(done["id"]).name == "good.wav"
    assert failed["state"] == "failed" and failed["id"] == ""
    assert failed["detail"].startswith("broken.wav: not a readable audio or video")
    assert str(tmp_path) not in failed["detail"]
    assert to_open == ""  # a batch of two stays on the queue
    assert "1 done, 1 failed" in status
    assert [c.name for c in ctx.store.list_calls()] == ["good.wav"]
    # The run hands on its items; switching the language redraws the rows (states, headers).
    items = updates[-1][5]
    assert [i.state for i in items] == ["done", "failed"]
    zh = analyze_tab.relabel_queue("zh", items)
    assert list(zh.columns)[:3] == [
        t("col_file", "zh"),
        t("col_transcript", "zh"),
        t("col_state", "zh"),
    ]
    assert zh.iloc[0, 2] == t("q_done", "zh") and zh.iloc[0, 0] == "good.wav"
    assert zh.iloc[0, -1] == done["id"]  # the row still opens its call
    assert analyze_tab.relabel_queue("en", None).empty
    # The same file again: a duplicate row that opens the stored call; one file opens it.
    again = run(ctx, [good])
    [dup] = rows(again[-1])
    assert dup["state"].startswith("duplicate") and dup["id"] == done["id"]
    assert "Analyze again on its review" in dup["detail"]  # how to analyse it differently
    assert again[-1][1] == done["id"]


def test_bad_transcript_fails_its_file_with_the_line_and_reason(ctx, tmp_path):
    a = write_tone_wav(tmp_path / "a.wav", 3.0)
    b = write_tone_wav(tmp_path / "b.wav", 3.5)
    folder = tmp_path / "upload"
    folder.mkdir()
    ok = write_srt(folder / "a.srt", "hello there")
    broken = write_srt(folder / "b.srt", "hello", bad=True)
    updates = run(ctx, [a, b], [ok, broken])
    first, second = rows(updates[-1])
    assert (first["transcript"], second["transcript"]) == ("a.srt", "b.srt")
    assert first["state"] == t("q_done", "en")
    assert second["state"] == "failed"
    assert second["detail"] == "b.wav: transcript b.srt:2: cannot read the time 'garbage'"
    configs = [c for _, c in ctx.analyzer.calls]
    assert configs[0].transcript == str(ok)


def test_consent_agent_and_the_team_redaction_default(ctx, tmp_path):
    store = ctx.store
    store.set_team_setting("agent_pattern", r"^(?P<agent>[a-z]+)_", by="ada")
    store.set_team_setting("redact_default", True, by="ada")
    named = write_tone_wav(tmp_path / "mia_0930.wav", 3.0)
    *_, last = run(ctx, [named], consent="given")
    [row] = rows(last)
    record = store.get_call(row["id"])
    assert record.agent == "mia" and store.consent(record.id) == "given"
    assert "agent: mia" in row["detail"] and "consent given" in row["detail"]
    assert ctx.analyzer.calls[-1][1].redact is True  # None: the team's default
    typed = write_tone_wav(tmp_path / "mia_1000.wav", 3.2)
    *_, last = run(ctx, [typed], redact=False, agent="Ben Ode", consent="unknown")
    record = store.get_call(rows(last)[0]["id"])
    assert record.agent == "Ben Ode" and store.consent(record.id) is None
    assert ctx.analyzer.calls[-1][1].redact is False
    refused = write_tone_wav(tmp_path / "refused.wav", 3.4)
    *_, last = run(ctx, [refused], consent="refused")
    [row] = rows(last)
    assert row["state"] == "not analysed" and row["id"] == ""
    assert "refused.wav" not in [c.name for c in store.list_calls()]
    assert analyze_tab.redact_default(ctx).value is True


def test_the_team_says_every_recording_is_a_conversation(ctx, tmp_path):
    first = write_tone_wav(tmp_path / "a.wav", 3.0)
    run(ctx, [first])
    assert ctx.analyzer.calls[-1][1].min_speakers == 1  # the engine counts from one voice
    out = settings_tab.save_settings(ctx, False, "", "", "en", ADMIN, True)
    assert out[5] == "✅ saved" and ctx.store.team_settings()["conversations"] is True
    assert settings_tab.load_settings(ctx, "x.wav", "en", ADMIN)[5] is True
    second = write_tone_wav(tmp_path / "b.wav", 3.1)
    run(ctx, [second])
    assert ctx.analyzer.calls[-1][1].min_speakers == 2  # at least two voices on a mixed upload
    # A number of speakers given with the upload stands.
    given = analyze_tab._intake(ctx, ADMIN, "auto", 1, 5, None, None, None)
    assert (given.config.num_speakers, given.config.min_speakers) == (1, 1)
    # Saving without the field (an older client) leaves the setting as it is.
    again = settings_tab.save_settings(ctx, False, "", "", "en", ADMIN)
    assert again[5] == "" and ctx.store.team_settings()["conversations"] is True
    audited = [e.detail for e in ctx.store.list_audit() if e.action == "settings"]
    assert audited == ["conversations=true"]


def test_the_team_lets_a_long_phone_recording_be_one_voice(ctx, tmp_path):
    run(ctx, [write_tone_wav(tmp_path / "a.wav", 3.0)])
    assert ctx.analyzer.calls[-1][1].phone_conversation is True  # the engine's default
    out = settings_tab.save_settings(ctx, False, "", "", "en", ADMIN, False, True)
    assert out[5] == "" and out[6] == "✅ saved"  # conversations unchanged, this one saved
    assert ctx.store.team_settings()["phone_one_voice"] is True
    assert settings_tab.load_settings(ctx, "x.wav", "en", ADMIN)[6] is True
    run(ctx, [write_tone_wav(tmp_path / "b.wav", 3.1)])
    assert ctx.analyzer.calls[-1][1].phone_conversation is False
    # An older client that sends neither box leaves both as they are.
    assert settings_tab.save_settings(ctx, False, "", "", "en", ADMIN)[5:] == ("", "")
    assert ctx.store.team_settings()["phone_one_voice"] is True
    # A reviewer cannot change it.
    with pytest.raises(gr.Error):
        settings_tab.save_settings(ctx, False, "", "", "en", REVIEWER, False, False)
    assert ctx.store.team_settings()["phone_one_voice"] is True


def test_real_engine_redacts_a_card_number_from_an_uploaded_transcript(analyzer, tmp_path):
    with Store(tmp_path / "home") as store:
        ctx = AppContext(store, analyzer, views.UploadLimits(), AnalysisConfig(), ())
        wav = write_tone_wav(tmp_path / "card.wav", 5.0, 16000)
        srt = write_srt(tmp_path / "card.srt", f"Customer: my card number is {CARD} thanks")
        *_, last = run(ctx, [wav], [srt], redact=True)
        [row] = rows(last)
        assert row["state"] == t("q_done", "en"), row
        assert "CARD 1" in row["detail"]
        result = store.load_result(row["id"])
        text = " ".join(line.text for line in result.transcript)
        assert "[CARD]" in text and "4111" not in text.replace(" ", "")


# ---- the Settings tab -------------------------------------------------------------------------


def test_settings_are_for_admins_only(ctx):
    hidden = settings_tab.load_settings(ctx, "x.wav", "en", REVIEWER)
    assert hidden[0].visible is False
    shown = settings_tab.load_settings(ctx, "x.wav", "en", ADMIN)
    assert shown[0].visible is True and shown[1:4] == (False, "", "")
    for handler, args in (
        (settings_tab.save_settings, (True, "3", "", "en")),
        (settings_tab.ask_purge, ("en",)),
        (settings_tab.confirm_purge, ("2030-01-01T00:00:00+00:00", "en")),
    ):
        with pytest.raises(gr.Error, match=t("msg_admin_only", "en")):
            handler(ctx, *args, REVIEWER)
    assert ctx.store.team_settings()["retention_days"] is None


def test_saving_settings_shows_each_fields_message_and_audits(ctx):
    store = ctx.store
    out = settings_tab.save_settings(ctx, True, "abc", "(oops", "en", ADMIN)
    redact_msg, days_msg, pattern_msg = out[:3]
    assert redact_msg == "✅ saved"
    assert days_msg.startswith("⚠️") and '"abc" is not a number of days' in days_msg
    assert pattern_msg.startswith("⚠️ agent_pattern is not a valid regular expression")
    assert store.team_settings() == {
        "redact_default": True,
        "conversations": False,
        "phone_one_voice": False,
        "retention_days": None,
        "agent_pattern": "",
    }
    out = settings_tab.save_settings(ctx, True, "30", r"^(?P<agent>\w+)-", "en", ADMIN)
    assert out[:3] == ("", "✅ saved", "✅ saved") and out[3] == "30"
    assert out[4].value is True  # the Analyze tab's box follows the new default
    assert store.team_settings()["retention_days"] == 30.0
    negative = settings_tab.save_settings(ctx, True, "-2", r"^(?P<agent>\w+)-", "en", ADMIN)
    assert negative[1] == "⚠️ retention_days must be a positive number of days"
    audited = [e.detail for e in store.list_audit() if e.action == "settings"]
    assert set(audited) == {
        "redact_default=true",
        "retention_days=30.0",
        r'agent_pattern="^(?P<agent>\\w+)-"',
    }
    assert all(e.user == "ada" for e in store.list_audit() if e.action == "settings")


def test_agent_preview_on_an_example_name():
    assert "**ana**" in settings_tab.preview_agent(r"^(?P<agent>[a-z]+)_", "ana_1.wav", "en")
    assert "finds no agent" in settings_tab.preview_agent(r"^(?P<agent>[a-z]+)_", "1.wav", "en")
    assert "named group" in settings_tab.preview_agent(r"^([a-z]+)_", "ana_1.wav", "en")
    assert "not a valid" in settings_tab.preview_agent("(", "ana_1.wav", "en")
    assert "坐席" in settings_tab.preview_agent(r"^(?P<agent>[a-z]+)_", "ana_1.wav", "zh")


def _stored(ctx, tmp_path, name, *, days_old=0.0):
    """A stored call (a synthetic result), made ``days_old`` days ago."""
    media = write_tone_wav(tmp_path / name, 2.0 + 0.1 * len(ctx.store.list_calls()))
    record = ctx.store.add_call(make_result(name), media, uploaded_by="ada", name=name)
    if days_old:
        when = (datetime.now(UTC) - timedelta(days=days_old)).replace(microsecond=0)
        with ctx.store.engine.begin() as conn:
            conn.execute(
                text("UPDATE calls SET created_at = :at WHERE id = :id"),
                {"at": when.isoformat(), "id": record.id},
            )
    return record


def test_retention_lists_first_then_deletes_on_confirmation(ctx, tmp_path):
    store = ctx.store
    old = _stored(ctx, tmp_path, "old.wav", days_old=40)
    new = _stored(ctx, tmp_path, "new.wav", days_old=2)
    refused = _stored(ctx, tmp_path, "refused.wav")
    store.set_consent(refused.id, "refused", by="ada")
    settings_tab.save_settings(ctx, False, "30", "", "en", ADMIN)
    listing, row, at = settings_tab.ask_purge(ctx, "en", ADMIN)
    assert row.visible is True and at
    assert "2 call(s) would be deleted" in listing and "keep 30 days" in listing
    assert "old.wav" in listing and "refused.wav" in listing and "new.wav" not in listing
    assert len(store.list_calls()) == 3  # nothing deleted before the confirmation
    message, row = settings_tab.confirm_purge(ctx, at, "en", ADMIN)
    assert message.startswith("Deleted 2 call(s)") and row.visible is False
    assert [c.id for c in store.list_calls()] == [new.id]
    deletions = {e.call_id: e for e in store.list_audit() if e.action == "delete"}
    assert set(deletions) == {old.id, refused.id}
    assert deletions[old.id].detail == "old.wav (retention)" and deletions[old.id].user == "ada"
    assert deletions[refused.id].detail == "refused.wav (consent refused)"
    nothing, row, at = settings_tab.ask_purge(ctx, "en", ADMIN)
    assert nothing.startswith("Nothing to delete") and row.visible is False and at == ""


def test_retention_applied_at_start_is_logged(ctx, tmp_path, caplog):
    old = _stored(ctx, tmp_path, "old.wav", days_old=10)
    kept = _stored(ctx, tmp_path, "kept.wav", days_old=1)
    ctx.store.set_team_setting("retention_days", 7, by="ada")
    with caplog.at_level(logging.INFO, logger="review.ui.settings_tab"):
        assert settings_tab.apply_retention(ctx.store) == [old.id]
    assert f"deleted 1 call(s): {old.id}" in caplog.text
    assert [c.id for c in ctx.store.list_calls()] == [kept.id]
    [entry] = [e for e in ctx.store.list_audit() if e.action == "delete"]
    assert (entry.user, entry.detail) == ("retention", "old.wav (retention)")


def test_uploads_leave_gradios_folder_once_finished_with(ctx, tmp_path, monkeypatch):
    uploads = tmp_path / "gradio"
    monkeypatch.setenv("GRADIO_TEMP_DIR", str(uploads))
    folders = [uploads / name for name in ("u1", "u2", "u3", "u4")]
    for folder in folders:
        folder.mkdir(parents=True)
    call = write_tone_wav(folders[0] / "call.wav", 3.0)
    other = write_tone_wav(folders[1] / "other.wav", 3.3)
    srt = write_srt(folders[2] / "call.srt", "hello")
    stray = write_srt(folders[3] / "nobody.srt", "hello")
    updates = run(ctx, [call, other], [srt, stray])
    assert "nobody.srt matches none of the files" in updates[-1][0]
    assert [r["transcript"] for r in rows(updates[-1])] == ["call.srt", ""]
    assert not any(p.exists() for p in (call, other, srt, stray))
    assert len(ctx.store.list_calls()) == 2  # the library keeps the only copies
    # A batch abandoned at its first update (the page went away): nothing is left behind.
    late = uploads / "u5"
    late.mkdir()
    again = write_tone_wav(late / "again.wav", 3.6)
    batch = analyze_tab.analyze_files(
        ctx, [str(again)], "auto", 0, 5, "en", ADMIN, lambda *a, **k: None
    )
    next(batch)
    batch.close()
    assert not again.exists()
