"""The confusion matrix (ui/matrix.py) in a real browser: a click on a cell reaches the page and outlines the cell,
an empty cell cannot be clicked, class names stay text, and twenty classes fit a laptop's column."""
import pytest

from tests.conftest import serve_test_page, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def matrix_url(tmp_path_factory):
    with serve_test_page(tmp_path_factory, "tests/apps/matrix_page.py") as url:
        yield url


def test_a_click_on_a_cell_reaches_the_page_and_names_stay_text(page, matrix_url, screenshot_dir):
    page.goto(matrix_url)
    page.get_by_text("Clicked: None").wait_for(timeout=60_000)
    wait_for_app(page)
    small = page.locator(".st-key-small .cm")
    assert small.locator("button").all_text_contents() == ["5", "0", "2", "7"]
    assert small.locator("b").count() == 0 and small.get_by_text("<b>not</b> bird").count() == 2   # row and column
    assert small.locator("button").nth(1).is_disabled()                                           # no items in it
    small.get_by_role("button", name="really <b>not</b> bird, predicted bird: 2 photos (click to see them)").click()
    page.get_by_text("Clicked: (1, 0)").wait_for(timeout=15_000)
    assert small.locator("button.selected").all_text_contents() == ["2"]

    many = page.locator(".st-key-many .cm")
    many.scroll_into_view_if_needed()
    assert many.locator("button").count() == 400
    assert many.locator("table").bounding_box()["width"] < 1000                   # small cells, names upright
    page.screenshot(path=str(screenshot_dir / "matrix_twenty_classes.png"))
