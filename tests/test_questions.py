"""Questions left unanswered or asked again, from transcript lines (the words stage), as events
with translated descriptions."""

from __future__ import annotations

import re

import pytest
from fake_results import make_result

from analyzer.events import detect_unanswered_questions
from analyzer.result import Event
from analyzer.segment import Segment
from analyzer.words.questions import question_sentences, unanswered_questions
from analyzer.words.transcripts import TranscriptLine
from review import views


def line(start: float, end: float, speaker: str, text: str, language: str = "en"):
    return TranscriptLine(start, end, speaker, text, language, None)


@pytest.mark.parametrize(
    ("text", "language", "questions"),
    [
        ("When will my refund arrive?", "en", ["When will my refund arrive?"]),
        ("I waited. can you check the order now", "en", ["can you check the order now"]),
        ("I can check the order now.", "en", []),
        ("What a mess.", "en", []),
        ("你们什么时候退款", "zh", ["你们什么时候退款"]),
        ("能帮我查一下吗", "zh", ["能帮我查一下吗"]),
        ("我已经等了很久了。", "zh", []),
    ],
)
def test_question_sentences(text, language, questions):
    assert question_sentences(text, language) == questions


def test_a_question_into_silence_is_unanswered_and_a_reply_answers_it():
    lines = [
        line(0.0, 3.0, "customer", "When will my refund arrive?"),
        line(3.5, 6.0, "agent", "Let me check that for you."),  # replied: answered
        line(10.0, 12.0, "customer", "Is anyone there?"),
        line(17.0, 19.0, "customer", "Hello?"),  # 5 s into silence: the first went unanswered
        line(19.5, 21.0, "agent", "Sorry, I am here."),
        line(30.0, 32.0, "customer", "Can I get a receipt?"),  # the call ends: no reply
    ]
    found = unanswered_questions(lines)
    assert [(s, q, r) for s, _, q, r in found] == [
        ("customer", "Is anyone there?", "no_reply"),
        ("customer", "Can I get a receipt?", "no_reply"),
    ]
    assert found[0][1] == Segment(10.0, 12.0)
    # The asker going on talking is not silence: the reply after the run answers the question.
    talking_on = [
        line(0.0, 2.0, "customer", "Why was I charged twice?"),
        line(2.5, 6.0, "customer", "I only ordered once and paid once."),
        line(6.8, 9.0, "agent", "I see two charges; one will be refunded."),
    ]
    assert unanswered_questions(talking_on) == []


def test_the_same_question_asked_again_is_reported_once():
    lines = [
        line(0.0, 3.0, "customer", "When will my refund arrive?"),
        line(3.5, 8.0, "agent", "Our team processes refunds in order."),
        line(9.0, 11.0, "customer", "OK but when will the refund arrive?"),
        line(11.5, 14.0, "agent", "Within five working days."),
        line(20.0, 22.0, "客户", "你们什么时候退款？", "zh"),
        line(22.5, 24.0, "agent", "马上处理。"),
        line(30.0, 32.0, "客户", "到底什么时候退款？", "zh"),
        line(32.5, 34.0, "agent", "今天之内。"),
    ]
    found = unanswered_questions(lines)
    assert [(s, r) for s, _, _, r in found] == [
        ("customer", "asked_again"),
        ("客户", "asked_again"),
    ]
    assert found[0][1] == Segment(0.0, 11.0) and "when will the refund" in found[0][2]


def test_events_and_their_text_in_both_languages():
    found = [
        ("customer", Segment(10.0, 12.0), "Is anyone there?", "no_reply"),
        ("customer", Segment(0.0, 11.0), "when will the refund arrive?", "asked_again"),
    ]
    events = detect_unanswered_questions(found)
    assert [e.kind for e in events] == ["unanswered_question"] * 2
    assert events[0].params["question"] == "Is anyone there?"
    assert events[1].params["reason"] == "asked_again"
    assert views.event_text(events[0], "en") == events[0].description
    assert views.event_text(events[1], "en") == events[1].description
    zh = views.event_text(events[0], "zh")
    assert zh.startswith("客户的问题没有得到回答") and "Is anyone there?" in zh
    assert views.event_text(events[1], "zh").startswith("客户再次提问")


