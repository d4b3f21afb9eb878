"""The team's app-wide settings, as a mixin of :class:`review.store.Store`.

Settings an admin sets once for everybody (CONTRACTS: "app-wide and set by an admin"):

``redact_default``  bool, whether new uploads are analysed with redaction of personal data on;
``conversations``   bool, whether every recording is a conversation: a mixed (one-channel)
                    upload is then diarized into at least two voices (``min_speakers`` 2), unless
                    the upload gives its number of speakers;
``phone_one_voice`` bool, whether a long telephone recording may be counted as one voice: off
                    (the default), a mixed recording through an 8 kHz channel with a minute of
                    speech is diarized into at least two voices (the engine's
                    ``AnalysisConfig.phone_conversation``); on for a team whose archive holds
                    voicemails or dictation on the phone line;
``retention_days``  a number of days after which calls are deleted with their files, or None
                    (keep forever);
``agent_pattern``   a regular expression with a named group ``agent`` that finds the agent in an
                    uploaded file's name (e.g. ``^(?P<agent>[a-z]+)_``), or '' (no pattern).

Each is stored as JSON in ``team_settings`` (migration 5); every change is audited.
"""

from __future__ import annotations

import json
import math
import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, text

from .records import StoreError, _now

TEAM_SETTING_DEFAULTS: dict[str, Any] = {
    "redact_default": False,
    "conversations": False,
    "phone_one_voice": False,
    "retention_days": None,
    "agent_pattern": "",
}


def _check_setting(key: str, value: Any) -> Any:
    """``value`` in its stored form, or a StoreError saying plainly what is wrong with it."""
    if key not in TEAM_SETTING_DEFAULTS:
        raise StoreError(f"unknown team setting {key!r}")
    if key in ("redact_default", "conversations", "phone_one_voice"):
        if not isinstance(value, bool):
            raise StoreError(f"{key} must be true or false")
        return value
    if key == "retention_days":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StoreError("retention_days must be a number of days or empty")
        if not math.isfinite(value) or value <= 0:
            raise StoreError("retention_days must be a positive number of days")
        return float(value)
    pattern = str(value or "").strip()
    if pattern:
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            raise StoreError(f"agent_pattern is not a valid regular expression: {exc}") from None
        if "agent" not in compiled.groupindex:
            raise StoreError("agent_pattern needs a named group (?P<agent>...)")
    return pattern


def agent_from_name(name: str, pattern: str) -> str:
    """The agent named in a file name by ``pattern``'s group ``agent`` ('' when none matches)."""
    if not pattern:
        return ""
    try:
        match = re.search(pattern, name)
    except re.error:
        return ""
    if match is None or "agent" not in match.re.groupindex:
        return ""
    return (match.group("agent") or "").strip()


class TeamSettingsMixin:
    """Read and change the team's settings; mixed into :class:`review.store.Store`."""

    engine: Engine

    if TYPE_CHECKING:

        def audit(
            self, user: str, action: str, call_id: str | None = None, detail: str = ""
        ) -> None: ...

    def team_settings(self) -> dict[str, Any]:
        """Every team setting, the defaults filled in for those never set."""
        settings = dict(TEAM_SETTING_DEFAULTS)
        with self.engine.connect() as conn:
            for key, value in conn.execute(text("SELECT key, value FROM team_settings")).all():
                if key in settings:
                    settings[key] = json.loads(value)
        return settings

    def set_team_setting(self, key: str, value: Any, *, by: str) -> Any:
        """Validate and store one setting (audited as ``settings``); returns the stored value."""
        stored = _check_setting(key, value)
        with self.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO team_settings VALUES (:key, :value, :by, :at) "
                    "ON CONFLICT(key) DO UPDATE SET value = :value, updated_by = :by, "
                    "updated_at = :at"
                ),
                {"key": key, "value": json.dumps(stored), "by": by, "at": _now()},
            )
        self.audit(by, "settings", None, f"{key}={json.dumps(stored, ensure_ascii=False)}")
        return stored
