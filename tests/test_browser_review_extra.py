"""The review's range selection, scorecard and emotion-share filter in a real browser.

Reuses the logged-in session of ``test_browser.py`` (Debian's chromium driven by Playwright, the
bundled sample analysed through the app) and checks what the reviewer gets: a range dragged
across the timeline lands in the annotation form's visible start/end boxes and, saved, in the
annotations table; a scorecard moment in the summary moves the element that plays; the library's
emotion-share filter narrows the table the reviewer sees, and a bad share says so plainly.
Screenshots of the scorecard and of the range-filled form go where ``test_browser.py`` saves its.
"""

from __future__ import annotations

import re

import pytest
import test_browser
from fake_results import make_result, write_tone_wav
from test_browser import USER, plays_from, seeked_to, shoot, state

pytestmark = test_browser.pytestmark
session = test_browser.session  # the logged-in page with the analysed sample (module-wide)

# Page x of time t and page y of the middle of lane ``name`` on the timeline's top panel.
LANE_XY_JS = """([t, name]) => {
  const gd = document.querySelector('#timeline .js-plotly-plot');
  const xa = gd._fullLayout.xaxis, ya = gd._fullLayout.yaxis, r = gd.getBoundingClientRect();
  const k = ya._categories.indexOf(name);
  return [r.left + xa._offset + xa.l2p(t), r.top + ya._offset + ya.l2p(k)];
}"""
# Whether the library table's visible names are exactly these (in any order).
NAMES_JS = """(names) => {
  const sel = "#calls [data-testid^='cell-'][data-testid$='-0']";
  const cells = Array.from(document.querySelectorAll(sel))
    .filter((c) => c.offsetParent !== null).map((c) => c.innerText.trim());
  return cells.length === names.length && names.every((n) => cells.includes(n));
}"""
BOX_JS = "(id) => document.querySelector(`#${id} textarea, #${id} input`).value"


def box(page, elem_id: str) -> str:
    return page.evaluate(BOX_JS, elem_id)


def column(page, table: str, k: int) -> list[str]:
    """The visible text of column ``k`` of a table (a Gradio dataframe), row by row."""
    cells = page.locator(f"#{table} [data-testid^='cell-'][data-testid$='-{k}']")
    return [
        cells.nth(i).inner_text().strip() for i in range(cells.count()) if cells.nth(i).is_visible()
    ]


def drag_range(page, a: float, b: float, lane: str) -> None:
    page.locator("#timeline").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x1, y = page.evaluate(LANE_XY_JS, [a, lane])
    x2, _ = page.evaluate(LANE_XY_JS, [b, lane])
    page.mouse.move(x1, y)
    page.mouse.down()
    page.mouse.move(x2, y, steps=12)
    page.mouse.up()


def test_dragging_a_range_fills_the_form_then_one_click_annotates(session):
    page, result = session.page, session.result
    customer = next(s.id for s in result.speakers if s.role == "customer")
    a, b = 12.0, 21.0
    drag_range(page, a, b, customer)
    page.wait_for_function(
        "([a, b]) => { const v = (id) => Number(document.querySelector("
        "`#${id} textarea, #${id} input`).value);"
        " return Math.abs(v('ann-start') - a) < 0.4 && Math.abs(v('ann-end') - b) < 0.4; }",
        arg=[a, b],
        timeout=15_000,
    )
    start, end = float(box(page, "ann-start")), float(box(page, "ann-end"))
    assert start == pytest.approx(a, abs=0.4) and end == pytest.approx(b, abs=0.4)
    assert re.fullmatch(r"\d+\.\d\d", box(page, "ann-start"))  # as the form shows times
    msg = page.locator("#annotate-msg")
    msg.get_by_text(customer).first.wait_for(timeout=10_000)  # the lane's speaker, named
    seeked_to(page, start)  # the player went to the range's start
    assert page.locator("#ann-start").is_visible() and page.locator("#ann-end").is_visible()
    shoot(page, session, "#annotate", "annotation_range")

    # The form came into view; a click on the timeline still seeks (the drag mode did not take
    # clicks away).
    assert page.locator("#ann-add").is_visible()
    page.locator("#timeline").scroll_into_view_if_needed()
    page.wait_for_timeout(300)
    x, y = page.evaluate(LANE_XY_JS, [40.0, customer])
    page.mouse.click(x, y)
    seeked_to(page, 40.0, tol=0.8)

    # The note: type it and press the one button.
    page.locator("#ann-text textarea, #ann-text input").first.fill("customer raises her voice")
    page.locator("#ann-add").click()
    page.locator("#annotate-msg").get_by_text("Annotation saved").wait_for(timeout=15_000)
    page.locator("#annotations").scroll_into_view_if_needed()
    assert column(page, "annotations", 4) == ["customer raises her voice"]
    assert column(page, "annotations", 0) == [f"{start:.2f}"]
    assert column(page, "annotations", 1) == [f"{end:.2f}"]
    [note] = session.store.list_annotations(session.call.id)
    assert (note.kind, note.author, note.speaker) == ("note", USER, customer)
    assert (note.start, note.end) == (pytest.approx(start), pytest.approx(end))