def test_every_engine_event_reads_in_chinese_without_english_words():
    """The descriptions of every event kind the engine writes, in the Chinese UI: speakers,
    emotions and the sentence itself translated (only quoted words stay as they were said)."""
    import json
    from pathlib import Path

    root = Path(__file__).parent / "reference"
    stored = [json.loads(p.read_text()) for p in sorted(root.glob("*.json"))]
    results = []
    for d in stored:  # the bundled samples' events, on a result that has their speakers
        result = make_result()
        result.speakers[:] = []
        result.events[:] = [Event.from_dict(e) for e in d["events"]]
        results.append(result)
    fake = make_result()
    fake.events[:] = [  # kinds the samples lack, with the params the engine gives them
        Event("overtalk", Segment(1.0, 3.0), "S0", "S1 and S0 talk at once for 2.0 s",
              {"overlap_s": 2.0}, other="S1"),
        Event("rate_spike", Segment(4.0, 6.0), "S1", "S1 speaks fast (6.1 syll/s, z=+2.3)",
              {"rate_syll_s": 6.1, "z": 2.3}),
        Event("repeated_complaint", Segment(2.0, 9.0), "S1", "S1 complains 2 times",
              {"phrases": ["this is unacceptable", "waste of time"], "count": 2}),
        Event("interruption", Segment(5.0, 5.6), "S1", "S1 cut in on S0 (estimated 0.6 s overlap)",
              {"overlap_s": 0.6, "estimated": True}, other="S0"),
    ]  # fmt: skip
    results.append(fake)
    kinds = set()
    for result in results:
        for e in result.events:
            kinds.add(e.kind)
            zh = views.event_text(e, "zh", result)
            unquoted = re.sub(r"“[^”]*”", "", zh)
            assert re.search(r"[\u4e00-\u9fff]", zh), zh
            assert not re.findall(r"[A-Za-z]{4,}", unquoted), zh
            assert views.event_text(e, "en", result)
    assert {"escalation", "de-escalation", "long_silence", "interruption"} <= kinds
    assert json.dumps(sorted(kinds))


def test_the_engine_reports_them_from_an_imported_transcript(analyzer, sample_call, tmp_path):
    """The bundled call with a transcript (speakers by overlap with our turns): the customer's
    first question is answered, the refund question is asked again, the last gets no reply."""
    import dataclasses

    srt = tmp_path / "sample_call.srt"
    srt.write_text(
        "1\n00:00:05,000 --> 00:00:09,000\nHello, is my internet working again?\n\n"
        "2\n00:00:23,300 --> 00:00:26,400\nWhen will my refund come?\n\n"
        "3\n00:00:30,800 --> 00:00:34,000\nI asked you: when will my refund come?\n\n"
        "4\n00:00:55,900 --> 00:00:58,500\nCan you send me a receipt?\n\n",
        encoding="utf-8",
    )
    config = dataclasses.replace(analyzer.config, transcript=str(srt))
    result = analyzer.analyze(sample_call, config=config)
    found = [e for e in result.events if e.kind == "unanswered_question"]
    customer = next(s.id for s in result.speakers if s.role == "customer")
    assert [(e.speaker, e.params["reason"]) for e in found] == [
        (customer, "asked_again"),
        (customer, "no_reply"),
    ]
    assert found[0].start == pytest.approx(23.3, abs=0.3) and found[0].end > 33.0
    assert found[1].params["question"] == "Can you send me a receipt?"
    assert "unanswered_question" in {e["kind"] for e in result.to_dict()["events"]}
