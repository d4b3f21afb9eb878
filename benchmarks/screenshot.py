"""Screenshot of the review app on the bundled sample, for the README.

    python -m benchmarks.screenshot [--out assets/screenshots/review.png]

Starts the app on a throw-away data folder with the real engine, logs in with Debian's chromium
(through Playwright, never ``playwright install``), analyzes the bundled sample and saves the
review tab. ``tests/test_browser.py`` drives the browser with the same functions.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import argparse
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_browser(playwright, user_data_dir: str | os.PathLike):
    """A persistent Chromium context (Debian's binary) on a fresh profile folder."""
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir),
        executable_path=str(CHROMIUM),
        headless=True,
        args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1700},
    )


def outside_requests(urls: list[str]) -> list[str]:
    """The URLs that went anywhere but this machine (data: and blob: URLs stay local)."""
    return [
        u
        for u in urls
        if urlparse(u).scheme not in ("data", "blob") and urlparse(u).hostname not in LOCAL_HOSTS
    ]


def log_in(page, url: str, user: str, password: str) -> None:
    page.goto(url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(password)
    page.get_by_role("button", name="Login").click()
    page.locator("#analyze-sample").wait_for(state="visible", timeout=30_000)


def analyze_sample(page, *, timeout_s: float = 300.0) -> None:
    """Click the bundled-sample button and wait for the review tab to fill in."""
    page.locator("#analyze-sample").click()
    page.locator("#timeline .js-plotly-plot").wait_for(state="visible", timeout=timeout_s * 1000)
    page.locator("#segments [data-testid='cell-0-0']").wait_for(state="visible", timeout=30_000)
    page.wait_for_timeout(800)  # let plotly finish its first layout before a screenshot


def serve(home: Path, user: str, password: str, engine=None, samples=None):
    """The app on ``home`` behind a login for ``user``; returns (url, demo, store)."""
    sys.path.insert(0, str(ROOT))
    import app
    from review import auth
    from review.store import Store

    if engine is None:
        from analyzer import Analyzer

        engine = Analyzer()
    store = Store(home)
    users = auth.Users({user: auth.hash_password(password)}, "screenshot")
    demo = app.build_app(store, engine, **({"samples": samples} if samples else {}))
    url = app.launch(demo, store, users, port=free_port(), prevent_thread_lock=True, quiet=True)
    return url, demo, store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "assets" / "screenshots" / "review.png"))
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        url, demo, store = serve(Path(tmp) / "home", "reviewer", "screenshot")
        try:
            with sync_playwright() as pw:
                context = open_browser(pw, Path(tmp) / "profile")
                page = context.new_page()
                urls: list[str] = []
                page.on("request", lambda r: urls.append(r.url))
                log_in(page, url, "reviewer", "screenshot")
                analyze_sample(page)
                out = Path(args.out)
                out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(out), full_page=True)
                context.close()
            print(f"saved {out}; requests outside this machine: {outside_requests(urls) or 'none'}")
        finally:
            demo.close()
            store.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
