"""The whole app: header, the three tabs, and how their events are wired to the handlers.

Handlers live beside their tab (``analyze_tab``, ``library_tab``, ``review_tab``, ``annotate``);
here they are bound to the app's :class:`AppContext` and connected to widgets. The API names
(``/analyze``, ``/open_call``...) are what ``gradio_client`` users and the tests call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from analyzer import AnalysisConfig

from ..auth import Users
from ..i18n import LANGUAGES, t
from ..store import Store
from ..views import UploadLimits
from . import analyze_tab, annotate, library_tab, review_tab
from .analyze_tab import SAMPLES, AnalyzeTab
from .common import AppContext, Texts, bind
from .library_tab import LibraryTab
from .review_tab import ReviewTab
from .view import show_call


@dataclass(frozen=True)
class AppWidgets:
    """Every widget the wiring needs, by tab."""

    current: gr.Textbox  # the open call's id (a hidden Textbox so the API sees it)
    seek: gr.Number  # the time the player should jump to (hidden)
    language: gr.Radio
    tabs: gr.Tabs
    analyze: AnalyzeTab
    library: LibraryTab
    review: ReviewTab


def build_app(
    store: Store,
    analyzer,
    *,
    limits: UploadLimits | None = None,
    lang: str = "en",
    samples: tuple[Path, ...] = SAMPLES,
    dev_login: bool = False,
) -> gr.Blocks:
    """The Gradio app over ``store`` and ``analyzer`` (anything with ``.analyze(path, config=,
    progress=)``). ``lang`` is the initial language; ``dev_login`` shows the default-login warning.
    """
    ctx = AppContext(
        store=store,
        analyzer=analyzer,
        limits=limits or UploadLimits(),
        base_config=getattr(analyzer, "config", None) or AnalysisConfig(),
        samples=tuple(samples),
    )
    texts = Texts()
    with gr.Blocks(title="emotrace", analytics_enabled=False) as demo:
        ui = _layout(ctx, texts, lang, dev_login)
        _wire_analyze(ctx, ui)
        _wire_library(ctx, ui, demo)
        _wire_review(ctx, ui)
        ui.language.change(
            bind(switch_language, ctx, texts),
            [ui.language, ui.current],
            texts.components() + ui.review.view.outputs(),
            api_name=False,
        )
    return demo


def _layout(ctx: AppContext, texts: Texts, lang: str, dev_login: bool) -> AppWidgets:
    current = gr.Textbox(visible=False)
    seek = gr.Number(visible=False)
    with gr.Row():
        texts.key(gr.Markdown(t("title", lang)), "title", "value")
        language = gr.Radio(
            [(name, code) for code, name in LANGUAGES.items()],
            value=lang,
            label=t("language", lang),
            elem_id="language",
            scale=0,
            min_width=240,
        )
    texts.key(gr.Markdown(t("intro", lang)), "intro", "value")
    if dev_login:
        texts.key(gr.Markdown(t("dev_login", lang)), "dev_login", "value")
    with gr.Tabs(selected="analyze") as tabs:
        analyze = analyze_tab.build_analyze_tab(texts, lang, ctx.base_config, ctx.samples)
        library = library_tab.build_library_tab(texts, lang)
        review = review_tab.build_review_tab(texts, lang)
    return AppWidgets(current, seek, language, tabs, analyze, library, review)


def _wire_analyze(ctx: AppContext, ui: AppWidgets) -> None:
    """Analyze (uploads or the sample) -> store -> refresh the library -> open the last call."""
    tab, options = ui.analyze, [*ui.analyze.options(), ui.language]
    listing = bind(library_tab.list_library, ctx)
    for trigger, handler, first, api in (
        (tab.analyze, analyze_tab.analyze_files, tab.files, "analyze"),
        (tab.analyze_sample, analyze_tab.analyze_sample, tab.sample, "analyze_sample"),
    ):
        trigger.click(
            bind(handler, ctx), [first, *options], [tab.status, ui.current], api_name=api
        ).success(listing, _filters(ui), ui.library.listing(), api_name=False).then(
            bind(library_tab.open_call, ctx),
            [ui.current, ui.language],
            _opened(ui),
            api_name=False,
        )


def _wire_library(ctx: AppContext, ui: AppWidgets, demo: gr.Blocks) -> None:
    """Search, open, delete, and export the listed calls."""
    lib = ui.library
    listing = bind(library_tab.list_library, ctx)
    lib.refresh.click(listing, _filters(ui), lib.listing(), api_name="list_calls")
    demo.load(listing, _filters(ui), lib.listing(), api_name=False)
    lib.open.click(
        bind(library_tab.open_call, ctx), [lib.pick, ui.language], _opened(ui), api_name="open_call"
    )
    lib.delete.click(
        bind(library_tab.delete_call, ctx),
        [lib.pick, ui.language],
        [ui.analyze.status, ui.current, *ui.review.view.outputs()],
        api_name="delete_call",
    ).then(listing, _filters(ui), lib.listing(), api_name=False)
    lib.combined_export.click(
        bind(library_tab.export_listed, ctx),
        [*lib.filters(), lib.combined_format, ui.language],
        [lib.combined_file],
        api_name="export_listed",
    )


def _wire_review(ctx: AppContext, ui: AppWidgets) -> None:
    """Rows that move the player, the annotation form, the export of the open call."""
    view, form = ui.review.view, ui.review.form
    view.segments.select(
        bind(review_tab.select_segment, ctx),
        [ui.current],
        [ui.seek, view.evidence],
        api_name=False,
    ).then(None, [ui.seek], None, js=review_tab.SEEK_JS)
    view.events.select(
        bind(review_tab.select_event, ctx), [ui.current], [ui.seek], api_name=False
    ).then(None, [ui.seek], None, js=review_tab.SEEK_JS)
    form.add.click(
        bind(annotate.add_annotation, ctx),
        [ui.current, *form.fields(), ui.language],
        [ui.analyze.status, *view.outputs(*annotate.REDRAWN)],
        api_name="add_annotation",
    )
    ui.review.export.click(
        bind(review_tab.export_open, ctx),
        [ui.current, ui.review.export_format, ui.language],
        [ui.review.export_file],
        api_name="export",
    )


def _filters(ui: AppWidgets) -> list:
    """The library search's inputs: its filter widgets, then the language."""
    return [*ui.library.filters(), ui.language]


def _opened(ui: AppWidgets) -> list:
    """What :func:`library_tab.open_call` fills: the current call, the review tab, the tab bar."""
    return [ui.current, *ui.review.view.outputs(), ui.tabs]


def switch_language(ctx: AppContext, texts: Texts, lang: str, call_id: str | None) -> list:
    """Outputs of ``texts.components() + ReviewWidgets.outputs()``: every text in ``lang``."""
    return [*texts.updates(lang), *show_call(ctx, call_id, lang).updates()]


def launch(
    demo: gr.Blocks,
    store: Store,
    users: Users | None,
    *,
    host: str | None = None,
    port: int | None = None,
    limits: UploadLimits | None = None,
    **kwargs,
) -> str:
    """Start the server (127.0.0.1 unless ``EMOTRACE_HOST`` says otherwise); returns its URL."""
    limits = limits or UploadLimits()
    host = host or os.environ.get("EMOTRACE_HOST", "127.0.0.1")
    port = port if port is not None else int(os.environ.get("EMOTRACE_PORT", "7860"))
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=users,
        auth_message="emotrace",
        allowed_paths=[str(store.home)],
        max_file_size=limits.max_bytes,
        ssr_mode=False,
        footer_links=[],
        **kwargs,
    )
    return demo.local_url
