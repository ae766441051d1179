"""The collab lesson in headless Chromium: the course's model trained on the embedded MovieLens, then what it
learned and its recommendations, with screenshots under artifacts/."""
import re

import pytest

from tests.conftest import wait_for_app

pytestmark = pytest.mark.browser


def shot(page, screenshot_dir, text: str, name: str) -> None:
    page.get_by_text(text).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1200)                        # let plotly draw
    page.screenshot(path=str(screenshot_dir / f"collab_{name}.png"))


def test_journey_in_chromium(app_url, page, screenshot_dir):
    page.goto(f"{app_url}/collab")
    wait_for_app(page, timeout=90_000)
    page.get_by_text("2. The model").wait_for(timeout=60_000)
    assert page.get_by_text("never copied into this app").count() >= 1
    shot(page, screenshot_dir, "The most active users", "data")

    page.get_by_role("button", name=re.compile("Train: fit_one_cycle")).click()      # the course's defaults
    page.get_by_text("4. Results").wait_for(timeout=240_000)
    wait_for_app(page)
    shot(page, screenshot_dir, "Finished in", "training")
    shot(page, screenshot_dir, "4. Results", "results")
    assert page.get_by_text("Our model: validation RMSE").count() == 1
    shot(page, screenshot_dir, "Movie biases: liked or disliked", "biases")
    shot(page, screenshot_dir, "Horizontal", "pca")
    shot(page, screenshot_dir, "6. Use it: recommendations", "recommendations")
    shot(page, screenshot_dir, "Or be the new user", "new_user")
    assert page.locator('[data-testid="stException"]').count() == 0
