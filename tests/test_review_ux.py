"""The review's pieces without a browser: player HTML, summary, transcript panel, timeline look,
deep-link lookup and the completeness of the Chinese interface."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from fake_results import make_result, write_tone_wav

from analyzer.result import EVENT_KINDS, Event
from analyzer.segment import Segment
from review import views
from review.i18n import EMOTION_NAMES, STRINGS, t
from review.plots import EMOTION_COLORS, group_events, timeline_figure
from review.store import Store
from review.ui import player

# Strings that are the same in both languages on purpose (names, units, symbols).
SAME_IN_BOTH = {"language", "title_short"}


def test_player_html_is_one_media_element_with_its_subtitles():
    html = player.player_html(
        call_id="abc",
        media_url=player.file_url("/home/x/calls/abc/media.mp4"),
        subtitles_url=player.file_url("/home/x/sub.en.vtt"),
        video=True,
        lang="en",
        start_s=12.5,
        event_times=[30.0, 4.0],
    )
    assert html.count('id="emo-media"') == 1 and html.startswith('<div class="emo-player"')
    assert '<video id="emo-media" src="/gradio_api/file=/home/x/calls/abc/media.mp4"' in html
    assert '<track kind="subtitles" default srclang="en"' in html
    assert 'data-start="12.500"' in html and 'data-events="[4.0, 30.0]"' in html
    audio = player.player_html(
        call_id="a", media_url="/m.wav", subtitles_url=None, video=False, lang="zh"
    )
    assert "<audio" in audio and "<track" not in audio and t("copy_link", "zh") in audio
    assert "emotrace.seek" in player.head() and ".emo-playhead" in player.head()


def test_summary_shows_the_engines_facts_with_links_to_moments():
    result = make_result(duration=12.0)
    result.events.append(Event("escalation", Segment(6.0, 12.0), "S1", "customer arousal rises"))
    html = views.summary_html(result, "en")
    for spk in result.speakers:
        assert f"{result.summary[spk.id].talk_time_s:.1f} s" in html
    assert 'data-seek="6.000"' in html  # the escalation moment moves the player
    assert t("trend_" + result.summary["S1"].trend.direction, "en") in html
    zh = views.summary_html(result, "zh")
    assert "升级时刻" in zh and "客户" in zh
    assert "guessed" not in html  # roles given (no confidence): nothing to say
    import dataclasses

    guessed = [dataclasses.replace(s, role_confidence=0.83) for s in result.speakers]
    result = dataclasses.replace(result, speakers=guessed)
    assert "(guessed 83%)" in views.summary_html(result, "en")
    assert "(推测 83%)" in views.summary_html(result, "zh")


def test_transcript_panel_empty_state_and_lines():
    result = make_result()
    assert t("transcript_empty", "en") in views.transcript_html(result, "en")
    result.transcript = [  # type: ignore[attr-defined]  # the words issue adds the field
        {
            "start": 2.0,
            "end": 3.5,
            "speaker": "S1",
            "text": "where is my <refund>",
            "language": "en",
        },
        {"start": 0.5, "end": 1.8, "speaker": "S0", "text": "hello", "language": "en"},
    ]
    html = views.transcript_html(result, "en")
    starts = re.findall(r'data-seek="([0-9.]+)"', html)
    assert starts == ["0.500", "2.000"]  # in time order, each line seeks
    assert "&lt;refund&gt;" in html  # text is escaped


def test_timeline_colours_confidence_markers_and_groups():
    warm = {"angry", "disgust", "fearful", "sad"}
    for label in warm:
        r, g, b = (int(EMOTION_COLORS[label][i : i + 2], 16) for i in (1, 3, 5))
        assert r > b, label  # negative emotions are warm
    for label in ("happy", "surprised"):
        r, g, b = (int(EMOTION_COLORS[label][i : i + 2], 16) for i in (1, 3, 5))
        assert b > r, label  # positive are cool
    result = make_result(duration=60.0)
    result.segments = [
        dataclasses.replace(s, emotion="uncertain") if i == 0 else s
        for i, s in enumerate(result.segments)
    ]
    result.events = [
        Event("interruption", Segment(10.0 + i, 10.5 + i), "S1", "cut in") for i in range(4)
    ] + [Event("escalation", Segment(40.0, 50.0), "S1", "rises")]
    fig = timeline_figure(result)
    bars = {tr.name: tr for tr in fig.data if tr.type == "bar"}
    assert bars["uncertain"].marker.pattern.shape == "/"
    opacities = bars["neutral"].marker.opacity
    assert min(opacities) >= 0.3 and max(opacities) <= 1.0 and len(set(opacities)) > 1
    marks = {tr.name: tr for tr in fig.data if tr.type == "scatter" and tr.mode == "markers+text"}
    assert set(marks) == {"interruption", "escalation"}
    assert marks["interruption"].marker.symbol != marks["escalation"].marker.symbol
    assert list(marks["interruption"].text) == ["×4"]  # four dense events, one marker
    assert len(group_events(result.events[:4], 0.5)) == 4
    assert not fig.layout.xaxis2.rangeslider.visible
    long = make_result(duration=400.0)
    assert timeline_figure(long).layout.xaxis2.rangeslider.visible  # overview + zoom


def test_deep_link_finds_a_call_by_id_or_newest_by_name(tmp_path):
    from fake_results import FakeAnalyzer

    from analyzer import AnalysisConfig
    from review.ui.common import AppContext
    from review.ui.library_tab import find_call

    wav = write_tone_wav(tmp_path / "call.wav", 2.0)
    with Store(tmp_path / "home") as store:
        ctx = AppContext(store, FakeAnalyzer(), views.UploadLimits(), AnalysisConfig(), ())
        first = store.add_call(make_result(str(wav)), wav, uploaded_by="a")
        second = store.add_call(make_result(str(wav), seed=1), wav, uploaded_by="b")
        assert find_call(ctx, first.id) == first.id
        assert find_call(ctx, "call.wav") == second.id
        assert find_call(ctx, "other.wav") is None and find_call(ctx, None) is None


def test_every_ui_string_is_translated():
    """Fails on any interface string left in English in the Chinese UI."""
    assert set(STRINGS["en"]) == set(STRINGS["zh"])
    same = [k for k in STRINGS["en"] if STRINGS["zh"][k] == STRINGS["en"][k]]
    assert set(same) <= SAME_IN_BOTH, same
    for zh in STRINGS["zh"].values():
        words = re.findall(r"[A-Za-z]{4,}", zh.replace("emotrace", "").replace("WebVTT", ""))
        assert not words or re.search(r"[\u4e00-\u9fff]", zh), zh
    needed = [f"event_{k}" for k in EVENT_KINDS]
    needed += [f"trend_{d}" for d in ("worsening", "improving", "steady", "unknown")]
    needed += ["role_agent", "role_customer"]
    assert all(k in STRINGS["zh"] for k in needed), [k for k in needed if k not in STRINGS["zh"]]
    assert set(EMOTION_NAMES["zh"]) == set(EMOTION_NAMES["en"])
    result = make_result()
    result.events.append(Event("overtalk", Segment(1.0, 3.0), "S0", "both talk"))
    for row in views.event_rows(result, "zh"):
        assert re.search(r"[\u4e00-\u9fff]", row[2]), row  # the kind, in Chinese
    for header in views.call_headers("zh") + views.segment_headers("zh"):
        assert header == "id" or re.search(r"[\u4e00-\u9fff]", header), header


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_event_text_uses_code_and_params_when_given(lang):
    event = Event("escalation", Segment(1.0, 2.0), "S1", "customer arousal rises")
    assert views.event_text(event, "en") == "customer arousal rises"
    assert views.event_kind_name("escalation", lang) == t("event_escalation", lang)


def test_label_corrections_become_an_eval_ser_manifest(tmp_path):
    import csv

    import soundfile as sf

    from train.ser import read_manifest

    wav = write_tone_wav(tmp_path / "call.wav", 4.0)
    with Store(tmp_path / "home") as store:
        record = store.add_call(make_result(str(wav), duration=4.0), wav, uploaded_by="a")
        store.add_annotation(
            record.id,
            author="a",
            kind="label_correction",
            start=1.0,
            end=2.5,
            speaker="S1",
            corrected_label="angry",
        )
        store.add_annotation(record.id, author="a", kind="label_correction", corrected_label="sad")
        store.add_annotation(record.id, author="a", kind="note", text="hi", start=0.5)
        from review.manifest import write_eval_manifest

        manifest, n, skipped = write_eval_manifest(store.results([record]), tmp_path / "out")
    assert (n, skipped) == (1, 1)  # the whole-call correction has no span to cut
    rows, root = read_manifest(manifest)
    assert [(r["label"], r["speaker"]) for r in rows] == [("angry", f"{record.id}:S1")]
    clip, rate = sf.read(root / rows[0]["path"])
    assert rate == 16000 and len(clip) == pytest.approx(1.5 * 16000, abs=2)
    with open(manifest, encoding="utf-8") as fh:
        assert next(csv.reader(fh))[:2] == ["path", "label"]


def test_reviewers_corrections_adapt_the_shipped_speech_model(tmp_path):
    """The loop a team runs: reviewers correct labels in the app, the corrections are exported
    as a manifest (``write_eval_manifest``) and ``emotrace train ser --init`` adapts the shipped
    default model to them; the adapted folder loads and reads those turns better."""
    import json

    import soundfile as sf
    from test_ser import voice

    from analyzer.models import DEFAULT_MODELS, load_model
    from review.manifest import write_eval_manifest
    from train.heads import HeadOptions
    from train.ser import evaluate_ser, train_ser

    labels = ["angry", "neutral", "sad"] * 4
    pieces = [voice(40 + k, 2.0, f0_hz=(260.0, 140.0, 110.0)[k % 3]) for k in range(len(labels))]
    wav = tmp_path / "call.wav"
    sf.write(wav, np.concatenate(pieces), 16000)
    with Store(tmp_path / "home") as store:
        record = store.add_call(make_result(str(wav), duration=24.0), wav, uploaded_by="a")
        for k, label in enumerate(labels):
            store.add_annotation(
                record.id, author="a", kind="label_correction", start=2.0 * k + 0.1,
                end=2.0 * k + 1.9, speaker="S1", corrected_label=label,
            )  # fmt: skip
        manifest, n, _ = write_eval_manifest(store.results([record]), tmp_path / "out")
    assert n == len(labels)
    options = HeadOptions(epochs=30, lr=3e-3, members=1)
    out = train_ser(
        manifest, init=DEFAULT_MODELS["ser"], out=tmp_path / "ours", channels=("clean",),
        options=options,
    )  # fmt: skip
    config = json.loads((out / "model.json").read_text())
    assert config["adapted_from"]["model"] == DEFAULT_MODELS["ser"]
    assert config["adapted_from"]["on"]["clips"] == len(labels)
    before = evaluate_ser(manifest, model=DEFAULT_MODELS["ser"])
    after = evaluate_ser(manifest, model=load_model(out, "ser"))
    assert after["n"] == before["n"] == len(labels)
    assert after["accuracy_argmax"] > before["accuracy_argmax"]


def test_result_notes_read_in_the_reviewers_language():
    import json
    from pathlib import Path

    from analyzer.media import _length_notes, _nonfinite_note
    from analyzer.notes import Note, note_from
    from review.views import note_text

    # the bundled call as stored: its agent-channel note, read back as results load their notes
    stored = json.loads(Path(__file__).with_name("reference").joinpath("sample_call.wav.json")
                        .read_text(encoding="utf-8"))  # fmt: skip
    note = note_from(stored["notes"][0])
    assert isinstance(note, Note) and note.code == "agent_channel_guessed"
    assert note_text(note, "en") == note.message  # English: the analyzer's own message
    zh = note_text(note, "zh")
    assert zh.startswith("已推测坐席声道：声道 0") and "0.87" in zh and "--channels" in zh
    # decoding notes with numbers: the Chinese wording, and in English the message itself
    for n in [*_nonfinite_note(3, "call.wav"), *_length_notes("call.wav", 10.0, 30.0, None)]:
        assert note_text(n, "en") == n.message
        assert note_text(n, "zh") != n.message and "call.wav" in note_text(n, "zh")
    assert note_text(n.to_dict(), "zh") == note_text(n, "zh")  # a stored dict reads the same
    # a note whose wording depends on its reason
    from analyzer.attribution import mixed_reason

    tone = np.sin(np.arange(8000) / 7.0).astype(np.float32)
    dead = mixed_reason(np.stack([tone, np.zeros_like(tone)]))
    flipped = mixed_reason(np.stack([tone, -tone]))
    assert note_text(dead, "zh").startswith("声道 1 全程无声")
    assert note_text(flipped, "zh").startswith("声道 1 是声道 0 的反相副本")
    assert note_text(dead, "en") == dead.message and "channel 1 is silent" in dead.message
    # a note without a template, or whose parameters do not fit it, keeps its message
    assert note_text(Note("something_new", "a new caveat", x=1), "zh") == "a new caveat"
    assert note_text(Note("no_ser_model", "no model here"), "zh") == "no model here"
    assert note_text("a plain old note", "zh") == "a plain old note"
