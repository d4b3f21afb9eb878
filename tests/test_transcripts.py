"""Transcript import: each format, malformed files, clipping, language and speakers."""

from __future__ import annotations

import json

import pytest

from analyzer.words.transcripts import (
    TranscriptError,
    TranscriptLine,
    assign_speakers,
    detect_language,
    find_transcript,
    match_labels,
    parse_transcript,
    read_transcript,
)

SRT = """1
00:00:01,000 --> 00:00:03,500
Agent: 您好，请问有什么可以帮您？

2
00:00:04,000 --> 00:00:06,250
This is unacceptable,
I want a refund.
"""

VTT = """WEBVTT

NOTE made by our own ASR

intro
00:01.000 --> 00:02.500 align:start
<v Customer>I have been <i>waiting</i> for an hour</v>

00:00:03.000 --> 00:00:04.000
客服：非常抱歉，理解您的心情。
"""


def test_srt_cues_speakers_and_languages():
    transcript = parse_transcript(SRT, format="srt")
    assert transcript.format == "srt"
    first, second = transcript.lines
    assert (first.start, first.end, first.speaker) == (1.0, 3.5, "Agent")
    assert first.text == "您好，请问有什么可以帮您？" and first.language == "zh"
    assert (second.start, second.end, second.speaker) == (4.0, 6.25, None)
    assert second.text == "This is unacceptable, I want a refund." and second.language == "en"
    assert first.words is None
    assert first.to_dict() == {
        "start": 1.0,
        "end": 3.5,
        "speaker": "Agent",
        "text": "您好，请问有什么可以帮您？",
        "language": "zh",
    }


@pytest.mark.parametrize(
    "content, line, reason",
    [
        ("1\n00:00:01,000 -> 00:00:02,000\nhello\n", 2, "expected a time line"),
        ("1\n00:00:01,000 --> 00:00:0x,000\nhello\n", 2, "cannot read the time"),
        (
            "1\n00:00:01,000 --> 00:00:02,000\nhi\n\n2\n00:00:05,000 --> 00:00:04,000\nno\n",
            6,
            "before it starts",
        ),
        ("hello there\n00:00:01,000 --> 00:00:02,000\n", 1, "expected a cue number"),
    ],
)
def test_malformed_srt_names_line_and_reason(content, line, reason):
    with pytest.raises(TranscriptError, match=rf"^call\.srt:{line}: .*{reason}"):
        parse_transcript(content, format="srt", name="call.srt")


def test_vtt_voice_tags_notes_identifiers_and_short_times():
    lines = parse_transcript(VTT, format="vtt").lines
    assert [(line.start, line.end, line.speaker) for line in lines] == [
        (1.0, 2.5, "Customer"),
        (3.0, 4.0, "客服"),
    ]
    assert lines[0].text == "I have been waiting for an hour"
    assert lines[1].text == "非常抱歉，理解您的心情。"


def test_vtt_errors():
    with pytest.raises(TranscriptError, match=r"^x\.vtt:1: .*WEBVTT"):
        parse_transcript("00:01.000 --> 00:02.000\nhi\n", format="vtt", name="x.vtt")
    with pytest.raises(TranscriptError, match=r"^x\.vtt:4: expected a time line"):
        parse_transcript(
            "WEBVTT\n\ncue-1\n00:01.000 to 00:02.000\nhi\n", format="vtt", name="x.vtt"
        )


def test_plain_json_segments():
    data = [
        {"start": 0.5, "end": 2.0, "text": "我的卡号是多少", "speaker": "spk_1"},
        {"start": 2.5, "end": 4, "text": "Thanks for calling."},
    ]
    lines = parse_transcript(json.dumps(data, ensure_ascii=False), format="json").lines
    assert [(line.start, line.end, line.speaker, line.language) for line in lines] == [
        (0.5, 2.0, "spk_1", "zh"),
        (2.5, 4.0, None, "en"),
    ]


def test_whisper_json_keeps_word_times():
    data = {
        "text": " Hello there. I need help.",
        "language": "en",
        "segments": [
            {"id": 0, "start": 0.0, "end": 1.2, "text": " Hello there.",
             "words": [{"start": 0.0, "end": 0.5, "word": " Hello", "probability": 0.9},
                       {"start": 0.6, "end": 1.2, "word": " there.", "probability": 0.8}]},
            {"id": 1, "start": 1.5, "end": 3.0, "text": " I need help.", "words": []},
        ],
    }  # fmt: skip
    lines = parse_transcript(json.dumps(data), format="json").lines
    assert lines[0].words == ((0.0, 0.5, "Hello"), (0.6, 1.2, "there."))
    assert lines[0].text == "Hello there."
    assert lines[1].words == ()
    assert lines[0].to_dict()["words"] == [[0.0, 0.5, "Hello"], [0.6, 1.2, "there."]]


