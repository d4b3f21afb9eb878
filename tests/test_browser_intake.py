"""The Analyze tab's queue and the Settings tab in a real browser (Debian's chromium, Playwright).

The app runs with the real engine behind a login with an admin (``ada``) and a reviewer
(``rex``). Checked as a person sees it: two uploads (a short WAV and a broken file) give one done
and one failed row with its reason, the running row shows its stage while it runs (screenshot of
the queue saved); a call uploaded with a transcript holding a card number and redaction on shows
[CARD] and not the digits in its review's transcript panel; the admin's retention change is there
after a reload and in the audit log, and so are "every recording is a conversation" and "a long
telephone recording may be one voice"; the reviewer has no Settings tab; a long one-voice phone
recording taken as a conversation, analysed again with one speaker from its review, opens as a
new call of one voice beside the first. Skipped without
/usr/bin/chromium.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
from fake_results import write_tone_wav

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import screenshot  # the browser driver, shared with the README screenshot script
from test_browser import shoot, state

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not screenshot.CHROMIUM.exists(),
        reason="needs Debian's chromium at /usr/bin/chromium (apt-get install chromium)",
    ),
]
ADMIN, REVIEWER, PASSWORD = "ada", "rex", "two words"
CARD = "4111 1111 1111 1111"
RUN_TIMEOUT_MS = 300_000  # the real engine under load, model loading included


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with the real engine, an admin and a reviewer; the Playwright driver."""
    playwright = pytest.importorskip("playwright.sync_api")
    import app
    from analyzer import Analyzer
    from review import auth
    from review.store import Store

    tmp = tmp_path_factory.mktemp("browser_intake")
    store = Store(tmp / "home")
    hashed = auth.hash_password(PASSWORD)
    users = auth.Users(
        {ADMIN: hashed, REVIEWER: hashed}, "test", {ADMIN: auth.ADMIN, REVIEWER: auth.REVIEWER}
    )
    engine = Analyzer()
    demo = app.build_app(store, engine, users=users, samples=())
    url = app.launch(
        demo, store, users, port=screenshot.free_port(), prevent_thread_lock=True, quiet=True
    )
    pw = playwright.sync_playwright().start()
    shots = tmp / "screenshots"
    shots.mkdir()
    try:
        yield SimpleNamespace(url=url, store=store, pw=pw, tmp=tmp, shots=shots)
    finally:
        pw.stop()
        demo.close()
        engine.close()
        store.close()


def logged_in(server, user: str, profile: str):
    """A fresh browser profile logged in as ``user``: (context, page)."""
    context = screenshot.open_browser(server.pw, server.tmp / profile)
    page = context.new_page()
    page.goto(server.url)
    page.get_by_label("username").fill(user)
    page.get_by_label("password").fill(PASSWORD)
    page.get_by_role("button", name="Login").click()
    page.locator("#analyze").wait_for(state="visible", timeout=30_000)
    return context, page


def upload(page, field: str, paths: list[Path]) -> None:
    page.locator(f"#{field} input[type='file']").set_input_files([str(p) for p in paths])
    # Done uploading: no "Uploading..." left and each file listed (its stem and extension apart).
    page.wait_for_function(
        "([sel, stems]) => { const t = (document.querySelector(sel) || {}).innerText || '';"
        " return !t.includes('Uploading') && stems.every((s) => t.includes(s)); }",
        arg=[f"#{field}", [p.stem for p in paths]],
        timeout=60_000,
    )


def queue_text(page) -> str:
    return page.locator("#queue").inner_text()


def test_two_uploads_one_done_one_failed_with_its_reason(server):
    good = write_tone_wav(server.tmp / "short_call.wav", 4.0, 16000)
    bad = server.tmp / "broken.wav"
    bad.write_text("this is a text file with an audio name\n" * 20)
    context, page = logged_in(server, ADMIN, "admin-queue")
    try:
        upload(page, "files", [good, bad])
        page.locator("#analyze").click()
        # While it runs: the button is off and the running row names its stage and percent.
        page.wait_for_function(
            "() => (document.querySelector('#queue') || {}).innerText.includes('running:')",
            timeout=RUN_TIMEOUT_MS,
        )
        running = queue_text(page)
        assert page.locator("#analyze").is_disabled()
        assert "short_call.wav" in running and "%" in running
        page.wait_for_function(
            "() => (document.querySelector('#queue') || {}).innerText.includes('failed')",
            timeout=RUN_TIMEOUT_MS,
        )
        done = queue_text(page)
        assert "done: click to open" in done
        assert "broken.wav: not a readable audio or video" in done
        assert "running:" not in done and "queued" not in done
        page.locator("#analyze").wait_for(state="visible")
        page.wait_for_function("() => !document.querySelector('#analyze').disabled")
        shoot(page, server, "#queue", "queue", 3_000)
        # The done row opens its review: the player holds that 4-second call.
        page.locator("#queue [data-testid='cell-0-0']").click()
        page.locator("#emo-media").wait_for(state="attached", timeout=30_000)
        page.wait_for_function(
            "() => document.querySelector('#emo-media').readyState >= 1", timeout=15_000
        )
        assert state(page)["duration"] == pytest.approx(4.0, abs=0.1)
        assert page.get_by_role("tab", name="Review").get_attribute("aria-selected") == "true"
    finally:
        context.close()
    assert [c.name for c in server.store.list_calls()] == ["short_call.wav"]


