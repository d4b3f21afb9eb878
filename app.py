"""emotrace review app: analyze calls, browse the library, review, annotate, export.

Thin by design: widgets wired to the Analyzer, the Store and the helpers in ``analyzer/``.
Run ``python app.py`` (``make run``); ``EMOTRACE_HOME``, ``EMOTRACE_HOST`` and ``EMOTRACE_PORT``
choose the data folder and the address (127.0.0.1:7860 by default).
"""

from __future__ import annotations

import os

# Gradio and the hub client phone home unless told not to; this app never leaves the machine.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import logging
from pathlib import Path

import gradio as gr
import pandas as pd

from analyzer import LABELS, AnalysisConfig, MediaError, export
from analyzer.result import EVENT_KINDS
from review import views
from review.auth import Users, load_users
from review.i18n import LANGUAGES, emotion_name, t
from review.plots import timeline_figure
from review.store import ANNOTATION_KINDS, CallFilter, Store, StoreError

log = logging.getLogger("emotrace.app")
ASSETS = Path(__file__).resolve().parent / "assets"
SAMPLES = (ASSETS / "sample_call.wav", ASSETS / "sample_video_call.mp4")
ROLE_CHOICES = {
    "auto": None,
    "agent_customer": ("agent", "customer"),
    "customer_agent": ("customer", "agent"),
}
EXPORT_FORMATS = export.FORMATS
PROGRESS = gr.Progress()  # gradio's marker default: a handler with it gets a live progress bar

# Moves the player to the time the last handler chose (gradio has no seek API of its own).
SEEK_JS = """(t) => {
  if (t === null || t === undefined || isNaN(t)) { return t; }
  document.querySelectorAll('#player-video video, #player-audio audio')
    .forEach((m) => { m.currentTime = Number(t); });
  return t;
}"""


def _frame(rows: list[list], headers: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=headers)


