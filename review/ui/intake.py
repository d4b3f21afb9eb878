"""The Analyze tab's batch queue: one row per uploaded file, worked through one file at a time.

Each file goes queued -> running (stage and %) -> done (stored, opens its review) / failed (the
one-line reason) / duplicate (already in the library: opens the stored call) / skipped (consent
refused: not analysed, nothing stored). :func:`run_queue` analyses in a worker thread and yields
after every stage the engine reports, so the table updates while the analysis runs.

Transcripts are paired with the media by name (:func:`pair_transcripts`): one file and one
transcript go together whatever their names; otherwise ``call.wav`` takes ``call.srt`` (or
``call.vtt``, ``call.json``, ``call.wav.srt``...).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analyzer import STEPS, AnalysisConfig, MediaError
from analyzer.hashing import content_hash
from analyzer.words import TranscriptError

from .. import views
from ..i18n import STRINGS, t
from ..store import CONSENT_VALUES, CallRecord
from .common import AppContext, frame

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, DUPLICATE, SKIPPED = (
    "queued",
    "running",
    "done",
    "failed",
    "duplicate",
    "skipped",
)
OPENABLE = (DONE, DUPLICATE)  # states whose row opens a call
POLL_S = 0.2  # s; how often the runner looks at a running file when no stage is reported
FACES_STEP = "video frames"  # the engine's per-frame report while the faces stage runs


@dataclass
class QueueItem:
    """One file of a batch and where it stands. ``path`` is the server's copy, never shown."""

    path: str
    name: str  # the file name the user gave
    transcript: str | None = None  # the paired transcript's path on the server
    transcript_name: str = ""
    state: str = QUEUED
    stage: str = ""  # the stage running now (the engine's name)
    fraction: float = 0.0  # [0, 1] of this file's analysis
    detail: str = ""  # the failure's one line, the stored call a duplicate opens, ...
    call_id: str = ""  # the stored call (done) or the one already stored (duplicate)


def pair_transcripts(
    media: Sequence[str], transcripts: Sequence[str]
) -> tuple[dict[int, str], list[str]]:
    """Which transcript goes with which media file: ``({media index: transcript path}, unpaired
    transcript paths)``.

    One media file and one transcript are a pair whatever their names; otherwise a transcript
    pairs with the media file of the same stem (``call.srt`` or ``call.wav.srt`` with
    ``call.wav``). A transcript that names no media file is returned as unpaired.
    """
    if len(media) == 1 and len(transcripts) == 1:
        return {0: transcripts[0]}, []
    paired: dict[int, str] = {}
    unpaired = []
    for path in transcripts:
        stem = Path(path).stem
        match = [i for i, m in enumerate(media) if stem in (Path(m).stem, Path(m).name)]
        free = [i for i in match if i not in paired]
        if free:
            paired[free[0]] = path
        else:
            unpaired.append(path)
    return paired, unpaired


def make_items(media: Sequence[str], transcripts: Sequence[str]) -> tuple[list[QueueItem], list]:
    """The queue for ``media`` with their transcripts; also the transcripts that pair with none."""
    paired, unpaired = pair_transcripts(media, transcripts)
    items = []
    for i, path in enumerate(media):
        tr = paired.get(i)
        items.append(QueueItem(path, Path(path).name, tr, Path(tr).name if tr else ""))
    return items, unpaired


def queue_headers(lang: str) -> list[str]:
    return [t("col_file", lang), t("col_transcript", lang), t("col_state", lang)] + [
        t("col_detail", lang),
        "id",
    ]


def stage_name(step: str, lang: str) -> str:
    """An engine stage's name in ``lang`` (the engine's own name when the app has none)."""
    key = "stage_" + step.replace(" ", "_")
    return t(key, lang) if key in STRINGS["en"] else step


def state_text(item: QueueItem, lang: str) -> str:
    """The state cell: e.g. "running: voice 22 %", "done: click to open"."""
    if item.state == RUNNING:
        return t(
            "q_running",
            lang,
            stage=stage_name(item.stage, lang),
            percent=round(100 * item.fraction),
        )
    return t(f"q_{item.state}", lang)


def queue_frame(items: Sequence[QueueItem], lang: str) -> pd.DataFrame:
    """The queue table: file, transcript, state, detail, call id (the id opens the call)."""
    rows = [
        [
            item.name,
            item.transcript_name,
            state_text(item, lang),
            item.detail,
            item.call_id if item.state in OPENABLE else "",
        ]
        for item in items
    ]
    return frame(rows, queue_headers(lang))


def status_line(items: Sequence[QueueItem], lang: str) -> str:
    """One line over the queue: the file running now (i/n) and its stage, or the batch's tally."""
    for i, item in enumerate(items):
        if item.state == RUNNING:
            return t(
                "q_status_running",
                lang,
                name=item.name,
                i=i + 1,
                n=len(items),
                stage=stage_name(item.stage, lang),
                percent=round(100 * item.fraction),
            )
    counts = {s: sum(item.state == s for item in items) for s in (DONE, FAILED, DUPLICATE, SKIPPED)}
    return t("q_status_done", lang, n=len(items), **counts)


@dataclass(frozen=True)
class Intake:
    """What the Analyze tab's form says about every file of one batch."""

    config: AnalysisConfig  # the engine options (redaction included)
    user: str
    consent: str = ""  # "given", "refused", or anything else: not recorded
    agent: str | None = None  # None: the team's file-name pattern decides


