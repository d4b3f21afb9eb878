"""Analysing a stored call again with the number of speakers given (the review tab's button),
through its handler on a real store file; the engine is a fake one whose voices were diarized
(the real engine and a real browser: ``test_browser_intake.py``)."""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import dataclasses
from types import SimpleNamespace

import gradio as gr
import pytest
from fake_results import FakeAnalyzer, make_result, write_tone_wav

from analyzer import AnalysisConfig
from analyzer.words import read_transcript
from analyzer.words.transcripts import TranscriptLine
from review import auth, views
from review.store import Store
from review.ui import again
from review.ui.common import AppContext

REVIEWER = SimpleNamespace(username="rex")


def quiet(*_args, **_kwargs) -> None:
    """Stands in for gradio's progress bar."""


def diarized(result):
    """``result`` as a mixed recording gives it: voices found by diarization, no channels."""
    speakers = [dataclasses.replace(s, channel=None, source="diarization") for s in result.speakers]
    return dataclasses.replace(result, speakers=speakers)


class MixedAnalyzer(FakeAnalyzer):
    """The fake engine on a mixed recording; keeps the transcript lines it was given."""

    def __init__(self) -> None:
        super().__init__()
        self.transcripts: list[list] = []

    def analyze(self, path, *, config=None, progress=None):
        if config is not None and config.transcript:
            self.transcripts.append(read_transcript(config.transcript).lines)
        return diarized(super().analyze(path, config=config, progress=progress))


@pytest.fixture
def ctx(tmp_path):
    users = auth.Users({"rex": "$2b$x"}, "test", {"rex": auth.REVIEWER})
    with Store(tmp_path / "home") as store:
        yield AppContext(store, MixedAnalyzer(), views.UploadLimits(), AnalysisConfig(), (), users)


def stored(ctx, tmp_path, *, config=None, transcript=(), name="call.wav"):
    """A mixed call in the library, as an upload leaves it: (record, media path)."""
    media = write_tone_wav(tmp_path / "call.wav", 6.0)
    result = diarized(make_result(str(media), duration=6.0))
    result = dataclasses.replace(result, config=config or {}, transcript=list(transcript))
    record = ctx.store.add_call(result, media, uploaded_by="ada", name=name, agent="maria")
    return record, media


def test_a_new_call_beside_the_first_which_keeps_its_notes(ctx, tmp_path):
    first, _ = stored(ctx, tmp_path, config={"fps": 2.0, "redact": True}, name="call_1.wav")
    ctx.store.set_consent(first.id, "given", by="ada")
    note = ctx.store.add_annotation(first.id, author="ada", kind="note", text="calm", start=1.0)
    message, new_id = again.analyze_again(ctx, first.id, 1, "keep", "en", REVIEWER, progress=quiet)
    assert new_id and new_id != first.id
    assert "analysed again" in message and "1 voice" not in message  # the fake finds two
    assert message.startswith("call\\_1.wav")  # the name as it is, not Markdown emphasis
    config = ctx.analyzer.calls[-1][1]
    assert (config.num_speakers, config.fps, config.redact) == (1, 2.0, True)
    new = ctx.store.get_call(new_id)
    assert (new.name, new.agent, new.content_hash) == ("call_1.wav", "maria", first.content_hash)
    assert ctx.store.consent(new_id) == "given"
    assert [a.id for a in ctx.store.list_annotations(first.id)] == [note.id]  # nothing lost
    assert ctx.store.list_annotations(new_id) == []
    assert sorted(c.id for c in ctx.store.list_calls()) == sorted([first.id, new_id])
    assert ctx.store.load_result(first.id).speakers  # the first result is still readable
    entry = ctx.store.list_audit()[0]
    assert (entry.user, entry.action, entry.call_id) == ("rex", "upload", new_id)
    assert f"again from {first.id}" in entry.detail and "speakers 1" in entry.detail


def test_the_given_transcript_comes_along_without_its_old_speakers(ctx, tmp_path):
    words = ((2.5, 3.0, "太"), (3.0, 4.0, "失望了"))
    lines = [
        TranscriptLine(0.5, 2.0, "S1", "thank you for calling", "en"),
        TranscriptLine(2.5, 4.0, "S2", "太失望了", "zh", words=words),
    ]
    first, _ = stored(ctx, tmp_path, config={"transcript": "/gone/call.srt"}, transcript=lines)
    _, new_id = again.analyze_again(ctx, first.id, 2, "keep", "en", REVIEWER, progress=quiet)
    assert new_id
    given = ctx.analyzer.transcripts[-1]
    assert [(g.start, g.end, g.text) for g in given] == [(x.start, x.end, x.text) for x in lines]
    assert all(g.speaker is None for g in given)
    assert given[1].words == lines[1].words
    # A transcript the engine made itself (no file given) is made again, not carried.
    first2, _ = stored(ctx, tmp_path, config={"transcribe": True}, transcript=lines)
    again.analyze_again(ctx, first2.id, 2, "keep", "en", REVIEWER, progress=quiet)
    assert ctx.analyzer.calls[-1][1].transcript is None


