"""Every ``EMOTRACE_*`` environment variable, read in one place into one frozen object.

    settings = Settings.from_env()          # os.environ
    settings = Settings.from_env({...})     # a mapping, e.g. in tests

Per-analysis options live in :class:`analyzer.config.AnalysisConfig`; this object holds what the
deployment decides (where data and models live, the server's address, upload limits).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

T = TypeVar("T", int, float)

PREFIX = "EMOTRACE_"
# name (without the prefix) -> what it sets; the README's list of variables comes from here.
VARIABLES: dict[str, str] = {
    "HOME": "data folder of the review app (calls, results, users.toml); default ~/.emotrace",
    "HOST": "address the review app binds to; default 127.0.0.1",
    "PORT": "port of the review app; default 7860",
    "USERS": "reviewer accounts: 'name:bcrypt-hash,...' or the path of a TOML/JSON file",
    "MAX_UPLOAD_MB": "largest accepted upload in MB; default 1024",
    "MAX_MINUTES": "longest accepted recording in minutes; default 180",
    "TRANSCRIBE": "'1' adds the words modality to the app's analyses",
    "MIN_SPEAKERS": "fewest voices the app's diarization estimates (2: every mixed recording "
    "is a conversation); default 1",
    "PHONE_ONE_VOICE": "1: a long telephone recording may be counted as one voice (the app's "
    "AnalysisConfig.phone_conversation off); default: taken as a conversation",
    "SESSION_HOURS": "how long a review-app login lasts, in hours; default 12",
    "MODELS": "extra model folders (os.pathsep-separated) searched before models/",
    "FER_CACHE": "cache of FaceMesh landmarks of FER+ images (training); default /tmp/fer_cache",
}


@dataclass(frozen=True)
class Settings:
    """The deployment's settings; ``from_env`` fills them from ``EMOTRACE_*`` variables."""

    home: Path = field(default_factory=lambda: Path.home() / ".emotrace")  # review app data
    host: str = "127.0.0.1"  # address the review app binds to
    port: int = 7860  # port of the review app
    users: str | None = None  # inline accounts or a path (see analyzer.auth); None: home's file
    max_upload_mb: float = 1024.0  # largest accepted upload, MB
    max_minutes: float = 180.0  # longest accepted recording, minutes
    transcribe: bool = False  # the app adds the words modality to its analyses
    min_speakers: int = 1  # the app's AnalysisConfig.min_speakers (2: every call a conversation)
    phone_one_voice: bool = False  # the app's AnalysisConfig.phone_conversation turned off
    session_hours: float = 12.0  # a review-app login expires after this many hours
    model_dirs: tuple[Path, ...] = ()  # searched, in order, before the bundled models/ folder
    fer_cache: Path = Path("/tmp/fer_cache")  # FER+ landmark cache used by training

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Settings from ``env`` (default ``os.environ``); unset or empty variables keep the
        defaults. Raises ValueError naming the variable when a number does not parse."""
        env = os.environ if env is None else env
        default = cls()

        def get(name: str) -> str | None:
            value = (env.get(PREFIX + name) or "").strip()
            return value or None

        def number(name: str, parse: Callable[[str], T], fallback: T) -> T:
            value = get(name)
            if value is None:
                return fallback
            try:
                return parse(value)
            except ValueError:
                raise ValueError(f"{PREFIX}{name} must be a number, got {value!r}") from None

        home, models, cache = get("HOME"), get("MODELS"), get("FER_CACHE")
        return cls(
            home=Path(home).expanduser() if home else default.home,
            host=get("HOST") or default.host,
            port=number("PORT", int, default.port),
            users=get("USERS"),
            max_upload_mb=number("MAX_UPLOAD_MB", float, default.max_upload_mb),
            max_minutes=number("MAX_MINUTES", float, default.max_minutes),
            transcribe=get("TRANSCRIBE") == "1",
            min_speakers=number("MIN_SPEAKERS", int, default.min_speakers),
            phone_one_voice=get("PHONE_ONE_VOICE") == "1",
            session_hours=number("SESSION_HOURS", float, default.session_hours),
            model_dirs=tuple(Path(p) for p in (models or "").split(os.pathsep) if p),
            fer_cache=Path(cache).expanduser() if cache else default.fer_cache,
        )
