"""The whole app: header, the tabs, and how their events are wired to the handlers.

Handlers live beside their tab (``analyze_tab``, ``library_tab``, ``review_tab``, ``annotate``);
here they are bound to the app's :class:`AppContext` and connected to widgets. The API names
(``/analyze``, ``/open_call``...) are what ``gradio_client`` users and the tests call.

:func:`launch` serves no folder of the app's own: the browser fetches only the per-call copies
that ``served.py`` places in Gradio's cache, the data folder's secrets are blocked as well, and
the login goes through ``review.security`` (throttled, bcrypt off the event loop, sessions that
expire).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from analyzer import AnalysisConfig, Settings

from ..auth import USERS_FILES, Users
from ..i18n import LANGUAGES, t
from ..security import Authenticator, LoginThrottle, SecurityGate, Sessions
from ..store import DB_NAME, Store
from ..views import UploadLimits
from . import again, analyze_tab, annotate, library_tab, player, review_tab, settings_tab, team_tab
from .analyze_tab import SAMPLES, AnalyzeTab
from .common import AppContext, Texts, bind
from .library_tab import AuditTab, LibraryTab
from .review_tab import ReviewTab
from .served import ServedFiles
from .settings_tab import SettingsTab
from .team_tab import TeamTab
from .view import show_call

# Wiring that is not part of the API: private, and under a name of its own so that a handler's
# function name (``open_call``...) stays free for the public endpoint (gradio 6's api_name=False).
HIDDEN: dict[str, Any] = {"api_name": "internal", "api_visibility": "private"}


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
    audit: AuditTab
    team: TeamTab
    settings: SettingsTab


def build_app(
    store: Store,
    analyzer,
    *,
    limits: UploadLimits | None = None,
    lang: str = "en",
    samples: tuple[Path, ...] = SAMPLES,
    dev_login: bool = False,
    users: Users | None = None,
    served: ServedFiles | None = None,
) -> gr.Blocks:
    """The Gradio app over ``store`` and ``analyzer`` (anything with ``.analyze(path, config=,
    progress=)``). ``lang`` is the initial language; ``dev_login`` shows the default-login warning.
    ``users`` gives the roles (pass the accounts given to :func:`launch`): without them a logged-in
    user is a reviewer. ``served`` is where the browser's copies go (Gradio's cache by default).
    """
    ctx = AppContext(
        store=store,
        analyzer=analyzer,
        limits=limits or UploadLimits(),
        base_config=getattr(analyzer, "config", None) or AnalysisConfig(),
        samples=tuple(samples),
        users=users,
        served=served or ServedFiles(),
    )
    texts = Texts()
    with gr.Blocks(title="emotrace", analytics_enabled=False) as demo:
        ui = _layout(ctx, texts, lang, dev_login)
        _wire_analyze(ctx, ui, demo)
        _wire_library(ctx, ui, demo)
        _wire_review(ctx, ui)
        _wire_team(ctx, ui, demo)
        _wire_settings(ctx, ui, demo)
        ui.language.change(
            bind(switch_language, ctx, texts),
            [ui.language, ui.current],
            texts.components() + ui.review.view.outputs(),
            **HIDDEN,
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
        team = team_tab.build_team_tab(texts, lang)
        audit = library_tab.build_audit_tab(texts, lang)
        settings = settings_tab.build_settings_tab(texts, lang)
    return AppWidgets(
        current, seek, language, tabs, analyze, library, review, audit, team, settings
    )


def _wire_analyze(ctx: AppContext, ui: AppWidgets, demo: gr.Blocks) -> None:
    """Analyze (uploads or the sample) -> the queue -> store -> refresh the library -> open a
    single file's call; a queue row opens its call."""
    tab, options = ui.analyze, [*ui.analyze.options(), ui.language]
    listing = bind(library_tab.list_library, ctx)
    buttons = [tab.analyze, tab.analyze_sample]
    for trigger, handler, inputs, api in (
        (tab.analyze, analyze_tab.analyze_files, [tab.files, *options, tab.transcripts], "analyze"),
        (tab.analyze_sample, analyze_tab.analyze_sample, [tab.sample, *options], "analyze_sample"),
    ):
        run = trigger.click(_buttons(False), None, buttons, **HIDDEN, queue=False).then(
            bind(handler, ctx),
            [*inputs, *tab.intake()],
            tab.outputs(),
            api_name=api,
            show_progress="full",
            show_progress_on=[tab.status],
        )
        run.then(_buttons(True), None, buttons, **HIDDEN, queue=False)
        run.success(listing, _filters(ui), ui.library.listing(), **HIDDEN).then(
            bind(analyze_tab.open_after, ctx),
            [tab.to_open, ui.language],
            _opened(ui),
            **HIDDEN,
        )
    tab.queue.select(bind(analyze_tab.select_queued, ctx), [ui.language], _opened(ui), **HIDDEN)
    ui.language.change(analyze_tab.relabel_queue, [ui.language, tab.queued], [tab.queue], **HIDDEN)
    demo.load(bind(analyze_tab.redact_default, ctx), None, [tab.redact], **HIDDEN)


