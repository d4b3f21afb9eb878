"""The numbered schema migrations of the call library (``emotrace.db``).

``MIGRATIONS[i]`` brings the schema from version ``i`` to ``i + 1``;
:meth:`review.store.Store.migrate` runs each missing step in its own transaction and records the
new version in ``schema_version``.
Steps are only ever appended, never edited (CONTRACTS: numbered in the order the issues land).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path

from sqlalchemy import Connection, text

from analyzer.hashing import content_hash


def _kinds_text(kinds: Iterable[str]) -> str:
    """Event kinds as ',a,b,' so that a LIKE '%,kind,%' filter matches whole names only."""
    unique = sorted({k for k in kinds if k})
    return "," + ",".join(unique) + "," if unique else ""


def _migrate_1(conn: Connection) -> None:
    """The first schema: calls and annotations."""
    conn.execute(
        text("""
        CREATE TABLE calls (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            uploaded_by TEXT NOT NULL,
            created_at TEXT NOT NULL,
            media_path TEXT NOT NULL,
            result_path TEXT NOT NULL,
            duration_s REAL NOT NULL,
            roles TEXT NOT NULL,
            negative_share REAL NOT NULL,
            n_events INTEGER NOT NULL
        )""")
    )
    conn.execute(
        text("""
        CREATE TABLE annotations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            call_id TEXT NOT NULL REFERENCES calls(id) ON DELETE CASCADE,
            author TEXT NOT NULL,
            created_at TEXT NOT NULL,
            start_s REAL,
            end_s REAL,
            speaker TEXT,
            kind TEXT NOT NULL,
            text TEXT NOT NULL DEFAULT '',
            corrected_label TEXT
        )""")
    )
    conn.execute(text("CREATE INDEX ix_annotations_call ON annotations(call_id)"))
    conn.execute(text("CREATE INDEX ix_calls_created ON calls(created_at)"))


def _migrate_2(conn: Connection) -> None:
    """Filterable event kinds and a video flag per call, backfilled from the stored results."""
    conn.execute(text("ALTER TABLE calls ADD COLUMN event_kinds TEXT NOT NULL DEFAULT ''"))
    conn.execute(text("ALTER TABLE calls ADD COLUMN has_video INTEGER NOT NULL DEFAULT 0"))
    rows = conn.execute(text("SELECT id, result_path FROM calls")).all()
    for call_id, result_path in rows:
        try:
            data = json.loads(Path(result_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # a missing result keeps the defaults; the call still lists
        kinds = _kinds_text(e.get("kind", "") for e in data.get("events", []))
        video = bool(data.get("media", {}).get("has_video"))
        conn.execute(
            text("UPDATE calls SET event_kinds = :k, has_video = :v WHERE id = :id"),
            {"k": kinds, "v": int(video), "id": call_id},
        )


def _migrate_3(conn: Connection) -> None:
    """The audit log, and each call's content hash (backfilled from the stored media)."""
    conn.execute(
        text("""
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at TEXT NOT NULL,
            user TEXT NOT NULL,
            action TEXT NOT NULL,
            call_id TEXT,
            detail TEXT NOT NULL DEFAULT ''
        )""")
    )
    conn.execute(text("CREATE INDEX ix_audit_at ON audit(at)"))
    conn.execute(text("ALTER TABLE calls ADD COLUMN content_hash TEXT NOT NULL DEFAULT ''"))
    conn.execute(text("CREATE INDEX ix_calls_hash ON calls(content_hash)"))
    for call_id, media_path in conn.execute(text("SELECT id, media_path FROM calls")).all():
        try:
            digest = content_hash(media_path)
        except OSError:
            continue  # a missing media file keeps '' (never matches an upload)
        conn.execute(
            text("UPDATE calls SET content_hash = :h WHERE id = :id"), {"h": digest, "id": call_id}
        )


def _migrate_4(conn: Connection) -> None:
    """Recording consent per call, in its own table (a call without a row: consent not recorded)."""
    conn.execute(
        text("""
        CREATE TABLE call_consent (
            call_id TEXT PRIMARY KEY REFERENCES calls(id) ON DELETE CASCADE,
            consent TEXT NOT NULL,
            recorded_by TEXT NOT NULL,
            recorded_at TEXT NOT NULL
        )""")
    )


def _migrate_5(conn: Connection) -> None:
    """The agent a call belongs to (for the team view) and the team's app-wide settings."""
    conn.execute(text("ALTER TABLE calls ADD COLUMN agent TEXT NOT NULL DEFAULT ''"))
    conn.execute(text("CREATE INDEX ix_calls_agent ON calls(agent)"))
    conn.execute(
        text("""
        CREATE TABLE team_settings (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL,
            updated_by TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""")
    )


# Ordered: MIGRATIONS[i] brings the schema from version i to version i + 1.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _migrate_5,
)
SCHEMA_VERSION = len(MIGRATIONS)


def _read_version(conn: Connection) -> int:
    exists = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'")
    ).first()
    if exists is None:
        return 0
    row = conn.execute(text("SELECT max(version) FROM schema_version")).first()
    return int(row[0]) if row and row[0] is not None else 0
