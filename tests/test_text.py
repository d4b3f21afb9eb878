"""Words as evidence: phrase lexicons, valence, repeated complaints, and English ASR of turns."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SR, speak

from analyzer.segment import Segment
from analyzer.text import Transcriber, TurnText, repeated_complaints, text_evidence


def phrases(matches: list[dict]) -> list[str]:
    return [m["phrase"] for m in matches]


def test_english_complaint_has_span_and_negative_valence():
    text = "Honestly, this is UNACCEPTABLE! You're wasting my time."
    ev = text_evidence(text)
    assert ev["language"] == "en"
    # the seeds' "this is unacceptable" (lexicons/complaint.toml) wins over "unacceptable"
    assert phrases(ev["complaints"]) == ["this is unacceptable", "wast* my time"]
    start, end = ev["complaints"][1]["span"]
    assert text[start:end] == "wasting my time"
    # case-insensitive, original text kept
    assert ev["complaints"][0]["text"] == "this is UNACCEPTABLE"
    assert ev["valence"] < -0.3
    assert ev["empathy"] == []
    assert ev["arousal_hint"] > 0  # "!" and a shouted word


def test_english_empathy_tolerates_contractions_and_negation():
    for text in ("I'm so sorry about that.", "I am so sorry about that."):
        assert phrases(text_evidence(text)["empathy"]) == ["i'm so sorry"]
    ev = text_evidence("Thank you for your patience, I understand, let me help you.")
    assert phrases(ev["empathy"]) == ["thank you for your patience", "i understand", "let me help"]
    assert ev["valence"] > 0
    assert text_evidence("I'm not sorry at all.")["empathy"] == []
    assert text_evidence("That is not ridiculous.")["complaints"] == []
    ev = text_evidence("Why can't I cancel my account?")
    assert phrases(ev["complaints"]) == ["cancel my account"]


def test_neutral_sentences_match_nothing():
    neutral = {"en": "My account number is four five six.", "zh": "我的账号是四五六。"}
    for language, text in neutral.items():
        ev = text_evidence(text)
        assert ev["language"] == language
        assert ev["complaints"] == [] and ev["empathy"] == []
        assert ev["arousal_hint"] == 0.0
    assert text_evidence(neutral["en"])["valence"] == pytest.approx(0.0, abs=0.1)
    assert text_evidence(neutral["zh"])["valence"] == pytest.approx(
        0.0, abs=0.4
    )  # snownlp scatters
    assert text_evidence("")["valence"] == 0.0


def test_chinese_complaint_and_empathy():
    text = "太失望了，又是这样，浪费时间！我要投诉。"
    ev = text_evidence(text)
    assert ev["language"] == "zh"
    assert phrases(ev["complaints"]) == ["太失望了", "又是这样", "浪费时间", "投诉"]
    start, end = ev["complaints"][2]["span"]
    assert text[start:end] == "浪费时间"
    assert ev["valence"] < -0.5
    agent = text_evidence("非常抱歉，理解您的心情，感谢您的耐心，我来帮您处理。")
    # the seeds' 非常抱歉 (lexicons/empathy.toml) wins over 抱歉
    assert phrases(agent["empathy"]) == ["非常抱歉", "理解您的心情", "感谢您的耐心", "我来帮您"]
    assert agent["complaints"] == []
    assert agent["valence"] >= 0.0


def test_repeated_complaints_within_window_only():
    bad = text_evidence("This is ridiculous.")
    also_bad = text_evidence("I want to speak to a manager.")
    calm = text_evidence("Okay.")
    turns = [
        ("customer", Segment(10.0, 12.0), bad),
        ("agent", Segment(12.5, 14.0), calm),
        ("customer", Segment(100.0, 103.0), also_bad),
        ("customer", Segment(900.0, 902.0), bad),  # 13 minutes later: on its own
        ("agent", Segment(950.0, 951.0), bad),
    ]
    found = repeated_complaints(turns, window_s=300, min_count=2)
    assert found == [
        ("customer", Segment(10.0, 103.0), ["ridiculous", "i want to speak to a manager"])
    ]
    assert repeated_complaints(turns, window_s=60) == []


@pytest.mark.slow
def test_transcriber_reads_a_spoken_complaint():
    gap = np.zeros(SR // 2, dtype=np.float32)
    speech = speak("You are wasting my time. I want to speak to a manager.")
    audio = np.concatenate([gap, speech, gap, np.zeros(SR // 10, dtype=np.float32)])
    turn = Segment(0.4, 0.5 + len(speech) / SR + 0.1)
    blip = Segment(len(audio) / SR - 0.1, len(audio) / SR)  # too short to transcribe
    out = Transcriber(threads=1).transcribe(audio, [turn, blip])
    assert [t.segment for t in out] == [turn, blip]
    assert isinstance(out[0], TurnText)
    text = out[0].text.lower()
    assert "wasting my time" in text and "manager" in text
    assert 0.0 < out[0].confidence <= 1.0
    assert out[0].words and all(turn.start <= s <= e <= turn.end for s, e, _ in out[0].words)
    assert phrases(text_evidence(out[0].text)["complaints"]) == [
        "wast* my time",
        "i want to speak to a manager",
    ]
    assert out[1] == TurnText(blip, "", (), 0.0)


def test_decoding_loops_are_collapsed_but_emphasis_is_kept():
    from analyzer.text import collapse_loops

    text = "How can I help you, " + "can I help you, " * 20 + "can I"
    out, looped = collapse_loops(text)
    assert looped and 1 <= out.count("help") <= 2 and len(out) < 60
    assert collapse_loops("no no no, please") == ("no no no, please", False)
    assert collapse_loops("I am fine, thank you") == ("I am fine, thank you", False)
