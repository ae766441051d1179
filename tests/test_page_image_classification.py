"""The "Is it a bird?" page: AppTest through every section to a prediction, bad uploads, and one Chromium journey."""
import io
import re
import zipfile

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.jobs import get_runner
from core.serialize import model_to_bytes
from tests.conftest import wait_for_app
from tests.helpers import open_page, texts

PAGE = "pages/image_classification.py"


def fresh() -> AppTest:
    return open_page(PAGE, timeout=120)


def wait_for_job(at: AppTest, kind: str):
    snap = get_runner().wait(at.session_state[f"job:{kind}"], timeout=300)
    at.run()
    assert not at.exception, at.exception
    return snap


def jpeg(color) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), color).save(buf, format="JPEG")
    return buf.getvalue()


def test_default_page_starts_on_the_embedded_photos_in_the_course_order():
    at = fresh()
    assert "embedded 'Is it a bird?' photos" in texts(at.info)
    assert [h.value.split(" · ")[0] for h in at.header] == ["0", "1", "2", "3", "4", "5"]   # 6-8 need a model
    code = texts(at.code)
    for piece in ("DataBlock(", "RandomSplitter(valid_pct=0.2, seed=42)", "Resize(", "vision_learner", "fine_tune("):
        assert piece in code
    assert "dataloaders(path, bs=16)" in code                          # the batch size this CPU trains with
    assert "Train a model to see" in texts(at.info)


def test_resize_method_changes_the_preview_and_the_code():
    at = fresh()
    at.radio(key="ic_method").set_value("pad").run()
    assert "method='pad'" in texts(at.code)
    assert "black bars" in texts(at.markdown)
    at.radio(key="ic_size").set_value(96).run()
    assert "Resize(96, method='pad')" in texts(at.code)


def test_a_malicious_zip_gets_a_sentence_and_a_good_one_lists_what_was_left_out():
    at = fresh()
    at.radio(key="ic_source").set_value("own").run()
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as z:
        z.writestr("../../escape.jpg", jpeg((1, 2, 3)))
    at.file_uploader(key="ic_zip").set_value(("evil.zip", evil.getvalue(), "application/zip")).run()
    assert not at.exception
    assert "refused" in texts(at.error)
    good = io.BytesIO()
    with zipfile.ZipFile(good, "w") as z:
        for i in range(3):
            z.writestr(f"red/{i}.jpg", jpeg((200 + i, 0, 0)))
            z.writestr(f"blue/{i}.jpg", jpeg((0, 0, 200 + i)))
        z.writestr("blue/notes.jpg", b"this is text")
    at.file_uploader(key="ic_zip").set_value(("good.zip", good.getvalue(), "application/zip")).run()
    assert not at.exception
    assert "1 file(s) were left out" in texts(at.warning)
    assert "blue/notes.jpg" in at.dataframe[0].value["file"].tolist()
    assert "6 images" in texts(at.info)
    assert "get_y=parent_label" in texts(at.code)


@pytest.fixture(scope="module")
def trained_page():
    at = fresh()
    at.radio(key="ic_size").set_value(64).run()
    at.button(key="ic_run_lr_find").click().run()
    lr_snap = wait_for_job(at, "image_lr_find")
    assert lr_snap.status == "done", lr_snap.error
    at.button(key="ic_train").click().run()
    snap = wait_for_job(at, "image_fine_tune")
    assert snap.status == "done", snap.error
    return at


def test_lr_find_then_fine_tune_then_results(trained_page):
    at = trained_page
    assert "Suggested learning rate" in texts(at.success)
    assert "embedded" in texts(at.info) and "efficientnet-lite0" in texts(at.info).lower()   # which weights
    assert [h.value.split(" · ")[0] for h in at.header][-3:] == ["6", "7", "8"]
    assert re.fullmatch(r"\d+\.\d%", at.metric[0].value)
    epochs = at.dataframe[1].value if len(at.dataframe) > 1 else None
    assert epochs is not None and list(epochs["phase"]) == ["frozen", "unfrozen"]
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*", texts(at.markdown))
    assert re.search(r"Batches of 16 photos: .+ about [\d,]+ MiB", texts(at.caption))


def test_picking_a_confusion_cell_shows_its_photos(trained_page):
    at = trained_page
    cell = next(sb for sb in at.selectbox if sb.key and sb.key.startswith("ic_cell_"))
    assert cell.value is None and cell.options, "the matrix has cells to pick"
    assert "that are really" not in texts(at.caption)
    cell.select_index(0).run()
    assert not at.exception
    assert re.search(r"\d+ photo\(s\) that are really \*\*[a-z ]+\*\* and were predicted", texts(at.caption))


def test_export_and_load_back_in_the_page(trained_page):
    at = trained_page
    classifier = get_runner().get(at.session_state["job:image_fine_tune"]).result["classifier"]
    weights, meta = model_to_bytes(classifier.model, classifier.export_meta())
    at.file_uploader(key="ic_up_weights").set_value(("m.safetensors", weights, "application/octet-stream")).run()
    at.file_uploader(key="ic_up_meta").set_value(("m.json", meta, "application/json")).run()
    at.button(key="ic_load").click().run()
    assert not at.exception
    at.radio(key="ic_which_model").set_value("the one you loaded back").run()
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*", texts(at.markdown))


def test_a_broken_photo_in_use_it_gets_a_message(trained_page):
    at = trained_page
    at.file_uploader(key="ic_photo").set_value(("photo.jpg", b"not really a jpeg", "image/jpeg")).run()
    assert not at.exception
    assert "can't be used" in texts(at.error)
    at.file_uploader(key="ic_photo").set_value(None).run()


@pytest.mark.browser
def test_browser_journey_trains_on_the_embedded_photos_and_shows_results(app_url, page, screenshot_dir):
    # in through the front door and the sidebar, as a student would
    page.goto(app_url)
    wait_for_app(page, timeout=90_000)
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Is it a bird?").click()
    page.get_by_text("3 · Learner").wait_for(timeout=120_000)
    page.get_by_text("embedded 'Is it a bird?' photos").first.wait_for()
    # a small image size keeps the CPU run short
    page.locator('[data-testid="stRadio"]').filter(has_text="Resize to").get_by_text("64", exact=True).click()
    wait_for_app(page, timeout=60_000)
    page.locator('[data-testid="stCode"]').filter(has_text="Resize(64, method='squish')").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "image_classification_datablock.png"), full_page=False)

    page.get_by_role("button", name="Train").click()
    page.get_by_text("Training").first.wait_for(timeout=60_000)            # live progress
    page.get_by_text("7 · Results").wait_for(timeout=400_000)
    wait_for_app(page, timeout=60_000)
    assert page.get_by_text("error rate on the validation photos").is_visible()
    assert page.get_by_text("Prediction:").first.is_visible()

    page.get_by_text("6 · What changed inside").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "image_classification_inside.png"))
    # click a cell of the confusion matrix: its photos appear under it
    matrix = page.locator('[data-testid="stPlotlyChart"]').filter(has_text="actual").filter(has_text="predicted")
    counts = [(t or "").strip() for t in matrix.locator(".scatterlayer .textpoint text").all_text_contents()]
    cell = matrix.locator(".scatterlayer .point").nth(next(i for i, c in enumerate(counts) if c != "0"))
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.get_by_text("that are really").wait_for(timeout=30_000)
    wait_for_app(page, timeout=60_000)
    page.get_by_text("Click a cell").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "image_classification_results.png"))
    page.get_by_text("8 · Use it").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "image_classification_use_it.png"))
