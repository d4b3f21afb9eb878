"""The Analyze tab: upload recordings (or pick a bundled sample), choose a few options, analyze.

The options start from the engine's configuration (``AnalysisConfig``): the app restates none of
its defaults. Each analysed file goes into the library; the last one opens in the review tab.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import gradio as gr

from analyzer import AnalysisConfig, MediaError
from analyzer.hashing import content_hash

from .. import views
from ..i18n import t
from .common import AppContext, Texts, choices, user_of
from .served import remove_upload

log = logging.getLogger(__name__)

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

    def options(self) -> list:
        """The option widgets, in the order the analyze handlers take them after the files."""
        return [self.roles, self.n_speakers, self.fps]


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
        files = texts.key(
            gr.File(label=t("files", lang), file_count="multiple", type="filepath"), "files"
        )
        with gr.Row():
            roles = texts.redraw(
                gr.Dropdown(
                    choices(ROLE_CHOICES, "roles_", lang),
                    value=start["roles"],
                    label=t("roles", lang),
                ),
                lambda lg: {
                    "label": t("roles", lg),
                    "choices": choices(ROLE_CHOICES, "roles_", lg),
                },
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
        status = texts.key(gr.Markdown(elem_id="status"), "status")
    return AnalyzeTab(
        files=files,
        roles=roles,
        n_speakers=n_speakers,
        fps=fps,
        analyze=analyze,
        sample=sample,
        analyze_sample=analyze_sample,
        status=status,
    )


# ---- handlers (bound to the AppContext by the layout) -------------------------------------------


def analyze_files(
    ctx: AppContext,
    files: list[str] | None,
    roles: str | None,
    n_speakers: float | None,
    fps: float | None,
    lang: str,
    request: gr.Request,
    progress=PROGRESS,
) -> tuple[str, str | None]:
    """Analyze the uploaded files; returns the status text and the last stored call's id.

    Each upload is removed from Gradio's upload folder once it is stored or refused: the library
    keeps the only copy.
    """
    paths = [p for p in (files or []) if p]
    if not paths:
        raise gr.Error(t("msg_no_files", lang))
    config = run_config(ctx.base_config, roles, n_speakers, fps)
    try:
        return analyze_paths(ctx, paths, config, lang, user_of(request), progress)
    finally:
        for path in paths:
            remove_upload(path)


def analyze_sample(
    ctx: AppContext,
    sample: str | None,
    roles: str | None,
    n_speakers: float | None,
    fps: float | None,
    lang: str,
    request: gr.Request,
    progress=PROGRESS,
) -> tuple[str, str | None]:
    """Analyze the bundled sample chosen in the dropdown."""
    path = Path(sample) if sample else None
    if path is None or not path.exists():
        raise gr.Error(t("msg_no_sample", lang, path=str(path)))
    config = run_config(ctx.base_config, roles, n_speakers, fps)
    return analyze_paths(ctx, [str(path)], config, lang, user_of(request), progress)


def analyze_paths(
    ctx: AppContext,
    paths: list[str],
    config: AnalysisConfig,
    lang: str,
    user: str,
    progress,
) -> tuple[str, str | None]:
    """Check, analyze and store each file; a file that fails is reported and the rest go on.

    A recording already in the library (same content hash) is not analysed again: the message
    names the stored call and that call is the one opened. Every failure is one line naming the
    file, never a server path; the traceback goes to the server's log. A single file that fails
    raises ``gr.Error`` with its one-line cause.
    """
    config = _with_duration_limit(config, ctx.limits.max_duration_s)
    done, failed, known, last_id = [], [], [], None
    for i, path in enumerate(paths):
        name = Path(path).name

        def report(step, k, total, i=i, name=name):
            progress((i + (k / total if total else 0.0)) / len(paths), desc=f"{name}: {step}")

        try:
            existing = ctx.store.find_by_hash(content_hash(path))
            if existing:
                known.append(t("msg_duplicate", lang, name=name, stored=_listed(existing[0])))
                last_id = existing[0].id
                continue
            views.check_upload(path, ctx.limits, name=name, lang=lang)
            result = ctx.analyzer.analyze(path, config=config, progress=report)
            record = ctx.store.add_call(result, path, uploaded_by=user, name=name)
        except Exception as exc:  # one file's failure, whatever it is, never stops the batch
            failed.append(t("msg_failed", lang, error=views.one_line_error(exc, path, name)))
            if not isinstance(exc, MediaError):
                log.exception("analysis of %s failed", name)
            continue
        ctx.store.audit(user, "upload", record.id, name)
        done.append(name)
        last_id = record.id
    if not done and not known and len(failed) == 1:
        raise gr.Error(failed[0])
    lines = ([t("msg_analyzed", lang, names=", ".join(done))] if done else []) + known + failed
    return "\n\n".join(lines), last_id


def _listed(record) -> str:
    """How a stored call is named in messages: its name, uploader and upload time."""
    return f"{record.name} ({record.uploaded_by}, {record.created_at[:16].replace('T', ' ')})"


def _with_duration_limit(config: AnalysisConfig, max_duration_s: float) -> AnalysisConfig:
    """``config`` with the app's duration limit enforced while decoding (the upload check only
    reads the header, which a hostile file can leave out)."""
    return config.replace(max_duration_s=max_duration_s)
