"""The live panel in a real browser (ui/live_panel.py): a lesson's ready-made run replays in it; while a run trains,
the student's browser polls the server's route and draws the progress line, the epoch table and the loss chart
itself, with no Streamlit rerun; someone opening the link watches without a Stop button; Stop from the owner stops
it and the page draws the results."""
import re
import time

import pytest

from tests.conftest import ROOT, app_server, wait_for_app, wait_for_results

pytestmark = pytest.mark.browser



def panel(page):
    """The live panel (the sidebar's job counts are a component too, ui/job_counts.py; a run that has ended keeps its
    loss chart, drawn by the same component, still: div.live.still)."""
    return page.locator('[data-testid="stBidiComponentIsolated"]').filter(has=page.locator(LIVE))


LIVE = "div.live:not(.still)"


def test_a_run_is_watched_without_reruns_and_stopped_by_its_owner(browser, page, app_url, screenshot_dir):
    asked = []               # messages the browser sends Streamlit: a fragment polling every 2 s sends one each time
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: asked.append(time.monotonic())))
    page.goto(f"{app_url}/image_classification")       # the bird lesson's default run: ~50 s on a 2-core CPU
    train = page.get_by_role("button", name=re.compile(r"^Train: fine_tune"))
    train.wait_for(timeout=180_000)
    wait_for_app(page, timeout=90_000)
    train.click()
    line = page.get_by_text(re.compile("^Training — epoch"))
    line.wait_for(timeout=120_000)
    assert panel(page).count() == 1                                 # drawn by the component, not by st.progress
    page.get_by_role("img", name="Loss as training goes").wait_for(timeout=60_000)
    wait_for_app(page, timeout=60_000)
    since = time.monotonic()
    first = line.inner_text()
    page.wait_for_function("(t) => !Array.from(document.querySelectorAll('[data-testid=stBidiComponentIsolated]'))"
                           ".some(e => e.shadowRoot && e.shadowRoot.textContent.includes(t))", arg=first,
                           timeout=30_000)                        # the line moved on...
    page.wait_for_timeout(max(0, 6_000 - 1000 * (time.monotonic() - since)))
    assert [t for t in asked if t > since] == []                    # ...without asking Streamlit (nor the sidebar)
    assert panel(page).get_by_role("progressbar", name="Training progress").count() == 1     # for screen readers:
    assert panel(page).get_by_role("status").inner_text().startswith("Training, epoch")     # said as epochs pass
    page.locator("table.epochs tbody tr").first.wait_for(timeout=60_000)   # an epoch ended: its row is in the table
    points = page.locator("polyline").nth(1).get_attribute("points")
    assert len(points.split()) >= 2
    panel(page).evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(screenshot_dir / "live_panel_training.png"))
    assert page.locator(LIVE).count() == 1
    assert "1 training" in page.locator('[data-testid="stSidebar"] p.jobs').inner_text()   # the browser asked

    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()     # someone given the link
    other.goto(page.url)
    other.get_by_text("Someone else's run: you are watching it.").wait_for(timeout=90_000)
    other.get_by_text(re.compile("^Training — epoch")).wait_for(timeout=30_000)
    assert panel(other).get_by_role("button", name="Stop").count() == 0
    answer = other.request.get(f"{app_url}/lesson1-api/live/{page.url.split('run=')[1]}?token=forged")
    assert answer.status == 403

    panel(page).get_by_role("button", name="Stop").focus()
    page.keyboard.press("Enter")                                    # from the keyboard: the focus stays on it
    panel(page).get_by_role("button", name="Stopping…").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)                                     # the page's rerun for Stop draws the panel again
    if panel(page).count():
        assert panel(page).evaluate("e => e.shadowRoot.activeElement && e.shadowRoot.activeElement.textContent") \
            == "Stopping…"
    page.get_by_text("Stopped. What it had trained before then is kept").first.wait_for(timeout=90_000)
    other.get_by_text("Stopped. What it had trained before then is kept").first.wait_for(timeout=90_000)   # theirs too
    wait_for_app(page, timeout=60_000)
    assert panel(page).count() == 0 and page.locator('[data-testid="stException"]').count() == 0
    chart = page.locator("div.live.still").filter(has=page.get_by_role("img", name="Loss as training goes"))
    assert chart.count() == 1 and chart.locator("polyline").count() >= 2       # the chart it watched, kept still
    page.screenshot(path=str(screenshot_dir / "live_panel_stopped.png"))
    other.context.close()


def test_a_lessons_ready_made_run_replays_in_the_same_panel(page, tmp_path):
    """The lesson opens on its shipped ready-made run (the other journeys' server has none), replayed at 10x: the
    browser keeps the replay's clock and asks the route for the run as it stood; the page reruns once at the end."""
    asked = []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: asked.append(time.monotonic())))
    with app_server(tmp_path, tmp_path / "runs", env={"LESSON1_READYMADE_DIR": str(ROOT / "readymade")}) as url:
        page.goto(url)                                     # once the server has warmed up, the sidebar polls
        page.locator('[data-testid="stSidebar"]').get_by_text("Training runs on").wait_for(timeout=90_000)
        page.goto(f"{url}/image_classification")           # at most every 30 s beside a live panel
        line = page.locator("div.live .line").first
        line.wait_for(state="attached", timeout=120_000)
        since = time.monotonic()
        assert line.text_content().startswith("Replaying — ")
        wait_for_results(page, timeout=60_000)                  # it ended: the results drawn
        replayed_for = time.monotonic() - since
        assert page.locator(LIVE).count() == 0 and page.get_by_text("Trained in").count() == 1
        assert page.locator("div.live.still polyline").count() >= 2             # its loss chart, still
        assert len([t for t in asked if t > since]) <= 2 + replayed_for / 30   # its end, the sidebar's poll


def test_for_less_motion_a_ready_made_run_shows_finished_at_once_and_stays_so(browser, tmp_path):
    """A system asking for reduced motion gets the ready-made run's results without the 10x replay; the server's
    own clock for the replay (which still says 'playing') follows the browser's, so the page does not replay again."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, reduced_motion="reduce")
    page = context.new_page()
    asked, replayed_at = [], []
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: asked.append(time.monotonic())))
    page.on("request", lambda r: replayed_at.extend(re.findall(r"[?&]at=([0-9.e+]+)", r.url)))
    try:
        with app_server(tmp_path, tmp_path / "runs", env={"LESSON1_READYMADE_DIR": str(ROOT / "readymade")}) as url:
            page.goto(url)
            page.locator('[data-testid="stSidebar"]').get_by_text("Training runs on").wait_for(timeout=90_000)
            page.goto(f"{url}/image_classification")
            page.locator("div.live .line").first.wait_for(state="attached", timeout=120_000)
            wait_for_results(page, timeout=60_000)
            assert page.locator(LIVE).count() == 0 and page.get_by_text("Trained in").count() == 1
            settled = time.monotonic()
            page.wait_for_timeout(4000)
            assert page.locator(LIVE).count() == 0                # not replaying again
            assert len([t for t in asked if t > settled]) <= 1    # nor rerunning over and over
            assert [float(at) for at in replayed_at] == [1e12]    # its end asked for once (the server's clock had
                                                                  # drawn the panel again until its own replay ended)
    finally:
        context.close()
