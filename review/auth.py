"""Reviewer accounts: bcrypt-hashed users with a role, from a file or an environment variable.

Where the users come from, first match wins:

1. ``EMOTRACE_USERS`` holding inline accounts: ``name:bcrypt-hash[:role][,name:bcrypt-hash...]``;
2. ``EMOTRACE_USERS`` holding the path of a TOML or JSON file;
3. ``$EMOTRACE_HOME/users.toml`` (or ``users.json``) when it exists;
4. otherwise the development account ``admin`` / ``emotrace`` (``DEV_USER`` / ``DEV_PASSWORD``),
   with a warning: configure real users before the app is reachable by anyone else.

A users file maps names to hashes, in TOML ``[users]`` then ``name = "hash"`` lines, or to a
table with a role: ``ana = { hash = "...", role = "admin" }`` (JSON: ``{"users": {"name": "hash"
or {"hash": ..., "role": ...}}}``). Make a hash with ``python -m review.auth hash``; passwords are
never stored in clear.

Roles (``ROLES``): ``admin`` may delete calls and read the audit log; ``reviewer`` (the default)
analyses, opens, annotates and exports. A user without a role is a reviewer, except when no user
has the admin role: then the user named ``admin``, or else the first user listed, is the admin, so
a library always has one.
"""

from __future__ import annotations

import getpass
import json
import logging
import os
import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import bcrypt

from analyzer.settings import Settings

log = logging.getLogger(__name__)

ADMIN, REVIEWER = "admin", "reviewer"
ROLES = (ADMIN, REVIEWER)
DEV_USER = "admin"
DEV_PASSWORD = "emotrace"  # development only; used solely when no users are configured
ENV_VAR = "EMOTRACE_USERS"
USERS_FILES = ("users.toml", "users.json")  # looked for in the data folder, in this order


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
    """The configured accounts, callable as a plain ``(name, password) -> bool`` check.

    The app itself logs in through :class:`review.security.Authenticator` (throttled, off the
    event loop); ``check`` is the bare password test underneath.
    """

    hashes: Mapping[str, str]  # user name -> bcrypt hash
    source: str  # where they came from: "env", a file path, or "development default"
    roles: Mapping[str, str] = field(default_factory=dict)  # user name -> role, where given

    @property
    def is_default(self) -> bool:
        return self.source == "development default"

    def role(self, username: str | None) -> str | None:
        """``admin`` or ``reviewer`` for a configured user; None for anyone else."""
        name = (username or "").strip()
        if name not in self.hashes:
            return None
        if name in self.roles:
            return self.roles[name]
        if ADMIN not in self.roles.values():
            first_admin = DEV_USER if DEV_USER in self.hashes else next(iter(self.hashes))
            if name == first_admin:
                return ADMIN
        return REVIEWER

    def is_admin(self, username: str | None) -> bool:
        return self.role(username) == ADMIN

    def check(self, username: str, password: str) -> bool:
        hashed = self.hashes.get((username or "").strip())
        return hashed is not None and verify_password(password, hashed)

    __call__ = check


def _check_role(role: object, where: str) -> str:
    if role not in ROLES:
        raise AuthConfigError(f"{where}: role must be one of {', '.join(ROLES)}, got {role!r}")
    return str(role)


def _parse_file(path: Path) -> Users:
    try:
        raw = path.read_bytes()
        data = json.loads(raw) if path.suffix.lower() == ".json" else tomllib.loads(raw.decode())
    except OSError as exc:
        raise AuthConfigError(f"{path}: cannot read users file ({exc.strerror})") from exc
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise AuthConfigError(f"{path}: not a valid users file ({reason})") from exc
    users = data.get("users", data) if isinstance(data, dict) else None
    if not isinstance(users, dict) or not users:
        raise AuthConfigError(f"{path}: expected a 'users' table of name = bcrypt hash")
    hashes, roles = {}, {}
    for name, entry in users.items():
        hashed, role = entry, None
        if isinstance(entry, dict):
            hashed, role = entry.get("hash"), entry.get("role")
        if not isinstance(hashed, str) or not hashed.startswith("$2"):
            raise AuthConfigError(f"{path}: user {name!r} needs a bcrypt hash")
        hashes[str(name)] = hashed
        if role is not None:
            roles[str(name)] = _check_role(role, f"{path}: user {name!r}")
    return Users(hashes, str(path), roles)


def _parse_inline(value: str) -> Users:
    hashes, roles = {}, {}
    for item in value.split(","):
        name, hashed, *rest = [*item.strip().split(":"), ""][:3]
        if not name or not hashed.startswith("$2"):
            raise AuthConfigError(f"{ENV_VAR}: expected name:bcrypt-hash pairs, got {item!r}")
        hashes[name.strip()] = hashed.strip()
        if rest and rest[0].strip():
            roles[name.strip()] = _check_role(rest[0].strip(), f"{ENV_VAR}: user {name!r}")
    return Users(hashes, "env", roles)


def load_users(
    home: str | os.PathLike | None = None, *, env: Mapping[str, str] | None = None
) -> Users:
    """The configured users (see the module docstring for the order of sources)."""
    value = Settings.from_env(env).users or ""
    if value:
        if ":$2" in value:
            return _parse_inline(value)
        return _parse_file(Path(value).expanduser())
    if home is not None:
        for name in USERS_FILES:
            path = Path(home) / name
            if path.exists():
                return _parse_file(path)
    log.warning(
        "no users configured: using the development login %s/%s; set %s or write "
        "users.toml in the data folder before anyone else can reach this app",
        DEV_USER,
        DEV_PASSWORD,
        ENV_VAR,
    )
    return Users({DEV_USER: hash_password(DEV_PASSWORD)}, "development default", {DEV_USER: ADMIN})


def main(argv: list[str] | None = None) -> int:
    """``python -m review.auth hash [NAME]``: print a users.toml line for a typed password."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] != "hash":
        print("usage: python -m review.auth hash [NAME]", file=sys.stderr)
        return 2
    try:
        name = args[1] if len(args) > 1 else input("user name: ").strip()
        password = getpass.getpass("password: ")
        print(f'{name} = "{hash_password(password)}"')
    except (EOFError, KeyboardInterrupt):  # no terminal or input to read the password from
        print("\nno password given: nothing written", file=sys.stderr)
        return 1
    except ValueError as exc:  # an empty password
        print(f"review.auth: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
