"""The lesson's jobs end to end on a tiny CPU run: fine_tune, the results the page shows, export and load back."""
import functools
import json

import numpy as np
import pytest

from core.datasets import resolve
from core.jobs import MODEL_FILE, JobRunner
from core.segmentation.data import load_folder
from core.segmentation.metrics import iou_per_class, pixel_confusion
from core.segmentation.train import fine_tune_job, from_export, lr_find_job
from core.serialize import load_model, model_from_bytes, model_to_bytes

TINY = dict(width=64, bs=8, epochs=1, seed=1, valid_pct=0.2)


@pytest.fixture(scope="module")
def small_scenes():
    """Half of the stamp sets: 100 scenes, quick at 64 px."""
    items = load_folder(resolve("scenes").path)
    keep = sorted(set(items.groups))[::2]
    return items.subset([i for i, g in enumerate(items.groups) if g in keep])


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    r = JobRunner(workers=1, runs_path=tmp_path_factory.mktemp("runs"))
    yield r
    r.shutdown()


@pytest.fixture(scope="module")
def trained(small_scenes, runner):
    job = runner.submit(functools.partial(fine_tune_job, items=small_scenes, config=TINY), owner="t",
                        kind="seg_fine_tune", title="tiny")
    snap = runner.wait(job, timeout=600)
    assert snap.status == "done", snap.error
    return snap


def test_fine_tune_reports_frozen_then_unfrozen_and_results_that_agree(trained):
    res = trained.result
    assert [r["phase"] for r in res["epochs"]] == ["frozen", "unfrozen"]
    assert res["epochs"][-1]["valid_loss"] < res["epochs"][0]["train_loss"]
    assert res["weights_source"] == "embedded" and "ImageNet" in res["weights_detail"]
    assert trained.info["weights_source"] == "embedded"            # the page's notice reads it from the job
    n = len(res["valid_idx"])
    assert res["x_valid"].shape == (n, 48, 64, 3) and res["y_valid"].shape == res["predicted"].shape == (n, 48, 64)
    assert res["losses"].shape == (n,)
    # the epoch table's metrics, the confusion matrix and the IoU all describe the same predictions
    cm = pixel_confusion(res["predicted"], res["y_valid"], 4)
    np.testing.assert_array_equal(cm, res["confusion"])
    assert res["pixel_accuracy"] == pytest.approx(res["epochs"][-1]["pixel_accuracy"], abs=1e-6)
    assert np.nanmean(iou_per_class(cm)) == pytest.approx(res["epochs"][-1]["mean_iou"], abs=1e-6)


def test_export_and_load_back_predict_the_same(trained, small_scenes):
    segmenter = trained.result["segmenter"]
    weights, meta = model_to_bytes(segmenter.model, segmenter.export_meta())
    loaded = from_export(*model_from_bytes(weights, meta))
    assert loaded.codes == small_scenes.codes and loaded.shape == (48, 64)
    for photo in small_scenes.images[:3]:
        codes, confidence = segmenter.predict(photo)
        codes2, confidence2 = loaded.predict(photo)
        assert codes.shape == (photo.height, photo.width)
        np.testing.assert_array_equal(codes, codes2)
        np.testing.assert_allclose(confidence, confidence2, atol=1e-6)


def test_a_finished_run_keeps_its_weights_on_disk(trained, small_scenes, runner):
    loaded = from_export(*load_model(runner.runs_path / trained.id / MODEL_FILE))
    photo = small_scenes.images[0]
    np.testing.assert_array_equal(loaded.predict(photo)[0], trained.result["segmenter"].predict(photo)[0])


def test_loading_something_else_is_a_clear_error(trained):
    segmenter = trained.result["segmenter"]
    weights, _ = model_to_bytes(segmenter.model, {})
    with pytest.raises(ValueError, match="not a segmentation model"):
        from_export(*model_from_bytes(weights, b'{"task": "image_classification"}'))
    wrong = dict(segmenter.export_meta(), codes=["a", "b"])
    with pytest.raises(ValueError, match="do not fit"):
        from_export(*model_from_bytes(weights, json.dumps(wrong).encode()))


def test_lr_find_job_finds_a_valley(small_scenes, runner):
    job = runner.submit(functools.partial(lr_find_job, items=small_scenes, config=dict(TINY, width=32)),
                        owner="t", kind="seg_lr_find", title="tiny lr_find")
    snap = runner.wait(job, timeout=300)
    assert snap.status == "done", snap.error
    found = snap.result
    assert len(found["lrs"]) == len(found["losses"]) >= 10 and found["lrs"] == sorted(found["lrs"])
    assert found["lrs"][0] <= found["valley"] <= found["lrs"][-1]
