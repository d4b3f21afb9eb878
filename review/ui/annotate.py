"""The annotation part of the review tab: the reviewers' notes table and the form that adds one."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from analyzer import LABELS

from .. import views
from ..i18n import emotion_name, t
from ..store import ANNOTATION_KINDS
from .common import AppContext, Texts, choices, frame, user_of
from .view import show_call

# The review widgets an added annotation redraws (names of ReviewView / ReviewWidgets fields).
REDRAWN = ("video", "audio", "timeline", "annotations")


@dataclass(frozen=True)
class AnnotateForm:
    """The annotations table and the form's widgets."""

    table: gr.Dataframe
    kind: gr.Dropdown
    start: gr.Textbox
    end: gr.Textbox
    speaker: gr.Dropdown
    label: gr.Dropdown
    text: gr.Textbox
    add: gr.Button

    def fields(self) -> list:
        """The form's inputs, in the order :func:`add_annotation` takes them after the call."""
        return [self.kind, self.start, self.end, self.speaker, self.text, self.label]


def label_choices(lang: str) -> list[tuple[str, str]]:
    """The corrected-label choices: none, then the seven emotions by their names in ``lang``."""
    return [("", "")] + [(emotion_name(x, lang), x) for x in LABELS]


def build_annotate_form(texts: Texts, lang: str) -> AnnotateForm:
    """The table and the form (call inside the review tab)."""
    table = texts.key(
        gr.Dataframe(
            frame([], views.annotation_headers(lang)),
            interactive=False,
            label=t("annotations", lang),
            elem_id="annotations",
        ),
        "annotations",
    )
    with gr.Row():
        kind = texts.redraw(
            gr.Dropdown(
                choices(ANNOTATION_KINDS, "kind_", lang), value="note", label=t("ann_kind", lang)
            ),
            lambda lg: {
                "label": t("ann_kind", lg),
                "choices": choices(ANNOTATION_KINDS, "kind_", lg),
            },
        )
        start = texts.key(gr.Textbox(label=t("ann_start", lang)), "ann_start")
        end = texts.key(gr.Textbox(label=t("ann_end", lang)), "ann_end")
        speaker = texts.key(
            gr.Dropdown([], label=t("ann_speaker", lang), allow_custom_value=True), "ann_speaker"
        )
        label = texts.redraw(
            gr.Dropdown(label_choices(lang), value="", label=t("ann_label", lang)),
            lambda lg: {"label": t("ann_label", lg), "choices": label_choices(lg)},
        )
    with gr.Row():
        text = texts.key(gr.Textbox(label=t("ann_text", lang), scale=3), "ann_text")
        add = texts.key(gr.Button(t("ann_add", lang), variant="primary"), "ann_add", "value")
    return AnnotateForm(
        table=table,
        kind=kind,
        start=start,
        end=end,
        speaker=speaker,
        label=label,
        text=text,
        add=add,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def add_annotation(
    ctx: AppContext,
    call_id: str | None,
    kind: str,
    start: str | None,
    end: str | None,
    speaker: str | None,
    text: str | None,
    label: str | None,
    lang: str,
    request: gr.Request,
) -> tuple:
    """Store the form as an annotation of the open call; outputs ``[status, *REDRAWN widgets]``.

    The store's refusal (a bad time, an unknown kind) comes back as ``gr.Error`` with its message.
    """
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    try:
        ctx.store.add_annotation(
            call_id,
            author=user_of(request),
            kind=kind,
            text=text or "",
            start=views.parse_optional_float(start),
            end=views.parse_optional_float(end),
            speaker=speaker or None,
            corrected_label=label or None,
        )
    except ValueError as exc:
        raise gr.Error(str(exc)) from None
    ctx.store.audit(user_of(request), "annotate", call_id, kind)
    shown = show_call(ctx, call_id, lang)
    return (t("msg_annotation_added", lang), *shown.updates(*REDRAWN))
