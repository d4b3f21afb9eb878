"""Reviewer accounts: bcrypt-hashed users from a file or an environment variable.

Where the users come from, first match wins:

1. ``EMOTRACE_USERS`` holding inline accounts: ``name:bcrypt-hash[,name:bcrypt-hash...]``;
2. ``EMOTRACE_USERS`` holding the path of a TOML or JSON file;
3. ``$EMOTRACE_HOME/users.toml`` (or ``users.json``) when it exists;
4. otherwise the development account ``admin`` / ``emotrace`` (``DEV_USER`` / ``DEV_PASSWORD``),
   with a warning: configure real users before the app is reachable by anyone else.

A users file maps names to hashes, in TOML ``[users]`` then ``name = "hash"`` lines, or in JSON
``{"users": {"name": "hash"}}``. Make a hash with ``python -m review.auth hash``; passwords are
never stored in clear.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bcrypt

log = logging.getLogger(__name__)

DEV_USER = "admin"
DEV_PASSWORD = "emotrace"  # development only; used solely when no users are configured
ENV_VAR = "EMOTRACE_USERS"


class AuthConfigError(ValueError):
    """The users configuration cannot be read; the message says where and why."""


def hash_password(password: str) -> str:
    """A bcrypt hash (with its salt) of ``password``, as text."""
    if not password:
        raise ValueError("the password must not be empty")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def verify_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches the bcrypt ``hashed``; False for any malformed input."""
    try:
        return bcrypt.checkpw((password or "").encode("utf-8"), hashed.encode("ascii"))
    except (ValueError, TypeError):
        return False


@dataclass(frozen=True)
class Users:
    """The configured accounts, callable as gradio's ``auth=`` check."""

    hashes: Mapping[str, str]  # user name -> bcrypt hash
    source: str  # where they came from: "env", a file path, or "development default"

    @property
    def is_default(self) -> bool:
        return self.source == "development default"

    def check(self, username: str, password: str) -> bool:
        hashed = self.hashes.get((username or "").strip())
        return hashed is not None and verify_password(password, hashed)

    __call__ = check


def _parse_file(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read users file ({exc.strerror})") from exc
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise AuthConfigError(f"{path}: not a valid users file ({exc})") from exc
    users = data.get("users", data) if isinstance(data, dict) else None
    if not isinstance(users, dict) or not all(isinstance(v, str) for v in users.values()):
        raise AuthConfigError(f"{path}: expected a 'users' table of name = bcrypt hash")
    return {str(k): v for k, v in users.items()}


def _parse_inline(value: str) -> dict[str, str]:
    users = {}
    for item in value.split(","):
        name, sep, hashed = item.strip().partition(":")
        if not sep or not name or not hashed.startswith("$2"):
            raise AuthConfigError(f"{ENV_VAR}: expected name:bcrypt-hash pairs, got {item!r}")
        users[name.strip()] = hashed.strip()
    return users


def load_users(
    home: str | os.PathLike | None = None, *, env: Mapping[str, str] | None = None
) -> Users:
    """The configured users (see the module docstring for the order of sources)."""
    env = os.environ if env is None else env
    value = (env.get(ENV_VAR) or "").strip()
    if value:
        if ":$2" in value:
            return Users(_parse_inline(value), "env")
        path = Path(value).expanduser()
        return Users(_parse_file(path), str(path))
    if home is not None:
        for name in ("users.toml", "users.json"):
            path = Path(home) / name
            if path.exists():
                return Users(_parse_file(path), str(path))
    log.warning(
        "no users configured: using the development login %s/%s; set %s or write "
        "users.toml in the data folder before anyone else can reach this app",
        DEV_USER,
        DEV_PASSWORD,
        ENV_VAR,
    )
    return Users({DEV_USER: hash_password(DEV_PASSWORD)}, "development default")


def main(argv: list[str] | None = None) -> int:
    """``python -m review.auth hash [NAME]``: print a users.toml line for a typed password."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "hash":
        print("usage: python -m review.auth hash [NAME]", file=sys.stderr)
        return 2
    name = args[1] if len(args) > 1 else input("user name: ").strip()
    password = getpass.getpass("password: ")
    print(f'{name} = "{hash_password(password)}"')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
