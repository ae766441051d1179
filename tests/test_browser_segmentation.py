"""The segmentation lesson in a real browser: look at the data, refuse a bad zip, train on the embedded scenes in a
worker process, see truth next to prediction and the confidence map, click a class in the IoU chart, paint a photo
of your own, and open the run's link as someone else. Screenshots go to artifacts/segmentation_*.png."""
import pytest

from tests.conftest import ROOT, chart_in_view, type_number, wait_for_app, wait_for_results
from tests.test_segmentation_upload import GOOD, mutate

pytestmark = pytest.mark.browser


def shot(page, screenshot_dir, text: str, name: str, wait: int = 1500) -> None:
    page.get_by_text(text).first.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(wait)                         # let images and plotly draw
    page.screenshot(path=str(screenshot_dir / f"segmentation_{name}.png"))


def test_journey_in_chromium(app_url, page, browser, screenshot_dir):
    page.goto(f"{app_url}/segmentation")
    wait_for_app(page, timeout=90_000)
    page.get_by_text("1. The data: photos and their masks").wait_for(timeout=60_000)
    page.get_by_text("embedded 'Scenes'").first.wait_for(timeout=30_000)
    shot(page, screenshot_dir, "show_batch", "data")

    page.get_by_text("My own photos and masks (a zip)").click()                   # a zip with a missing mask
    page.get_by_text("Upload a zip to train").wait_for(timeout=30_000)
    wait_for_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        files=[{"name": "mine.zip", "mimeType": "application/zip",
                "buffer": mutate(GOOD, {"labels/f02_P.png": None})}])
    page.get_by_text("f02.png has no mask").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "segmentation_bad_zip.png"))
    page.get_by_text("Scenes (embedded photos, works offline)").click()
    page.get_by_text("2. The model: a U-Net").wait_for(timeout=60_000)
    wait_for_app(page)
    shot(page, screenshot_dir, "2. The model: a U-Net", "model")

    # small settings so the journey stays short on a shared CPU; the defaults are measured by the benchmark
    page.locator('[data-testid="stRadio"]').filter(has_text="Resize to").get_by_text("64", exact=True).click()
    wait_for_app(page)
    type_number(page, "Epochs after unfreezing", 2, page.get_by_text("learn.fine_tune(2").first)
    page.get_by_role("button", name="Train: fine_tune(2").click()
    page.get_by_text("Training —").first.wait_for(timeout=90_000)
    page.wait_for_timeout(3000)
    shot(page, screenshot_dir, "Training —", "training", wait=500)

    wait_for_results(page, timeout=400_000)
    assert page.get_by_text("ImageNet weights").count() >= 1
    shot(page, screenshot_dir, "5. What changed inside", "inside")
    calibration = page.locator(".st-key-seg_reliability [data-testid='stPlotlyChart']")
    assert calibration.count() == 0                 # screens below the window: a stand-in until scrolled near
    shot(page, screenshot_dir, "6. Results: truth vs prediction", "results")
    shot(page, screenshot_dir, "7. How sure is it?", "confidence")
    shot(page, screenshot_dir, "Can we trust its confidence?", "calibration")
    calibration.locator(".main-svg").first.wait_for(timeout=15_000)            # drawn once the student got near

    page.get_by_text("8. Each class on its own: IoU").first.evaluate("e => e.scrollIntoView({block: 'start'})")
    columns = chart_in_view(page, "seg_iou").locator(".barlayer .trace").first.locator(".point path")
    page.wait_for_timeout(1000)
    box = columns.nth(1).bounding_box()                             # the second class's column (animal), whatever its IoU
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)   # plotly listens on the whole plot
    page.wait_for_timeout(300)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("is worst, lowest IoU first").wait_for(timeout=30_000)
    wait_for_app(page)
    shot(page, screenshot_dir, "is worst, lowest IoU first", "iou_click")

    # Use it: the three choices of photo on one line, and the photo's full-screen button (Streamlit shows it on hover,
    # just above the picture) clear of the photo list, whose arrow it covered.
    choices = page.locator(".st-key-seg_where [role=radiogroup] label")
    assert len({round(choices.nth(i).bounding_box()["y"]) for i in range(choices.count())}) == 1
    photo = page.locator("[data-testid=stImage]").filter(has=page.get_by_text("the photo", exact=True)).first
    photo.hover()                                                                      # scrolled to, if need be
    page.wait_for_timeout(500)
    photo_list = page.locator(".st-key-seg_example .react-aria-ComboBox").bounding_box()          # its box and arrow
    button = photo.evaluate("e => { const bar = e.closest('.stElementContainer').querySelector("
                            "'[data-testid=stElementToolbar]'); return [bar.getBoundingClientRect().toJSON(), "
                            "getComputedStyle(bar).opacity]; }")
    assert button[1] != "0" and button[0]["y"] >= photo_list["y"] + photo_list["height"], (button, photo_list)

    page.locator(".st-key-seg_where").get_by_text("Upload a photo", exact=True).click()      # ui/photos.pick_photo
    uploader = page.locator('[data-testid="stFileUploader"]').filter(has_text="Your photo")
    uploader.locator('input[type="file"]').set_input_files(
        files=[{"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"this is not a photo"}])
    page.get_by_text("That photo can't be used").wait_for(timeout=60_000)
    uploader.locator('input[type="file"]').set_input_files(files=[str(ROOT / "datasets/birds/images/birds_crow_0.jpg")])
    page.get_by_text("its confidence, pixel by pixel").wait_for(timeout=60_000)
    wait_for_app(page)
    shot(page, screenshot_dir, "9. Use it", "use_it")
    assert page.locator('[data-testid="stException"]').count() == 0

    link = page.url                                                                # ?run=<id>
    assert "run=" in link
    other = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()   # someone else
    other.goto(link)
    wait_for_app(other, timeout=90_000)
    other.get_by_text("shared with you (read-only)").wait_for(timeout=90_000)
    wait_for_app(other, timeout=90_000)                  # (while a script runs, Streamlit's own header has a Stop)
    shot(other, screenshot_dir, "6. Results: truth vs prediction", "shared_link")
    assert other.get_by_text("shared with you (read-only)").count() == 1
    assert other.locator('[data-testid="stMain"]').get_by_role("button", name="Stop", exact=True).count() == 0
    other.context.close()