def test_transcript_with_a_card_number_is_redacted_in_the_review(server):
    wav = write_tone_wav(server.tmp / "card_call.wav", 5.0, 16000)
    srt = server.tmp / "card_call.srt"
    srt.write_text(
        f"1\n00:00:00,500 --> 00:00:03,000\nCustomer: my card number is {CARD} thanks\n",
        encoding="utf-8",
    )
    context, page = logged_in(server, REVIEWER, "reviewer-card")
    try:
        upload(page, "files", [wav])
        upload(page, "transcripts", [srt])
        redact = page.locator("#redact input[type='checkbox']")
        if not redact.is_checked():
            redact.check()
        page.locator("#analyze").click()
        panel = page.locator("#transcript")
        panel.get_by_text("[CARD]").first.wait_for(timeout=RUN_TIMEOUT_MS)
        shown = panel.inner_text()
        assert "[CARD]" in shown
        assert "4111" not in shown.replace(" ", "") and "1111" not in shown
    finally:
        context.close()


def test_admin_changes_retention_and_sees_it_after_reload(server):
    context, page = logged_in(server, ADMIN, "admin-settings")
    try:
        page.get_by_role("tab", name="Settings").click()
        box = page.locator("#set-retention textarea, #set-retention input").first
        box.wait_for(state="visible", timeout=15_000)
        box.fill("45")
        page.locator("#set-save").click()
        page.locator("#set-retention-msg").get_by_text("saved").wait_for(timeout=15_000)
        assert server.store.team_settings()["retention_days"] == 45.0
        page.reload()
        page.get_by_role("tab", name="Settings").click()
        box = page.locator("#set-retention textarea, #set-retention input").first
        page.wait_for_function(
            "() => { const b = document.querySelector("
            "'#set-retention textarea, #set-retention input'); return b && b.value === '45'; }",
            timeout=15_000,
        )
        assert box.input_value() == "45"
        page.get_by_role("tab", name="Audit log").click()
        page.wait_for_function(
            "() => (document.querySelector('#audit') || {}).innerText.includes("
            "'retention_days=45.0')",
            timeout=15_000,
        )
    finally:
        context.close()


def ticked_after_reload(page, box: str) -> None:
    """Reload, open the Settings tab and wait until the checkbox ``#box`` shows ticked."""
    page.reload()
    page.get_by_role("tab", name="Settings").click()
    page.wait_for_function(
        "(id) => { const b = document.querySelector('#' + id + ' input'); return b && b.checked; }",
        arg=box,
        timeout=15_000,
    )


def test_admin_says_every_recording_is_a_conversation(server):
    context, page = logged_in(server, ADMIN, "admin-conversations")
    try:
        page.get_by_role("tab", name="Settings").click()
        box = page.locator("#set-conversations").get_by_label("Every recording is a conversation")
        box.wait_for(state="visible", timeout=15_000)
        assert "heard as one" in page.locator("#set-conversations").inner_text()
        box.check()
        page.locator("#set-save").click()
        page.locator("#set-conversations-msg").get_by_text("saved").wait_for(timeout=15_000)
        assert server.store.team_settings()["conversations"] is True
        ticked_after_reload(page, "set-conversations")
    finally:
        server.store.set_team_setting("conversations", False, by="ada")
        context.close()


def test_admin_lets_long_phone_recordings_be_one_voice(server):
    context, page = logged_in(server, ADMIN, "admin-phone-one-voice")
    try:
        page.get_by_role("tab", name="Settings").click()
        field = page.locator("#set-phone-one-voice")
        box = field.get_by_label("A long telephone recording may be one voice")
        box.wait_for(state="visible", timeout=15_000)
        assert not box.is_checked() and "voicemails" in field.inner_text()
        box.check()
        page.locator("#set-save").click()
        page.locator("#set-phone-one-voice-msg").get_by_text("saved").wait_for(timeout=15_000)
        assert server.store.team_settings()["phone_one_voice"] is True
        assert server.store.team_settings()["conversations"] is False  # the other box untouched
        ticked_after_reload(page, "set-phone-one-voice")
        # In Chinese: the box's label, and the pattern preview follows the language too.
        page.locator("#language").get_by_text("中文").click()
        field.get_by_text("较长的电话录音可以只有一个声音").wait_for(timeout=15_000)
        page.locator("#set-preview").get_by_text("未设置规则").wait_for(timeout=15_000)
    finally:
        server.store.set_team_setting("phone_one_voice", False, by="ada")
        context.close()