def _buttons(enabled: bool):
    """A handler that turns the analyze buttons on or off (off while a run goes on)."""

    def set_buttons() -> tuple:
        return gr.update(interactive=enabled), gr.update(interactive=enabled)

    return set_buttons


def _wire_library(ctx: AppContext, ui: AppWidgets, demo: gr.Blocks) -> None:
    """Search, open, delete, and export the listed calls."""
    lib = ui.library
    listing = bind(library_tab.list_library, ctx)
    lib.refresh.click(listing, _filters(ui), lib.listing(), api_name="list_calls")
    demo.load(listing, _filters(ui), lib.listing(), **HIDDEN)
    # the table's headers, roles and event kinds are text too: list again in the new language
    ui.language.change(listing, _filters(ui), lib.listing(), **HIDDEN)
    demo.load(bind(library_tab.open_link, ctx), [ui.language], _opened(ui), **HIDDEN)
    lib.calls.select(bind(library_tab.select_call, ctx), [ui.language], _opened(ui), **HIDDEN)
    lib.open.click(
        bind(library_tab.open_call, ctx), [lib.pick, ui.language], _opened(ui), api_name="open_call"
    )
    demo.load(
        bind(library_tab.show_admin_tools, ctx),
        None,
        [lib.delete, ui.audit.tab],
        **HIDDEN,
    )
    lib.delete.click(
        bind(library_tab.ask_delete, ctx),
        [lib.pick, ui.language],
        [lib.confirm_row, lib.confirm_text],
        api_name="ask_delete",
    )
    lib.cancel.click(lambda: gr.Row(visible=False), None, [lib.confirm_row], **HIDDEN)
    lib.confirm.click(
        bind(library_tab.delete_call, ctx),
        [lib.pick, ui.language, ui.current],
        [ui.analyze.status, ui.current, lib.confirm_row, *ui.review.view.outputs()],
        api_name="delete_call",
    ).then(listing, _filters(ui), lib.listing(), **HIDDEN)
    audit = bind(library_tab.list_audit, ctx)
    ui.audit.refresh.click(audit, [ui.language], [ui.audit.table], api_name="audit")
    ui.audit.tab.select(audit, [ui.language], [ui.audit.table], **HIDDEN)
    lib.combined_export.click(
        bind(library_tab.export_listed, ctx),
        [*lib.filters(), lib.combined_format, ui.language, *lib.share_filters()],
        [lib.combined_file],
        api_name="export_listed",
    )