def process(
    ctx: AppContext, item: QueueItem, intake: Intake, lang: str, report: Callable
) -> tuple[str, str, str]:
    """Check, analyze and store one file; returns ``(state, detail, call id)``.

    Never raises for a bad file: its failure is one line naming the file (and the transcript's
    line for a malformed transcript), never a server path; the traceback goes to the log.
    """
    name = item.name
    try:
        existing = ctx.store.find_by_hash(content_hash(item.path))
        if existing:
            stored = existing[0]
            return DUPLICATE, t("q_duplicate_of", lang, stored=listed(stored)), stored.id
        if intake.consent == "refused":
            return SKIPPED, t("q_consent_refused", lang), ""
        views.check_upload(item.path, ctx.limits, name=name, lang=lang)
        config = intake.config
        if item.transcript:
            config = config.replace(transcript=item.transcript)
        result = ctx.analyzer.analyze(item.path, config=config, progress=report)
        record = ctx.store.add_call(
            result, item.path, uploaded_by=intake.user, name=name, agent=intake.agent
        )
        if intake.consent in CONSENT_VALUES:
            ctx.store.set_consent(record.id, intake.consent, by=intake.user)
    except TranscriptError as exc:
        return FAILED, transcript_error(exc, item, lang), ""
    except Exception as exc:  # one file's failure, whatever it is, never stops the batch
        if not isinstance(exc, MediaError):
            log.exception("analysis of %s failed", name)
        return FAILED, views.one_line_error(exc, item.path, name), ""
    ctx.store.audit(intake.user, "upload", record.id, name)
    return DONE, done_detail(record, result, intake.consent, lang), record.id


def transcript_error(exc: TranscriptError, item: QueueItem, lang: str) -> str:
    """The engine's one line (``<file>:<line>: <reason>``) with the upload's name, not its path."""
    text = " ".join(str(exc).split())
    if item.transcript:
        text = text.replace(str(Path(item.transcript).resolve()), item.transcript_name)
        text = text.replace(item.transcript, item.transcript_name)
    return t("q_bad_transcript", lang, name=item.name, error=text)


def done_detail(record: CallRecord, result, consent: str, lang: str) -> str:
    """What a stored call's row says beside "done": agent, consent, what was redacted."""
    parts = [t("q_agent", lang, agent=record.agent)] if record.agent else []
    if consent in CONSENT_VALUES:
        parts.append(t(f"consent_{consent}", lang))
    redaction = getattr(result, "redaction", None)
    if redaction is not None and redaction.applied:
        counts = ", ".join(f"{kind} {n}" for kind, n in sorted(redaction.counts.items()))
        parts.append(t("q_redacted", lang, counts=counts or "0"))
    return "; ".join(parts)


def listed(record: CallRecord) -> str:
    """How a stored call is named in messages: its name, uploader and upload time."""
    return f"{record.name} ({record.uploaded_by}, {record.created_at[:16].replace('T', ' ')})"


def run_queue(
    ctx: AppContext,
    items: list[QueueItem],
    intake: Intake,
    lang: str,
    progress: Callable | None = None,
    release: Callable[[QueueItem], None] | None = None,
) -> Iterator[list[QueueItem]]:
    """Analyze the queued items one after the other; yields the queue after every change.

    The engine runs in a worker thread and reports each finished stage (and, for video, each
    frame) through a thread-safe queue; this generator turns the reports into the running row's
    stage and fraction. ``progress(fraction, desc=)`` (gradio's bar) follows the whole batch.
    ``release(item)`` runs in the worker once the item is finished with (its upload can go),
    also when the page that started the batch has gone and the generator was closed.
    """
    n = len(items)
    yield items
    for i, item in enumerate(items):
        item.state, item.stage, item.fraction = RUNNING, STEPS[0], 0.0
        reports: queue.Queue = queue.Queue()
        outcome: list[tuple[str, str, str]] = []

        def work(item: QueueItem = item, reports: queue.Queue = reports, outcome=outcome) -> None:
            try:
                outcome.append(process(ctx, item, intake, lang, lambda *r: reports.put(r)))
            finally:
                if release is not None:
                    release(item)

        worker = threading.Thread(target=work, name=f"analyze {item.name}", daemon=True)
        worker.start()
        yield items
        while worker.is_alive() or not reports.empty():
            try:
                step, done, total = reports.get(timeout=POLL_S)
            except queue.Empty:
                continue
            _advance(item, step, done, total)
            if progress is not None:
                desc = f"{item.name} ({i + 1}/{n}): {stage_name(item.stage, lang)}"
                progress((i + item.fraction) / n, desc=desc)
            yield items
        worker.join()
        if outcome:
            item.state, item.detail, item.call_id = outcome[0]
        else:  # the worker died on something beyond Exception (it logged nothing to return)
            item.state, item.detail = FAILED, t("q_interrupted", lang, name=item.name)
        item.fraction = 1.0
        yield items


def _advance(item: QueueItem, step: str, done: int, total: int) -> None:
    """Move the running row to the stage after ``step`` (the engine reports finished stages)."""
    if step == FACES_STEP:  # frames inside the faces stage
        at = STEPS.index("faces")
        item.stage = "faces"
        item.fraction = (at + (done / total if total else 0.0)) / len(STEPS)
        return
    item.fraction = done / total if total else 0.0
    item.stage = STEPS[done] if 0 <= done < len(STEPS) else step
