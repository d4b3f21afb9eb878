"""The review's range selection, scorecard and emotion-share filter without a browser: the HTML
and the handlers (the browser test ``test_browser_review_extra.py`` checks them on screen)."""

from __future__ import annotations

import json
import re

import gradio as gr
import pytest
from fake_results import FakeAnalyzer, make_result, write_tone_wav

from analyzer import AnalysisConfig
from review import views
from review.i18n import t
from review.plots import timeline_figure
from review.store import Store
from review.ui import library_tab, review_tab
from review.ui.common import AppContext

CJK = re.compile(r"[\u4e00-\u9fff]")


def metric(value, unit, code, params, evidence=()):
    return {
        "value": value,
        "unit": unit,
        "explanation": {"code": code, "params": params, "text": f"english text of {code}"},
        "evidence": [list(e) for e in evidence],
    }


def carded():
    result = make_result(duration=12.0)
    result.scorecard = {
        "S1": {
            "customer_recovery": metric(
                "recovered",
                "outcome",
                "customer_recovered",
                {"speaker": "S1", "peak_tension": 0.5, "end_tension": 0.1},
                [(8.0, 10.0)],
            ),
        },
        "S0": {
            "composure": metric(
                0.3071,
                "score",
                "composure",
                {
                    "speaker": "S0",
                    "other": "S1",
                    "baseline_tension": 0.21,
                    "facing_tension": 0.3,
                    "turns": 3,
                },
                [(6.5, 8.25), (2.0, 2.2)],
            ),
            "talk_share": metric(0.55, "share", "talk_share", {"speaker": "S0"}),  # params short
            "pace": metric(None, "syll/s", "pace_not_measured", {"speaker": "S0"}),
            "listening": metric(0.8, "score", "a_code_from_the_future", {}),
        },
    }
    return result


def test_scorecard_in_the_summary_values_explanations_and_moments():
    result = carded()
    html = views.summary_html(result, "en")
    assert html.index('data-speaker="S0"') < html.index('data-speaker="S1"')  # agent first
    assert "Scorecard: agent (S0)" in html
    assert "0.31" in html and "55%" in html and "not measured" in html and "recovered" in html
    assert "tension went from +0.21 (own calm level) to +0.30" in html  # the template, filled
    # A code without a template, or params that do not fill it: the engine's text in English.
    assert "english text of a_code_from_the_future" in html
    assert "english text of talk_share" in html
    # Each evidence range is a moment that moves the player.
    assert re.findall(r'class="emo-moment emo-evidence" data-seek="([0-9.]+)"', html) == [
        "6.500",
        "2.000",
        "8.000",
    ]
    assert ">0:06–0:08<" in html and ">0:02<" in html


def test_scorecard_in_chinese_has_no_english_sentence():
    result = carded()
    html = views.scorecard_html(result, "zh")
    rows = re.findall(r"<tr data-metric=.*?</tr>", html)
    assert len(rows) == 5
    for row in rows:
        cells = re.findall(r"<td>(.*?)</td>", row)
        explanation = cells[2]
        assert CJK.search(explanation), explanation
        assert not re.search(r"[A-Za-z]{4,}", explanation.replace("S0", "").replace("S1", ""))
    assert "坐席（S0）" not in html and "坐席 (S0)" in html  # the role, translated
    assert "已恢复平静" in html and "未测量" in html and "沉着" in html
    # The fallback in Chinese: the metric's name and value.
    assert "倾听：0.80" in html


def test_no_scorecard_no_section():
    assert views.scorecard_html(make_result(), "en") == ""
    assert "emo-scorecard" not in views.summary_html(make_result(), "en")


@pytest.mark.parametrize(
    ("typed", "share"),
    [("20", 0.2), ("20 %", 0.2), ("0.2", 0.2), ("", None), (None, None), ("100", 1.0)],
)
def test_parse_share(typed, share):
    assert views.parse_share(typed) == pytest.approx(share) if share else share is None


@pytest.mark.parametrize("typed", ["lots", "-5", "120", "nan"])
def test_parse_share_refuses(typed):
    with pytest.raises(ValueError):
        views.parse_share(typed)


def test_emotion_share_per_speaker_role():
    result = make_result()  # S0 agent neutral 100 %, S1 customer angry 50 %
    assert views.has_emotion_share(result, "angry", 0.4, "customer")
    assert views.has_emotion_share(result, "angry", 0.5, "any")
    assert not views.has_emotion_share(result, "angry", 0.6, "any")
    assert not views.has_emotion_share(result, "angry", 0.1, "agent")
    assert views.has_emotion_share(result, "neutral", None, "agent")
    assert not views.has_emotion_share(result, "sad", None, "any")


