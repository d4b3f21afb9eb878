"""The call library: analysed calls, their results and media, and reviewers' annotations.

Layout of the data folder (``EMOTRACE_HOME``, default ``~/.emotrace``)::

    emotrace.db                 SQLite: schema_version, calls, annotations, audit
    calls/<call id>/media.<ext>  a copy of the analysed file, its extension from the content
                                 (``media.wav``, ``media.mp4``), never from the upload's name
    calls/<call id>/result.json  the AnalysisResult, written atomically
    calls/<call id>/exports/     derived files (subtitles, exports), removed with the call

Saving is crash-safe: the media and the result are written into a hidden staging folder, the folder
is renamed into place, and only then is the row inserted, in one transaction. A crash at any point
leaves either no row (the call does not exist; :meth:`Store.sweep` removes the stray folder) or a
complete call. Model output (result.json) is never modified; annotations live in their own table.

Each call carries the SHA-256 of its media (``content_hash``) for duplicate detection; the
``audit`` table records who uploaded, opened, annotated, exported and deleted which call, and when.

The schema is versioned: ``schema_version`` holds the applied version and ``MIGRATIONS`` lists the
ordered steps, each run in its own transaction when an older database is opened.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from sqlalchemy import Connection, create_engine, event, text

from analyzer import LABELS, AnalysisResult, MediaError, probe_media
from analyzer.hashing import content_hash
from analyzer.settings import Settings

DB_NAME = "emotrace.db"
CALLS_DIR = "calls"
STAGING_PREFIX = ".staging-"
ANNOTATION_KINDS = ("note", "label_correction", "coaching_flag")
CONSENT_VALUES = ("given", "refused")  # recording consent of a call; no row: not recorded
SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers wait this long for each other before giving up


def default_home() -> Path:
    """The data folder: ``$EMOTRACE_HOME`` or ``~/.emotrace`` (``Settings.home``)."""
    return Settings.from_env().home


def _now() -> str:
    """UTC time as ISO 8601 with seconds, sortable as text."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


# ---- schema and migrations --------------------------------------------------------------------


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


# Ordered: MIGRATIONS[i] brings the schema from version i to version i + 1.
MIGRATIONS: tuple[Callable[[Connection], None], ...] = (
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
)
AUDIT_ACTIONS = ("upload", "open", "annotate", "export", "delete")

# Container (FFmpeg's format name) -> the stored media's extension; anything else is ".bin".
_CONTAINER_SUFFIXES = {
    "wav": ".wav",
    "mp3": ".mp3",
    "flac": ".flac",
    "ogg": ".ogg",
    "aiff": ".aiff",
    "aac": ".aac",
    "mov,mp4,m4a,3gp,3g2,mj2": ".mp4",
    "matroska,webm": ".webm",
}


def media_suffix(path: str | os.PathLike) -> str:
    """The stored media's extension, from what the bytes are (FFmpeg's probe), not the name.

    A WAV uploaded as ``evil.html`` is stored as ``media.wav``; an unreadable file as ``.bin``.
    """
    try:
        info = probe_media(path)
    except (MediaError, OSError):
        return ".bin"
    suffix = _CONTAINER_SUFFIXES.get(info.container or "", ".bin")
    if suffix == ".mp4" and not info.has_video:
        return ".m4a"
    return suffix


SCHEMA_VERSION = len(MIGRATIONS)


def _kinds_text(kinds: Iterable[str]) -> str:
    """Event kinds as ',a,b,' so that a LIKE '%,kind,%' filter matches whole names only."""
    unique = sorted({k for k in kinds if k})
    return "," + ",".join(unique) + "," if unique else ""


# ---- records ----------------------------------------------------------------------------------


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
class AuditEntry:
    """One audit row: who did what to which call, when."""

    id: int
    at: str  # UTC, ISO 8601
    user: str
    action: str  # one of AUDIT_ACTIONS
    call_id: str | None
    detail: str = ""  # e.g. the call's name, the export format


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
    limit: int = 500  # at most this many calls, newest first


