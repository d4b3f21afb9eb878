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

Split by concern: the numbered migrations live in :mod:`review.migrations`, the records and
:class:`StoreError` in :mod:`review.records`, the audit log and consent/retention methods in
:mod:`review.audit` (a mixin of :class:`Store`). Every name is re-exported here.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Self

from sqlalchemy import create_engine, event, text

from analyzer import LABELS, AnalysisResult, MediaError, probe_media
from analyzer.hashing import content_hash
from analyzer.settings import Settings

# Re-exported: these names were defined here before the split and stay importable from here.
from .audit import AUDIT_ACTIONS, CONSENT_VALUES, AuditEntry, AuditMixin
from .migrations import (
    MIGRATIONS,
    SCHEMA_VERSION,
    _kinds_text,
    _migrate_1,
    _migrate_2,
    _migrate_3,
    _migrate_4,
    _read_version,
)
from .records import (
    _ANNOTATION_COLUMNS,
    _CALL_COLUMNS,
    ANNOTATION_KINDS,
    Annotation,
    CallFilter,
    CallRecord,
    StoreError,
    _annotation_from_row,
    _call_from_row,
    _now,
)
from .team_settings import TEAM_SETTING_DEFAULTS, TeamSettingsMixin, agent_from_name

__all__ = [
    "ANNOTATION_KINDS",
    "AUDIT_ACTIONS",
    "CALLS_DIR",
    "CONSENT_VALUES",
    "DB_NAME",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_BUSY_TIMEOUT_MS",
    "STAGING_PREFIX",
    "TEAM_SETTING_DEFAULTS",
    "Annotation",
    "AuditEntry",
    "CallFilter",
    "CallRecord",
    "Store",
    "StoreError",
    "agent_from_name",
    "default_home",
    "media_suffix",
]
# Private helpers kept reachable as review.store._name (analyzer.store aliases this module).
_REEXPORTED_PRIVATE = (_migrate_1, _migrate_2, _migrate_3, _migrate_4)

DB_NAME = "emotrace.db"
CALLS_DIR = "calls"
STAGING_PREFIX = ".staging-"
SQLITE_BUSY_TIMEOUT_MS = 30_000  # writers wait this long for each other before giving up


def default_home() -> Path:
    """The data folder: ``$EMOTRACE_HOME`` or ``~/.emotrace`` (``Settings.home``)."""
    return Settings.from_env().home


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


# ---- the store --------------------------------------------------------------------------------


class Store(AuditMixin, TeamSettingsMixin):
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
        media: str | os.PathLike | None,
        *,
        uploaded_by: str,
        name: str | None = None,
        copy_media: bool = True,
        agent: str | None = None,
        digest: str | None = None,
    ) -> CallRecord:
        """Store one analysed call: copy its media, write its result, then insert its row.

        ``media`` is the analysed file; with ``copy_media`` False the store keeps a reference to
        it instead of a copy (the caller then owns the file). The copy is named from its content
        (``media.wav``), and the stored result names the recording by ``name`` only, never by
        the (temporary) path it was analysed from. ``agent`` None takes the agent from the
        name by the team's ``agent_pattern`` ('' when it finds none). Returns the stored record.

        ``media`` None stores the result alone (``media_path`` empty: nothing to play), for a
        result whose recording is out of reach; ``name`` and ``digest`` (the recording's
        SHA-256) then say which recording it was. ``digest`` given with a file spares hashing it
        again: the caller vouches that it is the file's.
        """
        if media is None and not name:
            raise StoreError("a call stored without its media needs a name")
        source = Path(media) if media is not None else None
        call_id = uuid.uuid4().hex
        staging = self.calls_dir / f"{STAGING_PREFIX}{call_id}"
        final = self.calls_dir / call_id
        name = name or (source.name if source is not None else "")
        if agent is None:
            agent = agent_from_name(Path(name).name, self.team_settings()["agent_pattern"])
        if digest is None:
            digest = content_hash(source) if source is not None else ""
        staging.mkdir(parents=True)
        try:
            media_path: Path | str = ""
            if source is not None and copy_media:
                media_name = f"media{media_suffix(source)}"
                shutil.copyfile(source, staging / f".{media_name}.part")
                os.replace(staging / f".{media_name}.part", staging / media_name)
                media_path = final / media_name
            elif source is not None:
                media_path = source.resolve()
            if copy_media or source is None:
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
                agent=agent.strip(),
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
                    ":negative_share, :n_events, :event_kinds, :has_video, :content_hash, :agent)"
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

    def set_agent(self, call_id: str, agent: str, *, by: str) -> CallRecord:
        """Set (or clear, with '') the agent a stored call belongs to; audited as ``settings``."""
        self.get_call(call_id)
        with self.engine.begin() as conn:
            conn.execute(
                text("UPDATE calls SET agent = :agent WHERE id = :id"),
                {"agent": agent.strip(), "id": call_id},
            )
        self.audit(by, "settings", call_id, f"agent={agent.strip()}")
        return self.get_call(call_id)

    def agents(self) -> list[str]:
        """Every agent some stored call belongs to, sorted."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT DISTINCT agent FROM calls WHERE agent != '' ORDER BY agent")
            ).all()
        return [r[0] for r in rows]

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
        if f.agent is not None:
            where.append("agent = :agent")
            params["agent"] = f.agent.strip()
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


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    """WAL lets readers run beside one writer; the busy timeout makes writers queue, not fail.

    Switching a new database into WAL needs it alone, and SQLite answers "database is locked" at
    once (without its busy handler) to a second process opening the same new database at that
    moment: the switch is retried until the busy timeout has passed."""
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
