"""The segmentation page: AppTest through every section to a trained model and a prediction, bad uploads."""
import io

import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.jobs import get_runner
from core.serialize import model_to_bytes
from tests.helpers import open_page, texts

PAGE = "pages/segmentation.py"


def fresh() -> AppTest:
    return open_page(PAGE, timeout=120)


def captions(at: AppTest) -> str:
    return "\n".join(c for image in at.get("image") for c in image.captions)


def png(colour, size=(90, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="PNG")
    return buf.getvalue()


def test_default_page_starts_on_the_embedded_scenes_in_the_course_order():
    at = fresh()
    assert "embedded 'Scenes'" in texts(at.info)
    assert [h.value.split(" · ")[0] for h in at.header] == ["1", "2", "3", "4"]      # 5 and 6 need a model
    code = texts(at.code)
    for piece in ("SegmentationDataLoaders.from_label_func(", "label_func=lambda o: path/'labels'/f'{o.stem}_P.png'",
                  "codes=np.loadtxt(path/'codes.txt', dtype=str)", "unet_learner(dls, efficientnet_lite0)",
                  "learn.fine_tune("):
        assert piece in code
    assert "200 photos, 4 codes" in texts(at.markdown)
    assert "Train a model to see" in texts(at.info)
    assert "never saw" in texts(at.caption)                  # the split by stamp is explained


def test_asking_for_camvid_offline_says_so_and_keeps_the_page_alive(monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    at = fresh()
    at.radio(key="seg_source").set_value("camvid_tiny").run()
    assert not at.exception
    assert "Offline" in texts(at.warning) and "embedded scenes" in texts(at.warning)
    at.radio(key="seg_source").set_value("scenes").run()
    assert len(at.header) == 4


@pytest.fixture(scope="module")
def trained_page():
    at = fresh()
    at.radio(key="seg_width").set_value(96).run()
    at.number_input(key="seg_epochs").set_value(1).run()
    assert "learn.fine_tune(1" in texts(at.code)
    at.button(key="seg_train").click().run()
    snap = get_runner().wait(at.session_state["job:seg_fine_tune"], timeout=600)
    assert snap.status == "done", snap.error
    at.run()
    assert not at.exception, at.exception
    return at, snap


def test_results_show_truth_next_to_prediction_and_the_weights_used(trained_page):
    at, snap = trained_page
    headers = [h.value.split(" · ")[0] for h in at.header]
    assert headers == ["1", "2", "3", "4", "5", "6"]
    assert "ImageNet weights" in texts(at.info)                 # which pretrained weights: said on the page
    labels = [m.label for m in at.metric]
    assert labels[:2] == ["pixel accuracy (validation)", "mean IoU"]
    assert float(at.metric[0].value.rstrip("%")) / 100 == pytest.approx(snap.result["pixel_accuracy"], abs=1e-3)
    shown = captions(at)
    assert "truth" in shown and "prediction" in shown and "wrong pixels" in shown
    assert "learn.show_results(max_n=6)" in texts(at.code)


def test_use_it_rejects_a_bad_file_and_paints_a_good_one(trained_page):
    at, _ = trained_page
    at.file_uploader(key="seg_photo").set_value(("notes.jpg", b"just some text", "image/jpeg")).run()
    assert not at.exception
    assert "can't be used" in texts(at.error)
    at.file_uploader(key="seg_photo").set_value(("red.png", png((200, 30, 30)), "image/png")).run()
    assert not at.exception and not at.error
    assert "the model's classes over the photo" in captions(at)


def test_export_then_load_back(trained_page):
    at, snap = trained_page
    segmenter = snap.result["segmenter"]
    assert len(at.get("download_button")) == 2
    weights, meta = model_to_bytes(segmenter.model, segmenter.export_meta())
    at.file_uploader(key="seg_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    at.file_uploader(key="seg_up_meta").set_value(("m.json", b'{"task": "tabular"}', "application/json")).run()
    at.button(key="seg_load").click().run()
    assert "Could not load that model" in texts(at.error)
    at.file_uploader(key="seg_up_meta").set_value(("m.json", meta, "application/json")).run()
    at.button(key="seg_load").click().run()
    assert not at.exception
    at.radio(key="seg_which_model").set_value("the one you loaded back").run()
    assert not at.exception and "the model's classes over the photo" in captions(at)
