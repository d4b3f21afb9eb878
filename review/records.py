"""The call library's records (calls, annotations, list filters), its error and its clock.

Plain values shared by :mod:`review.store` and :mod:`review.audit`; no database access here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ANNOTATION_KINDS = ("note", "label_correction", "coaching_flag")


def _now() -> str:
    """UTC time as ISO 8601 with seconds, sortable as text."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


class StoreError(ValueError):
    """A request the store cannot satisfy (unknown call, invalid annotation); one-line message."""


@dataclass(frozen=True)
class CallRecord:
    """One stored call: its metadata row (the result itself is loaded on demand)."""

    id: str
    name: str
    uploaded_by: str
    created_at: str  # UTC, ISO 8601
    media_path: str
    result_path: str
    duration_s: float
    roles: tuple[str, ...]  # speaker roles (or ids where the role is unknown)
    negative_share: float  # [0, 1] share of speech-turn time with a negative emotion
    n_events: int
    event_kinds: tuple[str, ...] = ()
    has_video: bool = False
    content_hash: str = ""  # SHA-256 of the media's bytes ('' when unknown)
    agent: str = ""  # the agent this call belongs to, for the team view ('' when unknown)

    @property
    def folder(self) -> Path:
        return Path(self.result_path).parent

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "uploaded_by": self.uploaded_by,
            "created_at": self.created_at,
            "duration_s": round(self.duration_s, 3),
            "roles": list(self.roles),
            "negative_share": round(self.negative_share, 4),
            "n_events": self.n_events,
            "event_kinds": list(self.event_kinds),
            "has_video": self.has_video,
            "media_path": self.media_path,
            "content_hash": self.content_hash,
            "agent": self.agent,
        }


@dataclass(frozen=True)
class Annotation:
    """A reviewer's note, label correction or coaching flag. Times are None for the whole call."""

    id: int
    call_id: str
    author: str
    created_at: str
    kind: str  # one of ANNOTATION_KINDS
    start: float | None = None
    end: float | None = None
    speaker: str | None = None
    text: str = ""
    corrected_label: str | None = None  # for label_correction: one of LABELS

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "call_id": self.call_id,
            "author": self.author,
            "created_at": self.created_at,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
            "speaker": self.speaker,
            "text": self.text,
            "corrected_label": self.corrected_label,
        }


@dataclass(frozen=True)
class CallFilter:
    """Which calls to list. Every field left at None does not filter."""

    text: str | None = None  # substring of the call name (case-insensitive)
    date_from: str | None = None  # 'YYYY-MM-DD' (UTC), inclusive
    date_to: str | None = None  # 'YYYY-MM-DD' (UTC), inclusive
    min_duration_s: float | None = None
    max_duration_s: float | None = None
    role: str | None = None  # a speaker role the call must have, e.g. "customer"
    min_negative: float | None = None  # [0, 1]
    max_negative: float | None = None  # [0, 1]
    event_kind: str | None = None  # the call must contain an event of this kind; "any": any event
    uploaded_by: str | None = None
    agent: str | None = None  # the call's agent, exactly
    limit: int = 500  # at most this many calls, newest first


_CALL_COLUMNS = (
    "id, name, uploaded_by, created_at, media_path, result_path, duration_s, roles, "
    "negative_share, n_events, event_kinds, has_video, content_hash, agent"
)


def _call_from_row(row) -> CallRecord:
    return CallRecord(
        id=row[0],
        name=row[1],
        uploaded_by=row[2],
        created_at=row[3],
        media_path=row[4],
        result_path=row[5],
        duration_s=float(row[6]),
        roles=tuple(json.loads(row[7])),
        negative_share=float(row[8]),
        n_events=int(row[9]),
        event_kinds=tuple(k for k in (row[10] or "").split(",") if k),
        has_video=bool(row[11]),
        content_hash=row[12] or "",
        agent=row[13] or "",
    )


_ANNOTATION_COLUMNS = (
    "id, call_id, author, created_at, kind, start_s, end_s, speaker, text, corrected_label"
)


def _annotation_from_row(row) -> Annotation:
    return Annotation(*row)
