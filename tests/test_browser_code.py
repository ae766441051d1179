"""Code blocks (ui/code.py) in a real browser: a line cut by a narrow column shows a shadow at the edge it goes on
past, and only there; a block that fits shows none."""
import io

import numpy as np
import pytest
from PIL import Image

from tests.conftest import app_server, wait_for_app

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def code_url(tmp_path_factory):
    with app_server(tmp_path_factory.mktemp("server"), tmp_path_factory.mktemp("runs"),
                    script="tests/apps/code_blocks.py") as url:
        yield url


def edges(pre) -> tuple[float, float, float]:
    """(left edge, middle, right edge): the mean brightness of the block's top padding there, above any text."""
    grey = np.asarray(Image.open(io.BytesIO(pre.screenshot())).convert("L"), dtype=float)
    band = grey[3:9]                                  # the top padding (1rem): background only
    return band[:, 2:6].mean(), band[:, band.shape[1] // 2].mean(), band[:, -6:-2].mean()


def test_a_cut_line_shows_a_shadow_where_it_goes_on(page, code_url, screenshot_dir):
    page.goto(code_url)
    page.get_by_text("Code blocks").first.wait_for(timeout=60_000)
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
