"""The "Is it a bird?" page: AppTest through every section to a prediction, bad input of every kind, a shared link
after a restart and after many later runs, and Chromium journeys (training, the link in another browser, what the
model looks at)."""
import html
import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.backends import make_backend
from core.runs import RunStore
from core.service import TrainingService, set_service
from core.vision.jobs import load_run
from core.serialize import model_to_bytes
from tests.conftest import wait_for_app, wait_for_results
from tests.helpers import code_blocks, matrices, open_page, tables, texts
from ui import runs as ui_runs
from ui.code import SELECTOR as CODE_BLOCKS

PAGE = "pages/image_classification.py"
LESSON = "image_classification"


@pytest.fixture(scope="module", autouse=True)
def offline_cpu_service(module_service):
    """The module's service, on the CPU and offline (as CI is: no probe of the internet waits for a timeout)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LESSON1_DEVICE", "cpu")
        patch.setenv("LESSON1_OFFLINE", "1")
        yield module_service


def fresh(query: dict | None = None) -> AppTest:
    return open_page(PAGE, timeout=180, query=query)


def headers(at) -> list[str]:
    return [h.value for h in at.header]


def numbers(at) -> list[int]:
    return [int(h.split(".")[0]) for h in headers(at)]


def image_captions(at) -> str:
    return "\n".join(c for img in at.get("image") for c in img.captions)


def jpeg(color, size=(30, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="JPEG")
    return buf.getvalue()


def png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def make_zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


def own_zip(at, files: dict[str, bytes], name="mine.zip") -> AppTest:
    at.radio(key="ic_source").set_value("own").run()
    at.file_uploader(key="ic_zip").set_value((name, make_zip(files), "application/zip")).run()
    assert not at.exception, at.exception
    return at


# ---- before training ---------------------------------------------------------------------------------------------
def test_default_page_starts_on_the_embedded_photos_in_the_course_order():
    at = fresh()
    assert "embedded 'Is it a bird?' photos" in texts(at.info)
    assert headers(at) == ["1. The photos", "2. DataBlock: tell fastai what the data is",
                           "3. show_batch: look at your data", "4. Learner: start from a pretrained model",
                           "5. lr_find, then train", "6. What changed inside",
                           "7. Results: where is it right, where is it wrong?", "8. What the model looks at",
                           "9. Use it", "10. Export it and load it back"]           # numbered already as after training
    code = texts(code_blocks(at))
    assert "group_splitter(valid_pct=0.2, seed=42, group=stamp)" in code      # the split really is by group
    assert "RandomResizedCropGPU(224, min_scale=0.75), Flip()" in code and "not aug_transforms()" in code
    assert "dataloaders(path, bs=16)" in code                                  # the batch size this CPU trains with
    assert "vision_learner" in code and "learn.fine_tune(1, base_lr=0.01)" in code
    assert "learn.fine_tune(3)" in texts(at.markdown) and "under a minute on a 2-core CPU" in texts(at.markdown)
    assert "Shown once a model is trained above." in texts(at.caption)


def test_under_a_class_limit_of_two_epochs_the_page_does_not_ask_for_the_courses_three(module_service):
    from core.classroom import ClassLimits, limits_path, set_limits
    assert "Set 3 epochs for the course's recipe." in texts(fresh().markdown)
    set_limits(ClassLimits(epochs=2), module_service.store.root)
    try:
        at = fresh()
        assert at.number_input(key="ic_epochs").max == 1                  # 2, the frozen one included
        assert "Set 3 epochs" not in texts(at.markdown) and "more than your class allows" in texts(at.markdown)
        assert "Your class allows at most 2 epochs per run, the frozen one included." in texts(at.caption)
        set_limits(ClassLimits(image_size=128), module_service.store.root)
        at = fresh({"size": "224"})                    # a link, or a run opened, trained at more than the class allows
        assert "Resize(128" in texts(code_blocks(at)) and "Resize(224" not in texts(code_blocks(at))
        assert ("Your class allows images of at most 128 pixels, so Train uses 128 px here, not the 224 px it was set "
                "to. Your instructor sets the class's limits.") in texts(at.caption)
    finally:
        limits_path(module_service.store.root).unlink()


def test_resize_method_changes_the_preview_and_the_code():
    at = fresh()
    at.radio(key="ic_method").set_value("pad").run()
    assert "method='pad'" in texts(code_blocks(at))
    assert "black bars" in texts(at.markdown)
    at.radio(key="ic_size").set_value(96).run()
    assert "Resize(96, method='pad')" in texts(code_blocks(at))


def test_the_recipe_and_random_weights_are_said_in_the_code_and_out_loud():
    at = fresh()
    at.radio(key="ic_recipe").set_value("fit_one_cycle").run()
    assert "learn.fit_one_cycle(1, 0.01)" in texts(code_blocks(at))
    at.toggle(key="ic_pretrained").set_value(False).run()
    assert "random weights" in texts(at.warning) and "pretrained=False" in texts(code_blocks(at))


def test_settings_in_the_url_fill_the_controls_and_odd_ones_are_ignored_with_a_sentence():
    at = fresh({"size": "96", "seed": "7", "epochs": "3", "lr": "0.002", "recipe": "fit_one_cycle"})
    assert at.radio(key="ic_size").value == 96 and at.number_input(key="ic_seed").value == 7
    assert at.number_input(key="ic_epochs").value == 3 and at.select_slider(key="ic_lr").value == 0.002
    assert "learn.fit_one_cycle(3, 0.002)" in texts(code_blocks(at))
    odd = fresh({"size": "99999", "method": "<b>x</b>", "seed": "-3", "pretrained": "maybe"})
    assert "left at their defaults: size, method, seed, pretrained" in texts(odd.warning)
    assert odd.radio(key="ic_size").value == 224 and odd.radio(key="ic_method").value == "squish"


def test_a_malicious_zip_gets_a_sentence_and_a_good_one_lists_what_was_left_out():
    at = fresh()
    own_zip(at, {"../../escape.jpg": jpeg((1, 2, 3)), "bird/a.jpg": jpeg((9, 9, 9))}, "evil.zip")
    assert "points outside the archive" in texts(at.error)
    good = {f"red/{i}.jpg": jpeg((200 + i, 0, 0)) for i in range(3)}
    good.update({f"blue/{i}.jpg": jpeg((0, 0, 200 + i)) for i in range(3)})
    good["blue/notes.jpg"] = b"this is text"
    own_zip(at, good, "good.zip")
    assert "1 file(s) were left out" in texts(at.warning)
    assert "blue/notes.jpg" in next(t for t in tables(at) if "file" in t.columns)["file"].tolist()
    assert "6 images in 2 classes" in texts(at.info)
    assert "get_y=parent_label" in texts(code_blocks(at)) and "RandomSplitter(valid_pct=0.2, seed=42)" in texts(code_blocks(at))


def test_odd_photos_are_shown_not_crashed_on_and_names_are_text_not_markup():
    """A 60000 x 1 strip, a 16-bit greyscale PNG, and class folders named like markup."""
    strip = png(Image.new("RGB", (60000, 1), (250, 10, 10)))
    ramp = Image.fromarray((np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) * 16))   # 16-bit, 0..65520
    files = {"**bold** $x$/strip.png": strip, "**bold** $x$/ramp.png": png(ramp),
             "**bold** $x$/c.jpg": jpeg((1, 200, 1)),
             ":red[alert]/a.jpg": jpeg((10, 10, 10)), ":red[alert]/b.jpg": jpeg((20, 20, 20))}
    at = fresh()
    own_zip(at, files)
    assert not at.error, texts(at.error)
    assert "1. The photos" in headers(at) and "3. show_batch: look at your data" in headers(at)
    shown = image_captions(at)
    assert "\\*\\*bold\\*\\* \\$x\\$" in shown and "\\:red\\[alert\\]" in shown   # escaped: shown as written
    assert "**bold**" not in shown.replace("\\*", "")


def test_the_web_search_says_why_it_is_unavailable_offline():
    at = fresh()
    at.radio(key="ic_source").set_value("own").run()
    assert "this server is offline" in texts(at.info) or "not installed" in texts(at.info)
    assert not [b for b in at.button if b.key == "ic_web_go"]


def test_photos_found_on_the_web_become_the_lessons_photos(monkeypatch):
    """Online, as the course's notebook: search each class, download, verify. The search is stood in for and the
    'web' is a local server (tests/test_vision_web.py has the download and verification cases)."""
    from core.vision import web
    from tests.test_vision_web import FakeWeb
    site = FakeWeb({"red.jpg": jpeg((250, 0, 0)), "red2.jpg": jpeg((240, 10, 0)), "blue.jpg": jpeg((0, 0, 250)),
                    "blue2.jpg": jpeg((0, 10, 240)), "fake.jpg": b"<html>"})
    found = {"bird photo": ["red.jpg", "red2.jpg", "fake.jpg"], "forest photo": ["blue.jpg", "blue2.jpg"]}
    monkeypatch.setattr(web, "unavailable", lambda: None)
    monkeypatch.setattr(web, "search_images", lambda term, n: [f"{site.url}/img/{f}" for f in found[term]][:n])
    monkeypatch.setattr(web, "_public", lambda url, allow_private: None)      # the local server counts as public
    try:
        at = fresh()
        at.radio(key="ic_source").set_value("own").run()
        assert "search_images(f'{o} photo', max_images=30)" in texts(code_blocks(at))
        at.button(key="ic_web_go").click().run()
    finally:
        site.close()
    assert not at.exception
    assert "1 file(s) were left out" in texts(at.warning)
    assert "4 images in 2 classes" in texts(at.info) and "(web photos.zip)" in texts(at.info)


def test_photos_taken_with_the_camera_become_a_class(module_service):
    at = fresh()
    at.radio(key="ic_source").set_value("own").run()
    at.toggle(key="ic_collect_camera").set_value(True).run()
    for cls, colour in ((0, (250, 0, 0)), (0, (240, 5, 5)), (1, (0, 0, 250)), (1, (5, 5, 240))):
        at.radio(key="ic_collect_class").set_value(cls).run()
        at.camera_input(key="ic_collect_shot").set_value(("shot.jpg", jpeg(colour), "image/jpeg")).run()
        at.button(key="ic_collect_add").click().run()
    at.camera_input(key="ic_collect_shot").set_value(("shot.jpg", b"not a photo", "image/jpeg")).run()
    at.button(key="ic_collect_add").click().run()
    assert "That photo can't be used" in texts(at.error)
    assert "0 uploaded · 2 from the camera" in texts(at.caption)
    at.button(key="ic_use_uploads").click().run()
    assert not at.exception
    assert "4 images in 2 classes" in texts(at.info)
    ref = at.session_state["ic_own"]
    assert ref["kind"] == "image_zip" and len(ref["input"]) == 64          # one stored input, like a zip


# ---- a trained run -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def trained_page(module_service):
    at = open_page(PAGE, timeout=300)
    at.radio(key="ic_size").set_value(64).run()
    at.number_input(key="ic_seed").set_value(3).run()
    at.button(key="ic_lr_find").click().run()
    lr_run = at.session_state[f"run:{LESSON}:lr_find"]
    assert module_service.wait(lr_run, timeout=300).status == "done"
    at.run()
    at.button(key="ic_train").click().run()
    run_id = at.session_state[f"run:{LESSON}:fit"]
    record = module_service.wait(run_id, timeout=600)
    assert record.status == "done", record.error
    at.run()
    assert not at.exception, at.exception
    return at, record


def test_lr_find_then_training_then_every_section_numbered_without_gaps(trained_page):
    at, record = trained_page
    assert "Suggested learning rate" in texts(at.success)
    assert numbers(at) == list(range(1, len(headers(at)) + 1))
    assert headers(at)[5:] == ["6. What changed inside", "7. Results: where is it right, where is it wrong?",
                               "8. What the model looks at", "9. Use it", "10. Export it and load it back"]
    assert record.config["seed"] == 3 and record.config["size"] == 64 and at.query_params["run"] == record.id
    assert record.data == {"dataset": "birds", "label": "is_bird"}
    assert re.fullmatch(r"\d+\.\d%", at.metric[0].value)
    assert "efficientnet-lite0" in texts(at.info).lower()                     # which weights, said
    assert re.search(r"Batches of 16 photos: .+ about [\d,]+ MiB", texts(at.caption))
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*", texts(at.markdown))
    shown = re.findall(r"^(?:right|WRONG): .*, really (bird|not bird)$", image_captions(at), re.M)
    assert sorted(shown) == ["bird"] * 6 + ["not bird"] * 6             # show_results: the classes in turn


def test_every_prediction_shows_each_class_probability(trained_page):
    """Once, in its bars (the likeliest on top): the header names the class, and a table said it all again."""
    at, _ = trained_page
    spoken = next(re.search(r'aria-label="What the model thinks\. ([^"]*)"', m.value) for m in at.markdown
                  if "What the model thinks." in m.value)
    said = dict(part.split(": ") for part in html.unescape(spoken.group(1)).split(". "))
    assert sorted(said) == ["bird", "not bird"]
    assert sum(float(p.rstrip("%")) for p in said.values()) == pytest.approx(100, abs=0.2)
    assert not [d for d in tables(at) if list(d.columns) == ["class", "probability"]]
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*$", texts(at.markdown), re.M)


def test_picking_a_confusion_cell_shows_its_photos(trained_page):
    at, _ = trained_page
    cell = next(sb for sb in at.selectbox if sb.key and sb.key.startswith("ic_cell_"))
    assert cell.value is None and cell.options
    cell.select_index(0).run()
    assert not at.exception
    assert re.search(r"\d+ photo\(s\) that are really \*\*[a-z ]+\*\* and were predicted", texts(at.caption))

    matrix = matrices(at)["ic_cm"]
    counts = matrix["counts"]
    assert sorted(matrix["labels"]) == ["bird", "not bird"] and sum(map(sum, counts)) > 0
    a, p = next((a, p) for a in range(2) for p in range(2) if counts[a][p])
    at.session_state["ic_cm"] = {"cell": [a, p]}             # a click on a cell of the matrix
    at.run()
    assert matrices(at)["ic_cm"]["selected"] == [a, p]
    assert f"{counts[a][p]} photo(s) that are really **{matrix['labels'][a]}**" in texts(at.caption)


def test_what_the_model_looks_at_draws_layers_early_to_late_and_a_map_per_class(trained_page):
    at, _ = trained_page
    captions = image_captions(at)
    layers = re.findall(r"\*\*(blocks\.\d)\*\* — maps (\d+)× smaller", texts(at.caption))
    assert [name for name, _ in layers] == ["blocks.0", "blocks.1", "blocks.4", "blocks.6"]
    assert [int(r) for _, r in layers] == sorted(int(r) for _, r in layers)       # early (fine) to late (coarse)
    assert re.search(r"predicted: (bird|not bird) \(\d+%\)", captions)
    assert re.search(r"the other class: (bird|not bird) \(\d+%\)", captions)


def test_the_first_look_inside_comes_with_the_run_and_later_ones_are_kept_with_it(trained_page, module_service):
    at, record = trained_page
    fresh = load_run(module_service.store, record)
    assert fresh.looks.holds(0) and not fresh.looks.holds(1)       # made as the run loads, not by the page
    inside, seconds = fresh.look(0)
    assert inside.layers and seconds > 0
    again = fresh.classifier.predict(fresh.valid_images[:2])     # what "Use it" shows of a validation photo: the run's
    np.testing.assert_allclose(fresh.probs[:2], again, atol=2e-3)
    shown = ui_runs._LOADED.get((LESSON, record.id, record.finished), lambda: pytest.fail("the page loaded no run"))
    at.selectbox(key="ic_look_example").select_index(1).run()
    assert not at.exception and shown.looks.holds(1)
    at.selectbox(key="ic_look_example").select_index(0).run()


def test_a_photo_from_the_camera_is_classified(trained_page):
    at, _ = trained_page
    at.radio(key="ic_use_where").set_value("Take a photo").run()
    at.camera_input(key="ic_use_camera").set_value(("shot.jpg", jpeg((120, 90, 40), (64, 48)), "image/jpeg")).run()
    assert not at.exception
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*", texts(at.markdown))
    at.camera_input(key="ic_use_camera").set_value(("shot.jpg", b"garbage", "image/jpeg")).run()
    assert "can't be used" in texts(at.error)
    at.radio(key="ic_use_where").set_value("A validation photo").run()


def test_export_and_load_back_in_the_page_and_bad_model_files(trained_page, module_service):
    at, record = trained_page
    run = load_run(module_service.store, record)
    weights, meta = model_to_bytes(run.classifier.model, run.classifier.export_meta())

    def load(weights_file, meta_file):
        at.file_uploader(key="ic_up_weights").set_value(("m.safetensors", weights_file, "application/octet-stream"))
        at.file_uploader(key="ic_up_meta").set_value(("m.json", meta_file, "application/json")).run()
        assert not at.exception

    load(weights, b"[" * 100_000 + b"]" * 100_000)                       # nested JSON
    assert "Could not load that model: The metadata file is nested" in texts(at.error)
    load(b"\x80\x04\x95pickle posing as weights", meta)
    assert "not a safetensors file" in texts(at.error)
    huge = meta.replace(b'"vocab": [', b'"vocab": [' + b'"x", ' * 200_000)
    load(weights, huge)
    assert "class names must be 2 to 50" in texts(at.error)
    load(weights, meta)
    at.radio(key="ic_which_model").set_value("the one you loaded back").run()
    assert re.search(r"Prediction: \*\*(bird|not bird)\*\*", texts(at.markdown))
    at.radio(key="ic_which_model").set_value("the one trained above").run()


# ---- the run's link ------------------------------------------------------------------------------------------------
def test_a_link_opened_elsewhere_shows_the_same_results_read_only(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})                                     # another browser: another person
    assert "7. Results: where is it right, where is it wrong?" in headers(other)
    assert [m.value for m in other.metric] == [m.value for m in at.metric]
    assert "shared with you (read-only)" in "\n".join(e.label for e in other.expander)
    assert not [b for b in other.button if b.label == "Stop"]


def test_a_link_shows_the_same_after_a_restart_and_after_40_later_runs(trained_page):
    at, record = trained_page
    from core.service import get_service
    root = get_service().store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    previous = set_service(restarted)
    try:
        for i in range(40):                                               # the same person trains on and on
            later = restarted.submit("engine_test", "wait", {}, {"seconds": 0}, owner=record.owner)
            restarted.wait(later.id, timeout=30)
        again = fresh({"run": record.id})
        assert [m.value for m in again.metric] == [m.value for m in at.metric]
        assert headers(again) == headers(at) and not again.exception
    finally:
        set_service(previous)
        restarted.shutdown()


def test_a_damaged_or_missing_run_file_gives_a_sentence(trained_page, module_service, tmp_path):
    at, record = trained_page
    import shutil
    from core.runs import new_run_id
    store = module_service.store
    for damage in ("truncate weights", "remove arrays", "truncate results"):
        copy_id = new_run_id()
        shutil.copytree(store.path(record.id), store.path(copy_id))
        raw = (store.path(copy_id) / "run.json").read_text().replace(record.id, copy_id)
        (store.path(copy_id) / "run.json").write_text(raw)
        folder = store.path(copy_id)
        if damage == "truncate weights":
            (folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:5000])
        elif damage == "remove arrays":
            (folder / "arrays.safetensors").unlink()
        else:
            (folder / "results.json").write_text('{"vocab": ["bi')
        other = fresh({"run": copy_id})
        assert not other.exception
        said = texts(other.warning)
        assert "This run's" in said and "/" not in said.split("This run's", 1)[1].split(".")[0], said
        assert "Shown once a model is trained above." in texts(other.caption)     # its sections stay empty


def test_train_again_fills_the_controls_from_the_run(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})
    assert other.number_input(key="ic_seed").value == 3                   # a link opens with the run's settings
    other.number_input(key="ic_seed").set_value(11).run()
    other.radio(key="ic_size").set_value(96).run()
    next(b for b in other.button if b.label == "Train again with these settings").click().run()
    assert other.number_input(key="ic_seed").value == 3 and other.radio(key="ic_size").value == 64
    assert not other.exception


def test_an_unknown_or_hostile_run_id_gets_a_sentence():
    for run_id in ("0123456789ab", "../../etc/passwd"):
        at = fresh({"run": run_id})
        assert "There is no run with that id" in texts(at.warning)
        assert f"run:{LESSON}:fit" not in at.session_state


# ---- in a real browser -----------------------------------------------------------------------------------------------
@pytest.mark.browser
def test_browser_journey_trains_then_the_link_shows_the_same_in_a_fresh_browser(app_url, browser, page,
                                                                                 screenshot_dir):
    page.goto(f"{app_url}/image_classification")
    wait_for_app(page, timeout=120_000)
    page.get_by_text("4. Learner").wait_for(timeout=120_000)
    page.locator('[data-testid="stRadio"]').filter(has_text="Resize to").get_by_text("64", exact=True).click()
    wait_for_app(page, timeout=60_000)
    code = page.locator(CODE_BLOCKS)
    code.filter(has_text="Resize(64, method='squish')").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "image_classification_datablock.png"))
    page.get_by_role("button", name=re.compile("Train: fine_tune")).click()
    line = page.get_by_text(re.compile(r"Training — epoch \d of 2"))
    line.wait_for(timeout=300_000)                          # the live panel (at 64 px it trains in seconds: look now)
    line.evaluate("e => e.scrollIntoView({block: 'start'})")
    page.screenshot(path=str(screenshot_dir / "image_classification_training.png"))
    wait_for_results(page, timeout=600_000)
    page.get_by_text("6. What changed inside").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshot_dir / "image_classification_inside.png"))
    matrix = page.locator(".st-key-ic_cm .cm")                 # a table of buttons (ui/matrix.py), drawn at once
    matrix.scroll_into_view_if_needed()
    counts = matrix.locator("button").all_text_contents()
    assert len(counts) == 4 and sum(map(int, counts)) > 0
    page.screenshot(path=str(screenshot_dir / "image_classification_results.png"))
    url = page.url
    assert "run=" in url

    other = browser.new_context(viewport={"width": 1400, "height": 1000})     # someone else, given the link
    try:
        them = other.new_page()
        them.goto(url)
        wait_for_app(them, timeout=120_000)
        them.get_by_text("shared with you (read-only)").wait_for(timeout=120_000)
        wait_for_app(them, timeout=60_000)
        theirs = them.locator(".st-key-ic_cm .cm")
        theirs.scroll_into_view_if_needed()
        assert theirs.locator("button").all_text_contents() == counts
        theirs.locator("button:not([disabled])").first.click()         # a click on a cell shows its photos
        them.get_by_text(re.compile(r"photo\(s\) that are really")).wait_for(timeout=30_000)
        assert theirs.locator("button.selected").count() == 1
        assert them.get_by_text("shared with you (read-only)").count() == 1
        assert them.get_by_role("button", name="Stop").count() == 0
        them.screenshot(path=str(screenshot_dir / "image_classification_shared_link.png"))

        them.get_by_text("8. What the model looks at").scroll_into_view_if_needed()
        them.get_by_text("the photo as the model sees it").first.wait_for(timeout=60_000)
        them.wait_for_timeout(1500)
        them.get_by_text("8. What the model looks at").scroll_into_view_if_needed()
        them.screenshot(path=str(screenshot_dir / "image_classification_looks_at_layers.png"))
        them.get_by_text("the photo as the model sees it").first.scroll_into_view_if_needed()
        them.mouse.wheel(0, 250)
        them.wait_for_timeout(1000)
        them.screenshot(path=str(screenshot_dir / "image_classification_looks_at_cam.png"))
    finally:
        other.close()
