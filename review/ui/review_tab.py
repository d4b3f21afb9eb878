"""The Review tab: player, emotion timeline, summary, events, segments with their evidence, the
annotations, and the export of the open call.

Choosing an event or a segment row moves the player to its start (``SEEK_JS``). Dragging across
the timeline selects a time range: ``player.js`` writes it into the hidden ``#ann-range`` box and
:func:`select_range` fills the annotation form with it, so a range is annotated with one more
click.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from analyzer.export import FORMATS, SUFFIXES, export_call  # not in analyzer's public API yet

from .. import views
from ..i18n import t
from . import player as player_mod
from .again import AGAIN_ROLE_CHOICES, KEEP_ROLES
from .annotate import AnnotateForm, build_annotate_form
from .common import AppContext, Texts, choices, frame, selected_row, user_of
from .view import ReviewWidgets

# Moves the player (player.js) to the time the last handler chose.
SEEK_JS = """(t) => {
  if (t !== null && t !== undefined && !isNaN(t) && window.emotrace) { window.emotrace.seek(t); }
  return t;
}"""

# The player's current time, for the annotation form's start box.
NOW_JS = """() => {
  const m = window.emotrace && window.emotrace.media();
  return m ? m.currentTime.toFixed(2) : "";
}"""
# Asks before a delete; a refusal sends no annotation id, which the handler answers plainly.
CONFIRM_JS = """(call, id, lang) => {
  const ask = lang === "zh" ? "删除这条标注？" : "Delete this annotation?";
  return window.confirm(ask) ? [call, id, lang] : [call, null, lang];
}"""


@dataclass(frozen=True)
class ReviewTab:
    """The review tab's widgets: what shows a call (``view``), the form, the export row."""

    view: ReviewWidgets
    form: AnnotateForm
    range_box: gr.Textbox  # hidden: the time range dragged on the timeline (player.js)
    export_format: gr.Dropdown
    export: gr.Button
    export_file: gr.File
    again_speakers: gr.Number  # the count for a new analysis of the open call (0: estimate)
    again_roles: gr.Dropdown  # the roles for it (again.AGAIN_ROLE_CHOICES; "keep" by default)
    again: gr.Button
    again_msg: gr.Markdown


def build_review_tab(texts: Texts, lang: str) -> ReviewTab:
    """The tab's layout (call inside ``gr.Tabs``)."""
    with texts.key(gr.Tab(t("tab_review", lang), id="review"), "tab_review"):
        with gr.Row():
            with gr.Column(scale=2):
                player = texts.key(
                    gr.HTML(
                        player_mod.empty_player(lang), label=t("player", lang), elem_id="player"
                    ),
                    "player",
                )
                transcript = texts.key(
                    gr.HTML(
                        views.transcript_html_empty(lang),
                        label=t("transcript", lang),
                        show_label=True,
                        elem_id="transcript",
                    ),
                    "transcript",
                )
            with gr.Column(scale=3):
                timeline = texts.key(
                    gr.Plot(label=t("timeline_hint", lang), elem_id="timeline"), "timeline_hint"
                )
        summary = gr.HTML(elem_id="summary")
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
        # The range dragged on the timeline, as JSON written by player.js (in the page, unseen).
        range_box = gr.Textbox(visible="hidden", elem_id="ann-range")
        with gr.Row():
            fmt = texts.key(
                gr.Dropdown(list(FORMATS), value="json", label=t("export_format", lang)),
                "export_format",
            )
            export = texts.key(gr.Button(t("export", lang)), "export", "value")
            file = texts.key(gr.File(label=t("download", lang)), "download")
        with gr.Row():
            again_speakers = texts.key(
                gr.Number(
                    value=0,
                    precision=0,
                    minimum=0,
                    maximum=8,
                    label=t("again_speakers", lang),
                    elem_id="again-speakers",
                ),
                "again_speakers",
            )
            again_roles = texts.dropdown(
                "again_roles",
                lambda lg: choices(AGAIN_ROLE_CHOICES, "again_roles_", lg),
                lang,
                value=KEEP_ROLES,
                elem_id="again-roles",
            )
            again = texts.key(gr.Button(t("again", lang), elem_id="again"), "again", "value")
        again_msg = gr.Markdown(elem_id="again-msg")
    view = ReviewWidgets(
        player=player,
        timeline=timeline,
        summary=summary,
        transcript=transcript,
        segments=segments,
        events=events,
        annotations=form.table,
        speakers=form.speaker,
        evidence=evidence,
    )
    return ReviewTab(
        view=view,
        form=form,
        range_box=range_box,
        export_format=fmt,
        export=export,
        export_file=file,
        again_speakers=again_speakers,
        again_roles=again_roles,
        again=again,
        again_msg=again_msg,
    )


