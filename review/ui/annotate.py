"""The annotation part of the review tab: the reviewers' notes table and the form.

Two clicks annotate a segment: choosing a segment or event row (or "use the player's time") fills
the form's times and speaker; the reviewer picks the kind, writes, and saves. Choosing a row of
the annotations table loads one's own annotation for editing or deleting. Mistakes get a plain
message under the form (never a red error badge on the player or the tables), and so does the
confirmation: where the reviewer is looking.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from analyzer import LABELS

from .. import views
from ..i18n import emotion_name, t
from ..store import ANNOTATION_KINDS, StoreError
from .common import AppContext, Texts, choices, frame, selected_row, user_of
from .view import show_call

# The review widgets an added annotation redraws (names of ReviewView / ReviewWidgets fields).
REDRAWN = ("timeline", "annotations")


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
    flag: gr.Button  # keep the selected range as a coaching example in one click
    editing: gr.Number  # the id of the annotation being edited (hidden; None: a new one)
    save: gr.Button
    delete: gr.Button
    now: gr.Button  # "use the player's time"
    message: gr.Markdown  # validation and confirmation, right under the form

    def fields(self) -> list:
        """The form's inputs, in the order :func:`add_annotation` takes them after the call."""
        return [self.kind, self.start, self.end, self.speaker, self.text, self.label]

    def cleared(self) -> list:
        """What :func:`add_annotation` and friends clear or fill: the fields, then the edit id."""
        return [self.kind, self.start, self.end, self.speaker, self.text, self.label, self.editing]


def label_choices(lang: str) -> list[tuple[str, str]]:
    """The corrected-label choices: none, then the seven emotions by their names in ``lang``."""
    return [("", "")] + [(emotion_name(x, lang), x) for x in LABELS]