def build_app(
    store: Store,
    analyzer,
    *,
    limits: views.UploadLimits | None = None,
    lang: str = "en",
    samples: tuple[Path, ...] = SAMPLES,
    dev_login: bool = False,
) -> gr.Blocks:
    """The Gradio app over ``store`` and ``analyzer`` (anything with ``.analyze(path, config=,
    progress=)``). ``lang`` is the initial language; ``dev_login`` shows the default-login warning.
    """
    limits = limits or views.UploadLimits()
    base_config = getattr(analyzer, "config", None) or AnalysisConfig()
    texts: list[tuple] = []  # (component, lang -> gr.update kwargs) for the language switch

    def tr(component, key: str, attr: str = "label"):
        texts.append((component, lambda lg, k=key, a=attr: {a: t(k, lg)}))
        return component

    def choices(keys, prefix: str = ""):
        return lambda lg: [(t(prefix + k, lg), k) for k in keys]

    def user_of(request: gr.Request | None) -> str:
        return (getattr(request, "username", None) or "local") if request else "local"

    # ---- handlers -----------------------------------------------------------------------------
    def analyze_paths(paths, roles, n_speakers, fps, lg, request, progress):
        paths = [p for p in (paths or []) if p]
        if not paths:
            raise gr.Error(t("msg_no_files", lg))
        config = base_config.replace(
            channels=ROLE_CHOICES.get(roles or "auto"),
            num_speakers=int(n_speakers) if n_speakers else None,
            fps=float(fps or base_config.fps),
        )
        done, failed, last_id = [], [], None
        for i, path in enumerate(paths):
            name = Path(path).name

            def report(step, k, total, i=i, name=name):
                progress((i + (k / total if total else 0.0)) / len(paths), desc=f"{name}: {step}")

            try:
                views.check_upload(path, limits, name=name, lang=lg)
                result = analyzer.analyze(path, config=config, progress=report)
            except MediaError as exc:
                error = str(exc) if str(exc).startswith(name) else f"{name}: {exc}"
                failed.append(t("msg_failed", lg, error=error))
                continue
            record = store.add_call(result, path, uploaded_by=user_of(request), name=name)
            done.append(name)
            last_id = record.id
        if not done and len(failed) == 1:
            raise gr.Error(failed[0])
        lines = ([t("msg_analyzed", lg, names=", ".join(done))] if done else []) + failed
        return "\n\n".join(lines), last_id

    def analyze_files(files, roles, n_speakers, fps, lg, request: gr.Request, progress=PROGRESS):
        return analyze_paths(files, roles, n_speakers, fps, lg, request, progress)

    def analyze_sample(sample, roles, n_speakers, fps, lg, request: gr.Request, progress=PROGRESS):
        path = Path(sample) if sample else None
        if path is None or not path.exists():
            raise gr.Error(t("msg_no_sample", lg, path=str(path)))
        return analyze_paths([str(path)], roles, n_speakers, fps, lg, request, progress)

    def search(text, date_from, date_to, min_d, max_d, role, min_neg, event_kind, lg):
        try:
            f = CallFilter(
                text=text or None,
                date_from=date_from or None,
                date_to=date_to or None,
                min_duration_s=views.parse_optional_float(min_d),
                max_duration_s=views.parse_optional_float(max_d),
                role=role or None,
                min_negative=views.parse_optional_float(min_neg),
                event_kind=None if event_kind in (None, "", "all") else event_kind,
            )
        except ValueError:
            raise gr.Error(t("msg_bad_number", lg, field=t("refresh", lg))) from None
        return f

    def list_library(*args):
        lg = args[-1]
        calls = store.list_calls(search(*args))
        table = _frame(views.call_rows(calls), views.call_headers(lg))
        picks = [(f"{c.name} · {c.created_at[:16].replace('T', ' ')}", c.id) for c in calls]
        return table, gr.update(choices=picks)

    def review(call_id, lg):
        """Everything the review tab shows for one call."""
        if not call_id:
            empty = _frame([], views.segment_headers(lg))
            return (
                gr.Video(value=None, visible=False),
                gr.Audio(value=None, visible=True),
                None,
                "",
                empty,
                _frame([], views.event_headers(lg)),
                _frame([], views.annotation_headers(lg)),
                gr.update(choices=[]),
                {},
            )
        record = store.get_call(call_id)
        result = store.load_result(call_id)
        notes = store.list_annotations(call_id)
        names = {label: emotion_name(label, lg) for label in LABELS}
        vtt = export.write_vtt(
            result, store.derived_dir(call_id) / f"subtitles.{lg}.vtt", notes, label_names=names
        )
        if record.has_video:
            players = (
                gr.Video(value=record.media_path, subtitles=str(vtt), visible=True),
                gr.Audio(value=None, visible=False),
            )
        else:
            players = (
                gr.Video(value=None, visible=False),
                gr.Audio(value=record.media_path, subtitles=str(vtt), visible=True),
            )
        speakers = [(export.speaker_name(result, s.id), s.id) for s in result.speakers]
        return (
            *players,
            timeline_figure(result, notes, lang=lg),
            f"**{record.name}** · {record.uploaded_by} · {record.duration_s:.1f} s\n\n"
            + views.summary_text(result, lg),
            _frame(views.segment_rows(result, lg), views.segment_headers(lg)),
            _frame(views.event_rows(result, lg), views.event_headers(lg)),
            _frame(views.annotation_rows(notes, lg), views.annotation_headers(lg)),
            gr.update(choices=[("", "")] + speakers, value=""),
            {},
        )

    def open_call(call_id, lg):
        return (call_id, *review(call_id, lg), gr.Tabs(selected="review"))

    def select_segment(call_id, evt: gr.SelectData):
        if not call_id:
            return None, {}
        result = store.load_result(call_id)
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        segs = views.turn_segments(result)
        start = segs[row].start if 0 <= row < len(segs) else None
        return start, views.evidence(result, row)

    def select_event(call_id, evt: gr.SelectData):
        if not call_id:
            return None
        events = views.sorted_events(store.load_result(call_id))
        row = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return events[row].start if 0 <= row < len(events) else None

    def add_annotation(call_id, kind, start, end, speaker, text, label, lg, request: gr.Request):
        if not call_id:
            raise gr.Error(t("msg_no_call", lg))
        try:
            store.add_annotation(
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
        shown = review(call_id, lg)
        return t("msg_annotation_added", lg), *shown[:3], shown[6]

    def export_open(call_id, fmt, lg):
        if not call_id:
            raise gr.Error(t("msg_no_call", lg))
        record = store.get_call(call_id)
        path = store.derived_dir(call_id) / (Path(record.name).stem + export.SUFFIXES[fmt])
        return str(
            export.export_call(
                store.load_result(call_id),
                fmt,
                path,
                store.list_annotations(call_id),
                media_path=record.media_path,
            )
        )

    def export_listed(*args):
        fmt, lg = args[-2], args[-1]
        calls = store.list_calls(search(*args[:-2], lg))
        folder = store.home / "exports"
        path = folder / f"calls.{'parquet' if fmt == 'parquet' else 'csv'}"
        return str(export.write_combined(store.results(calls), path, fmt))

    def delete_call(call_id, lg):
        if not call_id:
            raise gr.Error(t("msg_no_call", lg))
        try:
            name = store.get_call(call_id).name
            store.delete_call(call_id)
        except StoreError as exc:
            raise gr.Error(str(exc)) from None
        return t("msg_deleted", lg, name=name), None, *review(None, lg)

    def switch_language(lg, call_id):
        updates = [gr.update(**fn(lg)) for _, fn in texts]
        return (*updates, *review(call_id, lg))

    # ---- layout -------------------------------------------------------------------------------
    with gr.Blocks(title="emotrace", analytics_enabled=False) as demo:
        current = gr.Textbox(visible=False)  # the open call id (a Textbox so the API sees it)
        seek = gr.Number(visible=False)
        with gr.Row():
            tr(gr.Markdown(t("title", lang)), "title", "value")
            language = gr.Radio(
                [(name, code) for code, name in LANGUAGES.items()],
                value=lang,
                label=t("language", lang),
                elem_id="language",
                scale=0,
                min_width=240,
            )
        tr(gr.Markdown(t("intro", lang)), "intro", "value")
        if dev_login:
            tr(gr.Markdown(t("dev_login", lang)), "dev_login", "value")
        with gr.Tabs(selected="analyze") as tabs:
            with tr(gr.Tab(t("tab_analyze", lang), id="analyze"), "tab_analyze"):
                files = tr(
                    gr.File(label=t("files", lang), file_count="multiple", type="filepath"), "files"
                )
                with gr.Row():
                    roles = gr.Dropdown(
                        choices(["auto", "agent_customer", "customer_agent"], "roles_")(lang),
                        value="auto",
                        label=t("roles", lang),
                    )
                    texts.append(
                        (
                            roles,
                            lambda lg: {
                                "label": t("roles", lg),
                                "choices": choices(
                                    ["auto", "agent_customer", "customer_agent"], "roles_"
                                )(lg),
                            },
                        )
                    )
                    n_speakers = tr(
                        gr.Number(
                            0, precision=0, minimum=0, maximum=8, label=t("num_speakers", lang)
                        ),
                        "num_speakers",
                    )
                    fps = tr(
                        gr.Slider(1, 15, value=base_config.fps, step=1, label=t("fps", lang)), "fps"
                    )
                with gr.Row():
                    analyze_btn = tr(
                        gr.Button(t("analyze", lang), variant="primary", elem_id="analyze"),
                        "analyze",
                        "value",
                    )
                    sample = gr.Dropdown(
                        [(p.name, str(p)) for p in samples],
                        value=str(samples[0]) if samples else None,
                        show_label=False,
                        container=False,
                    )
                    sample_btn = tr(
                        gr.Button(t("sample", lang), elem_id="analyze-sample"), "sample", "value"
                    )
                status = tr(gr.Markdown(elem_id="status"), "status")
            with tr(gr.Tab(t("tab_library", lang), id="library"), "tab_library"):
                with gr.Row():
                    f_text = tr(gr.Textbox(label=t("search", lang)), "search")
                    f_from = tr(gr.Textbox(label=t("date_from", lang)), "date_from")
                    f_to = tr(gr.Textbox(label=t("date_to", lang)), "date_to")
                    f_role = tr(gr.Textbox(label=t("role", lang)), "role")
                with gr.Row():
                    f_min = tr(gr.Textbox(label=t("min_duration", lang)), "min_duration")
                    f_max = tr(gr.Textbox(label=t("max_duration", lang)), "max_duration")
                    f_neg = tr(gr.Textbox(label=t("min_negative", lang)), "min_negative")
                    kinds = ["all", "any", *EVENT_KINDS]
                    f_event = gr.Dropdown(
                        _event_choices(kinds, lang), value="all", label=t("event_kind", lang)
                    )
                    texts.append(
                        (
                            f_event,
                            lambda lg: {
                                "label": t("event_kind", lg),
                                "choices": _event_choices(kinds, lg),
                            },
                        )
                    )
                filters = [f_text, f_from, f_to, f_min, f_max, f_role, f_neg, f_event, language]
                refresh = tr(gr.Button(t("refresh", lang)), "refresh", "value")
                calls = tr(
                    gr.Dataframe(
                        _frame([], views.call_headers(lang)),
                        interactive=False,
                        label=t("calls", lang),
                        elem_id="calls",
                    ),
                    "calls",
                )
                with gr.Row():
                    pick = tr(
                        gr.Dropdown(
                            [], label=t("call", lang), elem_id="pick", allow_custom_value=True
                        ),
                        "call",
                    )
                    open_btn = tr(gr.Button(t("open", lang), variant="primary"), "open", "value")
                    delete_btn = tr(gr.Button(t("delete", lang), variant="stop"), "delete", "value")
                with gr.Row():
                    combined_fmt = tr(
                        gr.Radio(["csv", "parquet"], value="csv", label=t("combined_format", lang)),
                        "combined_format",
                    )
                    combined_btn = tr(
                        gr.Button(t("combined_export", lang)), "combined_export", "value"
                    )
                    combined_file = tr(gr.File(label=t("download", lang)), "download")
            with tr(gr.Tab(t("tab_review", lang), id="review"), "tab_review"):
                with gr.Row():
                    with gr.Column(scale=2):
                        video = tr(
                            gr.Video(
                                label=t("player", lang),
                                elem_id="player-video",
                                interactive=False,
                                visible=False,
                            ),
                            "player",
                        )
                        audio = tr(
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
                        timeline = tr(
                            gr.Plot(label=t("timeline", lang), elem_id="timeline"), "timeline"
                        )
                events = tr(
                    gr.Dataframe(
                        _frame([], views.event_headers(lang)),
                        interactive=False,
                        label=t("events", lang),
                        elem_id="events",
                    ),
                    "events",
                )
                with gr.Row():
                    with gr.Column(scale=3):
                        segments = tr(
                            gr.Dataframe(
                                _frame([], views.segment_headers(lang)),
                                interactive=False,
                                label=t("segments", lang),
                                elem_id="segments",
                                max_height=320,
                            ),
                            "segments",
                        )
                    with gr.Column(scale=2):
                        evidence = tr(
                            gr.JSON(label=t("evidence", lang), elem_id="evidence"), "evidence"
                        )
                notes_table = tr(
                    gr.Dataframe(
                        _frame([], views.annotation_headers(lang)),
                        interactive=False,
                        label=t("annotations", lang),
                        elem_id="annotations",
                    ),
                    "annotations",
                )
                with gr.Row():
                    a_kind = gr.Dropdown(
                        choices(ANNOTATION_KINDS, "kind_")(lang),
                        value="note",
                        label=t("ann_kind", lang),
                    )
                    texts.append(
                        (
                            a_kind,
                            lambda lg: {
                                "label": t("ann_kind", lg),
                                "choices": choices(ANNOTATION_KINDS, "kind_")(lg),
                            },
                        )
                    )
                    a_start = tr(gr.Textbox(label=t("ann_start", lang)), "ann_start")
                    a_end = tr(gr.Textbox(label=t("ann_end", lang)), "ann_end")
                    a_speaker = tr(
                        gr.Dropdown([], label=t("ann_speaker", lang), allow_custom_value=True),
                        "ann_speaker",
                    )
                    a_label = gr.Dropdown(
                        [("", "")] + [(emotion_name(x, lang), x) for x in LABELS],
                        value="",
                        label=t("ann_label", lang),
                    )
                    texts.append(
                        (
                            a_label,
                            lambda lg: {
                                "label": t("ann_label", lg),
                                "choices": [("", "")] + [(emotion_name(x, lg), x) for x in LABELS],
                            },
                        )
                    )
                with gr.Row():
                    a_text = tr(gr.Textbox(label=t("ann_text", lang), scale=3), "ann_text")
                    a_add = tr(gr.Button(t("ann_add", lang), variant="primary"), "ann_add", "value")
                with gr.Row():
                    x_fmt = tr(
                        gr.Dropdown(
                            list(EXPORT_FORMATS), value="json", label=t("export_format", lang)
                        ),
                        "export_format",
                    )
                    x_btn = tr(gr.Button(t("export", lang)), "export", "value")
                    x_file = tr(gr.File(label=t("download", lang)), "download")

        review_out = [
            video,
            audio,
            timeline,
            summary,
            segments,
            events,
            notes_table,
            a_speaker,
            evidence,
        ]
        library_out = [calls, pick]
        options = [roles, n_speakers, fps, language]

        # ---- wiring ---------------------------------------------------------------------------
        for trigger, fn, first in (
            (analyze_btn, analyze_files, files),
            (sample_btn, analyze_sample, sample),
        ):
            api = "analyze" if fn is analyze_files else "analyze_sample"
            trigger.click(fn, [first, *options], [status, current], api_name=api).success(
                list_library, filters, library_out, api_name=False
            ).then(open_call, [current, language], [current, *review_out, tabs], api_name=False)
        refresh.click(list_library, filters, library_out, api_name="list_calls")
        demo.load(list_library, filters, library_out, api_name=False)
        open_btn.click(
            open_call, [pick, language], [current, *review_out, tabs], api_name="open_call"
        )
        delete_btn.click(
            delete_call, [pick, language], [status, current, *review_out], api_name="delete_call"
        ).then(list_library, filters, library_out, api_name=False)
        segments.select(select_segment, [current], [seek, evidence], api_name=False).then(
            None, [seek], None, js=SEEK_JS
        )
        events.select(select_event, [current], [seek], api_name=False).then(
            None, [seek], None, js=SEEK_JS
        )
        a_add.click(
            add_annotation,
            [current, a_kind, a_start, a_end, a_speaker, a_text, a_label, language],
            [status, video, audio, timeline, notes_table],
            api_name="add_annotation",
        )
        x_btn.click(export_open, [current, x_fmt, language], [x_file], api_name="export")
        combined_btn.click(
            export_listed,
            [*filters[:-1], combined_fmt, language],
            [combined_file],
            api_name="export_listed",
        )
        language.change(
            switch_language, [language, current], [c for c, _ in texts] + review_out, api_name=False
        )
    return demo


def _event_choices(kinds, lg):
    names = {"all": t("no_filter", lg), "any": t("any_event", lg)}
    return [(names.get(k, k), k) for k in kinds]


def launch(
    demo: gr.Blocks,
    store: Store,
    users: Users | None,
    *,
    host: str | None = None,
    port: int | None = None,
    limits: views.UploadLimits | None = None,
    **kwargs,
):
    """Start the server (127.0.0.1 unless ``EMOTRACE_HOST`` says otherwise); returns its URL."""
    limits = limits or views.UploadLimits()
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


def main() -> None:
    """``python app.py``: the app on the configured data folder, with the real engine."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    from analyzer import Analyzer  # the engine; imported here so that the layout loads fast

    store = Store()
    store.sweep()
    users = load_users(store.home)
    limits = views.UploadLimits.from_env()
    # EMOTRACE_TRANSCRIBE=1 adds the words modality (English ASR; about 0.3 s per speech second).
    analyzer = Analyzer(AnalysisConfig(transcribe=os.environ.get("EMOTRACE_TRANSCRIBE") == "1"))
    if not store.list_calls():
        # First start: put the bundled sample call in the library, so the review works at once.
        print("emotrace: analysing the bundled sample call for the library...", flush=True)
        store.add_call(analyzer.analyze(SAMPLES[0]), SAMPLES[0], uploaded_by="emotrace")
    demo = build_app(store, analyzer, limits=limits, dev_login=users.is_default)
    host = os.environ.get("EMOTRACE_HOST", "127.0.0.1")
    port = int(os.environ.get("EMOTRACE_PORT", "7860"))
    print(f"emotrace: data in {store.home}; open http://{host}:{port}", flush=True)
    launch(demo, store, users, host=host, port=port, limits=limits)


if __name__ == "__main__":
    main()