def test_a_dragged_range_is_kept_as_a_coaching_example_in_two_clicks(session):
    page, result = session.page, session.result
    customer = next(s.id for s in result.speakers if s.role == "customer")
    before = len(session.store.list_annotations(session.call.id))
    drag_range(page, 25.0, 30.0, customer)  # click one: the drag
    page.wait_for_function(
        "() => Math.abs(Number(document.querySelector("
        "'#ann-start textarea, #ann-start input').value) - 25) < 0.4",
        timeout=15_000,
    )
    page.locator("#ann-flag").click()  # click two: keep it
    page.locator("#annotate-msg").get_by_text("Annotation saved").wait_for(timeout=15_000)
    kinds = column(page, "annotations", 2)
    assert kinds.count("Coaching example") == 1 and len(kinds) == before + 1
    flagged = [a for a in session.store.list_annotations(session.call.id) if a.kind != "note"]
    assert [(a.kind, a.speaker) for a in flagged] == [("coaching_flag", customer)]
    assert flagged[0].start == pytest.approx(25.0, abs=0.4)
    assert flagged[0].end == pytest.approx(30.0, abs=0.4)
    assert box(page, "ann-start") == ""  # the form is cleared for the next one


def test_scorecard_in_the_summary_and_its_moments_move_the_player(session):
    page, result = session.page, session.result
    assert result.scorecard, "the sample's result has no scorecard"
    card = page.locator("#summary .emo-scorecard")
    assert card.count() == len(result.scorecard)
    text = page.locator("#summary").inner_text()
    agent = next(s.id for s in result.speakers if s.role == "agent")
    composure = result.scorecard[agent]["composure"]
    assert "Scorecard: agent" in text and "composure" in text
    assert f"{composure['value']:.2f}" in text
    links = page.locator("#summary .emo-evidence")
    assert links.count() > 0
    page.evaluate("() => window.emotrace.seek(0)")
    seeked_to(page, 0.0)
    # The latest moment of the agent's composure evidence: far from where the player stands.
    target = max(span[0] for span in composure["evidence"])
    link = page.locator(
        f"#summary .emo-scorecard[data-speaker='{agent}'] "
        f"tr[data-metric='composure'] .emo-evidence[data-seek='{target:.3f}']"
    )
    assert link.count() == 1, "the composure evidence is not linked"
    link.click()
    seeked_to(page, target)
    plays_from(page, target)
    assert state(page)["tag"] == "AUDIO"
    shoot(page, session, "#summary", "scorecard_summary")


def test_emotion_share_filter_narrows_the_library(session, tmp_path):
    page, store = session.page, session.store
    calm = make_result("calm_fake.wav", duration=8.0, angry_customer=False)  # customer never upset
    wav = write_tone_wav(tmp_path / "calm_fake.wav", seconds=8.0)
    store.add_call(calm, wav, uploaded_by=USER)
    page.get_by_role("tab", name="Call library").click()
    search = page.locator("#library-search")
    search.click()
    page.wait_for_function(NAMES_JS, arg=["calm_fake.wav", "sample_call.wav"], timeout=15_000)
    assert set(column(page, "calls", 0)) == {"calm_fake.wav", "sample_call.wav"}

    def choose(elem_id: str, option: str) -> None:
        page.locator(f"#{elem_id} input").first.click()
        page.get_by_role("option", name=option, exact=True).click()

    share = page.locator("#share-min textarea, #share-min input").first
    # The sample's customer sounds angry more than half the time; the fake's customer never does.
    choose("share-emotion", "angry")
    share.fill("20")
    choose("share-role", "the customer")
    search.click()
    page.wait_for_function(NAMES_JS, arg=["sample_call.wav"], timeout=15_000)
    assert column(page, "calls", 0) == ["sample_call.wav"]

    # Customers neutral at least 70 % of the time: only the fake call (the sample's: 42 %).
    choose("share-emotion", "neutral")
    share.fill("70 %")
    search.click()
    page.wait_for_function(NAMES_JS, arg=["calm_fake.wav"], timeout=15_000)
    assert column(page, "calls", 0) == ["calm_fake.wav"]

    # A share that is not one: a plain message, the table as it was and still usable.
    share.fill("lots")
    search.click()
    page.locator("#library-msg").get_by_text("is not a share").wait_for(timeout=15_000)
    assert column(page, "calls", 0) == ["calm_fake.wav"]
    assert "Error" not in page.locator("#calls").inner_text()
