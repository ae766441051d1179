"""Narrow places in a real browser: a code block (ui/code.py) whose line a narrow column cuts shows a shadow at the edge
it goes on past, and only there, and a block that fits shows none; a drawing with a narrow layout (ui/images.drawing)
shows it in a narrow column and its wide one across the page."""
import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import serve_test_page, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def narrow_url(tmp_path_factory):
    with serve_test_page(tmp_path_factory, "tests/apps/narrow_places.py") as url:
        yield url


def edges(pre) -> tuple[float, float, float]:
    """(left edge, middle, right edge): the mean brightness of the block's top padding there, above any text."""
    grey = np.asarray(Image.open(io.BytesIO(pre.screenshot())).convert("L"), dtype=float)
    band = grey[3:9]                                  # the top padding (1rem): background only
    return band[:, 2:6].mean(), band[:, band.shape[1] // 2].mean(), band[:, -6:-2].mean()


def test_a_cut_line_shows_a_shadow_where_it_goes_on(page, narrow_url, screenshot_dir):
    page.goto(narrow_url)
    page.get_by_text("Narrow places").first.wait_for(timeout=60_000)
    wait_for_app(page)
    long, short = (page.locator(f".st-key-lesson1-code-{key} pre") for key in ("long", "short"))
    long.wait_for(timeout=30_000)
    assert long.evaluate("e => e.scrollWidth > e.clientWidth + 20")          # the line is cut
    left, middle, right = edges(long)
    assert right < middle - 4 and abs(left - middle) < 1.5                   # more to the right, none to the left

    long.evaluate("e => { e.scrollLeft = e.scrollWidth; }")                  # read to the line's end
    page.wait_for_timeout(200)
    left, middle, right = edges(long)
    assert left < middle - 4 and abs(right - middle) < 1.5
    page.screenshot(path=str(screenshot_dir / "code_block_scrolled.png"))

    left, middle, right = edges(short)                                       # fits: no shadow at all
    assert abs(left - middle) < 1.5 and abs(right - middle) < 1.5


def test_a_drawing_takes_its_narrow_layout_in_a_narrow_column(page, narrow_url, screenshot_dir):
    page.goto(narrow_url)
    page.get_by_text("Narrow places").first.wait_for(timeout=60_000)
    wait_for_app(page)
    loops = page.locator("svg[aria-label^=\"Samuel's loop\"]:visible")
    loops.first.wait_for(timeout=30_000)
    assert loops.count() == 3                                                # one of each pair shows
    column, across = (loops.nth(i) for i in range(2))
    assert column.get_by_text("in a column").count() == 1 and across.get_by_text("across").count() == 1
    tall = column.bounding_box()
    wide = across.bounding_box()
    assert tall["height"] > tall["width"] * 0.9 and wide["width"] > wide["height"] * 2   # tall in the column
    # in half of a test page (~350 px), the loop's numbers read at 12 px or more (the wide loop shrunk to fit: 6 px)
    size = column.get_by_text("in a column").evaluate(
        "t => parseFloat(getComputedStyle(t).fontSize) * Math.hypot(t.getScreenCTM().a, t.getScreenCTM().b)")
    assert size >= 12
    column.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "narrow_place_loop.png"))


def test_a_drawing_last_in_its_section_is_not_cut(page, narrow_url):
    """Streamlit takes a markdown element's last 1rem back (a paragraph's margin); a drawing has none, so without its
    own margin its bottom hung out of its element, and a lesson section's paint containment cut it off (the loop's
    'update' box lost its bottom edge on How training works)."""
    page.goto(narrow_url)
    page.get_by_text("After the section.").first.wait_for(timeout=60_000)
    wait_for_app(page)
    drawing = page.locator(".st-key-lesson-section-9 svg:visible").first
    drawing.scroll_into_view_if_needed()
    shown, section = drawing.bounding_box(), page.locator(".st-key-lesson-section-9").bounding_box()
    assert shown["height"] > 100
    assert shown["y"] + shown["height"] <= section["y"] + section["height"] + 0.5


def test_a_table_cut_by_its_column_shows_a_shadow_where_it_goes_on(page, narrow_url):
    page.goto(narrow_url)
    page.get_by_text("After the section.").first.wait_for(timeout=60_000)
    wait_for_app(page)
    table = page.locator(".l1-table").last                                   # blank cells: only the shadow shows
    table.scroll_into_view_if_needed()
    assert table.evaluate("e => e.scrollWidth > e.clientWidth + 20")          # cut
    grey = np.asarray(Image.open(io.BytesIO(table.screenshot())).convert("L"), dtype=float)
    middle = grey[grey.shape[0] // 2 - 3: grey.shape[0] // 2 + 3]
    assert middle[:, -5:-1].mean() < middle[:, middle.shape[1] // 2].mean() - 4          # shaded on the right
    assert abs(middle[:, 1:5].mean() - middle[:, middle.shape[1] // 2].mean()) < 1.5     # not on the left
