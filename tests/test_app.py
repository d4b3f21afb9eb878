"""The review app end to end through gradio_client, with the real engine on the bundled sample.

The app runs in-process (``prevent_thread_lock``) behind a bcrypt login; the test uploads the
sample, waits for the analysis, reads the stored call back, annotates, exports, then opens the
data folder with a fresh Store and finds the call and the annotation again.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
import re
import socket
from pathlib import Path
from urllib.parse import unquote

import pytest
from fake_results import write_tone_wav

from analyzer import MediaError
from review import auth, views
from review.i18n import STRINGS, t
from review.store import Store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample_call.wav"
USER, PASSWORD = "ana", "correct horse"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_engine():
    """The real engine (``analyzer.Analyzer``), as ``make run`` uses it."""
    from analyzer import Analyzer

    return Analyzer()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    import app

    home = tmp_path_factory.mktemp("home")
    store = Store(home)
    users = auth.Users({USER: auth.hash_password(PASSWORD)}, "test")
    demo = app.build_app(store, make_engine(), samples=(SAMPLE,))
    url = app.launch(demo, store, users, port=free_port(), prevent_thread_lock=True, quiet=True)
    assert url.startswith("http://127.0.0.1:")
    yield url, store, demo
    demo.close()
    store.close()


@pytest.fixture(scope="module")
def client(served):
    from gradio_client import Client

    return Client(served[0], auth=(USER, PASSWORD), verbose=False)


def test_login_is_required(served):
    import httpx
    from gradio_client import Client

    url = served[0]
    assert httpx.get(url + "config").status_code == 401  # nothing without a session
    wrong = httpx.post(url + "login/", data={"username": USER, "password": "wrong"})
    assert wrong.status_code == 400 and wrong.json() == {"detail": "Incorrect credentials."}
    right = httpx.post(url + "login/", data={"username": USER, "password": PASSWORD})
    assert right.json() == {"success": True}
    # gradio_client turns the refusal (a 400, not a 401) into a plain ValueError.
    with pytest.raises(ValueError, match=r"^Could not login to http://127\.0\.0\.1:\d+/\.$"):
        Client(url, auth=(USER, "wrong"), verbose=False)


def test_sample_end_to_end(served, client, tmp_path):
    from gradio_client import handle_file

    _, store, _ = served
    status, call_id, queue, *_ = client.predict(
        [handle_file(str(SAMPLE))],
        "agent_customer",
        0,
        5,
        "en",
        api_name="/analyze",
    )
    assert call_id and "1 done" in status
    assert queue["data"][0][0] == "sample_call.wav" and queue["data"][0][-1] == call_id

    record = store.get_call(call_id)
    assert record.uploaded_by == USER and record.name == "sample_call.wav"
    assert Path(record.media_path).read_bytes() == SAMPLE.read_bytes()
    assert set(record.roles) == {"agent", "customer"}
    result = store.load_result(call_id)
    assert result.media.duration_s == pytest.approx(record.duration_s, abs=1e-3)
    assert any(s.kind == "turn" for s in result.segments)

    opened = client.predict(call_id, "en", api_name="/open_call")
    assert opened[0] == call_id
    assert opened[2] is not None  # the timeline figure
    segments = opened[5]
    assert len(segments["data"]) == len([s for s in result.segments if s.kind == "turn"])

    start = result.segments[0].start
    msg, *_ = client.predict(
        call_id,
        "note",
        f"{start:.2f}",
        "",
        "",
        "customer sighs",
        "",
        "en",
        api_name="/add_annotation",
    )
    assert msg == "✅ " + t("msg_annotation_added", "en")
    client.predict(
        call_id, "coaching_flag", "", "", "", "good recovery", "", "en", api_name="/add_annotation"
    )

    exported = {
        fmt: Path(client.predict(call_id, fmt, "en", api_name="/export"))
        for fmt in ("eaf", "vtt", "json")
    }
    assert "customer sighs" in exported["eaf"].read_text(encoding="utf-8")
    assert exported["vtt"].read_text(encoding="utf-8").startswith("WEBVTT")
    combined = Path(
        client.predict(
            "sample",
            "",
            "",
            "",
            "",
            "",
            "",
            "all",
            "",
            False,
            "csv",
            "en",
            api_name="/export_listed",
        )
    )
    assert call_id in combined.read_text(encoding="utf-8")

    again = Store(store.home)  # a restart: a new Store on the same data folder
    assert call_id in {c.id for c in again.list_calls()}
    notes = again.list_annotations(call_id)
    assert {(a.kind, a.author, a.text) for a in notes} == {
        ("note", USER, "customer sighs"),
        ("coaching_flag", USER, "good recovery"),
    }
    assert again.load_result(call_id).to_dict() == result.to_dict()
    again.close()


def test_bad_file_gets_a_clear_message(served, client, tmp_path):
    from gradio_client import handle_file
    from gradio_client.exceptions import AppError

    fake = tmp_path / "looks_like_audio.wav"
    fake.write_text("this is a text file with an audio name\n" * 20)
    status, call_id, queue, *_ = client.predict(
        [handle_file(str(fake))], "auto", 0, 5, "en", api_name="/analyze"
    )
    [row] = queue["data"]  # the queue's row says why, in one line
    assert row[2] == "failed" and row[3].startswith("looks_like_audio.wav: not a readable audio")
    assert "1 failed" in status and not call_id
    with pytest.raises(AppError, match=re.escape(t("msg_no_files", "en"))):
        client.predict([], "auto", 0, 5, "en", api_name="/analyze")
    assert all(c.name != fake.name for c in served[1].list_calls())


def test_upload_limits_are_checked_from_content(tmp_path):
    wav = write_tone_wav(tmp_path / "tone.bin", 2.0)  # a WAV whatever its name says
    assert views.check_upload(wav, views.UploadLimits()).has_audio
    with pytest.raises(MediaError, match="limit is"):
        views.check_upload(wav, views.UploadLimits(max_bytes=1000))
    with pytest.raises(MediaError, match=r"limit is 0\.02 min"):  # 1 s, not "0 min"
        views.check_upload(wav, views.UploadLimits(max_duration_s=1.0))
    with pytest.raises(MediaError, match="上限"):
        views.check_upload(wav, views.UploadLimits(max_bytes=1000), lang="zh")
    text = tmp_path / "notes.wav"
    text.write_text("not audio at all, just words " * 20)
    with pytest.raises(MediaError, match="notes.wav: not a readable audio or video file"):
        views.check_upload(text, views.UploadLimits())
    with pytest.raises(MediaError, match="^notes.wav：不是可读取的音频或视频文件（") as zh:
        views.check_upload(text, views.UploadLimits(), lang="zh")
    assert str(tmp_path) not in str(zh.value)  # no server path in either language
    limits = views.UploadLimits.from_env(
        {"EMOTRACE_MAX_UPLOAD_MB": "5", "EMOTRACE_MAX_MINUTES": "30"}
    )
    assert limits.max_bytes == 5 * views.MB and limits.max_duration_s == 1800


def test_users_from_env_file_and_default(tmp_path, caplog):
    hashed = auth.hash_password("pw")
    inline = auth.load_users(env={"EMOTRACE_USERS": f"ana:{hashed},ben:{hashed}"})
    assert inline.check("ana", "pw") and inline("ben", "pw") and not inline.check("ana", "x")
    assert not inline.check("carl", "pw")

    toml = tmp_path / "users.toml"
    toml.write_text(f'[users]\nana = "{hashed}"\n', encoding="utf-8")
    from_file = auth.load_users(env={"EMOTRACE_USERS": str(toml)})
    assert from_file.check("ana", "pw") and from_file.source == str(toml)
    assert auth.load_users(tmp_path, env={}).check("ana", "pw")  # users.toml in the home
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(auth.AuthConfigError, match="bad.json"):
        auth.load_users(env={"EMOTRACE_USERS": str(tmp_path / "bad.json")})

    with caplog.at_level(logging.WARNING, logger="review.auth"):
        default = auth.load_users(tmp_path / "empty", env={})
    assert default.is_default and default.check(auth.DEV_USER, auth.DEV_PASSWORD)
    assert "development login" in caplog.text


def test_every_string_has_both_languages():
    assert set(STRINGS["en"]) == set(STRINGS["zh"])
    assert t("tab_review", "zh") != t("tab_review", "en")
    assert t("no_such_key", "zh") == "no_such_key"


def test_video_call_plays_with_emotion_subtitles(served, client):
    from gradio_client import handle_file

    video = ROOT / "assets" / "sample_video_call.mp4"
    _, call_id, *_ = client.predict(
        [handle_file(str(video))], "auto", 0, 2, "en", api_name="/analyze"
    )
    assert served[1].get_call(call_id).has_video
    opened = client.predict(call_id, "en", api_name="/open_call")
    player = opened[1]  # the player's HTML: one <video> with its emotion subtitles as a <track>
    assert player.count("<video") == 1 and "<audio" not in player
    media = re.search(r'<video id="emo-media" src="/gradio_api/file=([^"]+)"', player)
    track = re.search(r'<track kind="subtitles"[^>]* src="/gradio_api/file=([^"]+)"', player)
    assert (
        media
        and unquote(media.group(1)).endswith(".mp4")
        and Path(unquote(media.group(1))).exists()
    )
    assert track and Path(unquote(track.group(1))).read_text(encoding="utf-8").startswith("WEBVTT")


# ---- the layout's pieces, without a server or the engine ---------------------------------------


@pytest.fixture
def ctx(tmp_path):
    from fake_results import FakeAnalyzer

    from analyzer import AnalysisConfig
    from review.ui.common import AppContext

    with Store(tmp_path / "home") as store:
        yield AppContext(store, FakeAnalyzer(), views.UploadLimits(), AnalysisConfig(), ())


def test_review_view_names_its_widgets_field_for_field():
    from review.ui import ReviewView, ReviewWidgets

    assert ReviewView.names() == ReviewWidgets.names()
    assert "timeline" in ReviewView.names() and "annotations" in ReviewView.names()


def test_bound_handlers_keep_what_gradio_injects(ctx):
    import inspect

    import gradio as gr
    from gradio.helpers import special_args

    from review.ui import analyze_tab, review_tab
    from review.ui.common import bind

    analyze = bind(analyze_tab.analyze_files, ctx)
    assert list(inspect.signature(analyze).parameters)[:2] == ["files", "roles"]
    request = object()
    inputs, progress_at, _, _ = special_args(analyze, ["f", "auto", 0, 5, "en"], request)
    assert progress_at == 6 and inputs[5] is request  # gr.Request found through the binding
    select = bind(review_tab.select_event, ctx)
    assert (
        special_args(select, ["call"], None, gr.SelectData(None, {"index": [2, 0], "value": 1.0}))[
            2
        ]
        == 1
    )


def test_options_start_from_the_engine_config(ctx):
    from dataclasses import fields

    from analyzer import AnalysisConfig
    from review.ui.analyze_tab import option_values, run_config

    defaults = {f.name: f.default for f in fields(AnalysisConfig)}
    assert option_values(AnalysisConfig()) == {
        "roles": "auto",
        "n_speakers": 0,
        "fps": defaults["fps"],
    }
    custom = AnalysisConfig(fps=2.0, num_speakers=3, channels=("customer", "agent"))
    assert option_values(custom) == {"roles": "customer_agent", "n_speakers": 3, "fps": 2.0}
    config = run_config(custom, "agent_customer", 0, None)
    assert (config.channels, config.num_speakers, config.fps) == (("agent", "customer"), None, 2.0)


def test_handlers_analyze_open_annotate_delete(ctx, tmp_path):
    import gradio as gr

    from review.ui import annotate, library_tab
    from review.ui.analyze_tab import analyze_files
    from review.ui.view import ReviewView

    wav = write_tone_wav(tmp_path / "call.wav", 4.0)
    steps: list[float] = []
    *_, (status, call_id, *_) = analyze_files(
        ctx, [str(wav)], "agent_customer", 2, 5, "en", None, lambda f, desc: steps.append(f)
    )
    assert status == t("q_status_done", "en", n=1, done=1, failed=0, duplicate=0, skipped=0)
    assert call_id
    assert steps == sorted(steps) and steps[-1] == pytest.approx(1.0)
    assert ctx.analyzer.calls[0][1].channels == ("agent", "customer")

    opened = library_tab.open_call(ctx, call_id, "en")
    assert opened[0] == call_id and len(opened) == len(ReviewView.names()) + 2
    shown = dict(zip(ReviewView.names(), opened[1:-1]))
    assert len(shown["segments"]) == len(views.turn_segments(ctx.store.load_result(call_id)))

    added = annotate.add_annotation(ctx, call_id, "note", "1.5", "", "", "sighs", "", "en", None)
    assert added[0] == "✅ " + t("msg_annotation_added", "en")
    assert len(added) == 1 + 7 + len(annotate.REDRAWN)
    assert added[1:8] == ("note", "", "", "", "", "", None)  # the form is cleared
    assert list(added[-1]["text"]) == ["sighs"]  # the redrawn annotations table
    # Plain messages next to the form, nothing stored: not a number, outside the call.
    bad = annotate.add_annotation(ctx, call_id, "note", "abc", "", "", "x", "", "en", None)
    assert bad[0].startswith("⚠️") and '"abc" is not a number' in bad[0]
    late = annotate.add_annotation(ctx, call_id, "note", "500", "", "", "x", "", "en", None)
    assert "outside the call (0 to 4.0 s)" in late[0]
    assert len(ctx.store.list_annotations(call_id)) == 1
    # Edit and delete one's own; someone else's is refused.
    [note] = ctx.store.list_annotations(call_id)
    saved = annotate.save_annotation(
        ctx, call_id, note.id, "note", "1.0", "2.0", "", "sighs loudly", "", "en", None
    )
    assert saved[0] == "✅ " + t("msg_annotation_saved", "en")
    [note] = ctx.store.list_annotations(call_id)
    assert (note.start, note.end, note.text) == (1.0, 2.0, "sighs loudly")
    other = type("R", (), {"username": "someone else"})()
    refused = annotate.delete_annotation(ctx, call_id, note.id, "en", other)
    assert "only its author" in refused[0] and ctx.store.list_annotations(call_id)
    assert annotate.delete_annotation(ctx, call_id, note.id, "en", None)[0].startswith("✅")
    assert ctx.store.list_annotations(call_id) == []
    with pytest.raises(gr.Error, match=re.escape(t("msg_no_call", "en"))):
        library_tab.delete_call(ctx, None, "en")
    deleted = library_tab.delete_call(ctx, call_id, "en")
    assert deleted[:2] == (t("msg_deleted", "en", name="call.wav"), None)
    assert ctx.store.list_calls() == []
    # A filter that is not a number: the table stays, a message names the box.
    kept = library_tab.list_library(ctx, "", "", "", "abc", "", "", "", "all", "", False, "en")
    field = t("min_duration", "en")
    assert kept[2] == "⚠️ " + t("msg_bad_number", "en", field=field)
    listed = library_tab.list_library(ctx, "", "", "", "", "", "", "", "all", "", False, "en")
    assert listed[2] == "" and list(listed[0].columns)[-1] == "id"


def test_hashing_a_password_without_a_terminal_says_so(monkeypatch, capsys):
    import getpass

    def closed(prompt: str = "") -> str:
        raise EOFError

    monkeypatch.setattr(getpass, "getpass", closed)
    assert auth.main(["hash", "ana"]) == 1
    assert "no password given" in capsys.readouterr().err
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": "s3cret")
    assert auth.main(["hash", "ana"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith('ana = "$2') and auth.verify_password("s3cret", line.split('"')[1])
