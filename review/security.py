"""The app's front door: throttled logins off the event loop, session expiry, safe responses.

:class:`Authenticator` is the ``auth=`` of the Gradio app. Gradio awaits it inside its ``/login``
route, so the bcrypt check runs in a small thread pool and never stalls the event loop (a bcrypt
check costs about 0.25 s of CPU; run inline, 20 parallel wrong logins froze every page for
seconds). An unknown user name is checked against a dummy hash of the same cost, so the answer
takes as long as for a real name. :class:`LoginThrottle` refuses a user name or a client address
after ``free_failures`` failures for a time that doubles with each further failure (logged).

:class:`SecurityGate` is an ASGI middleware around the whole app. It

- records each request's client address for the throttle (the socket's peer: put a proxy that
  rewrites it in front only together with the proxy's own limits);
- notes the session token Gradio sets at a successful login and, on later requests, drops a
  session cookie that is older than ``session_s`` or that this process never issued, so Gradio
  sees a logged-out browser (its login page) instead of an endless session;
- answers 404 to any ``file=`` URL that points into the data folder (belt and braces: the app no
  longer lists the folder in Gradio's allowed paths, and blocks it too);
- adds ``X-Content-Type-Options: nosniff`` to every response, so no upload is ever sniffed into
  HTML.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

import bcrypt
from fastapi import HTTPException

from .auth import Users, verify_password

log = logging.getLogger(__name__)

FREE_FAILURES = 5  # failed logins allowed (per user name and per address) before a lockout
FIRST_LOCKOUT_S = 2.0  # the first lockout; each further failure doubles it
MAX_LOCKOUT_S = 900.0  # 15 minutes at most
SESSION_S = 12 * 3600.0  # default session lifetime (EMOTRACE_SESSION_HOURS)
BCRYPT_WORKERS = 2  # concurrent bcrypt checks; more logins wait in line, off the event loop
BCRYPT_NICENESS = 10  # bcrypt threads yield the CPU to the event loop on a busy machine
SESSION_COOKIE = "access-token"  # Gradio's session cookies start with this
LOGIN_PATHS = ("/login", "/login/")

# The client address of the request being handled, set by SecurityGate for the throttle.
CLIENT_ADDRESS: contextvars.ContextVar[str] = contextvars.ContextVar(
    "emotrace_client_address", default="unknown"
)


@dataclass
class _Failures:
    count: int = 0  # attempts since the last success (a refused attempt does not count)
    locked_until: float = 0.0  # monotonic seconds


class LoginThrottle:
    """Failed-login bookkeeping per key (a user name, a client address); thread-safe.

    An attempt is counted when it is admitted, before the password is checked, so a burst of
    parallel attempts cannot slip past the limit; a success clears its keys.
    """

    def __init__(
        self,
        *,
        free_failures: int = FREE_FAILURES,
        first_lockout_s: float = FIRST_LOCKOUT_S,
        max_lockout_s: float = MAX_LOCKOUT_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free_failures = free_failures
        self.first_lockout_s = first_lockout_s
        self.max_lockout_s = max_lockout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: dict[str, _Failures] = {}

    def admit(self, keys: Iterable[str]) -> float:
        """0 when an attempt for ``keys`` may go ahead (and count it), else the seconds to wait."""
        keys = list(keys)
        now = self._clock()
        with self._lock:
            wait = max(self._failures.get(k, _Failures()).locked_until - now for k in keys)
            if wait > 0:
                return wait
            for k in keys:
                entry = self._failures.setdefault(k, _Failures())
                entry.count += 1
                extra = entry.count - self.free_failures
                if extra >= 0:
                    lockout = min(self.first_lockout_s * 2.0**extra, self.max_lockout_s)
                    entry.locked_until = now + lockout
            if len(self._failures) > 10_000:  # forget keys whose lockout ended long ago
                stale = now - self.max_lockout_s
                for k in [k for k, v in self._failures.items() if v.locked_until < stale]:
                    del self._failures[k]
            return 0.0

    def succeeded(self, keys: Iterable[str]) -> None:
        with self._lock:
            for k in keys:
                self._failures.pop(k, None)


class Authenticator:
    """Gradio's ``auth=``: ``await authenticator.login(name, password)`` -> bool.

    Raises ``HTTPException(429)`` while the name or the client address is locked out.
    """

    def __init__(
        self,
        users: Users,
        throttle: LoginThrottle | None = None,
        *,
        workers: int = BCRYPT_WORKERS,
    ) -> None:
        self.users = users
        self.throttle = throttle or LoginThrottle()
        self._pool = ThreadPoolExecutor(
            max_workers=workers, thread_name_prefix="bcrypt", initializer=_lower_priority
        )
        # Same cost as the configured hashes, so an unknown name costs what a known one does.
        cost = _cost(next(iter(users.hashes.values()), ""))
        self._dummy = bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=cost)).decode()

    def check(self, username: str, password: str) -> bool:
        """The bare bcrypt check (blocking); the same time for unknown and known names."""
        hashed = self.users.hashes.get(username)
        ok = verify_password(password, hashed or self._dummy)
        return ok and hashed is not None

    async def login(self, username: str, password: str) -> bool:
        username = (username or "").strip()
        address = CLIENT_ADDRESS.get()
        keys = (f"user:{username}", f"address:{address}")
        wait = self.throttle.admit(keys)
        if wait > 0:
            log.warning("login refused (locked out): user %r from %s", username, address)
            seconds = math.ceil(wait)
            raise HTTPException(
                status_code=429,
                detail=f"Too many failed logins; try again in {seconds} s.",
                headers={"Retry-After": str(seconds)},
            )
        loop = asyncio.get_running_loop()
        ok = await loop.run_in_executor(self._pool, self.check, username, password)
        if ok:
            self.throttle.succeeded(keys)
            log.info("login: %r from %s", username, address)
        else:
            log.warning("failed login: user %r from %s", username, address)
        return ok

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _lower_priority() -> None:
    """Run this (bcrypt) thread at a lower CPU priority than the event loop, so that on a busy
    machine a login flood slows the logins, not the pages (Linux: per-thread niceness)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BCRYPT_NICENESS)
    except (AttributeError, OSError):  # not Linux, or not permitted: run at normal priority
        pass


