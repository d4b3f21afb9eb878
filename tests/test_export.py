"""Exports read back by the tools' own parsers: ELAN, Praat, WebVTT, JSON, CSV, Parquet."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fake_results import make_result, write_tone_wav

from analyzer import export
from review.store import CallFilter, Store


@pytest.fixture
def stored(tmp_path):
    wav = write_tone_wav(tmp_path / "in.wav", 1.0)
    store = Store(tmp_path / "home")
    record = store.add_call(make_result(str(wav)), wav, uploaded_by="ana", name="angry.wav")
    store.add_annotation(
        record.id, author="ana", kind="note", text="tone rises", start=6.0, end=7.5, speaker="S1"
    )
    store.add_annotation(
        record.id,
        author="ben",
        kind="label_correction",
        start=6.0,
        end=8.0,
        speaker="S1",
        corrected_label="sad",
    )
    store.add_annotation(record.id, author="ben", kind="coaching_flag", text="whole call")
    yield store, record
    store.close()


def _load(store, record):
    return store.load_result(record.id), store.list_annotations(record.id)


def test_elan_tiers_per_speaker_events_and_annotation_kinds(stored, tmp_path):
    import pympi

    from analyzer.result import Event
    from analyzer.segment import Segment

    store, record = stored
    result, notes = _load(store, record)
    result.events.append(Event("escalation", Segment(6.0, 10.0), "S1", "customer arousal rises"))
    path = export.export_call(result, "eaf", tmp_path / "c.eaf", notes, media_path="call.wav")
    eaf = pympi.Elan.Eaf(str(path))
    speakers = {"agent (S0)", "customer (S1)"}
    assert set(eaf.get_tier_names()) == (
        speakers
        | {f"{s} {k}" for s in speakers for k in ("arousal", "valence")}
        | {"events", "annotations: note", "annotations: label_correction"}
        | {"annotations: coaching_flag"}
    )
    customer = sorted(eaf.get_annotation_data_for_tier("customer (S1)"))
    assert customer[0] == (2000, 4000, "neutral") and customer[-1][2] == "angry"
    arousal = sorted(eaf.get_annotation_data_for_tier("customer (S1) arousal"))
    assert [a[:2] for a in arousal] == [a[:2] for a in customer]
    assert all(-1.0 <= float(a[2]) <= 1.0 for a in arousal)
    events = eaf.get_annotation_data_for_tier("events")
    assert len(events) == len(result.events)
    assert (6000, 10000, "escalation: customer arousal rises") in events
    notes_tier = [a[2] for a in eaf.get_annotation_data_for_tier("annotations: note")]
    assert any("tone rises" in s for s in notes_tier)
    fixes = eaf.get_annotation_data_for_tier("annotations: label_correction")
    assert any("-> sad" in a[2] for a in fixes)
    whole = eaf.get_annotation_data_for_tier("annotations: coaching_flag")
    assert whole[0][:2] == (0, 12000) and "whole call" in whole[0][2]
    media = eaf.media_descriptors[0]  # relative to the .eaf, no server path
    assert media["RELATIVE_MEDIA_URL"] == "./call.wav" and record.media_path not in str(media)


def test_textgrid_reads_back_in_praatio(stored, tmp_path):
    from praatio import textgrid

    store, record = stored
    result, notes = _load(store, record)
    path = export.export_call(result, "textgrid", tmp_path / "c.TextGrid", notes)
    tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    assert tg.tierNames == ("agent (S0)", "customer (S1)", "annotations")
    labels = [e.label for e in tg.getTier("customer (S1)").entries]
    assert labels == ["neutral", "angry", "angry"]  # the customer turns angry at 6 s
    points = tg.getTier("annotations").entries
    assert len(points) == 3 and len({p.time for p in points}) == 3  # distinct times for Praat


def test_webvtt_cues_follow_turns_and_translate(stored, tmp_path):
    import webvtt

    store, record = stored
    result, notes = _load(store, record)
    path = export.write_vtt(result, tmp_path / "c.vtt", notes, label_names={"angry": "愤怒"})
    captions = webvtt.read(str(path))
    starts = [c.start_in_seconds for c in captions]
    assert starts == sorted(starts)
    texts = [c.text for c in captions]
    assert "customer (S1): 愤怒" in texts and "agent (S0): neutral" in texts
    assert any(s.startswith("⚑ ") for s in texts) == bool(result.events)
    assert any("tone rises" in s for s in texts)
    assert not any("whole call" in s for s in texts)  # call-level flags are not subtitles


def test_a_cue_with_markup_or_blank_lines_is_shown_as_written(tmp_path):
    text = export.vtt_text([(1.0, 2.0, "<b>x</b> & --> y\n\nz"), (3.0, 4.0, "next")])
    assert "&lt;b&gt;x&lt;/b&gt; &amp; --&gt; y\nz" in text
    assert text.count("-->") == 2  # only the two timing lines
    import webvtt

    (tmp_path / "c.vtt").write_text(text)
    assert [c.text for c in webvtt.read(str(tmp_path / "c.vtt"))] == [
        "&lt;b&gt;x&lt;/b&gt; &amp; --&gt; y\nz",
        "next",
    ]


def test_json_csv_parquet(stored, tmp_path):
    store, record = stored
    result, notes = _load(store, record)
    doc = json.loads(export.export_call(result, "json", tmp_path / "c.json", notes).read_text())
    assert doc["result"] == result.to_dict()
    assert [a["kind"] for a in doc["annotations"]] == [a.kind for a in notes]
    csv = pd.read_csv(export.export_call(result, "csv", tmp_path / "c.csv", notes))
    parquet = pd.read_parquet(export.export_call(result, "parquet", tmp_path / "c.parquet", notes))
    assert len(csv) == len(parquet) == len(result.segments) + len(result.events) + len(notes)
    assert {"row", "start", "end", "speaker", "emotion", "p_angry", "text"} <= set(parquet.columns)
    assert (
        list(csv["row"].value_counts().sort_index().items())
        == sorted(
            {
                "segment": len(result.segments),
                "event": len(result.events),
                "annotation": len(notes),
            }.items()
        )
        or not result.events
    )
    fixed = csv[csv["row"] == "annotation"]
    assert set(fixed["kind"]) == {a.kind for a in notes} and "sad" in set(fixed["corrected_label"])
    with pytest.raises(ValueError, match="unknown export format"):
        export.export_call(result, "docx", tmp_path / "c.docx")


def test_combined_export_of_a_filtered_set(stored, tmp_path):
    store, record = stored
    wav = write_tone_wav(tmp_path / "calm.wav", 1.0)
    calm = store.add_call(make_result(str(wav), angry_customer=False), wav, uploaded_by="ben")
    negative = store.list_calls(CallFilter(min_negative=0.2))
    assert [c.id for c in negative] == [record.id]
    frame = pd.read_csv(export.write_combined(store.results(negative), tmp_path / "n.csv"))
    assert set(frame["call_id"]) == {record.id}
    assert (frame["n_annotations"] == 3).all() and (frame["call_name"] == "angry.wav").all()

    both = store.results(store.list_calls())
    path = export.write_combined(both, tmp_path / "all.parquet", "parquet")
    frame = pd.read_parquet(path)
    assert set(frame["call_id"]) == {record.id, calm.id}
    notes = export.combined_frame(store.results(store.list_calls()), "annotations")
    assert len(notes) == 3 and set(notes["author"]) == {"ana", "ben"}
    empty = export.combined_frame([], "segments")
    assert list(empty.columns)[:2] == ["call_id", "call_name"] and empty.empty


def test_turns_without_an_emotion_model_export_their_arousal(tmp_path):
    import dataclasses

    import webvtt

    from review.plots import timeline_figure

    result = make_result("call.wav")
    result.segments = [dataclasses.replace(s, emotion=None, valence=None) for s in result.segments]
    cues = [c.text for c in webvtt.read(str(export.write_vtt(result, tmp_path / "a.vtt")))]
    assert cues[0].startswith("agent (S0): arousal ")
    fig = timeline_figure(result)
    assert any(trace.name == "no emotion label" for trace in fig.data)


def test_a_call_without_speech_writes_tables_with_their_columns(tmp_path):
    import dataclasses

    # shorter than one turn: no segment or turn; the fake's fixed events dropped as well
    result = dataclasses.replace(make_result(duration=1.0), events=[])
    assert not result.segments and not result.turns and not result.faces
    for what in ("segments", "events", "faces", "turns", "transcript", "scorecard"):
        table = pd.read_csv(result.write_csv(tmp_path / f"{what}.csv", what))
        assert len(table) == 0 and len(table.columns) > 0, what
        assert list(
            pd.read_parquet(result.write_parquet(tmp_path / f"{what}.pq", what)).columns
        ) == list(table.columns)
    assert {"start", "end", "speaker", "emotion", "p_angry"} <= set(
        pd.read_csv(tmp_path / "segments.csv").columns
    )
    export.export_call(result, "csv", tmp_path / "all.csv")
    assert "speaker" in pd.read_csv(tmp_path / "all.csv").columns


def test_written_results_follow_the_umask(tmp_path):
    import os
    import stat

    result = make_result()
    old = os.umask(0o022)
    try:
        shared = result.write_csv(tmp_path / "shared.csv")
        os.umask(0o077)
        private = result.write_csv(tmp_path / "private.csv")
    finally:
        os.umask(old)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o644  # readable by a colleague or the app
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
