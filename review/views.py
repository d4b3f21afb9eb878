"""What the review app shows, computed away from the widgets: upload checks and table rows.

Everything here takes results, records and annotations and returns plain values (lists of rows,
strings, numbers), so it is tested without a browser and the app stays a thin layer of widgets.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer import (
    AnalysisResult,
    MediaError,
    MediaInfo,
    Settings,
    SpeakerSummary,
    probe_media,
)
from analyzer.export import speaker_name  # not in analyzer's public API yet

from .i18n import emotion_name, t

MB = 1024 * 1024


@dataclass(frozen=True)
class UploadLimits:
    """What the app accepts. Checked from the file's content, never from its name."""

    max_bytes: int = 1024 * MB  # largest accepted file, bytes
    max_duration_s: float = 3 * 3600.0  # longest accepted recording, seconds

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        """The limits a deployment set (``max_upload_mb``, ``max_minutes``)."""
        return cls(
            max_bytes=int(settings.max_upload_mb * MB),
            max_duration_s=settings.max_minutes * 60.0,
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> UploadLimits:
        """``EMOTRACE_MAX_UPLOAD_MB`` and ``EMOTRACE_MAX_MINUTES`` (via ``Settings.from_env``)."""
        return cls.from_settings(Settings.from_env(env))


def amount(x: float) -> str:
    """A limit or a size as people write it: ``180``, ``0.5``, ``1.25`` (at most 2 decimals)."""
    return f"{round(float(x), 2):g}"


def one_line_error(exc: BaseException, path: str | os.PathLike, name: str) -> str:
    """``<name>: <cause>`` for a failed upload: one line, no server path in it.

    The upload's temporary path (and its folder) is replaced by the name the user gave it.
    """
    p = Path(path)
    text = " ".join(str(exc).split()) or type(exc).__name__
    for shown in (str(p), str(p.resolve()), str(p.parent), str(p.parent.resolve())):
        text = text.replace(shown + "/", "").replace(shown, name)
    if isinstance(exc, MemoryError):
        text = "the file needs more memory than this server has (is its header damaged?)"
    elif not isinstance(exc, MediaError):
        text = f"could not be analysed ({type(exc).__name__}: {text})"
    return text if text.startswith(name) else f"{name}: {text}"


def check_upload(
    path: str | os.PathLike, limits: UploadLimits, *, name: str | None = None, lang: str = "en"
) -> MediaInfo:
    """Probe ``path`` by its content and enforce ``limits``; raise MediaError with a clear message.

    The container is identified by FFmpeg's probing of the bytes (a text file named .wav is
    refused), then size, audio presence and duration are checked.
    """
    p = Path(path)
    shown = name or p.name
    size = p.stat().st_size if p.exists() else 0
    if size > limits.max_bytes:
        raise MediaError(
            t(
                "msg_too_big",
                lang,
                name=shown,
                size_mb=amount(size / MB),
                limit_mb=amount(limits.max_bytes / MB),
            )
        )
    if size == 0:
        raise MediaError(t("msg_empty", lang, name=shown))
    try:
        info = probe_media(p)
    except MediaError as exc:
        raise MediaError(one_line_error(exc, p, shown)) from None
    if not info.has_audio:
        raise MediaError(t("msg_no_audio", lang, name=shown))
    if info.duration_s > limits.max_duration_s:
        raise MediaError(
            t(
                "msg_too_long",
                lang,
                name=shown,
                minutes=amount(info.duration_s / 60),
                limit=amount(limits.max_duration_s / 60),
            )
        )
    return info


def _fmt(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(float(x), digits)


def call_rows(calls: Sequence[Any]) -> list[list]:
    """Library table rows: id, name, created, uploader, duration, roles, negative share, events."""
    return [
        [
            c.id,
            c.name,
            c.created_at.replace("+00:00", "").replace("T", " "),
            c.uploaded_by,
            _fmt(c.duration_s, 1),
            ", ".join(c.roles),
            _fmt(c.negative_share, 2),
            ", ".join(c.event_kinds) if c.event_kinds else "",
        ]
        for c in calls
    ]


def call_headers(lang: str) -> list[str]:
    keys = (
        "col_name",
        "col_created",
        "col_by",
        "col_duration",
        "col_roles",
        "col_negative",
        "col_events",
    )
    return ["id"] + [t(k, lang) for k in keys]


def turn_segments(result: AnalysisResult) -> list:
    """The speech-turn segments in time order: the rows of the segment table."""
    turns = (s for s in result.segments if s.kind == "turn")
    return sorted(turns, key=lambda s: (s.start, s.speaker))


def segment_rows(result: AnalysisResult, lang: str = "en") -> list[list]:
    return [
        [
            _fmt(s.start),
            _fmt(s.end),
            speaker_name(result, s.speaker),
            emotion_name(s.emotion, lang) if s.emotion else t("unknown", lang),
            _fmt(s.confidence),
            _fmt(s.arousal),
            _fmt(s.valence),
        ]
        for s in turn_segments(result)
    ]


def segment_headers(lang: str) -> list[str]:
    keys = (
        "col_start",
        "col_end",
        "col_speaker",
        "col_emotion",
        "col_confidence",
        "col_arousal",
        "col_valence",
    )
    return [t(k, lang) for k in keys]


def sorted_events(result: AnalysisResult) -> list:
    return sorted(result.events, key=lambda e: e.start)


def event_rows(result: AnalysisResult, lang: str = "en") -> list[list]:
    return [
        [_fmt(e.start), _fmt(e.end), e.kind, speaker_name(result, e.speaker), e.description]
        for e in sorted_events(result)
    ]


def event_headers(lang: str) -> list[str]:
    keys = ("col_start", "col_end", "col_kind", "col_speaker", "col_description")
    return [t(k, lang) for k in keys]


def annotation_rows(annotations: Sequence[Any], lang: str = "en") -> list[list]:
    return [
        [
            _fmt(a.start),
            _fmt(a.end),
            t(f"kind_{a.kind}", lang),
            a.speaker or "",
            a.text,
            emotion_name(a.corrected_label, lang) if a.corrected_label else "",
            a.author,
        ]
        for a in annotations
    ]


def annotation_headers(lang: str) -> list[str]:
    keys = (
        "col_start",
        "col_end",
        "col_kind",
        "col_speaker",
        "col_text",
        "col_label",
        "col_author",
    )
    return [t(k, lang) for k in keys]


def evidence(result: AnalysisResult, index: int) -> dict:
    """Per-modality evidence of the ``index``-th segment-table row (empty when out of range)."""
    segs = turn_segments(result)
    if not 0 <= index < len(segs):
        return {}
    s = segs[index]
    return json.loads(
        json.dumps(
            {
                "start": round(s.start, 3),
                "end": round(s.end, 3),
                "speaker": speaker_name(result, s.speaker),
                "fused": {
                    "emotion": s.emotion,
                    "confidence": s.to_dict()["confidence"],
                    "probs": s.to_dict()["probs"],
                },
                **{m: s.to_dict()["modalities"].get(m, {}) for m in ("voice", "face", "prosody")},
            }
        )
    )


def summary_text(result: AnalysisResult, lang: str = "en") -> str:
    """A few lines a reviewer reads first: per speaker the dominant emotion and the trend."""
    lines = []
    for spk in result.speakers:
        summ: SpeakerSummary | dict[str, Any] = result.summary.get(spk.id) or {}
        shares = summ.get("emotion_share") or summ.get("shares") or {}
        trend = summ.get("trend", "-")
        if isinstance(trend, dict):
            trend = trend.get("direction", "-")
        if any(shares.values()):
            top = max(shares, key=lambda k: shares[k] or 0.0)
            lines.append(
                t(
                    "summary_line",
                    lang,
                    who=speaker_name(result, spk.id),
                    top=emotion_name(top, lang),
                    share=float(shares[top] or 0.0),
                    trend=trend,
                )
            )
    lines.append(f"{t('col_events', lang)}: {len(result.events)}")
    lines.extend(f"- {n}" for n in result.notes)
    return "\n\n".join(lines)


def parse_optional_float(value: Any) -> float | None:
    """A number from a text box, or None for an empty box; ValueError otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return float(value)


def audit_rows(entries: Sequence[Any]) -> list[list]:
    """Audit table rows: time, user, action, call id, detail (newest first as given)."""
    return [
        [e.at.replace("+00:00", "").replace("T", " "), e.user, e.action, e.call_id or "", e.detail]
        for e in entries
    ]


def audit_headers(lang: str) -> list[str]:
    return [t(k, lang) for k in ("col_at", "col_user", "col_action", "col_call", "col_detail")]