def _table(headers: list[str], label: str, elem_id: str, max_height: int | None = None):
    extra: dict[str, Any] = {"max_height": max_height} if max_height else {}
    return gr.Dataframe(
        frame([], headers), interactive=False, label=label, elem_id=elem_id, **extra
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def _times(start: float, end: float) -> tuple[str, str]:
    return f"{start:.2f}", f"{end:.2f}"


def select_segment(ctx: AppContext, call_id: str | None, evt: gr.SelectData) -> tuple:
    """A segment row was chosen: its start (for the player), its evidence, and the annotation
    form filled with its times and speaker. Outputs ``[seek, evidence, start, end, speaker]``.
    """
    if not call_id:
        return None, {}, gr.skip(), gr.skip(), gr.skip()
    result = ctx.store.load_result(call_id)
    row = selected_row(evt)
    segs = views.turn_segments(result)
    if not 0 <= row < len(segs):
        return None, {}, gr.skip(), gr.skip(), gr.skip()
    s = segs[row]
    return (s.start, views.evidence(result, row), *_times(s.start, s.end), s.speaker)


def select_event(ctx: AppContext, call_id: str | None, evt: gr.SelectData) -> tuple:
    """An event row was chosen: its start (for the player) and the annotation form filled with
    its times and speaker. Outputs ``[seek, start, end, speaker]``."""
    if not call_id:
        return None, gr.skip(), gr.skip(), gr.skip()
    events = views.sorted_events(ctx.store.load_result(call_id))
    row = selected_row(evt)
    if not 0 <= row < len(events):
        return None, gr.skip(), gr.skip(), gr.skip()
    e = events[row]
    return (e.start, *_times(e.start, e.end), e.speaker or "")


def select_range(ctx: AppContext, call_id: str | None, value: str | None, lang: str) -> tuple:
    """A range was dragged across the timeline (``value``: player.js's JSON ``{start, end,
    speaker}``): the annotation form gets its times and the speaker of the lane it began in
    (none outside a speaker lane), and a line under the form says what to do next.
    Outputs ``[start, end, speaker, message]``; anything unreadable changes nothing."""
    skip = (gr.skip(),) * 4
    if not call_id or not value:
        return skip
    try:
        data = json.loads(value)
        a, b = sorted((float(data["start"]), float(data["end"])))
    except (ValueError, TypeError, KeyError):
        return skip
    if not (math.isfinite(a) and math.isfinite(b)) or b <= a:
        return skip
    duration = ctx.store.get_call(call_id).duration_s
    a, b = max(a, 0.0), min(b, duration)
    result = ctx.store.load_result(call_id)
    speaker = str(data.get("speaker") or "")
    if speaker not in {s.id for s in result.speakers}:
        speaker = ""
    who = (
        t("msg_range_speaker", lang, speaker=views.speaker_label(result, speaker, lang))
        if speaker
        else ""
    )
    message = t("msg_range_selected", lang, start=a, end=b, who=who)
    return (*_times(a, b), speaker, f"ℹ️ {message}")


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
    # ELAN links the recording by its file name, next to the .eaf: never the server's path.
    written = str(export_call(result, fmt, path, notes, media_path=Path(record.name).name))
    ctx.store.audit(user_of(request), "export", call_id, fmt)
    if fmt == "srt" and not views.transcript_lines(result):  # SubRip holds the transcript only
        gr.Warning(t("transcript_empty", lang))
    return written
