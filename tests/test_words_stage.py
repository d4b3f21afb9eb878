"""The words stage: per-turn evidence from imported or transcribed text, redacted at the source."""

from __future__ import annotations

import json

from analyzer.segment import Segment
from analyzer.words.asr import TurnText
from analyzer.words.stage import words_from_asr, words_from_transcript
from analyzer.words.transcripts import assign_speakers, parse_transcript

CARD = "4111 1111 1111 1111"


def test_imported_transcript_gives_redacted_evidence_and_lines():
    transcript = parse_transcript(
        json.dumps(
            [
                {"start": 0.2, "end": 3.0, "text": "您好，请问有什么可以帮您？"},
                {"start": 3.5, "end": 7.0, "text": f"我的卡号是{CARD.replace(' ', '')}，太失望了"},
                {"start": 8.0, "end": 10.0, "text": "又是这样，浪费时间，我要投诉"},
            ],
            ensure_ascii=False,
        ),
        format="json",
    )
    turns = {"agent": [Segment(0.0, 3.2)], "customer": [Segment(3.4, 7.2), Segment(7.9, 10.5)]}
    lines = assign_speakers(
        transcript.lines, {k: [(s.start, s.end) for s in v] for k, v in turns.items()}
    )
    result = words_from_transcript(lines, turns, redact=True)
    assert [line.speaker for line in result.transcript] == ["agent", "customer", "customer"]
    assert result.transcript[1].text == "我的卡号是[CARD]，太失望了"
    evidence = result.texts["customer"][0]
    assert evidence["text"] == "我的卡号是[CARD]，太失望了"
    assert [c["phrase"] for c in evidence["complaints"]] == ["太失望了"]
    assert evidence["language"] == "zh"
    assert result.redaction.to_dict() == {
        "applied": True,
        "counts": {"CARD": 1},
        "spans": [[3.5, 7.0, "CARD"]],
    }
    # two complaining customer turns within the window: one repeated-complaint stretch
    assert [(spk, seg) for spk, seg, _ in result.complaints] == [("customer", Segment(3.4, 10.5))]
    everything = json.dumps([result.texts, [line.to_dict() for line in result.transcript]])
    assert "4111" not in everything and "1111" not in everything


def test_transcribed_turns_are_redacted_word_by_word():
    words = ((1.0, 1.3, "call"), (1.3, 1.5, "me"), (1.5, 1.7, "on"), (1.8, 3.0, "212-555-0187"))
    texts = {
        "S1": [TurnText(Segment(1.0, 3.2), "call me on 212-555-0187", words, 0.8)],
        "S2": [TurnText(Segment(4.0, 5.0), "", (), 0.0)],
    }
    result = words_from_asr(texts, redact=True)
    assert result.texts["S1"][0]["text"] == "call me on [PHONE]"
    assert result.texts["S1"][0]["asr_confidence"] == 0.8
    assert result.texts["S2"] == [None]
    (line,) = result.transcript
    assert line.words[-1] == (1.8, 3.0, "[PHONE]")
    assert result.redaction.spans == ((1.8, 3.0, "PHONE"),)
    plain = words_from_asr(texts)
    assert plain.texts["S1"][0]["text"] == "call me on 212-555-0187"
    assert plain.redaction.to_dict() == {"applied": False, "counts": {}, "spans": []}


def test_a_teams_own_lexicon_is_used(tmp_path):
    from analyzer.words.lexicons import load_lexicon

    (tmp_path / "complaint.toml").write_text(
        'extends = true\n[en]\nphrases = ["switch provider*"]\n', encoding="utf-8"
    )
    texts = {"S1": [TurnText(Segment(0.0, 2.0), "I will switch providers", (), 0.9)]}
    assert words_from_asr(texts).texts["S1"][0]["complaints"] == []
    team = words_from_asr(texts, lexicon=load_lexicon(tmp_path)).texts["S1"][0]
    assert [c["phrase"] for c in team["complaints"]] == ["switch provider*"]