@pytest.fixture
def ctx(tmp_path):
    with Store(tmp_path / "home") as store:
        yield AppContext(store, FakeAnalyzer(), views.UploadLimits(), AnalysisConfig(), ())


def add(ctx, tmp_path, name, calm_customer: bool = False):
    wav = write_tone_wav(tmp_path / name, 12.0)
    result = make_result(str(wav))  # S0 agent neutral 100 %, S1 customer angry 50 %
    if calm_customer:
        shares = result.summary["S1"].emotion_share
        shares.clear()
        shares["neutral"] = 1.0
    return ctx.store.add_call(result, wav, uploaded_by="r")


def names(listed) -> set[str]:
    return set(listed[0]["name"])


SKIP = gr.skip()
BASE = ("", "", "", "", "", "", "", "all", "", False, "en")  # the other filters: off


def test_library_emotion_share_filter_with_the_other_filters(ctx, tmp_path):
    add(ctx, tmp_path, "angry.wav")
    add(ctx, tmp_path, "calm.wav", calm_customer=True)
    assert names(library_tab.list_library(ctx, *BASE)) == {"angry.wav", "calm.wav"}
    only = library_tab.list_library(ctx, *BASE, "angry", "20", "customer")
    assert names(only) == {"angry.wav"} and only[2] == ""
    assert names(library_tab.list_library(ctx, *BASE, "angry", "20", "agent")) == set()
    both = library_tab.list_library(ctx, *BASE, "neutral", "90 %", "any")
    assert names(both) == {"angry.wav", "calm.wav"}  # the first by its agent
    # Together with another filter (the name).
    named = ("calm", *BASE[1:])
    assert names(library_tab.list_library(ctx, *named, "neutral", "0.9", "any")) == {"calm.wav"}
    # Off: "all", whatever the role says.
    assert names(library_tab.list_library(ctx, *BASE, "all", "", "agent")) == {
        "angry.wav",
        "calm.wav",
    }


def test_library_bad_share_is_a_plain_message(ctx, tmp_path):
    add(ctx, tmp_path, "angry.wav")
    field = t("share_min", "en")
    bad = library_tab.list_library(ctx, *BASE, "angry", "lots", "any")
    assert bad == (SKIP, SKIP, "⚠️ " + t("msg_bad_share", "en", field=field, value="lots"))
    lonely = library_tab.list_library(ctx, *BASE, "all", "20", "any")
    assert lonely == (SKIP, SKIP, "⚠️ " + t("msg_share_needs_emotion", "en", field=field))
    zh = library_tab.list_library(ctx, *BASE[:-1], "zh", "angry", "150", "any")
    assert zh[2].startswith("⚠️ ") and CJK.search(zh[2])
    with pytest.raises(gr.Error, match="lots"):
        library_tab.export_listed(ctx, *BASE[:-1], "csv", "en", "angry", "lots", "any")


def test_a_dragged_range_fills_the_form(ctx, tmp_path):
    record = add(ctx, tmp_path, "call.wav")
    value = json.dumps({"start": 7.257, "end": 3.5, "speaker": "S1", "n": 1})
    start, end, speaker, message = review_tab.select_range(ctx, record.id, value, "en")
    assert (start, end, speaker) == ("3.50", "7.26", "S1")
    assert message.startswith("ℹ️") and "customer (S1)" in message and "3.50–7.26" in message
    # Outside a speaker lane: no speaker; past the end: the call's end.
    outside = json.dumps({"start": 10.0, "end": 99.0, "speaker": "", "n": 2})
    filled = review_tab.select_range(ctx, record.id, outside, "zh")
    assert filled[:3] == ("10.00", "12.00", "") and CJK.search(filled[3])
    # Not a range, or no call: nothing changes.
    for bad in ("", "{", json.dumps({"start": 2.0, "end": 2.0}), json.dumps({"start": "x"})):
        assert review_tab.select_range(ctx, record.id, bad, "en") == (SKIP,) * 4
    assert review_tab.select_range(ctx, None, value, "en") == (SKIP,) * 4


def test_timeline_drags_select_a_range_and_knows_its_lanes():
    fig = timeline_figure(make_result(), lang="zh")
    assert fig.layout.dragmode == "select" and fig.layout.selectdirection == "h"
    assert fig.layout.meta["lanes"] == {"坐席 (S0)": "S0", "客户 (S1)": "S1"}  # in Chinese
    english = timeline_figure(make_result(), lang="en").layout.meta["lanes"]
    assert english == {"agent (S0)": "S0", "customer (S1)": "S1"}