_CALL_COLUMNS = (
    "id, name, uploaded_by, created_at, media_path, result_path, duration_s, roles, "
    "negative_share, n_events, event_kinds, has_video, content_hash"
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
    )


_ANNOTATION_COLUMNS = (
    "id, call_id, author, created_at, kind, start_s, end_s, speaker, text, corrected_label"
)


def _annotation_from_row(row) -> Annotation:
    return Annotation(*row)


# ---- the store --------------------------------------------------------------------------------


class StoreError(ValueError):
    """A request the store cannot satisfy (unknown call, invalid annotation); one-line message."""


class Store:
    """The call library on one data folder. Safe to use from several threads and processes.

    >>> store = Store("/tmp/emotrace-demo")          # doctest: +SKIP
    >>> call = store.add_call(result, "call.wav", uploaded_by="admin")  # doctest: +SKIP
    """

    def __init__(self, home: str | os.PathLike | None = None, *, migrate: bool = True) -> None:
        self.home = Path(home).expanduser() if home is not None else default_home()
        self.home.mkdir(parents=True, exist_ok=True)
        self.calls_dir = self.home / CALLS_DIR
        self.calls_dir.mkdir(exist_ok=True)
        self.db_path = self.home / DB_NAME
        self.engine = create_engine(f"sqlite:///{self.db_path}", future=True)
        event.listen(self.engine, "connect", _sqlite_pragmas)
        if migrate:
            self.migrate()

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- schema ---------------------------------------------------------------------------
    def schema_version(self) -> int:
        """The schema version of the database file (0 for a new, empty file)."""
        with self.engine.connect() as conn:
            return _read_version(conn)

    def migrate(self, target: int = SCHEMA_VERSION) -> int:
        """Apply the missing migrations up to ``target``, each in its own transaction."""
        with self.engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER)"))
        while True:
            with self.engine.begin() as conn:
                # BEGIN IMMEDIATE semantics: the write lock is taken before reading the version,
                # so two processes opening a new database never run one migration twice.
                conn.execute(text("UPDATE schema_version SET version = version"))
                version = _read_version(conn)
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"{self.db_path}: schema version {version} is newer than this program "
                        f"({SCHEMA_VERSION}); upgrade emotrace"
                    )
                if version >= target:
                    return version
                MIGRATIONS[version](conn)
                conn.execute(text("DELETE FROM schema_version"))
                conn.execute(text("INSERT INTO schema_version VALUES (:v)"), {"v": version + 1})

    # ---- calls ----------------------------------------------------------------------------
    def add_call(
        self,
        result: AnalysisResult,
        media: str | os.PathLike,
        *,
        uploaded_by: str,
        name: str | None = None,
        copy_media: bool = True,
    ) -> CallRecord:
        """Store one analysed call: copy its media, write its result, then insert its row.

        ``media`` is the analysed file; with ``copy_media`` False the store keeps a reference to
        it instead of a copy (the caller then owns the file). The copy is named from its content
        (``media.wav``), and the stored result names the recording by ``name`` only, never by
        the (temporary) path it was analysed from. Returns the stored record.
        """
        media = Path(media)
        call_id = uuid.uuid4().hex
        staging = self.calls_dir / f"{STAGING_PREFIX}{call_id}"
        final = self.calls_dir / call_id
        name = name or media.name
        digest = content_hash(media)
        staging.mkdir(parents=True)
        try:
            if copy_media:
                media_name = f"media{media_suffix(media)}"
                shutil.copyfile(media, staging / f".{media_name}.part")
                os.replace(staging / f".{media_name}.part", staging / media_name)
                media_path = final / media_name
            else:
                media_path = media.resolve()
            if copy_media:
                shown = dataclasses.replace(result.media, path=Path(name).name)
                result = dataclasses.replace(result, media=shown)
            result.save_json(staging / "result.json")
            os.replace(staging, final)
            record = CallRecord(
                id=call_id,
                name=name,
                uploaded_by=uploaded_by,
                created_at=_now(),
                media_path=str(media_path),
                result_path=str(final / "result.json"),
                duration_s=float(result.media.duration_s),
                roles=tuple(s.role or s.id for s in result.speakers),
                negative_share=float(result.negative_share()),
                n_events=len(result.events),
                event_kinds=tuple(sorted({e.kind for e in result.events})),
                has_video=bool(result.media.has_video),
                content_hash=digest,
            )
            self._insert_call(record)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(final, ignore_errors=True)
            raise
        return record

    def _insert_call(self, record: CallRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    f"INSERT INTO calls ({_CALL_COLUMNS}) VALUES (:id, :name, :uploaded_by, "
                    ":created_at, :media_path, :result_path, :duration_s, :roles, "
                    ":negative_share, :n_events, :event_kinds, :has_video, :content_hash)"
                ),
                {
                    **record.to_dict(),
                    "media_path": record.media_path,
                    "result_path": record.result_path,
                    "duration_s": record.duration_s,
                    "negative_share": record.negative_share,
                    "roles": json.dumps(list(record.roles), ensure_ascii=False),
                    "event_kinds": _kinds_text(record.event_kinds),
                    "has_video": int(record.has_video),
                },
            )

    def get_call(self, call_id: str) -> CallRecord:
        with self.engine.connect() as conn:
            row = conn.execute(
                text(f"SELECT {_CALL_COLUMNS} FROM calls WHERE id = :id"), {"id": call_id}
            ).first()
        if row is None:
            raise StoreError(f"no call with id {call_id!r}")
        return _call_from_row(row)

    def load_result(self, call_id: str) -> AnalysisResult:
        """The stored model output of one call."""
        record = self.get_call(call_id)
        return AnalysisResult.from_json(Path(record.result_path).read_text(encoding="utf-8"))

    def list_calls(self, filters: CallFilter | None = None) -> list[CallRecord]:
        """Calls matching ``filters``, newest first."""
        f = filters or CallFilter()
        where: list[str] = []
        params: dict[str, object] = {"limit": int(f.limit)}
        if f.text:
            where.append("lower(name) LIKE :text")
            params["text"] = f"%{f.text.strip().lower()}%"
        if f.date_from:
            where.append("created_at >= :date_from")
            params["date_from"] = f.date_from.strip()
        if f.date_to:
            where.append("substr(created_at, 1, 10) <= :date_to")
            params["date_to"] = f.date_to.strip()[:10]
        if f.min_duration_s is not None:
            where.append("duration_s >= :min_d")
            params["min_d"] = float(f.min_duration_s)
        if f.max_duration_s is not None:
            where.append("duration_s <= :max_d")
            params["max_d"] = float(f.max_duration_s)
        if f.role:
            where.append("lower(roles) LIKE :role")
            params["role"] = f"%{json.dumps(f.role.strip().lower(), ensure_ascii=False)}%"
        if f.min_negative is not None:
            where.append("negative_share >= :min_neg")
            params["min_neg"] = float(f.min_negative)
        if f.max_negative is not None:
            where.append("negative_share <= :max_neg")
            params["max_neg"] = float(f.max_negative)
        if f.event_kind == "any":
            where.append("n_events > 0")
        elif f.event_kind:
            where.append("event_kinds LIKE :kind")
            params["kind"] = f"%,{f.event_kind},%"
        if f.uploaded_by:
            where.append("uploaded_by = :by")
            params["by"] = f.uploaded_by
        sql = f"SELECT {_CALL_COLUMNS} FROM calls"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at DESC, rowid DESC LIMIT :limit"
        with self.engine.connect() as conn:
            return [_call_from_row(r) for r in conn.execute(text(sql), params).all()]

    def find_by_hash(self, digest: str) -> list[CallRecord]:
        """The stored calls whose media has the SHA-256 ``digest``, newest first."""
        if not digest:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    f"SELECT {_CALL_COLUMNS} FROM calls WHERE content_hash = :h "
                    "ORDER BY created_at DESC, rowid DESC"
                ),
                {"h": digest},
            ).all()
        return [_call_from_row(r) for r in rows]

    def delete_call(self, call_id: str) -> None:
        """Remove the call, its annotations and every file the store derived for it.

        Media kept by reference (``copy_media=False``) belongs to the caller and is left alone.
        """
        record = self.get_call(call_id)
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM annotations WHERE call_id = :id"), {"id": call_id})
            conn.execute(text("DELETE FROM call_consent WHERE call_id = :id"), {"id": call_id})
            conn.execute(text("DELETE FROM calls WHERE id = :id"), {"id": call_id})
        shutil.rmtree(self.calls_dir / record.id, ignore_errors=True)

    def derived_dir(self, call_id: str) -> Path:
        """A folder for files derived from a call (exports, subtitles); deleted with the call."""
        record = self.get_call(call_id)
        folder = self.calls_dir / record.id / "exports"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def sweep(self, *, older_than_s: float = 3600.0) -> list[Path]:
        """Remove folders left by crashed saves (no row), once older than ``older_than_s``.

        The age guard keeps a save in progress in another process from being swept away.
        """
        with self.engine.connect() as conn:
            known = {r[0] for r in conn.execute(text("SELECT id FROM calls")).all()}
        removed, cutoff = [], time.time() - older_than_s
        for folder in self.calls_dir.iterdir():
            if not folder.is_dir() or folder.name in known:
                continue
            if folder.stat().st_mtime <= cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
        return removed

    # ---- audit ----------------------------------------------------------------------------
    def audit(self, user: str, action: str, call_id: str | None = None, detail: str = "") -> None:
        """Record that ``user`` did ``action`` (one of ``AUDIT_ACTIONS``) on ``call_id``."""
        if action not in AUDIT_ACTIONS:
            raise StoreError(f"audit action must be one of {', '.join(AUDIT_ACTIONS)}")
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO audit (at, user, action, call_id, detail) "
                    "VALUES (:at, :user, :action, :call_id, :detail)"
                ),
                {
                    "at": _now(),
                    "user": user,
                    "action": action,
                    "call_id": call_id,
                    "detail": detail,
                },
            )

    def list_audit(self, limit: int = 500) -> list[AuditEntry]:
        """The newest ``limit`` audit rows, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT id, at, user, action, call_id, detail FROM audit "
                    "ORDER BY id DESC LIMIT :limit"
                ),
                {"limit": int(limit)},
            ).all()
        return [AuditEntry(*row) for row in rows]

    # ---- consent and retention ------------------------------------------------------------
    def set_consent(self, call_id: str, consent: str, *, by: str) -> None:
        """Record whether the people on a call consented to its recording and analysis."""
        if consent not in CONSENT_VALUES:
            raise StoreError(f"consent must be one of {', '.join(CONSENT_VALUES)}, not {consent!r}")
        self.get_call(call_id)  # raises for an unknown call
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO call_consent VALUES (:id, :c, :by, :at) ON CONFLICT(call_id) "
                    "DO UPDATE SET consent = :c, recorded_by = :by, recorded_at = :at"
                ),
                {"id": call_id, "c": consent, "by": by, "at": _now()},
            )

    def consent(self, call_id: str) -> str | None:
        """The call's recorded consent ("given" or "refused"), None when not recorded."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT consent FROM call_consent WHERE call_id = :id"), {"id": call_id}
            ).first()
        return None if row is None else str(row[0])

    def purge_expired(
        self, retention_days: float | None, *, now: datetime | None = None
    ) -> list[str]:
        """Delete (as ``delete_call`` does) every call stored more than ``retention_days`` ago
        and every call whose consent was refused, whatever its age. ``retention_days`` None
        keeps calls forever (only refused ones go). Returns the ids deleted."""
        where = ["id IN (SELECT call_id FROM call_consent WHERE consent = 'refused')"]
        params: dict[str, object] = {}
        if retention_days is not None:
            if retention_days < 0:
                raise StoreError("retention_days must be >= 0")
            cutoff = (now or datetime.now(UTC)) - timedelta(days=retention_days)
            where.append("created_at < :cutoff")
            params["cutoff"] = cutoff.astimezone(UTC).replace(microsecond=0).isoformat()
        with self.engine.connect() as conn:
            ids = [
                r[0]
                for r in conn.execute(
                    text(f"SELECT id FROM calls WHERE {' OR '.join(where)}"), params
                ).all()
            ]
        for call_id in ids:
            self.delete_call(call_id)
        return ids

    # ---- annotations ----------------------------------------------------------------------
    def add_annotation(
        self,
        call_id: str,
        *,
        author: str,
        kind: str,
        text: str = "",
        start: float | None = None,
        end: float | None = None,
        speaker: str | None = None,
        corrected_label: str | None = None,
    ) -> Annotation:
        """Add a reviewer annotation; the model output is left untouched."""
        if kind not in ANNOTATION_KINDS:
            raise StoreError(f"annotation kind must be one of {', '.join(ANNOTATION_KINDS)}")
        if kind == "label_correction" and corrected_label not in LABELS:
            raise StoreError(f"a label correction needs a label among {', '.join(LABELS)}")
        if kind != "label_correction":
            corrected_label = None
        if start is not None and end is None:
            end = start
        if start is None and end is not None:
            raise StoreError("an annotation with an end time needs a start time")
        if start is not None and (start < 0 or (end is not None and end < start)):
            raise StoreError("annotation times must satisfy 0 <= start <= end")
        if kind == "note" and not (text or "").strip():
            raise StoreError("a note needs some text")
        self.get_call(call_id)  # raises for an unknown call
        created = _now()
        with self.engine.begin() as conn:
            new_id = conn.execute(
                _sql_insert_annotation,
                {
                    "call_id": call_id,
                    "author": author,
                    "created_at": created,
                    "kind": kind,
                    "start_s": None if start is None else float(start),
                    "end_s": None if end is None else float(end),
                    "speaker": speaker or None,
                    "text": (text or "").strip(),
                    "corrected_label": corrected_label,
                },
            ).lastrowid
        return Annotation(
            int(new_id),
            call_id,
            author,
            created,
            kind,
            None if start is None else float(start),
            None if end is None else float(end),
            speaker or None,
            (text or "").strip(),
            corrected_label,
        )

    def list_annotations(self, call_id: str | None = None) -> list[Annotation]:
        """Annotations of one call (or of all calls), in time order then creation order."""
        sql = f"SELECT {_ANNOTATION_COLUMNS} FROM annotations"
        params = {}
        if call_id is not None:
            sql += " WHERE call_id = :id"
            params["id"] = call_id
        sql += " ORDER BY call_id, coalesce(start_s, -1), id"
        with self.engine.connect() as conn:
            return [_annotation_from_row(r) for r in conn.execute(text(sql), params).all()]

    def delete_annotation(self, annotation_id: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(text("DELETE FROM annotations WHERE id = :id"), {"id": annotation_id})

    def results(
        self, calls: Sequence[CallRecord]
    ) -> Iterable[tuple[CallRecord, AnalysisResult, list[Annotation]]]:
        """Each call with its result and annotations, for combined exports."""
        for record in calls:
            yield record, self.load_result(record.id), self.list_annotations(record.id)


_sql_insert_annotation = text(
    "INSERT INTO annotations (call_id, author, created_at, kind, start_s, end_s, speaker, text, "
    "corrected_label) VALUES (:call_id, :author, :created_at, :kind, :start_s, :end_s, :speaker, "
    ":text, :corrected_label)"
)


def _read_version(conn: Connection) -> int:
    exists = conn.execute(
        text("SELECT name FROM sqlite_master WHERE type='table' AND name='schema_version'")
    ).first()
    if exists is None:
        return 0
    row = conn.execute(text("SELECT max(version) FROM schema_version")).first()
    return int(row[0]) if row and row[0] is not None else 0


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets readers run beside one writer; the busy timeout makes writers queue, not fail."""
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
