"""Analysing the open call again with the number of speakers or the roles given (the review
tab's button).

The notes ``one_voice_counted`` and ``phone_conversation`` tell a reviewer to analyse a mixed
recording again with the number of speakers set, a reviewer who hears that the agent was
guessed wrong wants the roles set, and uploading the same file again only opens the stored
call (the library keeps each recording once). So the review tab does it: the open call's stored
recording is analysed again with that count and those roles, as a new call beside the first
one, whose annotations, labels and examples stay with it. The new call keeps what the first was
analysed with unless changed here: its roles, video frame rate, redaction, agent and consent,
and the transcript it was given (its lines, without their speakers, since the voices are told
apart anew); the team's settings apply as to an upload. A call whose speakers each have a
channel is analysed again only for its roles (the count changes nothing there). Audited as an
``upload`` that names the first call.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from analyzer import AnalysisConfig, AnalysisResult

from .. import views
from ..i18n import t
from ..store import CONSENT_VALUES, CallRecord, StoreError
from .analyze_tab import PROGRESS, ROLE_CHOICES, team_config
from .common import AppContext, user_of
from .intake import stage_name

log = logging.getLogger(__name__)

KEEP_ROLES = "keep"  # the roles dropdown's "as the first analysis had them"
AGAIN_ROLE_CHOICES = (KEEP_ROLES, *ROLE_CHOICES)  # keep, auto, agent_customer, customer_agent


def analyze_again(
    ctx: AppContext,
    call_id: str | None,
    n_speakers: float | None,
    roles: str | None,
    lang: str,
    request: gr.Request,
    progress=PROGRESS,
) -> tuple[str, str]:
    """Analyze the open call's recording again with ``n_speakers`` (0 or empty: estimated) and
    ``roles`` (a key of AGAIN_ROLE_CHOICES; empty: keep); returns ``(message, the new call's
    id)``, the id '' when nothing was stored."""
    if not call_id:
        raise gr.Error(t("msg_no_call", lang))
    try:
        record = ctx.store.get_call(call_id)
        first = ctx.store.load_result(call_id)
    except StoreError as exc:
        raise gr.Error(str(exc)) from None
    media = Path(record.media_path) if record.media_path else None
    if media is None or not media.is_file():
        return t("again_no_media", lang, name=_plain(record.name)), ""
    count = int(n_speakers) if n_speakers else None
    if count is not None and not 1 <= count <= 8:
        return t("again_bad_count", lang), ""
    roles = roles or KEEP_ROLES
    if roles not in AGAIN_ROLE_CHOICES:
        return t("again_bad_roles", lang), ""
    if (
        first.speakers
        and all(s.source == "channel" for s in first.speakers)
        and (count is not None or roles == KEEP_ROLES)
    ):
        return t("again_channels", lang, name=_plain(record.name)), ""
    user = user_of(request)
    config = again_config(ctx, first, count, roles)

    def report(step: str, done: int, total: int) -> None:
        progress(done / max(total, 1), desc=stage_name(step, lang))

    with tempfile.TemporaryDirectory(prefix="emotrace-again-") as scratch:
        lines = first.transcript if first.config.get("transcript") else []
        if lines:
            config = config.replace(transcript=_write_transcript(lines, Path(scratch)))
        try:
            result = ctx.analyzer.analyze(media, config=config, progress=report)
            new = ctx.store.add_call(
                result,
                media,
                uploaded_by=user,
                name=record.name,
                agent=record.agent,
                digest=record.content_hash or None,
            )
        except Exception as exc:  # a failure is one line; the first call is untouched
            log.exception("analysing %s again failed", record.name)
            return _plain(views.one_line_error(exc, media, record.name)), ""
    consent = ctx.store.consent(call_id)
    if consent in CONSENT_VALUES:
        ctx.store.set_consent(new.id, consent, by=user)
    how = str(count) if count else "estimated"
    detail = f"{record.name}: again from {call_id}, speakers {how}, roles {roles}"
    ctx.store.audit(user, "upload", new.id, detail)
    return _done(record, new, len(result.speakers), lang), new.id


def again_config(
    ctx: AppContext, first: AnalysisResult, count: int | None, roles: str = KEEP_ROLES
) -> AnalysisConfig:
    """The engine's options for the second analysis: the app's, with the first analysis's roles
    (or ``roles``: a key of AGAIN_ROLE_CHOICES), channel handling, frame rate and redaction, the
    count given, and the team's settings."""
    was: dict[str, Any] = first.config
    channels = was.get("channels")
    given = tuple(channels) if channels else None
    config = ctx.base_config.replace(
        num_speakers=count,
        channels=given if roles == KEEP_ROLES else ROLE_CHOICES[roles],
        split_channels=was.get("split_channels"),
        fps=float(was.get("fps") or ctx.base_config.fps),
        redact=bool(was.get("redact", False)),
    )
    return team_config(ctx, config)


def _write_transcript(lines: list, folder: Path) -> str:
    """The first analysis's transcript lines as a JSON transcript (segments with their text and
    word times, no speakers) the engine reads back; returns its path."""
    segments = []
    for line in lines:
        segment: dict[str, Any] = {"start": line.start, "end": line.end, "text": line.text}
        if line.words:
            segment["words"] = [{"start": s, "end": e, "word": w} for s, e, w in line.words]
        segments.append(segment)
    path = folder / "transcript.json"
    path.write_text(json.dumps({"segments": segments}, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _done(first: CallRecord, new: CallRecord, voices: int, lang: str) -> str:
    """What the tab says once the new call is stored (and opened)."""
    return t("again_done", lang, name=_plain(first.name), voices=voices, at=new.created_at[:16])


def _plain(text: str) -> str:
    """``text`` shown as it is in the tab's Markdown message (a file name's ``_`` or ``*`` is not
    emphasis)."""
    return re.sub(r"([\\`*_{}\[\]<>#|!])", r"\\\1", text)
