"""The segmentation page in AppTest: every section before and after training, a student's zip (good and bad), the
confidence map, the IoU click, Use it, export and load back, and a run opened by a link: read-only, after a
restart, after many later runs, or damaged."""
import io
import shutil

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.backends import make_backend
from core.runs import DONE, RunStore
from core.segmentation.jobs import load_run
from core.segmentation.metrics import confidence_bins
from core.schedules import lr_text
from core.serialize import model_to_bytes
from core.service import TrainingService, set_service
from tests.helpers import charts, code_blocks, open_page, texts
from tests.test_segmentation_upload import GOOD, mutate, png, squares_zip
from ui import runs as ui_runs

PAGE = "pages/segmentation.py"
OWN = "own"
BEFORE_TRAINING = ["1. The data: photos and their masks", "2. The model: a U-Net on a pretrained encoder",
                   "3. lr_find: how big should the steps be?", "4. fine_tune: train it"]
AFTER_TRAINING = ["5. What changed inside", "6. Results: truth vs prediction", "7. How sure is it? Confidence per pixel",
                  "8. Each class on its own: IoU", "9. Use it", "10. Export it and load it back"]
WHOLE = BEFORE_TRAINING + AFTER_TRAINING    # numbered the same before training: the later ones say when they come


@pytest.fixture(autouse=True)
def uses_the_module_service(module_service):
    return module_service


def fresh(query: dict | None = None) -> AppTest:
    return open_page(PAGE, timeout=120, query=query)


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def captions(at: AppTest) -> str:
    return "\n".join(c for image in at.get("image") for c in image.captions if c)


def html(at: AppTest) -> str:
    return "\n".join(h.proto.body for h in at.get("html"))


