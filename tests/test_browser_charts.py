"""Charts drawn when the student scrolls near them (ui/charts.py), in a real browser: nothing drawn far below the
window, then every chart that comes near, two side by side at the same moment included, and a chart that answers
clicks, whose click reaches the page."""
import pytest

from tests.conftest import serve_test_page, wait_for_app

pytestmark = pytest.mark.browser

DRAWN = "[data-testid='stPlotlyChart'] .main-svg"


@pytest.fixture(scope="module")
def charts_url(tmp_path_factory):
    with serve_test_page(tmp_path_factory, "tests/apps/charts_far_down.py") as url:
        yield url


def scroll_to(page, key: str) -> None:
    """One jump of the page's own scrolling area (Streamlit's main), as a scrollbar dragged or a link followed."""
    page.locator(f".st-key-{key}-seen").evaluate("""e => {
        const main = e.closest('[data-testid=stMain]');
        main.scrollTop += e.getBoundingClientRect().top - 200;
    }""")


def test_charts_far_below_wait_and_two_that_come_near_together_are_both_drawn(page, charts_url):
    page.goto(charts_url)
    page.get_by_text("Charts far down").wait_for(timeout=60_000)
    wait_for_app(page)
    page.wait_for_timeout(1000)
    assert page.locator(DRAWN).count() == 0                         # screens below the window: stand-ins only
    stand_in = page.locator(".st-key-left-seen").bounding_box()
    assert stand_in["height"] == pytest.approx(300, abs=2)          # of the chart's height: nothing jumps

    scroll_to(page, "left")        # both come near in one moment: one message, had they spoken at once
    for key in ("left", "right"):
        page.locator(f".st-key-{key} .main-svg").first.wait_for(timeout=15_000)
    assert page.locator(".st-key-last .main-svg").count() == 0      # still 3000 px further down

    scroll_to(page, "last")
    page.locator(".st-key-last .main-svg").first.wait_for(timeout=15_000)
    assert page.locator(DRAWN).count() >= 3


def test_a_chart_that_answers_clicks_waits_too_and_its_click_reaches_the_page(page, charts_url):
    page.goto(charts_url)
    page.get_by_text("Charts far down").wait_for(timeout=60_000)
    wait_for_app(page)
    page.wait_for_timeout(1000)
    assert page.locator(".st-key-click .main-svg").count() == 0
    page.get_by_text("Clicked: nothing").wait_for()

    scroll_to(page, "click")                            # its stand-in reruns the page, which reads the selection
    bar = page.locator(".st-key-click .barlayer .point path").nth(1)
    bar.wait_for(timeout=15_000)
    box = bar.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("Clicked: b").wait_for(timeout=15_000)


def test_a_chart_in_a_narrow_place_is_drawn_from_its_narrow_figure(page, charts_url):
    """The stand-in measures its width: a column half the page wide gets the narrow figure, the page's width not."""
    page.goto(charts_url)
    page.get_by_text("Charts far down").wait_for(timeout=60_000)
    wait_for_app(page)
    scroll_to(page, "left")
    page.locator(".st-key-left .main-svg").first.wait_for(timeout=15_000)
    assert page.locator(".st-key-left-seen").bounding_box()["width"] < 560
    assert page.locator(".st-key-left .main-svg").first.bounding_box()["height"] == pytest.approx(420, abs=2)
    scroll_to(page, "last")
    page.locator(".st-key-last .main-svg").first.wait_for(timeout=15_000)
    assert page.locator(".st-key-last .main-svg").first.bounding_box()["height"] == pytest.approx(450, abs=2)
