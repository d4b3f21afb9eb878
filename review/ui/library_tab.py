"""The Call library tab: search the stored calls, open or delete one, export the listed calls.

Besides the stored columns (name, dates, duration, roles, negative share, events, uploader,
coaching examples) the search filters by one speaker's emotion share ("the customer was angry at
least 20 % of their speech"), read from each listed call's summary. A box that holds no valid
value gets a plain message above the table, which stays as it was.

Deleting is for admins only (the button is hidden from reviewers and the handler refuses them)
and asks for a confirmation naming the call first. An admin also sees the audit log here.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, replace
from typing import Any

import gradio as gr
import pandas as pd

from analyzer import EVENT_KINDS, LABELS, write_combined

from .. import views
from ..i18n import emotion_name, t
from ..store import CallFilter, StoreError
from .common import AppContext, Texts, frame, require_admin, role_of, user_of
from .view import empty_view, show_call

EVENT_FILTERS = ("all", "any", *EVENT_KINDS)  # "all": no filter, "any": at least one event


@dataclass(frozen=True)
class LibraryTab:
    """The library tab's widgets."""

    text: gr.Textbox
    date_from: gr.Textbox
    date_to: gr.Textbox
    role: gr.Textbox
    min_duration: gr.Textbox
    max_duration: gr.Textbox
    min_negative: gr.Textbox
    event_kind: gr.Dropdown
    uploader: gr.Textbox
    coaching_only: gr.Checkbox
    share_emotion: gr.Dropdown  # the per-speaker emotion-share filter: the emotion ("all": off),
    share_min: gr.Textbox  # its least share (percent or fraction),
    share_role: gr.Dropdown  # and whose share: any speaker, the agent or the customer
    message: gr.Markdown  # a plain message about a filter (the table stays as it was)
    refresh: gr.Button
    calls: gr.Dataframe
    pick: gr.Dropdown
    open: gr.Button
    delete: gr.Button
    confirm_row: gr.Row  # shown while a delete waits for its confirmation
    confirm_text: gr.Markdown
    confirm: gr.Button
    cancel: gr.Button
    combined_format: gr.Radio
    combined_export: gr.Button
    combined_file: gr.File

    def filters(self) -> list:
        """The search widgets, in the order :func:`call_filter` takes them."""
        return [
            self.text,
            self.date_from,
            self.date_to,
            self.min_duration,
            self.max_duration,
            self.role,
            self.min_negative,
            self.event_kind,
            self.uploader,
            self.coaching_only,
        ]

    def share_filters(self) -> list:
        """The emotion-share filter's widgets, in the order :func:`list_library` takes them
        (after the language, so that API calls written before it keep their positions)."""
        return [self.share_emotion, self.share_min, self.share_role]

    def listing(self) -> list:
        """What :func:`list_library` fills: the table, the call picker, the filter message."""
        return [self.calls, self.pick, self.message]


def event_choices(lang: str) -> list[tuple[str, str]]:
    names = {"all": t("no_filter", lang), "any": t("any_event", lang)}
    return [(names.get(k) or views.event_kind_name(k, lang), k) for k in EVENT_FILTERS]


def share_emotion_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("no_filter", lang), "all")] + [(emotion_name(x, lang), x) for x in LABELS]


def share_role_choices(lang: str) -> list[tuple[str, str]]:
    return [(t(f"share_role_{r}", lang), r) for r in views.SHARE_ROLES]