def test_library_rows_name_roles_and_events_in_the_reviewers_language():
    from types import SimpleNamespace

    from review.views import call_rows

    call = SimpleNamespace(
        name="call.wav", created_at="2026-11-27T10:00:00+00:00", uploaded_by="rex",
        duration_s=61.0, roles=["agent", "customer"], negative_share=0.25,
        event_kinds=["escalation", "long_silence"], id="c1",
    )  # fmt: skip
    zh, en = call_rows([call], lang="zh")[0], call_rows([call])[0]
    assert zh[4] == "坐席、客户" and zh[6] == "升级、长时间沉默"
    assert en[4] == "agent, customer" and en[6] == "escalation, long silence"


def test_a_selected_range_is_kept_as_a_coaching_example_in_one_click(ctx, tmp_path):
    from review.ui import annotate

    record = add(ctx, tmp_path, "call.wav")
    # The form still says "note" with no text: the button stores a coaching example anyway.
    kept = annotate.flag_example(ctx, record.id, "note", "3.50", "7.26", "S1", "", "", "en", None)
    assert kept[0] == "✅ " + t("msg_annotation_added", "en")
    [flag] = ctx.store.list_annotations(record.id)
    assert (flag.kind, flag.start, flag.end, flag.speaker) == ("coaching_flag", 3.5, 7.26, "S1")
    # Without a range it says what to do and stores nothing; bad times are refused as in the form.
    empty = annotate.flag_example(ctx, record.id, "note", "", "", "", "", "", "zh", None)
    assert empty[0] == "⚠️ " + t("msg_flag_needs_range", "zh")
    late = annotate.flag_example(ctx, record.id, "note", "99", "", "", "", "", "en", None)
    assert late[0].startswith("⚠️") and "outside the call" in late[0]
    assert len(ctx.store.list_annotations(record.id)) == 1


def test_a_long_or_marked_up_note_stays_short_and_plain_in_the_timeline():
    from types import SimpleNamespace

    note = SimpleNamespace(
        kind="note", corrected_label=None, start=2.0, end=None, author="rex",
        text="W" * 9000 + " <b>bold</b> <img src=x onerror=alert(1)>",
    )  # fmt: skip
    fig = timeline_figure(make_result(), [note], lang="en")
    hover = next(tr.text[0] for tr in fig.data if tr.text is not None and "rex" in tr.text[0])
    lines = hover.split("<br>")
    assert len(hover) < 400 and max(len(line) for line in lines) <= 80
    assert hover.endswith("(rex)") and "…" in hover
    short = SimpleNamespace(**{**vars(note), "text": "<b>bold</b> <img src=x>"})
    fig = timeline_figure(make_result(), [short], lang="en")
    hover = next(tr.text[0] for tr in fig.data if tr.text is not None and "rex" in tr.text[0])
    assert "&lt;b&gt;bold&lt;/b&gt;" in hover and "<img" not in hover  # shown, not read


def test_a_label_correction_needs_speech_and_the_manifest_says_what_it_left_out(
    ctx, tmp_path, monkeypatch
):
    import dataclasses

    from review.ui import annotate

    wav = write_tone_wav(tmp_path / "silent.wav", 12.0)
    silent = ctx.store.add_call(dataclasses.replace(make_result(str(wav)), turns=[]), wav,
                                uploaded_by="r")  # fmt: skip
    for start, end in (("1", "3"), ("", "")):  # a span, and the whole call
        out = annotate.add_annotation(
            ctx, silent.id, "label_correction", start, end, "", "", "angry", "en", None
        )
        assert out[0] == "⚠️ " + t("msg_correction_no_speech", "en")
    assert ctx.store.list_annotations(silent.id) == []
    spoken = add(ctx, tmp_path, "call.wav")
    for start, end in (("1", "3"), ("5", "5.1"), ("", "")):
        out = annotate.add_annotation(
            ctx, spoken.id, "label_correction", start, end, "S0", "", "sad", "en", None
        )
        assert out[0].startswith("✅"), out[0]
    warned: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message: warned.append(message))
    library_tab.export_listed(ctx, *BASE[:-1], "manifest", "en")
    assert warned == [t("msg_manifest_left_out", "en", kept=1, left_out=2)]


def test_a_subrip_export_of_a_call_without_words_says_why_it_is_empty(ctx, tmp_path, monkeypatch):
    record = add(ctx, tmp_path, "call.wav")
    warned: list[str] = []
    monkeypatch.setattr(gr, "Warning", lambda message: warned.append(message))
    path = review_tab.export_open(ctx, record.id, "srt", "zh")
    assert warned == [t("transcript_empty", "zh")]
    assert path.endswith(".srt")
    review_tab.export_open(ctx, record.id, "vtt", "en")  # the emotion cues: nothing to warn
    assert len(warned) == 1
