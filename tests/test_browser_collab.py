"""The collab lesson in headless Chromium against a real server (runs train in worker processes): a broken file, the
recipes, lr_find, training, what the model learned, one prediction taken apart, recommendations, and the run's link
opened by someone else. Screenshots under artifacts/."""
import re

import pytest

from tests.conftest import wait_for_app, wait_for_results
from ui.code import SELECTOR as CODE_BLOCKS

pytestmark = pytest.mark.browser


def shot(page, screenshot_dir, text: str, name: str) -> None:
    page.get_by_text(text).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(1200)                        # let plotly draw
    page.screenshot(path=str(screenshot_dir / f"collab_{name}.png"))


def test_journey_in_chromium(app_url, page, browser, screenshot_dir):
    page.goto(f"{app_url}/collab")
    wait_for_app(page, timeout=90_000)
    page.get_by_text("2. The model").wait_for(timeout=60_000)
    assert page.get_by_text("never copied into this app").count() >= 1
    shot(page, screenshot_dir, "The most active users", "data")

    page.get_by_text("My own CSV").click()                                    # a file Excel saved as UTF-16
    page.get_by_text("Upload a CSV of ratings").wait_for(timeout=30_000)
    wait_for_app(page)
    rows = "\n".join(f"{i % 12},film {i % 9},{1 + i % 5}" for i in range(120))
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        files=[{"name": "ratings.csv", "mimeType": "text/csv", "buffer": f"user,movie,rating\n{rows}".encode("utf-16")}])
    page.get_by_text("is saved as UTF-16 text").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "collab_broken_csv.png"))
    page.get_by_text("MovieLens, embedded (offline)").click()
    page.get_by_text("3. Find a learning rate, then train").wait_for(timeout=60_000)
    wait_for_app(page)

    page.get_by_text("Chapter 8: fit_one_cycle(5, 5e-3, wd=0.1)").click()     # a recipe: the code follows
    page.get_by_role("button", name="Train: fit_one_cycle(5, 5e-3, wd=0.1)").wait_for(timeout=30_000)
    wait_for_app(page)
    # The course's code (ui/code.py): coloured on the server, copied whole by its button.
    code = page.locator(CODE_BLOCKS).filter(has_text="collab_learner(dls").first
    assert "learn.fit_one_cycle(5, 5e-3, wd=0.1)" in code.locator("code").inner_text()
    assert code.locator("span.f", has_text="fit_one_cycle").count() == 1
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=app_url)
    code.hover()
    code.get_by_role("button", name="Copy").click()
    code.get_by_role("button", name="Copied").wait_for(timeout=5_000)
    assert page.evaluate("navigator.clipboard.readText()") == code.locator("code").inner_text()
    # On a class's plain-http address there is no clipboard API: the button copies through a selected textarea.
    page.evaluate("""() => { Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true});
                             document.addEventListener('copy', e => { window.__copied = e.target.value; }); }""")
    code.get_by_role("button", name="Copy").wait_for(timeout=5_000)
    code.get_by_role("button", name="Copy").click()
    code.get_by_role("button", name="Copied").wait_for(timeout=5_000)
    assert page.evaluate("window.__copied") == code.locator("code").inner_text()
    shot(page, screenshot_dir, "Start from a recipe", "recipes")
    page.get_by_text("The app's fast default").click()
    page.get_by_role("button", name="Train: fit_one_cycle(5, 1e-2, wd=0.5)").wait_for(timeout=30_000)
    wait_for_app(page)
    page.get_by_text("the 500 most-rated").click()                            # seconds on a shared CPU
    wait_for_app(page, timeout=60_000)

    page.get_by_role("button", name="Run lr_find").click()
    page.get_by_text("Suggested learning rate").wait_for(timeout=120_000)
    wait_for_app(page)
    shot(page, screenshot_dir, "Run lr_find", "lr_find")

    page.get_by_role("button", name=re.compile("Train: fit_one_cycle")).click()
    wait_for_results(page, timeout=300_000)
    shot(page, screenshot_dir, "Trained in", "training")
    shot(page, screenshot_dir, "4. Results", "results")
    assert page.get_by_text("Our model: validation RMSE").count() == 1
    shot(page, screenshot_dir, "Movie biases: liked or disliked", "biases")
    shot(page, screenshot_dir, "A map of the movies", "pca")
    shot(page, screenshot_dir, "6. Predict one rating", "predict")
    shot(page, screenshot_dir, "7. Use it: recommendations", "recommendations")
    shot(page, screenshot_dir, "Or be the new user", "new_user")
    assert page.locator('[data-testid="stException"]').count() == 0

    link = page.url                                                            # ?run=<id>: someone else opens it
    assert "run=" in link
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        other = context.new_page()
        other.goto(link)
        wait_for_app(other, timeout=90_000)
        other.get_by_text("shared with you (read-only)").first.wait_for(timeout=90_000)
        wait_for_app(other)
        assert other.get_by_text("shared with you (read-only)").count() >= 1
        assert other.get_by_role("button", name="Stop").count() == 0
        values = lambda p: p.locator('[data-testid="stMetricValue"]').all_text_contents()   # noqa: E731
        from playwright.sync_api import expect      # the page may still be drawing its sections: wait for them
        expect(other.locator('[data-testid="stMetricValue"]')).to_have_text(values(page), timeout=90_000)
        shot(other, screenshot_dir, "4. Results", "shared_link")
    finally:
        context.close()