def _amazon_items():
    words = [
        (0, "0.10", "0.50", "Hello", "spk_0"),
        (1, "0.50", "0.90", "there", "spk_0"),
        (3, "1.50", "1.90", "我", "spk_1"),
        (4, "1.90", "2.30", "要", "spk_1"),
        (5, "2.30", "2.80", "投诉", "spk_1"),
    ]
    items = []
    for item_id, start, end, content, speaker in words:
        item = {"id": item_id, "start_time": start, "end_time": end, "type": "pronunciation"}
        item["speaker_label"] = speaker
        item["alternatives"] = [{"confidence": "0.9", "content": content}]
        items.append(item)
        if content in ("there", "投诉"):
            mark = "." if content == "there" else "。"
            items.append(
                {"id": item_id + 1, "type": "punctuation", "alternatives": [{"content": mark}]}
            )
    return items


def test_amazon_transcribe_audio_segments():
    results = {
        "transcripts": [{"transcript": "Hello there. 我要投诉。"}],
        "items": _amazon_items(),
        "audio_segments": [
            {"id": 0, "start_time": "0.1", "end_time": "0.9", "speaker_label": "spk_0",
             "items": [0, 1, 2]},
            {"id": 1, "start_time": "1.5", "end_time": "2.8", "speaker_label": "spk_1",
             "items": [3, 4, 5, 6]},
        ],
    }  # fmt: skip
    lines = parse_transcript(json.dumps({"jobName": "j", "results": results}), format="json").lines
    assert [(line.start, line.end, line.speaker, line.text, line.language) for line in lines] == [
        (0.1, 0.9, "spk_0", "Hello there.", "en"),
        (1.5, 2.8, "spk_1", "我要投诉。", "zh"),
    ]
    assert lines[1].words == ((1.5, 1.9, "我"), (1.9, 2.3, "要"), (2.3, 2.8, "投诉"))


def test_amazon_transcribe_speaker_labels_and_sentences():
    labels = {"segments": [
        {"start_time": "0.0", "end_time": "1.0", "speaker_label": "spk_0", "items": []},
        {"start_time": "1.4", "end_time": "3.0", "speaker_label": "spk_1", "items": []},
    ]}  # fmt: skip
    items = [{k: v for k, v in i.items() if k != "speaker_label"} for i in _amazon_items()]
    by_labels = parse_transcript(
        json.dumps({"results": {"items": items, "speaker_labels": labels}}), format="json"
    ).lines
    assert [(line.speaker, line.text) for line in by_labels] == [
        ("spk_0", "Hello there."),
        ("spk_1", "我要投诉。"),
    ]
    by_sentence = parse_transcript(json.dumps({"results": {"items": items}}), format="json").lines
    assert [(line.speaker, line.text) for line in by_sentence] == [
        (None, "Hello there."),
        (None, "我要投诉。"),
    ]


@pytest.mark.parametrize(
    "content, reason",
    [
        (
            '[{"start": 0, "end": 1, "text": "ok"},\n {"start": 1, "end": 2, "text": "x"',
            r"x\.json:2: not valid JSON",
        ),
        (
            '[{"start": 0, "end": 1, "text": "ok"}, {"end": 2, "text": "x"}]',
            r"x\.json: segment 2: missing 'start'",
        ),
        ('[{"start": "soon", "end": 1, "text": "ok"}]', r"segment 1: 'start' must be a number"),
        ('[{"start": 3, "end": 1, "text": "ok"}]', r"segment 1: ends .* before it starts"),
        (
            '{"results": {"items": [{"type": "pronunciation"}]}}',
            r"results\.items\[0\]: missing alternatives",
        ),
        ('{"words": []}', r"expected a list of segments"),
    ],
)
def test_malformed_json_names_segment_and_reason(content, reason):
    with pytest.raises(TranscriptError, match=reason):
        parse_transcript(content, format="json", name="x.json")


def test_times_outside_the_call_are_clipped_with_a_note(tmp_path):
    data = [
        {"start": -0.5, "end": 1.0, "text": "hello"},
        {"start": 2.0, "end": 3.0, "text": "fine",
         "words": [{"start": 2.0, "end": 3.0, "word": "fine"}]},
        {"start": 9.0, "end": 12.0, "text": "past the end", "words": [
            {"start": 9.0, "end": 9.5, "word": "past"}, {"start": 9.6, "end": 10.4, "word": "the"},
            {"start": 10.5, "end": 12.0, "word": "end"}]},
        {"start": 11.0, "end": 12.0, "text": "after the end"},
    ]  # fmt: skip
    path = tmp_path / "call.json"
    path.write_text(json.dumps(data))
    transcript = read_transcript(path, duration=10.0)
    assert [(line.start, line.end) for line in transcript.lines] == [
        (0.0, 1.0),
        (2.0, 3.0),
        (9.0, 10.0),
    ]
    assert transcript.lines[2].words == ((9.0, 9.5, "past"), (9.6, 10.0, "the"))
    (note,) = transcript.notes
    assert note.code == "transcript_clipped"
    assert note.params == {"clipped": 2, "dropped": 1, "duration_s": 10.0}
    assert "dropped" in note.message
    assert read_transcript(path).notes == ()  # no duration: nothing clipped