def phone_voicemail(path: Path) -> Path:
    """One synthetic voice reading for over a minute, as an 8 kHz phone system writes it."""
    import soundfile as sf
    from conftest import SR, one_voice
    from scipy.signal import resample_poly

    sf.write(path, resample_poly(one_voice(3), 1, 2), SR // 2)
    return path


def test_a_long_phone_recording_analysed_again_as_one_voice(server):
    """The review says a long phone recording was taken as a conversation and told apart into
    two voices; "Analyze again" with 1 speaker opens a new call of one voice, and the library
    keeps the first one too."""
    wav = phone_voicemail(server.tmp / "voicemail.wav")
    context, page = logged_in(server, REVIEWER, "reviewer-again")
    try:
        upload(page, "files", [wav])
        page.locator("#analyze").click()
        summary = page.locator("#summary")
        summary.get_by_text("taken as a conversation").wait_for(timeout=RUN_TIMEOUT_MS)
        assert "(S2)" in summary.inner_text()
        page.locator("#again-speakers input").fill("1")
        page.locator("#again").click()
        # One run at a time: the button is off while it runs, and on again after.
        page.wait_for_function("() => document.querySelector('#again').disabled", timeout=10_000)
        page.locator("#again-msg").get_by_text("analysed again").wait_for(timeout=RUN_TIMEOUT_MS)
        page.wait_for_function("() => !document.querySelector('#again').disabled", timeout=15_000)
        assert "1 voice" in page.locator("#again-msg").inner_text()
        page.wait_for_function(
            "() => !(document.querySelector('#summary') || {}).innerText.includes('(S2)')",
            timeout=60_000,
        )
        shown = summary.inner_text()
        assert "taken as a conversation" not in shown and "S1\t" in shown
        shoot(page, server, "#summary", "analysed_again", 1_000)
    finally:
        context.close()
    calls = [c for c in server.store.list_calls() if c.name == "voicemail.wav"]
    assert len(calls) == 2
    voices = sorted(len(server.store.load_result(c.id).speakers) for c in calls)
    assert voices[0] == 1 and voices[1] >= 2


def test_a_call_analysed_again_with_the_roles_the_reviewer_heard(server):
    """The agent of a stereo call was guessed; the reviewer hears the other side answer the
    phone, chooses the roles for a new analysis, and the new call shows them as given: the
    left channel the customer, no guess left on screen; the first call stays in the library."""
    import shutil

    sample = Path(__file__).resolve().parents[1] / "assets" / "sample_call.wav"
    wav = shutil.copy(sample, server.tmp / "roles_call.wav")
    context, page = logged_in(server, REVIEWER, "reviewer-roles")
    try:
        upload(page, "files", [Path(wav)])
        page.locator("#analyze").click()
        summary = page.locator("#summary")
        summary.get_by_text("guessed").first.wait_for(timeout=RUN_TIMEOUT_MS)
        page.locator("#again-roles input").first.click()
        page.get_by_role("option", name="Left channel / first voice: customer", exact=True).click()
        page.locator("#again").click()
        page.locator("#again-msg").get_by_text("analysed again").wait_for(timeout=RUN_TIMEOUT_MS)
        page.wait_for_function(
            "() => !(document.querySelector('#summary') || {}).innerText.includes('guessed')",
            timeout=60_000,
        )
        shoot(page, server, "#summary", "roles_again", 500)
    finally:
        context.close()
    calls = [c for c in server.store.list_calls() if c.name == "roles_call.wav"]
    assert len(calls) == 2
    roles = {}
    for c in calls:
        result = server.store.load_result(c.id)
        roles[c.id] = {s.channel: (s.role, s.role_confidence) for s in result.speakers}
    given = [r for r in roles.values() if r[0] == ("customer", 1.0)]
    assert len(given) == 1 and given[0][1] == ("agent", 1.0)
    guessed = [r for r in roles.values() if r[0][1] != 1.0]
    assert len(guessed) == 1 and guessed[0][0][0] == "agent"


def test_reviewer_has_no_settings_tab(server):
    context, page = logged_in(server, REVIEWER, "reviewer-tabs")
    try:
        page.get_by_role("tab", name="Call library").wait_for(timeout=15_000)
        page.wait_for_timeout(1_000)  # the page load's role check has run
        assert page.get_by_role("tab", name="Settings").count() == 0
        assert page.get_by_role("tab", name="Audit log").count() == 0
        assert (
            page.locator("#set-retention").count() == 0
            or not page.locator("#set-retention").is_visible()
        )
    finally:
        context.close()
