"""The Analyze tab: upload recordings (or pick a bundled sample), choose a few options, analyze.

The options start from the engine's configuration (``AnalysisConfig``): the app restates none of
its defaults; the redaction box starts from the team's ``redact_default``. Several files form a
batch shown as a queue (``intake``): one row per file, updated while it runs; a row that is done
(or a duplicate) opens its call. A batch of one file opens its review when it is done.

Optional per upload: transcripts (SRT, WebVTT, JSON; paired with the media by name), the
recording consent, and the agent (else the team's file-name pattern decides).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr
import pandas as pd

from analyzer import AnalysisConfig
from analyzer.words.transcripts import TRANSCRIPT_SUFFIXES

from ..i18n import t
from . import intake
from .common import AppContext, Texts, choices, user_of
from .intake import Intake, QueueItem
from .library_tab import open_call  # the library tab owns opening a call (and its audit)
from .served import remove_upload
from .view import show_call

ASSETS = Path(__file__).resolve().parents[2] / "assets"
SAMPLES = (ASSETS / "sample_call.wav", ASSETS / "sample_video_call.mp4")
# The "Stereo channels" choices: each names AnalysisConfig.channels (None: the engine decides).
ROLE_CHOICES: dict[str, tuple[str, str] | None] = {
    "auto": None,
    "agent_customer": ("agent", "customer"),
    "customer_agent": ("customer", "agent"),
}
AUTO_SPEAKERS = 0  # the speaker-count box's "estimate" (AnalysisConfig.num_speakers = None)
MAX_SPEAKERS = 8  # AnalysisConfig accepts 1..8 speakers
FPS_RANGE = (1, 15)  # the slider's span in frames per second; AnalysisConfig accepts (0, 30]
PROGRESS = gr.Progress()  # gradio's marker default: a handler with it gets a live progress bar
QUEUE_WIDTHS: list[str | int] = [
    "20%",
    "14%",
    "22%",
    "32%",
    "12%",
]  # file, transcript, state, detail, id
CONSENT_CHOICES = ("unknown", "given", "refused")  # "unknown": not recorded (no Store row)


@dataclass(frozen=True)
class AnalyzeTab:
    """The Analyze tab's widgets."""

    files: gr.File
    roles: gr.Dropdown
    n_speakers: gr.Number
    fps: gr.Slider
    analyze: gr.Button
    sample: gr.Dropdown
    analyze_sample: gr.Button
    status: gr.Markdown
    transcripts: gr.File
    redact: gr.Checkbox
    consent: gr.Radio
    agent: gr.Textbox
    queue: gr.Dataframe
    to_open: gr.Textbox  # hidden: the call a finished run opens ('' for none)
    queued: gr.State  # the queue's items as last shown (redrawn in another language)

    def options(self) -> list:
        """The option widgets, in the order the analyze handlers take them after the files."""
        return [self.roles, self.n_speakers, self.fps]

    def intake(self) -> list:
        """The per-upload fields, in the order the handlers take them last (after the language
        and, for uploads, the transcripts)."""
        return [self.redact, self.consent, self.agent]

    def outputs(self) -> list:
        """What a run fills: the status line, the call to open, the queue, the emptied fields,
        the queue's items."""
        return [self.status, self.to_open, self.queue, self.files, self.transcripts, self.queued]


def option_values(config: AnalysisConfig) -> dict:
    """The widgets' starting values, read from ``config`` (the engine's, or the field defaults)."""
    channels = tuple(config.channels) if config.channels else None
    roles = next((k for k, v in ROLE_CHOICES.items() if v == channels), "auto")
    return {
        "roles": roles,
        "n_speakers": config.num_speakers or AUTO_SPEAKERS,
        "fps": config.fps,
    }


def run_config(base: AnalysisConfig, roles: str | None, n_speakers, fps) -> AnalysisConfig:
    """``base`` with the Analyze tab's choices applied.

    "auto" roles and 0 speakers leave the choice to the engine (None); an empty rate keeps
    ``base.fps``.
    """
    return base.replace(
        channels=ROLE_CHOICES.get(roles or "auto"),
        num_speakers=int(n_speakers) if n_speakers else None,
        fps=float(fps or base.fps),
    )


