"""The Team tab in a real browser (Debian's chromium driven by Playwright).

Three calls of agent "mia" (and one without an agent) are stored, each scored by the engine's own
scorecard (``team_calls.agent_call``): a calm agent, one who mirrors the customer's anger and one
who turns tense late. A trainer opens the Team tab, picks mia, reads the coaching queue (the
mirroring call first, saying why), clicks its low composure score and lands in the review with
the player at the moment the agent lost calm, checked by playing the page's one media element
and reading its ``currentTime``. The drivers and helpers are test_browser.py's.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fake_results import FakeAnalyzer, write_tone_wav
from team_calls import agent_call
from test_browser import MEDIA, PASSWORD, USER, plays_from, screenshot, seeked_to, shoot

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not screenshot.CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
DURATION_S = 16.0
CALLS = {  # name: (agent, what the agent does)
    "mia_calm.wav": ("mia", {}),
    "mia_mirrors.wav": ("mia", {"mirror_from": 8.0}),
    "mia_late.wav": ("mia", {"mirror_from": 12.0, "customer_angry_from": 4.0}),
    "unassigned.wav": ("", {}),
}


@pytest.fixture(scope="module")
def team_session(tmp_path_factory):
    """A logged-in page over a store holding the calls of ``CALLS``."""
    playwright = pytest.importorskip("playwright.sync_api")
    tmp = tmp_path_factory.mktemp("browser_team")
    url, demo, store = screenshot.serve(tmp / "home", USER, PASSWORD, FakeAnalyzer())
    records = {}
    for name, (agent, how) in CALLS.items():
        wav = write_tone_wav(tmp / name, DURATION_S)
        result = agent_call(str(wav), duration=DURATION_S, **how)
        records[name] = store.add_call(result, wav, uploaded_by=USER, name=name, agent=agent)
    pw = playwright.sync_playwright().start()
    try:
        browser = screenshot.open_browser(pw, tmp / "profile")
        page = browser.new_page()
        screenshot.log_in(page, url, USER, PASSWORD)
        shots = tmp / "screenshots"
        shots.mkdir()
        yield SimpleNamespace(page=page, url=url, store=store, records=records, shots=shots)
        browser.close()
    finally:
        pw.stop()
        demo.close()
        store.close()


def _pick_agent(page, label: str) -> None:
    page.get_by_role("tab", name="Team").click()
    page.locator("#team-agent input").click()
    page.get_by_role("option", name=label, exact=True).click()
    page.locator("#team-show").click()


def test_trainer_lands_on_the_moment_the_agent_lost_calm(team_session):
    page, store = team_session.page, team_session.store
    _pick_agent(page, "mia")
    queue = page.locator("#team-queue")
    queue.get_by_text("mia_late.wav").wait_for(timeout=30_000)
    text = queue.inner_text()
    assert "unassigned.wav" not in text
    # ranked by need: the mirroring call first, the calm one last, each saying why
    first, second, third = (
        page.locator(f"#team-queue [data-testid='cell-{r}-0']").inner_text() for r in range(3)
    )
    assert [first, second, third] == ["mia_mirrors.wav", "mia_late.wav", "mia_calm.wav"]
    why = page.locator("#team-queue [data-testid='cell-0-7']").inner_text()
    assert why.startswith("composure 0.00 (team: 0.70)"), why
    page.locator("#team-trend .js-plotly-plot").wait_for(state="visible", timeout=15_000)
    page.wait_for_timeout(800)  # plotly's first layout
    shoot(page, team_session, "#team-tab", "team", 20_000)

    # the low composure score of the top call -> its review, the player at the evidence moment
    mirrors = team_session.records["mia_mirrors.wav"]
    target = store.load_result(mirrors.id).scorecard["S0"]["composure"]["evidence"][0][0]
    assert target > 5.0  # far from where a freshly opened player stands
    score = page.locator("#team-queue [data-testid='cell-0-3']")
    assert score.inner_text() == "0.00"
    score.click()
    page.locator(MEDIA).wait_for(state="attached", timeout=30_000)
    page.wait_for_function(
        "(id) => { const b = document.querySelector('.emo-player');"
        " return b && b.dataset.call === id; }",
        arg=mirrors.id,
        timeout=30_000,
    )
    assert page.get_by_role("tab", name="Review").get_attribute("aria-selected") == "true"
    assert page.evaluate("() => document.querySelectorAll('audio, video').length") == 1
    seeked_to(page, target, tol=0.3)
    plays_from(page, target)


def test_no_agent_calls_are_listed_and_get_an_agent(team_session):
    page, store = team_session.page, team_session.store
    _pick_agent(page, "(no agent)")
    page.locator("#team-queue [data-testid='cell-0-0']").get_by_text("unassigned.wav").wait_for(
        timeout=30_000
    )
    page.locator("#team-pick input").click()
    page.get_by_role("option").filter(has_text="unassigned.wav").first.click()
    page.locator("#team-new-agent textarea, #team-new-agent input").first.fill("mia")
    page.locator("#team-set-agent").click()
    page.locator("#team-msg").get_by_text("agent set to mia").wait_for(timeout=15_000)
    record = store.get_call(team_session.records["unassigned.wav"].id)
    assert record.agent == "mia"
    assert any(e.action == "settings" and e.call_id == record.id for e in store.list_audit())
