"""A redacted call leaves no personal data in any file written for it; the transcript reaches the
result and every export."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from analyzer.cli import main
from analyzer.export import FORMATS, SUFFIXES, export_call
from analyzer.result import AnalysisResult

# Lines timed inside the bundled sample call's turns (assets/sample_call.truth.json: agent
# 0.50-4.09, customer 4.79-9.21, agent 9.81-13.67, customer 23.11-26.65, customer 30.66-34.31,
# customer 36.55-43.30); a line that spills over the next turn goes to the speaker it overlaps most.
TRANSCRIPT = [
    {"start": 0.6, "end": 2.7, "text": "您好，请问有什么可以帮您？"},
    {
        "start": 6.4,
        "end": 10.9,
        "text": "My name is Sarah Johnson, my card number is 4111 1111 1111 1111.",
        "words": [
            {"start": 6.4, "end": 6.6, "word": "My"},
            {"start": 6.6, "end": 6.9, "word": "name"},
            {"start": 6.9, "end": 7.0, "word": "is"},
            {"start": 7.0, "end": 7.4, "word": "Sarah"},
            {"start": 7.4, "end": 7.9, "word": "Johnson,"},
            {"start": 7.9, "end": 8.1, "word": "my"},
            {"start": 8.1, "end": 8.3, "word": "card"},
            {"start": 8.3, "end": 8.6, "word": "number"},
            {"start": 8.6, "end": 8.7, "word": "is"},
            {"start": 8.8, "end": 9.3, "word": "4111"},
            {"start": 9.4, "end": 9.8, "word": "1111"},
            {"start": 9.9, "end": 10.3, "word": "1111"},
            {"start": 10.4, "end": 10.9, "word": "1111."},
        ],
    },
    {
        "start": 11.8,
        "end": 16.5,
        "text": "I understand. Can I have a phone number to call you back?",
    },
    {"start": 23.2, "end": 26.5, "text": "It's 212-555-0187, or sarah.johnson@example.com."},
    {"start": 30.5, "end": 34.0, "text": "我的身份证号是11010519491231002X，太失望了，浪费时间。"},
    {"start": 37.0, "end": 39.5, "text": "地址是北京市朝阳区建国路88号，我叫李明。"},
]
# what must not appear anywhere: names, digits with and without separators, the e-mail, the
# address and the ID, and telling fragments of them
PERSONAL = [
    "Sarah", "Johnson", "4111", "1111 1111", "4111111111111111", "212-555-0187", "2125550187",
    "555-0187", "sarah.johnson", "example.com", "11010519491231002X", "110105194912",
    "北京市朝阳区", "建国路88号", "李明",
]  # fmt: skip


def _assert_no_personal_data(paths: list[Path]) -> None:
    """No value of ``PERSONAL`` in any file, nor its digits once separators are dropped."""
    assert paths
    for path in paths:
        text = _texts_of(path)
        leaks = [p for p in PERSONAL if p in text]
        digits = re.sub(r"[\s\-.,/()]", "", text)
        leaks += [d for d in ("4111111111111111", "2125550187", "11010519491231002") if d in digits]
        assert not leaks, f"{path.name} holds {leaks}"


def _texts_of(path: Path) -> str:
    """Everything a file says, as text (Parquet is read back: its pages may be compressed)."""
    if path.suffix == ".parquet":
        import pandas as pd

        frame = pd.read_parquet(path)
        return frame.to_csv(index=False) + " ".join(map(str, frame.columns))
    return path.read_bytes().decode("utf-8", errors="replace")


@pytest.mark.slow
def test_no_personal_data_in_any_output_of_a_redacted_call(tmp_path, sample_call):
    transcripts = tmp_path / "transcripts"
    transcripts.mkdir()
    (transcripts / "sample_call.json").write_text(
        json.dumps(TRANSCRIPT, ensure_ascii=False), encoding="utf-8"
    )
    out = tmp_path / "out"
    status = main(
        ["analyze", str(sample_call), "--out", str(out), "--transcript", str(transcripts),
         "--redact", "--csv", "--parquet", "--vtt", "--rttm", "--srt", "--quiet", "--no-video"]
    )  # fmt: skip
    assert status == 0
    result = AnalysisResult.from_json((out / "sample_call.wav.json").read_text(encoding="utf-8"))
    for fmt in FORMATS:
        export_call(result, fmt, out / f"export{SUFFIXES[fmt]}")

    # the words arrived: transcript lines with speakers and languages, placeholders in them
    lines = result.transcript
    assert len(lines) == len(TRANSCRIPT)
    assert [line.language for line in lines] == ["zh", "en", "en", "en", "zh", "zh"]
    assert lines[1].text == "My name is [NAME], my card number is [CARD]."
    assert lines[3].text == "It's [PHONE], or [EMAIL]."
    assert [line.speaker for line in lines] == [
        "agent", "customer", "agent", "customer", "customer", "customer",
    ]  # fmt: skip
    assert result.redaction.applied
    assert result.redaction.counts == {
        "NAME": 2, "CARD": 1, "PHONE": 1, "EMAIL": 1, "ID": 1, "ADDRESS": 1,
    }  # fmt: skip
    # the card's audio span comes from its words' times
    assert (8.8, 10.9, "CARD") in result.redaction.spans
    # words are evidence: the customer's complaint phrases reach the fused segments
    heard = [s.modalities["text"] for s in result.segments if "text" in s.modalities]
    assert any(m["phrase"] == "太失望了" for ev in heard for m in ev["complaints"])

    written = sorted(p for p in out.rglob("*") if p.is_file())
    # the CLI's outputs keep the input's name (sample_call.wav.transcript.csv), the exports not
    suffixes = {p.name.split(".", 1)[1].removeprefix("wav.") for p in written}
    assert {"json", "csv", "parquet", "transcript.csv", "transcript.parquet", "eaf", "TextGrid",
            "vtt", "rttm", "srt", "redacted.wav"} <= suffixes  # fmt: skip
    assert {p.name for p in written} >= {
        f"sample_call.wav{s}" for s in (".json", ".vtt", ".rttm", ".srt", ".redacted.wav")
    }
    _assert_no_personal_data(written)
    # and the time-aligned exports carry the (redacted) words
    for name in ("export.eaf", "export.TextGrid", "export.vtt", "export.srt"):
        assert "[CARD]" in (out / name).read_text(encoding="utf-8"), name
    # SubRip: numbered cues, comma milliseconds, who said it
    srt = (out / "sample_call.wav.srt").read_text(encoding="utf-8").split("\n\n")
    assert len(srt) == len(TRANSCRIPT)
    number, times, said = srt[1].splitlines()
    assert number == "2" and re.fullmatch(r"\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}", times)
    assert said == "customer: My name is [NAME], my card number is [CARD]."


@pytest.mark.slow
def test_batch_redacts_every_output_and_writes_the_redacted_audio(tmp_path, sample_call):
    """`emotrace batch --redact` with the transcript from a manifest column: the same masking
    as `analyze`, the silenced audio beside the JSON, and no personal data in any file (the
    per-call JSON/CSV/Parquet and the batch's Parquet datasets)."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install emotrace[cluster]")
    import shutil

    from analyzer.batch import BatchOptions, run_batch
    from analyzer.config import AnalysisConfig

    calls = tmp_path / "calls"
    calls.mkdir()
    shutil.copy(sample_call, calls / "call.wav")
    (calls / "call.json").write_text(json.dumps(TRANSCRIPT, ensure_ascii=False), encoding="utf-8")
    manifest = calls / "manifest.csv"
    manifest.write_text("path,transcript\ncall.wav,call.json\n", encoding="utf-8")
    out = tmp_path / "out"
    started = not ray.is_initialized()
    if started:
        ray.init(
            address="local", num_cpus=2, include_dashboard=False, object_store_memory=100 * 1024**2
        )
    try:
        options = BatchOptions(
            out=out,
            config=AnalysisConfig(redact=True, video=False),
            workers=1,
            progress=False,
            extra_outputs=("csv", "parquet"),
        )
        summary = run_batch([manifest], options)
    finally:
        if started:
            ray.shutdown()
    assert (summary.analysed, summary.failed) == (1, 0)
    doc = json.loads((out / "call.wav.json").read_text(encoding="utf-8"))
    assert doc["redaction"]["applied"] and doc["redaction"]["counts"]["CARD"] == 1
    assert doc["transcript"][1]["text"] == "My name is [NAME], my card number is [CARD]."
    written = sorted(p for p in out.rglob("*") if p.is_file())
    names = {p.name for p in written}
    assert {"call.wav.json", "call.wav.csv", "call.wav.parquet", "call.wav.redacted.wav"} <= names
    _assert_no_personal_data(written)


@pytest.mark.slow
def test_without_redaction_the_transcript_is_kept_as_it_is(tmp_path, sample_call):
    transcript = tmp_path / "call.srt"
    transcript.write_text(
        "1\n00:00:06,400 --> 00:00:10,900\n"
        "Customer: My card is 4111 1111 1111 1111, unacceptable!\n"
        "\n2\n00:01:05,000 --> 00:01:09,000\nAgent: past the end of the call\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    args = ["analyze", str(sample_call), "--out", str(out), "--transcript", str(transcript)]
    assert main([*args, "--quiet", "--no-video"]) == 0
    result = json.loads((out / "sample_call.wav.json").read_text(encoding="utf-8"))
    (line,) = result["transcript"]
    assert line["text"] == "My card is 4111 1111 1111 1111, unacceptable!"
    assert line["speaker"] == "customer"  # the label matched our speaker by overlap
    assert result["redaction"] == {"applied": False, "counts": {}, "spans": []}
    assert any("dropped" in note["message"] for note in result["notes"])


def test_a_malformed_transcript_fails_that_call_with_a_one_line_error(
    tmp_path, sample_call, capsys
):
    bad = tmp_path / "call.srt"
    bad.write_text("1\n00:00:01,000 -> 00:00:02,000\nhello\n", encoding="utf-8")
    status = main(
        ["analyze", str(sample_call), "--out", str(tmp_path), "--transcript", str(bad), "--quiet"]
    )
    assert status == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-2].startswith("emotrace: ") and "call.srt:2: expected a time line" in err[-2]
    assert err[-1] == "emotrace: 1 of 1 inputs failed"