def build_analyze_tab(texts: Texts, lang: str, config: AnalysisConfig, samples) -> AnalyzeTab:
    """The tab's layout (call inside ``gr.Tabs``)."""
    start = option_values(config)
    with texts.key(gr.Tab(t("tab_analyze", lang), id="analyze"), "tab_analyze"):
        with gr.Row():
            files = texts.key(
                gr.File(
                    label=t("files", lang), file_count="multiple", type="filepath", elem_id="files"
                ),
                "files",
            )
            transcripts = texts.key(
                gr.File(
                    label=t("transcripts", lang),
                    file_count="multiple",
                    file_types=list(TRANSCRIPT_SUFFIXES),
                    type="filepath",
                    elem_id="transcripts",
                ),
                "transcripts",
            )
        texts.key(gr.Markdown(t("transcripts_help", lang)), "transcripts_help", "value")
        with gr.Row():
            redact = texts.redraw(
                gr.Checkbox(
                    value=False,
                    label=t("redact", lang),
                    info=t("redact_help", lang),
                    elem_id="redact",
                ),
                lambda lg: {"label": t("redact", lg), "info": t("redact_help", lg)},
            )
            consent = texts.redraw(
                gr.Radio(
                    choices(CONSENT_CHOICES, "consent_", lang),
                    value="unknown",
                    label=t("consent", lang),
                    elem_id="consent",
                ),
                lambda lg: {
                    "label": t("consent", lg),
                    "choices": choices(CONSENT_CHOICES, "consent_", lg),
                },
            )
            agent = texts.redraw(
                gr.Textbox(
                    label=t("agent", lang), placeholder=t("agent_help", lang), elem_id="agent"
                ),
                lambda lg: {"label": t("agent", lg), "placeholder": t("agent_help", lg)},
            )
        with gr.Row():
            roles = texts.dropdown(
                "roles", lambda lg: choices(ROLE_CHOICES, "roles_", lg), lang, value=start["roles"]
            )
            n_speakers = texts.key(
                gr.Number(
                    start["n_speakers"],
                    precision=0,
                    minimum=AUTO_SPEAKERS,
                    maximum=MAX_SPEAKERS,
                    label=t("num_speakers", lang),
                ),
                "num_speakers",
            )
            fps = texts.key(
                gr.Slider(*FPS_RANGE, value=start["fps"], step=1, label=t("fps", lang)), "fps"
            )
        with gr.Row():
            analyze = texts.key(
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
            analyze_sample = texts.key(
                gr.Button(t("sample", lang), elem_id="analyze-sample"), "sample", "value"
            )
        # Tall enough for gradio's progress bar (file and stage) to show while a run goes on.
        status = texts.key(gr.Markdown(elem_id="status", min_height=90), "status")
        # Its rows are redrawn in another language by ``relabel_queue`` (an update of the
        # headers alone leaves the table's shown headers as they were).
        queue = texts.redraw(
            gr.Dataframe(
                intake.queue_frame([], lang),
                label=t("queue", lang),
                interactive=False,
                wrap=True,
                column_widths=QUEUE_WIDTHS,
                elem_id="queue",
            ),
            lambda lg: {"label": t("queue", lg)},
        )
        texts.key(gr.Markdown(t("queue_help", lang)), "queue_help", "value")
        to_open = gr.Textbox(visible=False)
        queued = gr.State([])  # inside the tab: a bare child of gr.Tabs doubles its tab bar
    return AnalyzeTab(
        files=files,
        roles=roles,
        n_speakers=n_speakers,
        fps=fps,
        analyze=analyze,
        sample=sample,
        analyze_sample=analyze_sample,
        status=status,
        transcripts=transcripts,
        redact=redact,
        consent=consent,
        agent=agent,
        queue=queue,
        to_open=to_open,
        queued=queued,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------

# What every run yields: (status line, call to open, queue table, files field, transcripts field,
# the queue's items).
RunUpdate = tuple


def analyze_files(
    ctx: AppContext,
    files: list[str] | None,
    roles: str | None,
    n_speakers: float | None,
    fps: float | None,
    lang: str,
    request: gr.Request,
    progress=PROGRESS,
    transcripts: list[str] | None = None,
    redact: bool | None = None,
    consent: str | None = None,
    agent: str | None = None,
) -> Iterator[RunUpdate]:
    """Analyze the uploaded files as a queue; yields ``(status, call to open, queue, files,
    transcripts)`` after every change, so the table follows the run.

    The first update empties the upload fields (the files are in the queue now): files chosen
    while the batch runs wait there for the next press of Analyze. Each upload (and its
    transcript) is removed from Gradio's upload folder once its file is finished with, the rest
    when the batch ends or is abandoned: the library keeps the only copy. ``redact`` None takes
    the team's default.
    """
    paths = [p for p in (files or []) if p]
    extra = [p for p in (transcripts or []) if p]
    if not paths:
        raise gr.Error(t("msg_no_files", lang))
    items, unpaired = intake.make_items(paths, extra)
    form = _intake(ctx, request, roles, n_speakers, fps, redact, consent, agent)
    notes = [t("q_unpaired", lang, name=Path(p).name) for p in unpaired]
    try:
        yield from _run(ctx, items, form, lang, progress, notes, clear=True, release=_release)
    finally:  # what no worker holds: unpaired transcripts, files never started
        for item in items:
            if item.state == intake.QUEUED:
                _release(item)
        for path in unpaired:
            remove_upload(path)


def _release(item: QueueItem) -> None:
    """An upload is finished with: remove it (and its transcript) from Gradio's folder."""
    remove_upload(item.path)
    if item.transcript:
        remove_upload(item.transcript)


def analyze_sample(
    ctx: AppContext,
    sample: str | None,
    roles: str | None,
    n_speakers: float | None,
    fps: float | None,
    lang: str,
    request: gr.Request,
    progress=PROGRESS,
    redact: bool | None = None,
    consent: str | None = None,
    agent: str | None = None,
) -> Iterator[RunUpdate]:
    """Analyze the bundled sample chosen in the dropdown (a queue of one; no transcript)."""
    path = Path(sample) if sample else None
    if path is None or not path.exists():
        raise gr.Error(t("msg_no_sample", lang, path=str(path)))
    form = _intake(ctx, request, roles, n_speakers, fps, redact, consent, agent)
    items = [QueueItem(str(path), path.name)]
    yield from _run(ctx, items, form, lang, progress, [], clear=False)


def open_after(
    ctx: AppContext, call_id: str | None, lang: str, request: gr.Request | None = None
) -> tuple:
    """After a run: the call to open (a batch of one that is done), as ``open_call`` shows it;
    nothing changes when there is none (the queue stays in view)."""
    if not call_id:
        return _skip_open(ctx, lang)
    return open_call(ctx, call_id, lang, request)


def select_queued(
    ctx: AppContext, lang: str, evt: gr.SelectData, request: gr.Request | None = None
) -> tuple:
    """A queue row was clicked: open its call when it has one (done or duplicate)."""
    row = evt.row_value or []
    call_id = str(row[-1]) if row and row[-1] else None
    if not call_id:
        return _skip_open(ctx, lang)
    return open_call(ctx, call_id, lang, request)


def redact_default(ctx: AppContext) -> gr.Checkbox:
    """On page load: the redaction box starts at the team's ``redact_default``."""
    return gr.Checkbox(value=bool(ctx.store.team_settings()["redact_default"]))


def _skip_open(ctx: AppContext, lang: str) -> tuple:
    """``open_call``'s outputs, all left as they are."""
    return (gr.skip(), *[gr.skip()] * len(show_call(ctx, None, lang).updates()), gr.skip())


def _intake(
    ctx: AppContext,
    request: gr.Request | None,
    roles: str | None,
    n_speakers: float | None,
    fps: float | None,
    redact: bool | None,
    consent: str | None,
    agent: str | None,
) -> Intake:
    config = run_config(ctx.base_config, roles, n_speakers, fps)
    if redact is None:
        redact = bool(ctx.store.team_settings()["redact_default"])
    config = team_config(ctx, config).replace(redact=bool(redact))
    return Intake(config, user_of(request), consent or "", (agent or "").strip() or None)


def team_config(ctx: AppContext, config: AnalysisConfig) -> AnalysisConfig:
    """``config`` as the app runs it: at least two voices on a mixed recording where the team
    says every recording is a conversation (unless a count is given), a long telephone
    recording allowed one voice where the team says so, and the app's duration limit."""
    team = ctx.store.team_settings()
    if team["conversations"] and not config.num_speakers:
        config = config.replace(min_speakers=max(config.min_speakers, min(2, config.max_speakers)))
    if team["phone_one_voice"]:
        config = config.replace(phone_conversation=False)
    return _with_duration_limit(config, ctx.limits.max_duration_s)


def _run(
    ctx: AppContext,
    items: list[QueueItem],
    form: Intake,
    lang: str,
    progress,
    notes: list[str],
    *,
    clear: bool,
    release=None,
) -> Iterator[RunUpdate]:
    """The queue's updates as the handlers' outputs; the last one names the call to open."""
    emptied = (None, None) if clear else (gr.skip(), gr.skip())
    first = True
    for state in intake.run_queue(ctx, items, form, lang, progress, release):
        status = "\n\n".join([intake.status_line(state, lang), *notes])
        fields = emptied if first else (gr.skip(), gr.skip())
        first = False
        yield (status, gr.skip(), intake.queue_frame(state, lang), *fields, _copies(state))
    only = items[0] if len(items) == 1 else None
    to_open = only.call_id if only is not None and only.state in intake.OPENABLE else ""
    status = "\n\n".join([intake.status_line(items, lang), *notes])
    yield (
        status,
        to_open,
        intake.queue_frame(items, lang),
        gr.skip(),
        gr.skip(),
        _copies(items),
    )


def _copies(items: Sequence[QueueItem]) -> list[QueueItem]:
    """The items as they stand now (the run goes on changing its own)."""
    return [replace(item) for item in items]


def relabel_queue(lang: str, items: list[QueueItem] | None) -> pd.DataFrame:
    """The queue table (its headers and states) in ``lang``, after a language change."""
    return intake.queue_frame(items or [], lang)


def _with_duration_limit(config: AnalysisConfig, max_duration_s: float) -> AnalysisConfig:
    """``config`` with the app's duration limit enforced while decoding (the upload check only
    reads the header, which a hostile file can leave out)."""
    return config.replace(max_duration_s=max_duration_s)
