"""The segmentation lesson in a real browser: look at the data, train on the embedded scenes, see truth next to
prediction, refuse a bad photo and paint a good one. Screenshots go to artifacts/segmentation_*.png."""
import pytest

from tests.conftest import ROOT, wait_for_app

pytestmark = pytest.mark.browser


def test_journey_in_chromium(app_url, page, screenshot_dir):
    page.goto(f"{app_url}/segmentation")
    wait_for_app(page, timeout=90_000)
    page.get_by_text("1 · The data: photos and their masks").wait_for(timeout=60_000)
    page.get_by_text("embedded 'Scenes'").first.wait_for(timeout=30_000)
    page.get_by_text("show_batch").first.scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "segmentation_data.png"))

    # small settings so the journey stays short on a shared CPU; the defaults are measured by the benchmark
    page.locator('[data-testid="stRadio"]').filter(has_text="Resize to").get_by_text("96", exact=True).click()
    wait_for_app(page)
    epochs = page.get_by_role("spinbutton", name="Epochs after unfreezing")
    epochs.fill("2")
    epochs.press("Enter")
    wait_for_app(page)
    page.get_by_text("learn.fine_tune(2").first.wait_for(timeout=30_000)
    page.get_by_role("button", name="Train").click()
    page.get_by_text("Training —").first.wait_for(timeout=60_000)
    page.wait_for_timeout(4000)
    page.get_by_text("Training —").first.scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "segmentation_training.png"))

    page.get_by_text("5 · Results: truth vs prediction").wait_for(timeout=400_000)
    wait_for_app(page, timeout=60_000)
    assert page.get_by_text("ImageNet weights").count() >= 1
    page.get_by_text("5 · Results: truth vs prediction").scroll_into_view_if_needed()
    page.wait_for_timeout(2000)
    page.screenshot(path=str(screenshot_dir / "segmentation_results.png"))
    page.get_by_text("Top losses: the photos it got most wrong").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "segmentation_top_losses.png"))

    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Your photo")
    uploader.locator('input[type="file"]').set_input_files(
        files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"this is not a photo"}])
    page.get_by_text("That file can't be used").wait_for(timeout=60_000)
    page.get_by_text("That file can't be used").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "segmentation_bad_upload.png"))
    uploader.locator('input[type="file"]').set_input_files(
        files=[str(ROOT / "datasets/birds/images/birds_crow_0.jpg")])
    page.get_by_text("the model's classes over the photo").wait_for(timeout=60_000)
    wait_for_app(page)
    page.get_by_text("6 · Use it").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "segmentation_use_it.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
