"""The audit log and the consent/retention rules of the call library, as a mixin of
:class:`review.store.Store` (which supplies ``engine``, ``get_call`` and ``delete_call``).

The ``audit`` table records who uploaded, opened, annotated, exported and deleted which call, and
when; ``call_consent`` holds each call's recording consent (no row: not recorded).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text

from .records import CallRecord, StoreError, _now

AUDIT_ACTIONS = ("upload", "open", "annotate", "export", "delete", "settings")
CONSENT_VALUES = ("given", "refused")  # recording consent of a call; no row: not recorded


@dataclass(frozen=True)
class AuditEntry:
    """One audit row: who did what to which call, when."""

    id: int
    at: str  # UTC, ISO 8601
    user: str
    action: str  # one of AUDIT_ACTIONS
    call_id: str | None
    detail: str = ""  # e.g. the call's name, the export format


class AuditMixin:
    """Audit, consent and retention methods; mixed into :class:`review.store.Store`."""

    engine: Engine

    if TYPE_CHECKING:

        def get_call(self, call_id: str) -> CallRecord: ...

        def delete_call(self, call_id: str) -> None: ...

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
        self,
        retention_days: float | None,
        *,
        now: datetime | None = None,
        by: str = "retention",
    ) -> list[str]:
        """Delete (as ``delete_call`` does) every call stored more than ``retention_days`` ago
        and every call whose consent was refused, whatever its age. ``retention_days`` None
        keeps calls forever (only refused ones go). Each deletion is audited as ``delete`` by
        ``by`` with the reason. Returns the ids deleted."""
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
            record = self.get_call(call_id)
            reason = "consent refused" if self.consent(call_id) == "refused" else "retention"
            self.delete_call(call_id)
            self.audit(by, "delete", call_id, f"{record.name} ({reason})")
        return ids