def _wire_review(ctx: AppContext, ui: AppWidgets) -> None:
    """Rows that move the player, the annotation form, the export of the open call."""
    view, form = ui.review.view, ui.review.form
    prefill = [form.start, form.end, form.speaker]
    view.segments.select(
        bind(review_tab.select_segment, ctx),
        [ui.current],
        [ui.seek, view.evidence, *prefill],
        **HIDDEN,
    ).then(None, [ui.seek], None, js=review_tab.SEEK_JS)
    view.events.select(
        bind(review_tab.select_event, ctx), [ui.current], [ui.seek, *prefill], **HIDDEN
    ).then(None, [ui.seek], None, js=review_tab.SEEK_JS)
    changed = [form.message, *form.cleared(), *view.outputs(*annotate.REDRAWN)]
    form.add.click(
        bind(annotate.add_annotation, ctx),
        [ui.current, *form.fields(), ui.language],
        changed,
        api_name="add_annotation",
    )
    form.flag.click(
        bind(annotate.flag_example, ctx),
        [ui.current, *form.fields(), ui.language],
        changed,
        api_name="flag_example",
    )
    form.save.click(
        bind(annotate.save_annotation, ctx),
        [ui.current, form.editing, *form.fields(), ui.language],
        changed,
        api_name="save_annotation",
    )
    form.delete.click(
        bind(annotate.delete_annotation, ctx),
        [ui.current, form.editing, ui.language],
        changed,
        api_name="delete_annotation",
        js=review_tab.CONFIRM_JS,
    )
    form.table.select(
        bind(annotate.pick_annotation, ctx),
        [ui.current, ui.language],
        [form.message, *form.cleared()],
        **HIDDEN,
    )
    form.now.click(None, None, [form.start], js=review_tab.NOW_JS)
    ui.review.range_box.change(
        bind(review_tab.select_range, ctx),
        [ui.current, ui.review.range_box, ui.language],
        [form.start, form.end, form.speaker, form.message],
        **HIDDEN,
    )
    ui.review.export.click(
        bind(review_tab.export_open, ctx),
        [ui.current, ui.review.export_format, ui.language],
        [ui.review.export_file],
        api_name="export",
    )
    off = ui.review.again.click(
        lambda: gr.update(interactive=False), None, [ui.review.again], **HIDDEN, queue=False
    )  # one run at a time: a second click while it runs would store a second copy
    again_run = off.then(
        bind(again.analyze_again, ctx),
        [ui.current, ui.review.again_speakers, ui.review.again_roles, ui.language],
        [ui.review.again_msg, ui.analyze.to_open],
        api_name="analyze_again",
        show_progress="full",
        show_progress_on=[ui.review.again_msg],
    )
    again_run.then(
        lambda: gr.update(interactive=True), None, [ui.review.again], **HIDDEN, queue=False
    )
    again_run.success(
        bind(library_tab.list_library, ctx), _filters(ui), ui.library.listing(), **HIDDEN
    ).then(
        bind(analyze_tab.open_after, ctx), [ui.analyze.to_open, ui.language], _opened(ui), **HIDDEN
    )


def _wire_team(ctx: AppContext, ui: AppWidgets, demo: gr.Blocks) -> None:
    """The agent's trend and coaching queue; a queue click opens the call at the metric's
    moment; setting a call's agent."""
    tab = ui.team
    agents = bind(team_tab.list_agents, ctx)
    showing = bind(team_tab.show_team, ctx)
    demo.load(agents, [tab.agent, ui.language], [tab.agent], **HIDDEN)
    tab.tab.select(agents, [tab.agent, ui.language], [tab.agent], **HIDDEN)
    tab.show.click(showing, [*tab.inputs(), ui.language], tab.outputs(), api_name="team")
    tab.agent.input(showing, [*tab.inputs(), ui.language], tab.outputs(), **HIDDEN)
    tab.queue.select(
        bind(team_tab.open_from_queue, ctx),
        [*tab.inputs(), ui.language],
        [*_opened(ui), ui.seek],
        **HIDDEN,
    ).then(None, [ui.seek], None, js=review_tab.SEEK_JS)
    tab.set_agent.click(
        bind(team_tab.set_call_agent, ctx),
        [tab.pick, tab.new_agent, *tab.inputs(), ui.language],
        tab.outputs(),
        api_name="set_agent",
    ).success(agents, [tab.agent, ui.language], [tab.agent], **HIDDEN)