def build_annotate_form(texts: Texts, lang: str) -> AnnotateForm:
    """The table and the form (call inside the review tab)."""
    with gr.Column(elem_id="annotate"):
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
            kind = texts.dropdown(
                "ann_kind",
                lambda lg: choices(ANNOTATION_KINDS, "kind_", lg),
                lang,
                value="note",
                elem_id="ann-kind",
            )
            start = texts.key(
                gr.Textbox(label=t("ann_start", lang), elem_id="ann-start"), "ann_start"
            )
            end = texts.key(gr.Textbox(label=t("ann_end", lang), elem_id="ann-end"), "ann_end")
            speaker = texts.key(
                gr.Dropdown([], label=t("ann_speaker", lang), allow_custom_value=True),
                "ann_speaker",
            )
            label = texts.dropdown("ann_label", label_choices, lang, value="")
        with gr.Row():
            text = texts.key(
                gr.Textbox(label=t("ann_text", lang), scale=3, elem_id="ann-text"), "ann_text"
            )
            now = texts.key(gr.Button(t("ann_now", lang), elem_id="ann-now"), "ann_now", "value")
            add = texts.key(
                gr.Button(t("ann_add", lang), variant="primary", elem_id="ann-add"),
                "ann_add",
                "value",
            )
            flag = texts.key(
                gr.Button(t("ann_flag", lang), elem_id="ann-flag"), "ann_flag", "value"
            )
            save = texts.key(
                gr.Button(t("ann_save", lang), elem_id="ann-save"), "ann_save", "value"
            )
            delete = texts.key(
                gr.Button(t("ann_delete", lang), variant="stop", elem_id="ann-delete"),
                "ann_delete",
                "value",
            )
        message = gr.Markdown(elem_id="annotate-msg")
        editing = gr.Number(visible=False)
    return AnnotateForm(
        table=table,
        kind=kind,
        start=start,
        end=end,
        speaker=speaker,
        label=label,
        text=text,
        add=add,
        flag=flag,
        editing=editing,
        save=save,
        delete=delete,
        now=now,
        message=message,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


class FormError(ValueError):
    """A plain message about one field of the form."""


def _time(value: str | None, field: str, duration_s: float, lang: str) -> float | None:
    """A time box's seconds (None when empty); FormError with a plain message otherwise."""
    try:
        x = views.parse_optional_float(value)
    except ValueError:
        raise FormError(t("msg_not_seconds", lang, field=t(field, lang), value=value)) from None
    if x is not None and not 0.0 <= x <= duration_s + 0.05:
        raise FormError(
            t("msg_outside_call", lang, field=t(field, lang), value=x, duration=duration_s)
        )
    return x


def _checked(
    ctx: AppContext,
    call_id: str,
    kind: str,
    start: str | None,
    end: str | None,
    text: str | None,
    label: str | None,
    lang: str,
) -> tuple[float | None, float | None]:
    """The form's times, checked against the call; FormError names the field and the fix."""
    duration = ctx.store.get_call(call_id).duration_s
    a = _time(start, "ann_start", duration, lang)
    b = _time(end, "ann_end", duration, lang)
    if a is None and b is not None:
        raise FormError(t("msg_end_without_start", lang))
    if a is not None and b is not None and b < a:
        raise FormError(t("msg_end_before_start", lang))
    if kind == "label_correction" and label not in LABELS:
        raise FormError(t("msg_needs_label", lang))
    if kind == "label_correction" and not _has_speech(ctx, call_id, a, b, duration):
        raise FormError(t("msg_correction_no_speech", lang))  # a label for silence trains noise
    if kind == "note" and not (text or "").strip():
        raise FormError(t("msg_needs_text", lang))
    return a, b


def _has_speech(
    ctx: AppContext, call_id: str, start: float | None, end: float | None, duration: float
) -> bool:
    """Whether the call has speech in [start, end] (the moment ``start`` when there is no end;
    the whole call when there is no start)."""
    lo = 0.0 if start is None else start
    hi = duration if start is None else (end if end is not None else start)
    turns = ctx.store.load_result(call_id).turns
    return any(seg.start <= hi and seg.end >= lo for _, seg in turns)


def _done(ctx: AppContext, call_id: str, message: str, lang: str) -> tuple:
    """Outputs of ``[message, *cleared, *REDRAWN]`` after a change: fields cleared, redrawn."""
    shown = show_call(ctx, call_id, lang)
    cleared = ("note", "", "", "", "", "", None)
    return (f"✅ {message}", *cleared, *shown.updates(*REDRAWN))


def _refused(message: str) -> tuple:
    """Outputs of ``[message, *cleared, *REDRAWN]`` for a refusal: only the message changes."""
    return (f"⚠️ {message}", *[gr.skip()] * (7 + len(REDRAWN)))


def _store_form(
    ctx: AppContext,
    call_id: str,
    author: str,
    form: tuple[str, str | None, str | None, str | None, str | None, str | None],
    lang: str,
) -> None:
    """Check the form's fields (FormError says what to fix) and store them as an annotation."""
    kind, start, end, speaker, text, label = form
    a, b = _checked(ctx, call_id, kind, start, end, text, label, lang)
    ctx.store.add_annotation(
        call_id,
        author=author,
        kind=kind,
        text=text or "",
        start=a,
        end=b,
        speaker=speaker or None,
        corrected_label=label or None,
    )


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
    """Store the form as an annotation of the open call.

    Outputs ``[message, *form.cleared(), *REDRAWN widgets]``: a plain message under the form
    (a confirmation, or what to fix in which field), the fields cleared after a save.
    """
    if not call_id:
        return _refused(t("msg_no_call", lang))
    try:
        form = (kind, start, end, speaker, text, label)
        _store_form(ctx, call_id, user_of(request), form, lang)
    except (FormError, StoreError) as exc:
        return _refused(str(exc))
    ctx.store.audit(user_of(request), "annotate", call_id, kind)
    return _done(ctx, call_id, t("msg_annotation_added", lang), lang)


def flag_example(
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
    """Keep the form's range (a dragged range, a chosen segment) as a coaching example in one
    click, whatever kind the form shows; a text, when written, goes with it. A range is needed:
    a whole-call example is made through the form's kind. Outputs as :func:`add_annotation`."""
    del kind, label  # the button says what it stores
    if not call_id:
        return _refused(t("msg_no_call", lang))
    if not (start or "").strip():
        return _refused(t("msg_flag_needs_range", lang))
    return add_annotation(
        ctx, call_id, "coaching_flag", start, end, speaker, text, "", lang, request
    )


def _own(ctx: AppContext, call_id: str, annotation_id: float | None, request, lang: str):
    """The annotation being edited, if it is the reviewer's own; FormError otherwise."""
    if annotation_id is None:
        raise FormError(t("msg_pick_annotation", lang))
    found = [a for a in ctx.store.list_annotations(call_id) if a.id == int(annotation_id)]
    if not found:
        raise FormError(t("msg_pick_annotation", lang))
    if found[0].author != user_of(request):
        raise FormError(t("msg_not_yours", lang, author=found[0].author))
    return found[0]


def save_annotation(
    ctx: AppContext,
    call_id: str | None,
    annotation_id: float | None,
    kind: str,
    start: str | None,
    end: str | None,
    speaker: str | None,
    text: str | None,
    label: str | None,
    lang: str,
    request: gr.Request,
) -> tuple:
    """Replace one's own annotation by the form (outputs as :func:`add_annotation`)."""
    if not call_id:
        return _refused(t("msg_no_call", lang))
    try:
        old = _own(ctx, call_id, annotation_id, request, lang)
        _store_form(ctx, call_id, old.author, (kind, start, end, speaker, text, label), lang)
        ctx.store.delete_annotation(old.id)
    except (FormError, StoreError) as exc:
        return _refused(str(exc))
    ctx.store.audit(user_of(request), "annotate", call_id, f"edit {kind}")
    return _done(ctx, call_id, t("msg_annotation_saved", lang), lang)


def delete_annotation(
    ctx: AppContext,
    call_id: str | None,
    annotation_id: float | None,
    lang: str,
    request: gr.Request,
) -> tuple:
    """Delete one's own annotation loaded in the form (outputs as :func:`add_annotation`)."""
    if not call_id:
        return _refused(t("msg_no_call", lang))
    try:
        old = _own(ctx, call_id, annotation_id, request, lang)
    except FormError as exc:
        return _refused(str(exc))
    ctx.store.delete_annotation(old.id)
    ctx.store.audit(user_of(request), "annotate", call_id, f"delete {old.kind}")
    return _done(ctx, call_id, t("msg_annotation_deleted", lang), lang)


def pick_annotation(ctx: AppContext, call_id: str | None, lang: str, evt: gr.SelectData) -> tuple:
    """An annotations row was chosen: load it into the form. Outputs ``[message, *cleared]``."""
    notes = ctx.store.list_annotations(call_id) if call_id else []
    row = selected_row(evt)
    if not 0 <= row < len(notes):
        return ("", *[gr.skip()] * 7)
    a = notes[row]
    fmt = "" if a.start is None else f"{a.start:.2f}"
    return (
        t("msg_editing", lang, author=a.author),
        a.kind,
        fmt,
        "" if a.end is None else f"{a.end:.2f}",
        a.speaker or "",
        a.text,
        a.corrected_label or "",
        a.id,
    )


def prefill(ctx: AppContext, call_id: str | None, start: float | None, end: float | None, speaker):
    """The form's times and speaker from a chosen segment or event (``[start, end, speaker]``)."""
    if start is None:
        return gr.skip(), gr.skip(), gr.skip()
    return f"{start:.2f}", "" if end is None else f"{end:.2f}", speaker or ""