def png_bytes(colour, size=(90, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_default_page_starts_on_the_embedded_scenes_in_the_course_order():
    at = fresh()
    assert "embedded 'Scenes'" in texts(at.info)
    assert headers(at) == WHOLE  # no gap: the sections after training wait
    code = texts(code_blocks(at))
    for piece in ("SegmentationDataLoaders.from_label_func(", "label_func=lambda o: path/'labels'/f'{o.stem}_P.png'",
                  "codes=np.loadtxt(path/'codes.txt', dtype=str)", "learn.lr_find()", "learn.fine_tune(5",
                  "unet_learner(dls, efficientnet_lite0, n_out=4, normalize=False)"):
        assert piece in code
    assert "DynamicUnet" in texts(at.caption)                             # how this U-Net differs, in one line
    assert "200 photos, 4 codes" in texts(at.markdown)
    assert "Shown once a model is trained above." in texts(at.caption)
    assert "never saw" in texts(at.caption)                               # the split by stamp is explained
    at.selectbox(key="seg_backbone").set_value("resnet34").run()
    assert "learn = unet_learner(dls, resnet34)" in texts(code_blocks(at))


def test_the_pixel_shares_follow_the_split():
    """The chart's counts are cached per data and split: a new split must count again, and count right."""
    import xml.etree.ElementTree as ET

    from core.datasets import resolve
    from core.segmentation.data import load_folder, pixel_counts
    from core.splits import random_split

    def shown(at) -> list[np.ndarray]:
        """The shares the drawing says, per split: each row's <title> is "class: train: 80.1%; valid: 79.3%"."""
        drawn = next(m.value for m in at.markdown if 'aria-label="Share of the pixels' in m.value)
        rows = [t.text for t in ET.fromstring(drawn).iter("{http://www.w3.org/2000/svg}title")]
        splits = [[float(p.split(": ")[1].rstrip("%")) / 100 for p in row.split(": ", 1)[1].split("; ")]
                  for row in rows]
        return [np.array(split) for split in zip(*splits)]

    at = fresh()
    before = shown(at)
    at.slider(key="seg_valid_pct").set_value(0.4).run()
    after = shown(at)
    items = load_folder(resolve("scenes").path, "the embedded scenes")
    train_idx, valid_idx = random_split(items.groups, 0.4, at.number_input(key="seg_seed").value)
    for counted, drawn in zip((pixel_counts(items, train_idx), pixel_counts(items, valid_idx)), after):
        assert drawn == pytest.approx(counted / counted.sum(), abs=0.0006)         # as drawn: to 0.1%
    assert not np.allclose(before[1], after[1])                      # the validation photos changed


def test_asking_for_camvid_offline_says_so_and_keeps_the_page_alive(monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    at = fresh()
    at.radio(key="seg_source").set_value("camvid_tiny").run()
    assert not at.exception
    assert "Offline" in texts(at.warning) and "embedded scenes" in texts(at.warning)
    at.radio(key="seg_source").set_value("scenes").run()
    assert headers(at) == WHOLE


@pytest.mark.parametrize("data, words", [
    (mutate(GOOD, {"labels/f02_P.png": None}), "f02.png has no mask"),
    (mutate(GOOD, {"labels/f01_P.png": png(np.full((48, 64), 7, np.uint8))}), "uses code 7, but codes.txt names only 3"),
    (mutate(GOOD, {"labels/f02_P.png": png(np.zeros((20, 20), np.uint8))}), "is 20x20 but its image is 64x48"),
    (mutate(GOOD, {"../../evil.png": b"x"}), "points outside the archive"),
    (b"just some text", "not a zip archive"),
])
def test_a_bad_zip_gets_a_sentence_and_trains_nothing(data, words):
    at = fresh()
    at.radio(key="seg_source").set_value(OWN).run()
    at.file_uploader(key="seg_zip").set_value(("mine.zip", data, "application/zip")).run()
    assert not at.exception
    assert words in texts(at.error)
    assert not at.header                                                   # nothing to train on


def test_an_own_zip_is_used_and_a_bad_one_after_it_keeps_it(monkeypatch):
    at = fresh()
    at.radio(key="seg_source").set_value(OWN).run()
    assert "Upload a zip" in texts(at.info)
    at.file_uploader(key="seg_zip").set_value(("squares.zip", squares_zip(12), "application/zip")).run()
    assert "Using your zip 'squares.zip': 12 photos, 3 classes" in texts(at.info)
    assert headers(at) == WHOLE and "here: your zip" in texts(code_blocks(at))
    at.file_uploader(key="seg_zip").set_value(("broken.zip", b"not a zip", "application/zip")).run()
    assert "not a zip archive" in texts(at.error)
    assert "Still using your previous zip, 'squares.zip'" in texts(at.caption)
    assert headers(at) == WHOLE
    from core import archives
    monkeypatch.setattr(archives, "read_zip", lambda *a, **k: pytest.fail("a refused zip was read again"))
    at.run()                                                              # any rerun: the sentence, not a re-read
    assert "not a zip archive" in texts(at.error) and headers(at) == WHOLE


def test_class_names_from_a_zip_are_shown_as_text():
    codes = "background\n<img src=x onerror=alert(1)>\n[click me](javascript:alert(2))\n"
    at = fresh()
    at.radio(key="seg_source").set_value(OWN).run()
    at.file_uploader(key="seg_zip").set_value(("x.zip", squares_zip(6, codes=codes), "application/zip")).run()
    assert not at.exception and not at.error
    legend = html(at)
    assert "&lt;img src=x onerror=alert(1)&gt;" in legend and "<img" not in legend


@pytest.fixture(scope="module")
def trained_page(module_service):
    at = fresh()
    at.radio(key="seg_width").set_value(64).run()
    at.number_input(key="seg_epochs").set_value(1).run()
    at.number_input(key="seg_seed").set_value(7).run()
    assert "learn.fine_tune(1" in texts(code_blocks(at))
    at.button(key="seg_train").click().run()
    run_id = at.session_state["run:segmentation:fit"]
    record = module_service.wait(run_id, timeout=600)
    assert record.status == DONE, record.error
    at.run()
    assert not at.exception, at.exception
    return at, record


def test_results_show_truth_prediction_and_confidence_with_the_weights_used(trained_page, module_service):
    at, record = trained_page
    assert headers(at) == WHOLE
    assert record.config["seed"] == 7 and record.config["width"] == 64 and at.query_params["run"] == record.id
    assert "ImageNet weights" in texts(at.info)                          # which pretrained weights: said on the page
    metrics = {m.label: m.value for m in at.metric}
    run = load_run(module_service.store, record)
    assert metrics["pixel accuracy (validation)"] == f"{run.results['pixel_accuracy']:.1%}"
    assert metrics["mean IoU"] == f"{run.results['mean_iou']:.2f}"
    shown = captions(at)
    for words in ("truth", "prediction", "confidence ·", "wrong pixels", "unsure:"):
        assert words in shown
    assert "learn.show_results(max_n=6)" in texts(code_blocks(at))
    assert "unsure pixels" in metrics and "right where it is sure" in metrics
    drawn = " ".join(str(c.proto.id) for c in charts(at))
    for key in ("seg_inside", "seg_iou", "seg_reliability"):     # weights moved and gradients, IoU, calibration
        assert key in drawn, key


def test_what_the_page_opens_on_comes_with_the_run(trained_page, module_service):
    at, record = trained_page
    fresh = load_run(module_service.store, record)
    assert fresh.kept.holds(0) and not fresh.kept.holds(1)         # made as the run loads, not by the page
    probs = fresh.probabilities(0)
    assert probs.shape == (len(fresh.codes), *fresh.segmenter.shape) and np.allclose(probs.sum(0), 1, atol=1e-4)
    assert (probs.argmax(0) == fresh.predicted[0]).mean() > 0.99               # what validation predicted
    assert fresh.reliability == confidence_bins(fresh.confidence, fresh.predicted == fresh.targets)
    shown = ui_runs._LOADED.get(("segmentation", record.id, record.finished), lambda: pytest.fail("no run loaded"))
    at.selectbox(key="seg_example").select_index(1).run()
    assert not at.exception and shown.kept.holds(1)
    at.selectbox(key="seg_example").select_index(0).run()


def test_the_unsure_threshold_changes_what_counts_as_unsure(trained_page):
    at, _ = trained_page
    before = next(m.value for m in at.metric if m.label == "unsure pixels")
    at.slider(key="seg_unsure").set_value(0.95).run()
    after = next(m.value for m in at.metric if m.label == "unsure pixels")
    assert float(after.rstrip("%")) > float(before.rstrip("%"))
    at.slider(key="seg_unsure").set_value(0.6).run()


def test_picking_a_class_shows_the_photos_where_it_is_worst(trained_page, module_service):
    at, record = trained_page
    run = load_run(module_service.store, record)
    at.selectbox(key="seg_class_None").set_value(1).run()
    assert not at.exception
    assert "photos where **animal** is worst" in texts(at.caption)
    shown = captions(at)
    assert "IoU of animal:" in shown
    worst = int(np.nanargmin(run.image_iou[:, 1]))
    assert f"IoU of animal: {run.image_iou[worst, 1]:.2f}" in shown


def test_use_it_rejects_a_bad_file_and_paints_a_good_one_with_its_confidence(trained_page):
    at, _ = trained_page
    at.radio(key="seg_where").set_value("Upload a photo").run()
    at.file_uploader(key="seg_photo").set_value(("notes.jpg", b"just some text", "image/jpeg")).run()
    assert not at.exception and "can't be used" in texts(at.error)
    at.radio(key="seg_where").set_value("A validation photo").run()          # the refused file is out of the way
    assert not at.error and "the model's classes over the photo" in captions(at)
    at.radio(key="seg_where").set_value("Upload a photo").run()
    at.file_uploader(key="seg_photo").set_value(("red.png", png_bytes((200, 30, 30)), "image/png")).run()
    assert not at.exception and not at.error
    shown = captions(at)
    assert "the model's classes over the photo" in shown and "its confidence, pixel by pixel" in shown
    assert "probability of animal" in shown
    assert "probs.shape   # (4, 60, 90)" in texts(code_blocks(at))                # a probability per class for every pixel
    at.file_uploader(key="seg_photo").set_value(None).run()
    at.radio(key="seg_where").set_value("A validation photo").run()


def test_on_a_projector_that_hides_uploads_only_the_runs_photos_are_offered(trained_page, module_service):
    from core.classroom import presentation_settings, set_presentation_settings
    _, record = trained_page
    set_presentation_settings({"hide": ["uploads"]}, module_service.store.root)
    try:
        shown = fresh({"run": record.id, "present": "1"})
        assert shown.radio(key="seg_where").options == ["A validation photo"] and not shown.exception
        assert fresh({"run": record.id}).radio(key="seg_where").options[1] == "Upload a photo"   # not presenting
    finally:
        set_presentation_settings({"hide": []}, module_service.store.root)
    assert presentation_settings(module_service.store.root)["hide"] == []


def test_export_then_load_back(trained_page, module_service):
    at, record = trained_page
    run = load_run(module_service.store, record)
    assert len(at.get("download_button")) == 2
    weights, meta = model_to_bytes(run.segmenter.model, run.segmenter.export_meta())
    at.file_uploader(key="seg_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    for bad, words in ((b'{"task": "tabular"}', "not a segmentation model"), (b"[" * 50_000, "nested far too deeply"),
                       (meta.replace(b'"animal"', b'"animal", "extra"'), "do not fit the metadata")):
        at.file_uploader(key="seg_up_meta").set_value(("m.json", bad, "application/json")).run()
        assert not at.exception and words in texts(at.error)
    at.file_uploader(key="seg_up_meta").set_value(("m.json", meta, "application/json")).run()
    assert not at.exception
    at.radio(key="seg_which_model").set_value("the one you loaded back").run()
    assert not at.exception and "the model's classes over the photo" in captions(at)


def test_a_link_opened_elsewhere_shows_the_same_results_read_only(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})                                    # another browser: another person
    assert headers(other) == WHOLE
    assert [m.value for m in other.metric][:2] == [m.value for m in at.metric][:2]
    assert "shared with you (read-only)" in "\n".join(e.label for e in other.expander)
    assert not [b for b in other.button if b.label == "Stop"]


def test_a_link_still_works_after_a_restart_and_many_later_runs(trained_page):
    at, record = trained_page
    from core.service import get_service
    root = get_service().store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    previous = set_service(restarted)
    try:
        for i in range(40):                                               # the old runner forgot after 32
            later = restarted.store.create("segmentation", "fit", f"someone-{i}", {}, {"dataset": "scenes"})
            restarted.store.update(later.id, status=DONE)
        again = fresh({"run": record.id})
        assert [m.value for m in again.metric][:2] == [m.value for m in at.metric][:2]
        assert "restarted" not in texts(again.info) + texts(again.warning)
        assert headers(again)[-1] == "10. Export it and load it back"
    finally:
        set_service(previous)
        restarted.shutdown()


def test_a_damaged_run_gives_a_sentence(trained_page, module_service):
    _, record = trained_page
    store = module_service.store
    copy = store.create("segmentation", "fit", "someone", record.config, record.data)
    for name in ("model.safetensors", "model.json", "arrays.safetensors", "results.json", "events.jsonl"):
        shutil.copy(store.path(record.id) / name, store.path(copy.id) / name)
    store.update(copy.id, status=DONE, finished=1.0)
    arrays = store.path(copy.id) / "arrays.safetensors"
    arrays.write_bytes(arrays.read_bytes()[:300])
    at = fresh({"run": copy.id})
    assert not at.exception
    assert "This run's results file is damaged" in texts(at.warning)
    assert headers(at) == WHOLE
    (store.path(copy.id) / "run.json").write_text("{broken")
    at = fresh({"run": copy.id})
    assert not at.exception and "damaged" in texts(at.warning)


def test_train_again_fills_the_controls_from_the_run(trained_page):
    _, record = trained_page
    other = fresh({"run": record.id})
    assert other.number_input(key="seg_seed").value == 7                  # a link opens with the run's settings
    other.number_input(key="seg_seed").set_value(11).run()
    other.radio(key="seg_width").set_value(96).run()
    next(b for b in other.button if b.label == "Train again with these settings").click().run()
    assert other.number_input(key="seg_seed").value == 7 and other.radio(key="seg_width").value == 64
    assert other.number_input(key="seg_epochs").value == 1 and not other.exception


def test_settings_in_the_url_fill_the_controls_and_nonsense_is_ignored():
    at = fresh({"width": "96", "epochs": "3", "seed": "11", "lr": "0.01", "backbone": "\"resnet18\""})
    assert at.radio(key="seg_width").value == 96 and at.number_input(key="seg_epochs").value == 3
    assert at.number_input(key="seg_seed").value == 11 and at.select_slider(key="seg_lr").value == 0.01
    assert at.selectbox(key="seg_backbone").value == "resnet18"
    at = fresh({"width": "99999", "epochs": "\"many\"", "lr": "-1"})
    assert not at.exception
    assert at.radio(key="seg_width").value == 160 and at.number_input(key="seg_epochs").value == 5


def test_a_zip_over_the_class_s_upload_limit_is_refused_before_it_is_read(monkeypatch):
    import os

    from core import archives
    from core.classroom import ClassLimits, limits_path, set_limits
    from core.runs import runs_root
    monkeypatch.setattr(archives, "read_zip", lambda *a, **k: pytest.fail("the zip was read"))
    set_limits(ClassLimits(upload_mb=1), runs_root())                   # the class's limits, as the app reads them
    try:
        at = fresh()
        at.radio(key="seg_source").set_value(OWN).run()
        big = mutate(GOOD, {"images/noise.bin": os.urandom(3 * 2**20)})
        at.file_uploader(key="seg_zip").set_value(("big.zip", big, "application/zip")).run()
        assert "this class allows uploads of up to 1 MB" in texts(at.error) and not at.exception
        at.run()                                                          # a rerun says it again, without reading
        assert "this class allows uploads of up to 1 MB" in texts(at.error)
    finally:
        limits_path(runs_root()).unlink()


def test_the_controls_offer_no_more_than_the_class_allows_and_say_so(service):
    """A class allowing 3 epochs and 128-pixel images: fine_tune's frozen epoch leaves 2 after unfreezing (the
    default 5 comes down), the widths stop at 128, a link asking for more gets what is allowed; Train is accepted."""
    from core.classroom import ClassLimits, set_limits
    set_limits(ClassLimits(epochs=3, image_size=128), service.store.root)
    at = fresh({"epochs": "9", "width": "320"})
    epochs = at.number_input(key="seg_epochs")
    assert (epochs.max, epochs.value) == (2, 2) and at.radio(key="seg_width").options == ["64", "96", "128"]
    assert at.radio(key="seg_width").value == 128
    said = texts(at.caption)
    assert ("Your class allows at most 3 epochs per run, the frozen one included, so Train uses 2 here, not the 9 "
            "it was set to.") in said                                      # the link asked for 9
    assert "Your class allows images of at most 128 pixels, so Train uses 128 px here, not the 320 px it" in said
    at.radio(key="seg_width").set_value(96).run()                           # a choice of the student's own
    assert "Your class allows images of at most 128 pixels. Your instructor" in texts(at.caption)
    at.radio(key="seg_width").set_value(128).run()
    assert "not the 320 px" not in texts(at.caption)                       # said once, while it was the link's
    at.button(key="seg_train").click().run()
    assert not at.exception and not at.warning
    run = service.store.read(at.session_state["run:segmentation:fit"])
    assert (run.config["epochs"], run.config["width"]) == (2, 128)
    service.cancel(run.id, by=run.owner)


def test_lr_find_on_an_own_zip_suggests_a_rate_the_slider_offers(module_service):
    at = fresh()
    at.radio(key="seg_source").set_value(OWN).run()
    at.file_uploader(key="seg_zip").set_value(("squares.zip", squares_zip(16), "application/zip")).run()
    at.radio(key="seg_width").set_value(64).run()
    at.button(key="seg_lr_find").click().run()
    record = module_service.wait(at.session_state["run:segmentation:lr_find"], timeout=300)
    assert record.status == DONE, record.error
    assert record.data["kind"] == "segmentation_zip" and record.config["width"] == 64
    at.run()
    assert "Suggested learning rate (the valley)" in texts(at.success) and not at.exception
    valley = module_service.store.results(record.id)["valley"]
    assert lr_text(float(f'{valley:.1e}')) in at.select_slider(key="seg_lr").options      # the suggestion is offered