def _cost(hashed: str) -> int:
    """The cost factor of a bcrypt hash (``$2b$12$...`` -> 12); 12 when it cannot be read."""
    try:
        return max(4, min(int(hashed.split("$")[2]), 16))
    except (IndexError, ValueError):
        return 12


class Sessions:
    """Session tokens this process issued, with their start; thread-safe."""

    def __init__(self, lifetime_s: float = SESSION_S, clock: Callable[[], float] = time.time):
        self.lifetime_s = lifetime_s
        self._clock = clock
        self._lock = threading.Lock()
        self._started: dict[str, float] = {}

    def issued(self, token: str) -> None:
        now = self._clock()
        with self._lock:
            self._started[token] = now
            for old in [t for t, s in self._started.items() if now - s > self.lifetime_s]:
                del self._started[old]

    def valid(self, token: str) -> bool:
        with self._lock:
            started = self._started.get(token)
        return started is not None and self._clock() - started <= self.lifetime_s


class SecurityGate:
    """ASGI middleware: client address, session expiry, data-folder guard, nosniff."""

    def __init__(self, app, *, sessions: Sessions, home: str | Path) -> None:
        self.app = app
        self.sessions = sessions
        self.home = Path(home).resolve()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        CLIENT_ADDRESS.set(client[0] if client else "unknown")
        path = scope.get("path", "")
        _, file_url, target = path.partition("file=")
        if scope["type"] == "http" and file_url and self._inside_home(target):
            log.warning("refused a file URL into the data folder: %s", path)
            await _not_found(send)
            return
        scope = dict(scope, headers=self._drop_stale_sessions(scope.get("headers", [])))
        is_login = scope["type"] == "http" and path in LOGIN_PATHS

        async def send_safely(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                if is_login:
                    self._note_sessions(headers)
                if not any(k.lower() == b"x-content-type-options" for k, _ in headers):
                    headers.append((b"x-content-type-options", b"nosniff"))
                message = dict(message, headers=headers)
            await send(message)

        await self.app(scope, receive, send_safely)

    def _inside_home(self, raw: str) -> bool:
        try:
            target = Path(unquote(raw)).resolve()
        except (OSError, ValueError):
            return True
        return target == self.home or self.home in target.parents

    def _drop_stale_sessions(self, headers: list) -> list:
        """The request headers without session cookies that expired or were never issued here
        (every other cookie is kept as it came)."""
        kept = []
        for key, value in headers:
            if key.lower() == b"cookie":
                pairs = [c.strip() for c in value.decode("latin-1").split(";")]
                fresh = [
                    c
                    for c in pairs
                    if c
                    and (
                        not c.startswith(SESSION_COOKIE)
                        or self.sessions.valid(c.partition("=")[2].strip('"'))
                    )
                ]
                if fresh:
                    kept.append((key, "; ".join(fresh).encode("latin-1")))
                continue
            kept.append((key, value))
        return kept

    def _note_sessions(self, headers: list) -> None:
        for key, value in headers:
            if key.lower() != b"set-cookie":
                continue
            name, _, rest = value.decode("latin-1").partition("=")
            token = rest.split(";", 1)[0]
            if name.startswith(SESSION_COOKIE) and token:
                self.sessions.issued(token)


async def _not_found(send) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b"Not found"})
