"""The review app in a real browser: Debian's chromium driven by Playwright.

Logs in, analyzes the bundled sample with the real engine, checks that the timeline plot and the
segment table are on screen, that choosing an event moves the player, that the interface switches
to Chinese, and that no request left this machine. Skipped without /usr/bin/chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import screenshot  # the browser driver, shared with the README screenshot script

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not screenshot.CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
USER, PASSWORD = "reviewer", "s3cret pass"


def make_engine():
    from analyzer import Analyzer

    return Analyzer()


def sample_files():
    return (ROOT / "assets" / "sample_call.wav",)


def test_review_in_browser(tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    url, demo, store = screenshot.serve(
        tmp_path / "home", USER, PASSWORD, make_engine(), samples=sample_files()
    )
    try:
        with playwright.sync_playwright() as pw:
            context = screenshot.open_browser(pw, tmp_path / "profile")
            page = context.new_page()
            urls: list[str] = []
            page.on("request", lambda r: urls.append(r.url))

            screenshot.log_in(page, url, USER, PASSWORD)
            screenshot.analyze_sample(page)
            assert page.locator("#timeline .js-plotly-plot").is_visible()
            assert page.locator("#segments [data-testid^='cell-']").count() >= 1
            assert page.locator("#player-audio audio").count() >= 1
            page.screenshot(path=str(tmp_path / "review.png"), full_page=True)
            assert (tmp_path / "review.png").stat().st_size > 10_000

            [call] = store.list_calls()
            assert call.uploaded_by == USER
            result = store.load_result(call.id)

            # Choosing a segment row moves the player to that segment's start.
            starts = sorted(s.start for s in result.segments if s.kind == "turn")
            row, target = len(starts) - 1, starts[-1]
            page.locator(f"#segments [data-testid='cell-{row}-0']").click()
            page.wait_for_function(
                "(t) => Array.from(document.querySelectorAll('#player-audio audio'))"
                ".some((m) => Math.abs(m.currentTime - t) < 0.6)",
                arg=target,
                timeout=15_000,
            )
            assert "voice" in page.locator("#evidence").inner_text()

            page.locator("#language").get_by_text("中文").click()
            page.get_by_role("tab", name="回顾").wait_for(timeout=15_000)

            context.close()
        assert screenshot.outside_requests(urls) == [], "the page fetched from outside"
        assert any(urlparse_host(u) for u in urls)
    finally:
        demo.close()
        store.close()


def urlparse_host(url: str) -> bool:
    from urllib.parse import urlparse

    return urlparse(url).hostname in screenshot.LOCAL_HOSTS