def test_the_team_floor_applies_when_the_count_is_left_to_the_engine(ctx, tmp_path):
    first, _ = stored(ctx, tmp_path)
    ctx.store.set_team_setting("conversations", True, by="ada")
    again.analyze_again(ctx, first.id, 0, "keep", "en", REVIEWER, progress=quiet)
    config = ctx.analyzer.calls[-1][1]
    assert (config.num_speakers, config.min_speakers) == (None, 2)
    again.analyze_again(ctx, first.id, 1, "keep", "en", REVIEWER, progress=quiet)
    assert ctx.analyzer.calls[-1][1].num_speakers == 1  # a given count stands


def test_what_cannot_be_analysed_again_says_why_and_stores_nothing(ctx, tmp_path):
    first, media = stored(ctx, tmp_path)
    before = len(ctx.store.list_calls())
    message, new_id = again.analyze_again(ctx, first.id, 9, "keep", "en", REVIEWER, progress=quiet)
    assert new_id == "" and "1-8" in message
    # stored without its recording (an import whose input had moved)
    result = diarized(make_result("gone.wav"))
    bare = ctx.store.add_call(result, None, uploaded_by="ada", name="gone.wav")
    message, new_id = again.analyze_again(ctx, bare.id, 2, "keep", "zh", REVIEWER, progress=quiet)
    assert new_id == "" and "gone.wav" in message and "无法在此重新分析" in message
    # a stereo call: one speaker per channel, the count changes nothing
    stereo = ctx.store.add_call(make_result(str(media)), media, uploaded_by="ada", name="s.wav")
    message, new_id = again.analyze_again(ctx, stereo.id, 2, "keep", "en", REVIEWER, progress=quiet)
    assert new_id == "" and "channel of their own" in message
    assert len(ctx.store.list_calls()) == before + 2  # only the two set up here
    with pytest.raises(gr.Error):
        again.analyze_again(ctx, None, 1, "keep", "en", REVIEWER, progress=quiet)


def test_a_failed_analysis_is_one_line_and_leaves_the_library_as_it_was(ctx, tmp_path):
    first, _ = stored(ctx, tmp_path)

    def broken(path, *, config=None, progress=None):
        raise RuntimeError(f"decoder gave up on {path}")

    ctx.analyzer.analyze = broken
    message, new_id = again.analyze_again(ctx, first.id, 2, "keep", "en", REVIEWER, progress=quiet)
    assert new_id == "" and message.startswith("call.wav") and "\n" not in message
    assert "/calls/" not in message  # no server path
    assert [c.id for c in ctx.store.list_calls()] == [first.id]


def test_the_roles_can_be_set_for_the_new_analysis(ctx, tmp_path):
    first, media = stored(ctx, tmp_path, config={"channels": ["agent", "customer"]})
    # Kept as the first analysis had them unless chosen
    again.analyze_again(ctx, first.id, 0, "keep", "en", REVIEWER, progress=quiet)
    assert ctx.analyzer.calls[-1][1].channels == ("agent", "customer")
    # The agent was the voice heard second: the names go the other way round.
    _, new_id = again.analyze_again(
        ctx, first.id, 0, "customer_agent", "en", REVIEWER, progress=quiet
    )
    assert new_id and ctx.analyzer.calls[-1][1].channels == ("customer", "agent")
    assert "roles customer_agent" in ctx.store.list_audit()[0].detail
    again.analyze_again(ctx, first.id, 2, "auto", "en", REVIEWER, progress=quiet)
    assert (ctx.analyzer.calls[-1][1].channels, ctx.analyzer.calls[-1][1].num_speakers) == (None, 2)
    # A call whose speakers have a channel each: analysed again for its roles, not a count.
    stereo = ctx.store.add_call(make_result(str(media)), media, uploaded_by="ada", name="s.wav")
    calls = len(ctx.analyzer.calls)
    message, new_id = again.analyze_again(ctx, stereo.id, 0, "keep", "en", REVIEWER, progress=quiet)
    assert new_id == "" and "choose the roles" in message and len(ctx.analyzer.calls) == calls
    message, new_id = again.analyze_again(
        ctx, stereo.id, 2, "customer_agent", "en", REVIEWER, progress=quiet
    )
    assert new_id == "" and len(ctx.analyzer.calls) == calls
    _, new_id = again.analyze_again(
        ctx, stereo.id, 0, "customer_agent", "zh", REVIEWER, progress=quiet
    )
    assert new_id and ctx.analyzer.calls[-1][1].channels == ("customer", "agent")
    # Roles not on the list are refused before anything runs.
    message, new_id = again.analyze_again(ctx, first.id, 0, "boss", "en", REVIEWER, progress=quiet)
    assert new_id == "" and "roles" in message and len(ctx.analyzer.calls) == calls + 1
