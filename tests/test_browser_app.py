"""A newcomer's first minute, in a real browser: the welcome page, the sidebar, moving to a lesson."""
import pytest

from core.lessons import list_lessons
from tests.conftest import app_server, wait_for_app

pytestmark = pytest.mark.browser


def test_a_newcomer_opens_the_app_and_reaches_every_lesson(page, app_url, screenshot_dir):
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_role("heading", name="Lesson 1: play the whole game").wait_for(timeout=30_000)
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Training runs on").wait_for()
    sidebar.get_by_text("Jobs:").wait_for(timeout=120_000)    # the service starts in the background (ui/sidebar.py)
    assert "CPU" in sidebar.inner_text() or "GiB free" in sidebar.inner_text()
    page.wait_for_timeout(1000)                       # let plotly draw before the picture
    page.screenshot(path=str(screenshot_dir / "home.png"), full_page=True)
    links = [round(b["y"]) for b in (e.bounding_box() for e in page.locator('[data-testid="stPageLink"]').all())]
    assert len(links) == len(list_lessons()) and len(set(links[:3])) == 1     # a row of cards: links on one line

    for lesson in list_lessons():
        page.goto(f"{app_url}/{lesson.key}")
        wait_for_app(page)
        page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
        page.wait_for_timeout(500)
        # A link to a lesson, opened directly, must not flash Streamlit's "Page not found" dialog.
        assert page.get_by_text("Page not found").count() == 0, lesson.key
        assert page.locator('[data-testid="stException"]').count() == 0, lesson.key


def test_a_link_to_a_lesson_is_the_first_thing_a_fresh_server_shows(page, tmp_path):
    """Until streamlit_app.py has run once, Streamlit would run a page of pages/ on its own (ui/frame.py)."""
    with app_server(tmp_path, tmp_path) as url:
        page.goto(f"{url}/tabular")
        wait_for_app(page)
        sidebar = page.locator('[data-testid="stSidebar"]')
        sidebar.get_by_text("Training runs on").wait_for(timeout=60_000)
        assert "Welcome" in sidebar.inner_text() and "Is it a bird?" in sidebar.inner_text()
        page.locator('[data-testid="stMain"] h1').first.wait_for(timeout=60_000)
        assert "$50k" in page.locator('[data-testid="stMain"] h1').first.inner_text()


def test_where_the_page_is_narrow_columns_go_one_under_the_other(page, app_url):
    """A laptop window at half its screen, sidebar open: the page's column is ~470 px, too narrow for two tables side
    by side; Streamlit stacks columns only on a narrow screen, ui/frame.py where the page itself is narrow."""
    def tops():
        before = page.get_by_text("before", exact=True).first
        after = page.get_by_text("after Normalize", exact=True).first
        for _ in range(3):                              # a section below the screen is laid out once scrolled to
            after.scroll_into_view_if_needed()
            page.wait_for_timeout(300)
        return before.bounding_box()["y"], after.bounding_box()["y"]

    page.goto(f"{app_url}/tabular")
    wait_for_app(page)
    page.get_by_text("after Normalize", exact=True).first.wait_for(state="attached", timeout=60_000)
    wide_before, wide_after = tops()
    assert abs(wide_before - wide_after) < 5                     # side by side
    page.set_viewport_size({"width": 800, "height": 1000})
    page.wait_for_timeout(500)
    assert page.locator('[data-testid="stSidebar"]').is_visible()
    narrow_before, narrow_after = tops()
    assert narrow_after > narrow_before + 100                    # one under the other


# Each element's text colour and the opacity it is drawn with (its own and its ancestors').
_SEEN_COLOURS = """(selector) => Array.from(document.querySelectorAll(selector)).map((e) => {
    let opacity = 1;
    for (let up = e; up instanceof Element; up = up.parentElement) opacity *= +getComputedStyle(up).opacity;
    return [getComputedStyle(e).color, opacity];
})"""


def _contrast_on_white(css_colour: str, opacity: float = 1.0) -> float:
    """WCAG's contrast ratio against white of text in `rgb(r, g, b)` drawn at `opacity` over white."""
    channels = [int(v) / 255 for v in css_colour[css_colour.index("(") + 1:-1].split(",")[:3]]
    channels = [opacity * c + (1 - opacity) for c in channels]
    r, g, b = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def _accessible(page) -> list[tuple[str, str]]:
    """(role, name) of every node of Chrome's accessibility tree: what a screen reader is given."""
    nodes = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    return [(n.get("role", {}).get("value", ""), n.get("name", {}).get("value", "")) for n in nodes
            if not n.get("ignored")]


@pytest.mark.parametrize("lesson", ["tabular", "image_classification"])
def test_a_screen_reader_finds_every_section_and_the_train_button_and_each_page_has_its_title(page, app_url, lesson):
    """Sections below the screen are skipped while the page first draws (ui/frame.py), and Chrome then leaves them
    out of its accessibility tree; once the page is still, every section is in it, without scrolling."""
    page.goto(f"{app_url}/{lesson}")
    wait_for_app(page)
    page.get_by_role("button", name="Train: ").first.wait_for(timeout=120_000)
    page.wait_for_function("document.documentElement.dataset.l1Settled !== undefined", timeout=30_000)
    sections = page.locator("[class*='st-key-lesson-section-']").count()
    assert sections >= 7
    given = _accessible(page)
    headings = [name for role, name in given if role == "heading"]
    for n in range(1, sections + 1):
        assert any(name.startswith(f"{n}. ") for name in headings), (n, headings)
    assert any(role == "button" and name.startswith("Train: ") for role, name in given)
    captions = page.evaluate(_SEEN_COLOURS, "[data-testid=stCaptionContainer] p")
    assert captions and all(_contrast_on_white(*seen) >= 4.5 for seen in captions)      # WCAG AA for small text
    title = next(lesson_.title for lesson_ in list_lessons() if lesson_.key == lesson)
    assert page.title() == f"{title} · Lesson 1"

    page.locator('[data-testid="stSidebar"]').get_by_role("link", name="Welcome").click()
    page.get_by_role("heading", name="Lesson 1: play the whole game").wait_for(timeout=30_000)
    page.wait_for_function("document.title === 'Welcome · Lesson 1'", timeout=10_000)