def _wire_settings(ctx: AppContext, ui: AppWidgets, demo: gr.Blocks) -> None:
    """The admins' team settings: load, live agent preview, save, retention with confirmation."""
    tab = ui.settings
    demo.load(
        bind(settings_tab.load_settings, ctx),
        [tab.example, ui.language],
        [tab.tab, *tab.fields(), tab.preview, tab.conversations, tab.phone_one_voice],
        **HIDDEN,
    )
    for field in (tab.pattern, tab.example, ui.language):  # the preview is text too
        field.change(
            settings_tab.preview_agent,
            [tab.pattern, tab.example, ui.language],
            [tab.preview],
            **HIDDEN,
            queue=False,
        )
    tab.save.click(
        bind(settings_tab.save_settings, ctx),
        [*tab.fields(), ui.language, tab.conversations, tab.phone_one_voice],
        [
            *tab.messages(),
            tab.retention,
            ui.analyze.redact,
            tab.conversations_msg,
            tab.phone_one_voice_msg,
        ],
        api_name="save_settings",
    )
    tab.purge.click(
        bind(settings_tab.ask_purge, ctx),
        [ui.language],
        [tab.purge_list, tab.confirm_row, tab.purge_at],
        api_name="ask_purge",
    )
    tab.cancel.click(lambda: gr.Row(visible=False), None, [tab.confirm_row], **HIDDEN)
    tab.confirm.click(
        bind(settings_tab.confirm_purge, ctx),
        [tab.purge_at, ui.language],
        [tab.purge_list, tab.confirm_row],
        api_name="purge",
    ).then(bind(library_tab.list_library, ctx), _filters(ui), ui.library.listing(), **HIDDEN)


def _filters(ui: AppWidgets) -> list:
    """The library search's inputs: its filter widgets, the language, then the emotion-share
    filter (last, so that API calls written before it keep their positions)."""
    return [*ui.library.filters(), ui.language, *ui.library.share_filters()]


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
    throttle: LoginThrottle | None = None,
    session_s: float | None = None,
    **kwargs,
) -> str:
    """Start the server (address and port from ``Settings.from_env()`` unless given); returns
    its URL.

    ``users`` None serves without a login (local use only). ``throttle`` and ``session_s``
    (session lifetime, seconds; default ``EMOTRACE_SESSION_HOURS``) tune the front door.
    """
    settings = Settings.from_env()
    limits = limits or UploadLimits.from_settings(settings)
    host = host or settings.host
    port = port if port is not None else settings.port
    lifetime = session_s if session_s is not None else settings.session_hours * 3600.0
    gate = Middleware(SecurityGate, sessions=Sessions(lifetime), home=store.home)
    auth = Authenticator(users, throttle).login if users is not None else None
    demo.queue(default_concurrency_limit=1)
    demo.launch(
        server_name=host,
        server_port=port,
        auth=auth,  # type: ignore[arg-type]  # gradio awaits a coroutine function (routes.login)
        auth_message="emotrace",
        # Nothing of the data folder is served: the player and downloads use per-call copies in
        # Gradio's cache (served.py); the secrets are blocked even if a path were to reach them.
        blocked_paths=secret_paths(store),
        max_file_size=limits.max_bytes,
        ssr_mode=False,
        footer_links=[],
        app_kwargs={"middleware": [gate]},
        head=player.head(),
        **kwargs,
    )
    if demo.local_url is None:
        raise RuntimeError("gradio did not report the app's address")
    return demo.local_url


def secret_paths(store: Store) -> list[str]:
    """The data folder's files no URL may reach: accounts, the database and its journals, the
    stored calls."""
    home = store.home
    names = [*USERS_FILES, DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm", f"{DB_NAME}-journal"]
    return [str(home / n) for n in names] + [str(store.calls_dir)]
