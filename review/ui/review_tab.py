"""The Review tab: player, emotion timeline, summary, events, segments with their evidence, the
annotations, and the export of the open call.

Choosing an event or a segment row moves the player to its start (``SEEK_JS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from analyzer.export import FORMATS, SUFFIXES, export_call  # not in analyzer's public API yet

from .. import views
from ..i18n import t
from .annotate import AnnotateForm, build_annotate_form
from .common import AppContext, Texts, frame, selected_row, user_of
from .view import ReviewWidgets

# Moves the player to the time the last handler chose (gradio has no seek API of its own).
SEEK_JS = """(t) => {
  if (t === null || t === undefined || isNaN(t)) { return t; }
  document.querySelectorAll('#player-video video, #player-audio audio')
    .forEach((m) => { m.currentTime = Number(t); });
  return t;
}"""


@dataclass(frozen=True)
class ReviewTab:
    """The review tab's widgets: what shows a call (``view``), the form, the export row."""

    view: ReviewWidgets
    form: AnnotateForm
    export_format: gr.Dropdown
    export: gr.Button
    export_file: gr.File


def build_review_tab(texts: Texts, lang: str) -> ReviewTab:
    """The tab's layout (call inside ``gr.Tabs``)."""
    with texts.key(gr.Tab(t("tab_review", lang), id="review"), "tab_review"):
        with gr.Row():
            with gr.Column(scale=2):
                video = texts.key(
                    gr.Video(
                        label=t("player", lang),
                        elem_id="player-video",
                        interactive=False,
                        visible=False,
                    ),
                    "player",
                )
                audio = texts.key(
                    gr.Audio(
                        label=t("player", lang),
                        elem_id="player-audio",
                        interactive=False,
                        type="filepath",
                    ),
                    "player",
                )
                summary = gr.Markdown(elem_id="summary")
            with gr.Column(scale=3):
                timeline = texts.key(
                    gr.Plot(label=t("timeline", lang), elem_id="timeline"), "timeline"
                )
        events = texts.key(_table(views.event_headers(lang), t("events", lang), "events"), "events")
        with gr.Row():
            with gr.Column(scale=3):
                segments = texts.key(
                    _table(views.segment_headers(lang), t("segments", lang), "segments", 320),
                    "segments",
                )
            with gr.Column(scale=2):
                evidence = texts.key(
                    gr.JSON(label=t("evidence", lang), elem_id="evidence"), "evidence"
                )
        form = build_annotate_form(texts, lang)
        with gr.Row():
            fmt = texts.key(
                gr.Dropdown(list(FORMATS), value="json", label=t("export_format", lang)),
                "export_format",
            )
            export = texts.key(gr.Button(t("export", lang)), "export", "value")
            file = texts.key(gr.File(label=t("download", lang)), "download")
    view = ReviewWidgets(
        video=video,
        audio=audio,
        timeline=timeline,
        summary=summary,
        segments=segments,
        events=events,
        annotations=form.table,
        speakers=form.speaker,
        evidence=evidence,
    )
    return ReviewTab(view=view, form=form, export_format=fmt, export=export, export_file=file)


def _table(headers: list[str], label: str, elem_id: str, max_height: int | None = None):
    extra: dict[str, Any] = {"max_height": max_height} if max_height else {}
    return gr.Dataframe(
        frame([], headers), interactive=False, label=label, elem_id=elem_id, **extra
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def select_segment(
    ctx: AppContext, call_id: str | None, evt: gr.SelectData
) -> tuple[float | None, dict]:
    """A segment row was chosen: its start (for the player) and its evidence."""
    if not call_id:
        return None, {}
    result = ctx.store.load_result(call_id)
    row = selected_row(evt)
    segs = views.turn_segments(result)
    start = segs[row].start if 0 <= row < len(segs) else None
    return start, views.evidence(result, row)


def select_event(ctx: AppContext, call_id: str | None, evt: gr.SelectData) -> float | None:
    """An event row was chosen: its start (for the player)."""
    if not call_id:
        return None
    events = views.sorted_events(ctx.store.load_result(call_id))
    row = selected_row(evt)
    return events[row].start if 0 <= row < len(events) else None


def export_open(
    ctx: AppContext, call_id: str | None, fmt: str, lang: str, request: gr.Request | None = None
) -> str:
    """The open call (with its annotations) in ``fmt``; returns the file's path, in the call's
    served folder (never the data folder)."""
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    record = ctx.store.get_call(call_id)
    folder = ctx.served.folder(call_id) / "exports"
    folder.mkdir(exist_ok=True)
    path = folder / (Path(record.name).stem + SUFFIXES[fmt])
    result = ctx.store.load_result(call_id)
    notes = ctx.store.list_annotations(call_id)
    media = ctx.served.media(record)
    written = str(export_call(result, fmt, path, notes, media_path=str(media)))
    ctx.store.audit(user_of(request), "export", call_id, fmt)
    return written
