"""The Call library tab: search the stored calls, open or delete one, export the listed calls."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from analyzer.export import write_combined  # not in analyzer's public API yet
from analyzer.result import EVENT_KINDS  # not in analyzer's public API yet

from .. import views
from ..i18n import t
from ..store import CallFilter, StoreError
from .common import AppContext, Texts, frame
from .view import show_call

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
    message: gr.Markdown  # a plain message about a filter (the table stays as it was)
    refresh: gr.Button
    calls: gr.Dataframe
    pick: gr.Dropdown
    open: gr.Button
    delete: gr.Button
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

    def listing(self) -> list:
        """What :func:`list_library` fills: the table, the call picker, the filter message."""
        return [self.calls, self.pick, self.message]


def event_choices(lang: str) -> list[tuple[str, str]]:
    names = {"all": t("no_filter", lang), "any": t("any_event", lang)}
    return [(names.get(k) or views.event_kind_name(k, lang), k) for k in EVENT_FILTERS]


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
            event_kind = texts.redraw(
                gr.Dropdown(event_choices(lang), value="all", label=t("event_kind", lang)),
                lambda lg: {"label": t("event_kind", lg), "choices": event_choices(lg)},
            )
        with gr.Row():
            uploader = texts.key(gr.Textbox(label=t("uploader", lang)), "uploader")
            coaching_only = texts.key(
                gr.Checkbox(label=t("coaching_only", lang), value=False), "coaching_only"
            )
            refresh = texts.key(gr.Button(t("refresh", lang)), "refresh", "value")
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
            delete = texts.key(gr.Button(t("delete", lang), variant="stop"), "delete", "value")
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
        message=message,
        refresh=refresh,
        calls=calls,
        pick=pick,
        open=open_,
        delete=delete,
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


def _coaching_counts(ctx: AppContext) -> dict[str, int]:
    """Coaching examples per call id (reviewers' ``coaching_flag`` annotations)."""
    counts: dict[str, int] = {}
    for a in ctx.store.list_annotations():
        if a.kind == "coaching_flag":
            counts[a.call_id] = counts.get(a.call_id, 0) + 1
    return counts


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
) -> tuple:
    """The calls that match the search: the table, the picker's choices (newest first) and an
    empty message; a bad filter leaves the table as it was and says which box to fix."""
    try:
        query = call_filter(
            text,
            date_from,
            date_to,
            min_duration,
            max_duration,
            role,
            min_negative,
            event_kind,
            uploader,
            lang,
        )
    except FilterError as exc:
        return gr.skip(), gr.skip(), f"⚠️ {exc}"
    coaching = _coaching_counts(ctx)
    calls = [c for c in ctx.store.list_calls(query) if not coaching_only or coaching.get(c.id, 0)]
    table = frame(views.call_rows(calls, coaching), views.call_headers(lang))
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
) -> str:
    """One CSV or Parquet file of every listed call's segments, or (``manifest``) the listed
    calls' label corrections as an ``emotrace eval ser`` manifest with its clips, zipped; returns
    the file's path."""
    try:
        query = call_filter(
            text,
            date_from,
            date_to,
            min_duration,
            max_duration,
            role,
            min_negative,
            event_kind,
            uploader,
            lang,
        )
    except FilterError as exc:
        raise gr.Error(str(exc)) from None
    coaching = _coaching_counts(ctx)
    calls = [c for c in ctx.store.list_calls(query) if not coaching_only or coaching.get(c.id, 0)]
    if fmt == "manifest":
        import shutil

        from ..manifest import write_eval_manifest

        folder = ctx.store.home / "exports" / "eval_manifest"
        shutil.rmtree(folder, ignore_errors=True)
        write_eval_manifest(ctx.store.results(calls), folder)
        return shutil.make_archive(str(folder), "zip", folder)
    path = ctx.store.home / "exports" / f"calls.{'parquet' if fmt == 'parquet' else 'csv'}"
    return str(write_combined(ctx.store.results(calls), path, fmt))


def open_call(ctx: AppContext, call_id: str | None, lang: str) -> tuple:
    """Outputs of ``[current call, *ReviewWidgets.outputs(), tabs]``: the call, shown."""
    return (call_id, *show_call(ctx, call_id, lang).updates(), gr.Tabs(selected="review"))


def delete_call(ctx: AppContext, call_id: str | None, lang: str) -> tuple:
    """Outputs of ``[status, current call, *ReviewWidgets.outputs()]``: gone, tab emptied."""
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    try:
        name = ctx.store.get_call(call_id).name
        ctx.store.delete_call(call_id)
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    return (t("msg_deleted", lang, name=name), None, *show_call(ctx, None, lang).updates())


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
    t (outputs as :func:`open_call`); a page without a link, or a call not found, changes nothing.
    """
    params = dict(getattr(request, "query_params", None) or {})
    call_id = find_call(ctx, params.get("call"))
    if call_id is None:
        return (gr.skip(), *[gr.skip()] * len(show_call(ctx, None, lang).updates()), gr.skip())
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