def build_library_tab(texts: Texts, lang: str) -> LibraryTab:
    """The tab's layout (call inside ``gr.Tabs``)."""
    with texts.key(gr.Tab(t("tab_library", lang), id="library"), "tab_library"):
        with gr.Row():
            text = texts.key(gr.Textbox(label=t("search", lang)), "search")
            date_from = texts.key(gr.Textbox(label=t("date_from", lang)), "date_from")
            date_to = texts.key(gr.Textbox(label=t("date_to", lang)), "date_to")
            role = texts.key(gr.Textbox(label=t("role", lang)), "role")
        with gr.Row():
            min_d = texts.key(gr.Textbox(label=t("min_duration", lang)), "min_duration")
            max_d = texts.key(gr.Textbox(label=t("max_duration", lang)), "max_duration")
            min_neg = texts.key(gr.Textbox(label=t("min_negative", lang)), "min_negative")
            event_kind = texts.dropdown("event_kind", event_choices, lang, value="all")
        with gr.Row():
            uploader = texts.key(gr.Textbox(label=t("uploader", lang)), "uploader")
            coaching_only = texts.key(
                gr.Checkbox(label=t("coaching_only", lang), value=False), "coaching_only"
            )
        with gr.Row():
            share_emotion = texts.dropdown(
                "share_emotion", share_emotion_choices, lang, value="all", elem_id="share-emotion"
            )
            share_min = texts.key(
                gr.Textbox(label=t("share_min", lang), elem_id="share-min"), "share_min"
            )
            share_role = texts.dropdown(
                "share_role", share_role_choices, lang, value="any", elem_id="share-role"
            )
            refresh = texts.key(
                gr.Button(t("refresh", lang), elem_id="library-search"), "refresh", "value"
            )
        message = gr.Markdown(elem_id="library-msg")
        calls = texts.key(
            gr.Dataframe(
                frame([], views.call_headers(lang)),
                interactive=False,
                label=t("calls", lang),
                elem_id="calls",
            ),
            "calls",
        )
        with gr.Row():
            pick = texts.key(
                gr.Dropdown([], label=t("call", lang), elem_id="pick", allow_custom_value=True),
                "call",
            )
            open_ = texts.key(gr.Button(t("open", lang), variant="primary"), "open", "value")
            # Hidden until the page load finds an admin (``show_admin_tools``).
            delete = texts.key(
                gr.Button(t("delete", lang), variant="stop", visible=False), "delete", "value"
            )
        with gr.Row(visible=False) as confirm_row:
            confirm_text = gr.Markdown()
            confirm = texts.key(
                gr.Button(t("confirm_delete", lang), variant="stop", elem_id="confirm-delete"),
                "confirm_delete",
                "value",
            )
            cancel = texts.key(gr.Button(t("cancel", lang)), "cancel", "value")
        with gr.Row():
            fmt = texts.key(
                gr.Radio(
                    [("CSV", "csv"), ("Parquet", "parquet"), ("eval manifest (zip)", "manifest")],
                    value="csv",
                    label=t("combined_format", lang),
                ),
                "combined_format",
            )
            export = texts.key(gr.Button(t("combined_export", lang)), "combined_export", "value")
            file = texts.key(gr.File(label=t("download", lang)), "download")
    return LibraryTab(
        text=text,
        date_from=date_from,
        date_to=date_to,
        role=role,
        min_duration=min_d,
        max_duration=max_d,
        min_negative=min_neg,
        event_kind=event_kind,
        uploader=uploader,
        coaching_only=coaching_only,
        share_emotion=share_emotion,
        share_min=share_min,
        share_role=share_role,
        message=message,
        refresh=refresh,
        calls=calls,
        pick=pick,
        open=open_,
        delete=delete,
        confirm_row=confirm_row,
        confirm_text=confirm_text,
        confirm=confirm,
        cancel=cancel,
        combined_format=fmt,
        combined_export=export,
        combined_file=file,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def call_filter(
    text: str | None,
    date_from: str | None,
    date_to: str | None,
    min_duration: str | None,
    max_duration: str | None,
    role: str | None,
    min_negative: str | None,
    event_kind: str | None,
    uploader: str | None,
    lang: str,
) -> CallFilter:
    """The search widgets' values as a CallFilter; a box that is not a number raises
    FilterError naming the box. The negative share is typed in percent or as a fraction."""
    numbers = {}
    for key, value in (
        ("min_duration", min_duration),
        ("max_duration", max_duration),
        ("min_negative", min_negative),
    ):
        try:
            numbers[key] = views.parse_optional_float(value)
        except ValueError:
            raise FilterError(t("msg_bad_number", lang, field=t(key, lang))) from None
    neg = numbers["min_negative"]
    return CallFilter(
        text=text or None,
        date_from=date_from or None,
        date_to=date_to or None,
        min_duration_s=numbers["min_duration"],
        max_duration_s=numbers["max_duration"],
        role=role or None,
        min_negative=neg / 100 if neg is not None and neg > 1 else neg,
        event_kind=None if event_kind in (None, "", "all") else event_kind,
        uploaded_by=(uploader or "").strip() or None,
    )


class FilterError(ValueError):
    """A search box that does not hold what it should (the message names it)."""


# The emotion-share filter's values: emotion ("all" or None: off), least share, whose share.
ShareValues = tuple[str | None, str | None, str | None]


def share_filter(
    emotion: str | None, min_share: str | None, role: str | None, lang: str
) -> tuple[str, float | None, str] | None:
    """The emotion-share widgets' values as ``(emotion, least share 0-1 or None, role)``, None
    when the filter is off; FilterError naming the box for a share that is not one, or a share
    without an emotion."""
    try:
        share = views.parse_share(min_share)
    except ValueError:
        raise FilterError(
            t("msg_bad_share", lang, field=t("share_min", lang), value=str(min_share).strip())
        ) from None
    if emotion in (None, "", "all"):
        if share:
            raise FilterError(t("msg_share_needs_emotion", lang, field=t("share_min", lang)))
        return None
    if emotion not in LABELS:
        return None
    return emotion, share, role if role in views.SHARE_ROLES else "any"


def _coaching_counts(ctx: AppContext) -> dict[str, int]:
    """Coaching examples per call id (reviewers' ``coaching_flag`` annotations)."""
    counts: dict[str, int] = {}
    for a in ctx.store.list_annotations():
        if a.kind == "coaching_flag":
            counts[a.call_id] = counts.get(a.call_id, 0) + 1
    return counts


# The search boxes' values in call_filter's order (text ... uploader).
FilterValues = tuple[
    str | None, str | None, str | None, str | None, str | None, str | None, str | None,
    str | None, str | None,
]  # fmt: skip


def _listed(
    ctx: AppContext,
    filters: FilterValues,
    coaching_only: bool | None,
    lang: str,
    shares: ShareValues = (None, None, None),
) -> tuple[list[Any], dict[str, int]]:
    """The calls the library's filters select (FilterError for a bad box) and, per call, its
    number of coaching examples. The emotion share is read from the results of the calls the
    other filters kept (only when that filter is on)."""
    query = call_filter(*filters, lang)
    share = share_filter(*shares, lang)
    coaching = _coaching_counts(ctx)
    calls = [c for c in ctx.store.list_calls(query) if not coaching_only or coaching.get(c.id, 0)]
    if share is not None:
        calls = [c for c in calls if _has_share(ctx, c.id, *share)]
    return calls, coaching


def _has_share(ctx: AppContext, call_id: str, emotion: str, least: float | None, role: str):
    try:
        result = ctx.store.load_result(call_id)
    except (StoreError, OSError, ValueError):
        return False  # a result that cannot be read matches no share
    return views.has_emotion_share(result, emotion, least, role)


def list_library(
    ctx: AppContext,
    text: str | None,
    date_from: str | None,
    date_to: str | None,
    min_duration: str | None,
    max_duration: str | None,
    role: str | None,
    min_negative: str | None,
    event_kind: str | None,
    uploader: str | None,
    coaching_only: bool | None,
    lang: str,
    share_emotion: str | None = None,
    share_min: str | None = None,
    share_role: str | None = None,
) -> tuple:
    """The calls that match the search: the table, the picker's choices (newest first) and an
    empty message; a bad filter leaves the table as it was and says which box to fix."""
    filters = (text, date_from, date_to, min_duration, max_duration, role, min_negative)
    shares = (share_emotion, share_min, share_role)
    try:
        calls, coaching = _listed(
            ctx, (*filters, event_kind, uploader), coaching_only, lang, shares
        )
    except FilterError as exc:
        return gr.skip(), gr.skip(), f"⚠️ {exc}"
    table = frame(views.call_rows(calls, coaching, lang), views.call_headers(lang))
    picks = [(f"{c.name} · {c.created_at[:16].replace('T', ' ')}", c.id) for c in calls]
    return table, gr.update(choices=picks), ""


def export_listed(
    ctx: AppContext,
    text: str | None,
    date_from: str | None,
    date_to: str | None,
    min_duration: str | None,
    max_duration: str | None,
    role: str | None,
    min_negative: str | None,
    event_kind: str | None,
    uploader: str | None,
    coaching_only: bool | None,
    fmt: str,
    lang: str,
    share_emotion: str | None = None,
    share_min: str | None = None,
    share_role: str | None = None,
    request: gr.Request | None = None,
) -> str:
    """One CSV or Parquet file of every listed call's segments, or (``manifest``) the listed
    calls' label corrections as an ``emotrace eval ser`` manifest with its clips, zipped; returns
    the file's path."""
    filters = (text, date_from, date_to, min_duration, max_duration, role, min_negative)
    shares = (share_emotion, share_min, share_role)
    try:
        calls, coaching = _listed(
            ctx, (*filters, event_kind, uploader), coaching_only, lang, shares
        )
    except FilterError as exc:
        raise gr.Error(str(exc)) from None
    if fmt == "manifest":
        import shutil

        from ..manifest import write_eval_manifest

        folder = ctx.served.exports() / "eval_manifest"
        _, kept, left_out = write_eval_manifest(ctx.store.results(calls), folder)
        if left_out:  # say so: a reviewer expects every correction in the manifest
            gr.Warning(t("msg_manifest_left_out", lang, kept=kept, left_out=left_out))
        for c in calls:
            ctx.store.audit(user_of(request), "export", c.id, "eval manifest")
        return shutil.make_archive(str(folder), "zip", folder)
    path = ctx.served.exports() / f"calls.{'parquet' if fmt == 'parquet' else 'csv'}"
    written = str(write_combined(ctx.store.results(calls), path, fmt))
    for c in calls:
        ctx.store.audit(user_of(request), "export", c.id, f"combined {fmt}")
    return written


def open_call(
    ctx: AppContext, call_id: str | None, lang: str, request: gr.Request | None = None
) -> tuple:
    """Outputs of ``[current call, *ReviewWidgets.outputs(), tabs]``: the call, shown."""
    try:
        shown = show_call(ctx, call_id, lang)
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    if call_id:
        ctx.store.audit(user_of(request), "open", call_id)
    return (call_id, *shown.updates(), gr.Tabs(selected="review"))


def ask_delete(ctx: AppContext, call_id: str | None, lang: str, request: gr.Request | None = None):
    """Outputs of ``[confirm row, confirm text]``: the confirmation naming the call."""
    require_admin(ctx, request, lang)
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    try:
        name = ctx.store.get_call(call_id).name
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    return gr.Row(visible=True), t("msg_confirm_delete", lang, name=name)


def delete_call(
    ctx: AppContext,
    call_id: str | None,
    lang: str,
    open_id: str | None = None,
    request: gr.Request | None = None,
) -> tuple:
    """Outputs of ``[status, current call, confirm row, *ReviewWidgets.outputs()]``.

    Admins only. Removes the call from the store and its served copies; when the deleted call is
    the open one the review tab is emptied, otherwise the open call stays.
    """
    require_admin(ctx, request, lang)
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    try:
        name = ctx.store.get_call(call_id).name
        ctx.store.delete_call(call_id)
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    ctx.served.remove(call_id)
    ctx.store.audit(user_of(request), "delete", call_id, name)
    if open_id and open_id != call_id:
        return (t("msg_deleted", lang, name=name), open_id, gr.Row(visible=False)) + tuple(
            gr.skip() for _ in show_call(ctx, None, lang).updates()
        )
    view = show_call(ctx, None, lang)
    return (t("msg_deleted", lang, name=name), None, gr.Row(visible=False), *view.updates())


def show_admin_tools(ctx: AppContext, request: gr.Request | None = None) -> tuple:
    """Outputs of ``[delete button, audit tab]``: visible to admins only (on page load)."""
    admin = role_of(ctx, request) == "admin"
    return gr.Button(visible=admin), gr.Tab(visible=admin)


def list_audit(ctx: AppContext, lang: str, request: gr.Request | None = None) -> pd.DataFrame:
    """The audit log, newest first (admins only)."""
    require_admin(ctx, request, lang)
    return frame(views.audit_rows(ctx.store.list_audit()), views.audit_headers(lang))


@dataclass(frozen=True)
class AuditTab:
    """The admins' audit log tab."""

    tab: gr.Tab
    table: gr.Dataframe
    refresh: gr.Button


def build_audit_tab(texts: Texts, lang: str) -> AuditTab:
    """The audit tab (call inside ``gr.Tabs``); hidden until the page load finds an admin."""
    with texts.key(gr.Tab(t("tab_audit", lang), id="audit", visible=False), "tab_audit") as tab:
        refresh = texts.key(gr.Button(t("refresh", lang)), "refresh", "value")
        table = gr.Dataframe(
            frame([], views.audit_headers(lang)), interactive=False, elem_id="audit"
        )
    return AuditTab(tab=tab, table=table, refresh=refresh)


def find_call(ctx: AppContext, key: str | None) -> str | None:
    """A deep link's ``call=``: a call id, or a file name (the most recent call under it)."""
    if not key:
        return None
    try:
        return ctx.store.get_call(key).id
    except StoreError:
        pass
    named = [c for c in ctx.store.list_calls(CallFilter(text=key)) if c.name == key]
    return named[0].id if named else None


def open_link(ctx: AppContext, lang: str, request: gr.Request) -> tuple:
    """On page load: ``/?call=<id or file name>&t=<seconds>`` opens that call with the player at
    t (outputs as :func:`open_call`); a page without a link changes nothing, and a link to a call
    not found (a wrong link, a deleted call) opens the review tab saying so."""
    params = dict(getattr(request, "query_params", None) or {})
    key = params.get("call")
    call_id = find_call(ctx, key)
    if call_id is None and not key:
        return (gr.skip(), *[gr.skip()] * len(show_call(ctx, None, lang).updates()), gr.skip())
    if call_id is None:
        missing = t("call_not_found", lang).format(call=key)
        view = replace(
            empty_view(lang),
            summary=f'<p id="call-not-found" class="emo-empty">{html.escape(missing)}</p>',
        )
        return (None, *view.updates(), gr.Tabs(selected="review"))
    try:
        start = max(float(params.get("t") or 0.0), 0.0)
    except ValueError:
        start = 0.0
    shown = show_call(ctx, call_id, lang, start_s=start)
    return (call_id, *shown.updates(), gr.Tabs(selected="review"))


def select_call(ctx: AppContext, lang: str, evt: gr.SelectData) -> tuple:
    """A library row was clicked: open that call (its id is the row's first cell)."""
    row = evt.row_value or []
    call_id = str(row[-1]) if row else None  # the id is the last column
    if not call_id:
        return (gr.skip(), *[gr.skip()] * len(show_call(ctx, None, lang).updates()), gr.skip())
    return open_call(ctx, call_id, lang)