def test_read_transcript_guesses_the_format_and_reports_bad_files(tmp_path):
    vtt = tmp_path / "call.txt"
    vtt.write_text(VTT, encoding="utf-8")
    assert read_transcript(vtt).format == "vtt"
    binary = tmp_path / "call.srt"
    binary.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(TranscriptError, match="not UTF-8"):
        read_transcript(binary)
    with pytest.raises(TranscriptError, match="cannot read"):
        read_transcript(tmp_path / "missing.srt")


def test_find_transcript_in_a_folder(tmp_path):
    (tmp_path / "call.vtt").write_text(VTT)
    (tmp_path / "other.srt").write_text(SRT)
    assert find_transcript(tmp_path / "media" / "call.wav", tmp_path) == tmp_path / "call.vtt"
    assert find_transcript("x/none.wav", tmp_path) is None
    assert find_transcript("call.wav", tmp_path / "other.srt") == tmp_path / "other.srt"


@pytest.mark.parametrize(
    "text, language",
    [
        ("I want a refund, this is unacceptable.", "en"),
        ("OK", "en"),
        ("太失望了，浪费时间", "zh"),
        ("我的email是 john@example.com", "zh"),
        ("Quiero hablar con el gerente ahora mismo por favor", "other"),
        ("お問い合わせありがとうございます", "other"),
        ("Здравствуйте, чем могу помочь?", "other"),
        ("12345", "other"),
    ],
)
def test_language_per_line(text, language):
    assert detect_language(text) == language


def test_speakers_by_overlap_when_the_transcript_has_none():
    lines = parse_transcript(
        json.dumps([
            {"start": 0.0, "end": 2.0, "text": "hello"},
            {"start": 2.0, "end": 5.0, "text": "my bill is wrong"},
            {"start": 20.0, "end": 21.0, "text": "anyone?"},
        ]),
        format="json",
    ).lines  # fmt: skip
    turns = {"S1": [(0.0, 2.2)], "S2": [(2.1, 5.5)]}
    assert [line.speaker for line in assign_speakers(lines, turns)] == ["S1", "S2", None]
    assert [line.speaker for line in assign_speakers(lines)] == [None, None, None]


def test_speakers_by_the_transcripts_own_labels():
    lines = parse_transcript(SRT.replace("Agent:", "SPEAKER_00:"), format="srt").lines
    turns = {"S1": [(0.8, 3.6)], "S2": [(3.9, 6.5)]}
    assert match_labels(lines, turns) == {"SPEAKER_00": "S1"}
    assigned = assign_speakers(lines, turns, rename=match_labels(lines, turns))
    assert [line.speaker for line in assigned] == ["S1", "S2"]
    kept = assign_speakers(lines, turns)  # without a renaming the label is kept as it is
    assert kept[0].speaker == "SPEAKER_00"


def test_words_per_turn_cuts_the_transcript_to_our_turns():
    from analyzer.segment import Segment
    from analyzer.words.turns import IMPORTED_CONFIDENCE, words_per_turn

    lines = [
        TranscriptLine(0.0, 4.0, "S1", "hello there how are you", "en",
                       ((0.0, 0.5, "hello"), (0.5, 1.0, "there"), (2.6, 3.0, "how"),
                        (3.0, 3.4, "are"), (3.4, 3.9, "you"))),
        TranscriptLine(5.0, 7.0, "S2", "我要投诉", "zh", None),
        TranscriptLine(9.0, 9.5, "S3", "who is this", "en", None),  # not one of our speakers
    ]  # fmt: skip
    turns = {
        "S1": [Segment(0.0, 1.2), Segment(2.5, 4.0)],
        "S2": [Segment(4.8, 7.5), Segment(8.0, 8.5)],
    }
    by_speaker = words_per_turn(lines, turns)
    assert [t.text for t in by_speaker["S1"]] == ["hello there", "how are you"]
    assert by_speaker["S1"][1].words == ((2.6, 3.0, "how"), (3.0, 3.4, "are"), (3.4, 3.9, "you"))
    assert [t.text for t in by_speaker["S2"]] == ["我要投诉", ""]
    assert [t.confidence for t in by_speaker["S2"]] == [IMPORTED_CONFIDENCE, 0.0]
    assert by_speaker["S2"][0].segment == Segment(4.8, 7.5)
    assert set(by_speaker) == {"S1", "S2"}


def test_lines_from_turns_round_trip():
    from analyzer.segment import Segment
    from analyzer.words.turns import TurnWords, lines_from_turns

    texts = {
        "S2": [TurnWords(Segment(3.0, 4.0), "我要投诉", (), 0.9)],
        "S1": [
            TurnWords(Segment(0.0, 1.0), "hello", ((0.1, 0.6, "hello"),), 0.9),
            TurnWords(Segment(1.5, 2.0), "", (), 0.0),
        ],
    }
    lines = lines_from_turns(texts)
    assert [(line.speaker, line.text, line.language) for line in lines] == [
        ("S1", "hello", "en"),
        ("S2", "我要投诉", "zh"),
    ]
    assert lines[0].words == ((0.1, 0.6, "hello"),) and lines[1].words is None
