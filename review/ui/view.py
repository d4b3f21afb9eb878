"""The review tab's state for one call, as named fields instead of tuple positions.

:class:`ReviewView` holds what the tab shows (values), :class:`ReviewWidgets` the widgets that show
it, with the same field names. Handlers return ``view.updates(*names)`` and the layout wires
``widgets.outputs(*names)`` with the same names, so the two lists can never drift apart.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from analyzer import LABELS, AnalysisResult
from analyzer.export import speaker_name, write_vtt  # not in analyzer's public API yet

from .. import views
from ..i18n import emotion_name
from ..plots import timeline_figure
from ..store import Annotation, CallRecord
from .common import AppContext, frame


class _Named:
    """Fields read by name, all of them (in declaration order) when no name is given."""

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))  # type: ignore[arg-type]

    def _pick(self, names: tuple[str, ...]) -> list:
        return [getattr(self, n) for n in (names or self.names())]


@dataclass(frozen=True)
class ReviewView(_Named):
    """Everything the review tab shows for one call (or for none)."""

    video: Any  # gr.Video update: the player of a video call, hidden for audio
    audio: Any  # gr.Audio update: the player of an audio call, hidden for video
    timeline: Any  # plotly Figure, None without a call
    summary: str  # Markdown: name, uploader, duration, then views.summary_text
    segments: pd.DataFrame  # the speech turns
    events: pd.DataFrame  # detected events
    annotations: pd.DataFrame  # reviewers' annotations
    speakers: Any  # gr.update of the annotation form's speaker choices
    evidence: dict  # per-modality evidence of the selected segment (none selected: {})

    def updates(self, *names: str) -> list:
        """The values for ``ReviewWidgets.outputs(*names)``."""
        return self._pick(names)


@dataclass(frozen=True)
class ReviewWidgets(_Named):
    """The widgets that show a :class:`ReviewView`, field for field."""

    video: gr.Video
    audio: gr.Audio
    timeline: gr.Plot
    summary: gr.Markdown
    segments: gr.Dataframe
    events: gr.Dataframe
    annotations: gr.Dataframe
    speakers: gr.Dropdown
    evidence: gr.JSON

    def outputs(self, *names: str) -> list:
        """The widgets named (all when none), as a Gradio outputs list."""
        return self._pick(names)


def empty_view(lang: str) -> ReviewView:
    """The review tab with no call open (the players lose their media and subtitles too)."""
    return ReviewView(
        video=gr.Video(value=None, subtitles=None, visible=False),
        audio=gr.Audio(value=None, subtitles=None, visible=True),
        timeline=None,
        summary="",
        segments=frame([], views.segment_headers(lang)),
        events=frame([], views.event_headers(lang)),
        annotations=frame([], views.annotation_headers(lang)),
        speakers=gr.update(choices=[]),
        evidence={},
    )


def show_call(ctx: AppContext, call_id: str | None, lang: str) -> ReviewView:
    """Everything the review tab shows for the stored call ``call_id`` in ``lang``."""
    if not call_id:
        return empty_view(lang)
    record = ctx.store.get_call(call_id)
    result = ctx.store.load_result(call_id)
    notes = ctx.store.list_annotations(call_id)
    media = ctx.served.media(record)
    video, audio = _players(record, media, _subtitles(ctx, call_id, result, notes, lang))
    speakers = [(speaker_name(result, s.id), s.id) for s in result.speakers]
    return ReviewView(
        video=video,
        audio=audio,
        timeline=timeline_figure(result, notes, lang=lang),
        summary=f"**{record.name}** · {record.uploaded_by} · {record.duration_s:.1f} s\n\n"
        + views.summary_text(result, lang),
        segments=frame(views.segment_rows(result, lang), views.segment_headers(lang)),
        events=frame(views.event_rows(result, lang), views.event_headers(lang)),
        annotations=frame(views.annotation_rows(notes, lang), views.annotation_headers(lang)),
        speakers=gr.update(choices=[("", "")] + speakers, value=""),
        evidence={},
    )


def _subtitles(
    ctx: AppContext,
    call_id: str,
    result: AnalysisResult,
    notes: list[Annotation],
    lang: str,
) -> Path:
    """The call's emotion subtitles in ``lang`` (a WebVTT file in the call's served folder)."""
    names = {label: emotion_name(label, lang) for label in LABELS}
    path = ctx.served.folder(call_id) / f"subtitles.{lang}.vtt"
    return write_vtt(result, path, notes, label_names=names)


def _players(record: CallRecord, media: Path, subtitles: Path) -> tuple[gr.Video, gr.Audio]:
    """The video player for a video call, the audio player otherwise; the other one hidden.

    ``media`` is the served copy (see ``served.py``), never the file in the data folder.
    """
    if record.has_video:
        return (
            gr.Video(value=str(media), subtitles=str(subtitles), visible=True),
            gr.Audio(value=None, subtitles=None, visible=False),
        )
    return (
        gr.Video(value=None, subtitles=None, visible=False),
        gr.Audio(value=str(media), subtitles=str(subtitles), visible=True),
    )
