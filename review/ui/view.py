"""The review tab's state for one call, as named fields instead of tuple positions.

:class:`ReviewView` holds what the tab shows (values), :class:`ReviewWidgets` the widgets that show
it, with the same field names. Handlers return ``view.updates(*names)`` and the layout wires
``widgets.outputs(*names)`` with the same names, so the two lists can never drift apart.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import gradio as gr
import pandas as pd

from analyzer import LABELS, AnalysisResult
from analyzer.export import speaker_name, write_vtt  # not in analyzer's public API yet

from .. import views
from ..i18n import emotion_name, t
from ..plots import timeline_figure
from ..store import Annotation
from . import player
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

    player: str  # HTML: the call's <video> or <audio> with its emotion subtitles (player.py)
    timeline: Any  # plotly Figure, None without a call
    summary: str  # HTML: name, uploader, duration, then the call at a glance
    transcript: str  # HTML: the transcript panel (an empty state without words)
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

    player: gr.HTML
    timeline: gr.Plot
    summary: gr.HTML
    transcript: gr.HTML
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
        player=player.empty_player(lang),
        timeline=None,
        summary="",
        transcript=views.transcript_html_empty(lang),
        segments=frame([], views.segment_headers(lang)),
        events=frame([], views.event_headers(lang)),
        annotations=frame([], views.annotation_headers(lang)),
        speakers=gr.update(choices=[]),
        evidence={},
    )


def show_call(
    ctx: AppContext, call_id: str | None, lang: str, *, start_s: float | None = None
) -> ReviewView:
    """Everything the review tab shows for the stored call ``call_id`` in ``lang``; the player
    starts at ``start_s`` (a deep link's moment) when given."""
    if not call_id:
        return empty_view(lang)
    record = ctx.store.get_call(call_id)
    result = ctx.store.load_result(call_id)
    notes = ctx.store.list_annotations(call_id)
    speakers = [(speaker_name(result, s.id), s.id) for s in result.speakers]
    if record.media_path:
        subtitles = _subtitles(ctx, call_id, result, notes, lang)
        shown = player.player_html(
            call_id=call_id,
            media_url=media_url(ctx.served.media(record)),
            subtitles_url=player.file_url(subtitles),
            video=record.has_video,
            lang=lang,
            start_s=start_s,
            event_times=[e.start for e in result.events],
        )
    else:  # a result imported without its recording (emotrace library import)
        shown = f'<div class="emo-empty">{html.escape(t("no_media", lang))}</div>'
    return ReviewView(
        player=shown,
        timeline=timeline_figure(result, notes, lang=lang),
        summary=f'<h3 style="overflow-wrap:anywhere">{html.escape(record.name)}</h3><p>'
        f"{html.escape(record.uploaded_by)} · "
        f"{views.clock(record.duration_s)} · {html.escape(record.created_at[:16])}</p>"
        + views.summary_html(result, lang),
        transcript=views.transcript_html(result, lang),
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
    return write_vtt(
        result,
        path,
        notes,
        label_names=names,
        speaker_names={s.id: views.speaker_label(result, s.id, lang) for s in result.speakers},
        event_text=lambda e: (
            f"{views.event_kind_name(e.kind, lang)}: {views.event_text(e, lang, result)}"
        ),
    )


def media_url(media: Path) -> str:
    """Where the browser fetches the call's recording: the served copy (see ``served.py``),
    never the file in the data folder (the one place that knows the route)."""
    return player.file_url(media)
