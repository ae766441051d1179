"""The lesson's jobs through the training service on tiny data: what fine_tune leaves in the store, what load_run
reads back from it alone (after a restart too), lr_find, Stop, bad settings, and damaged run files."""
import json

import numpy as np
import pytest
from sklearn.metrics import confusion_matrix

from core.backends import make_backend
from core.errors import LimitError, StudentError
from core.inputs import InputStore
from core.runs import CANCELLED, DONE, FAILED, RunDamaged, RunStore
from core.segmentation.jobs import UPLOAD_KIND, load_run
from core.segmentation.metrics import iou_per_class
from core.service import TrainingService
from tests.helpers import wait_until
from tests.test_segmentation_upload import squares_zip

TINY = dict(width=64, epochs=1, seed=1, valid_pct=0.25)


def upload(service, data: bytes, name: str = "squares.zip") -> dict:
    return InputStore(service.store.root).put(data, kind=UPLOAD_KIND, name=name, owner="t")


@pytest.fixture(scope="module")
def trained(module_service):
    ref = upload(module_service, squares_zip(40))
    run = module_service.submit("segmentation", "fit", ref, TINY, owner="t")
    record = module_service.wait(run.id, timeout=300)
    assert record.status == DONE, record.error
    return module_service, record


def test_fine_tune_leaves_everything_the_page_draws_in_the_store(trained):
    service, record = trained
    assert [r["phase"] for r in record.epoch_table] == ["frozen", "unfrozen"]
    assert record.info["weights_source"] == "embedded" and "ImageNet" in record.info["weights_detail"]
    run = load_run(service.store, record)
    n = len(run.valid_idx)
    assert n == 10 and sorted(run.train_idx.tolist() + run.valid_idx.tolist()) == list(range(40))
    assert run.codes == ["background", "red thing", "green thing"] and run.segmenter.shape == (48, 64)
    assert run.x_valid.shape == (n, 48, 64, 3) and run.targets.shape == run.predicted.shape == (n, 48, 64)
    assert run.results["names"] == [f"f{i:02d}.png" for i in run.valid_idx]
    # the confusion matrix, the IoU, the metrics and the epoch table all describe the same predictions
    cm = confusion_matrix(run.targets.ravel(), run.predicted.ravel(), labels=range(3))
    np.testing.assert_array_equal(run.confusion, cm)
    np.testing.assert_allclose(run.iou, iou_per_class(cm))
    assert record.metrics["pixel_accuracy"] == pytest.approx(run.results["pixel_accuracy"])
    assert run.results["pixel_accuracy"] == pytest.approx(record.epoch_table[-1]["pixel_accuracy"], abs=1e-6)
    assert run.results["mean_iou"] == pytest.approx(record.epoch_table[-1]["mean_iou"], abs=1e-6)
    # the confidence map is the probability of the painted class: between a blind guess and certainty
    assert run.confidence.min() >= 1 / 3 - 1e-3 and run.confidence.max() <= 1 + 1e-3
    assert run.image_iou.shape == (n, 3) and run.losses.shape == (n,)
    # the saved model paints the validation photos as the run did
    from PIL import Image
    again = np.stack([run.segmenter.predict(Image.fromarray(x))[0] for x in run.x_valid])
    assert (again == run.predicted).mean() > 0.99
    assert "unet_learner(dls, efficientnet_lite0" in run.results["fastai_code"]


def test_per_layer_statistics_show_the_frozen_encoder_still_and_the_decoder_moving(trained):
    service, record = trained
    stats = load_run(service.store, record).weight_stats
    layers = list(dict.fromkeys(r["layer"] for r in stats))
    assert layers[0] == "encoder.stem" and "encoder.blocks.6" in layers and layers[-1] == "decoder.head"
    frozen_end = max(r["step"] for r in stats if r["phase"] == "frozen")
    moved = {r["layer"]: r["weight_change"] for r in stats if r["step"] == frozen_end}
    encoder = max(v for k, v in moved.items() if k.startswith("encoder"))
    assert encoder == 0                                 # a frozen encoder's kernels stay put (BatchNorm not counted)
    assert min(v for k, v in moved.items() if k.startswith("decoder")) > 0 and moved["decoder.head"] > 0
    last = max(r["step"] for r in stats)
    assert max(r["weight_change"] for r in stats if r["step"] == last and r["layer"].startswith("encoder")) > 0


def test_a_restarted_server_loads_the_same_run_from_the_store_alone(trained):
    service, record = trained
    root = service.store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    try:
        before, after = load_run(service.store, record), load_run(restarted.store, restarted.store.read(record.id))
        np.testing.assert_array_equal(before.predicted, after.predicted)
        assert before.results == after.results
    finally:
        restarted.shutdown()


def test_lr_find_job(trained):
    service, _ = trained
    ref = upload(service, squares_zip(16))
    run = service.submit("segmentation", "lr_find", ref, TINY, owner="t")
    record = service.wait(run.id, timeout=300)
    assert record.status == DONE, record.error
    found = service.store.results(run.id)
    assert len(found["lrs"]) == len(found["losses"]) >= 10 and found["valley"] is not None


def test_stop_keeps_what_was_trained(service):
    ref = upload(service, squares_zip(40))
    run = service.submit("segmentation", "fit", ref, dict(TINY, epochs=29, bs=2), owner="t")   # 30 with the frozen one
    wait_until(lambda: any(e["e"] == "losses" for e in service.store.events(run.id).read_new()), timeout=120)
    service.cancel(run.id, by="t")
    record = service.wait(run.id, timeout=120)
    assert record.status == CANCELLED
    loaded = load_run(service.store, record)
    assert loaded.results["stopped_early"] and len(loaded.valid_idx) == 10


@pytest.mark.parametrize("config, words", [
    (dict(min_scale=5), "'min_scale' must be a number from 0.1 to 1"),
    (dict(width=40.5), "'width' must be a whole number"),
    (dict(lr=-1), "'lr' must be a number"),
    (dict(epochs=2.5), "'epochs' must be a whole number"),
    (dict(backbone="../../etc"), "no encoder called"),
    (dict(bs=10**6), "'bs' must be 'auto' or a whole number from 1 to 256"),
])
def test_settings_no_page_offers_are_refused_with_a_sentence(service, config, words):
    """A crafted link's settings are refused when the run is submitted: a sentence at once, nothing queued."""
    ref = upload(service, squares_zip(4))
    with pytest.raises(StudentError) as refused:
        service.submit("segmentation", "fit", ref, dict(TINY, **config), owner="t")
    assert words in str(refused.value) and not service.store.owner_ids("t")


def test_the_class_limits_bound_the_image_width(service):
    with pytest.raises(LimitError, match="images of at most 512 pixels"):
        service.submit("segmentation", "fit", {"dataset": "scenes"}, dict(TINY, width=4096), owner="t")


def test_a_bad_zip_fails_its_run_with_the_zip_s_sentence(service):
    from tests.test_segmentation_upload import GOOD, mutate
    ref = upload(service, mutate(GOOD, {"labels/f02_P.png": None}))
    record = service.wait(service.submit("segmentation", "fit", ref, TINY, owner="t").id, timeout=60)
    assert record.status == FAILED and "f02.png has no mask" in record.error
    ref = dict(upload(service, squares_zip(4)), kind="csv")
    record = service.wait(service.submit("segmentation", "fit", ref, TINY, owner="t").id, timeout=60)
    assert record.status == FAILED and "not a zip of photos and masks" in record.error


def damage(path, how):
    if how == "truncate":
        path.write_bytes(path.read_bytes()[:200])
    elif how == "nest":
        path.write_text("[" * 50_000 + "]" * 50_000)
    elif how == "lie":
        meta = json.loads(path.read_text())
        meta["codes"] = meta["codes"] + ["an extra class"]
        path.write_text(json.dumps(meta))
    elif how == "delete":
        path.unlink()


@pytest.mark.parametrize("file, how, words", [
    ("arrays.safetensors", "truncate", "results file is damaged"),
    ("arrays.safetensors", "delete", "results were not saved"),
    ("results.json", "nest", "results is damaged"),
    ("model.json", "nest", "nested far too deeply"),
    ("model.json", "lie", "do not fit the metadata"),
    ("model.safetensors", "truncate", "weights file is damaged"),
    ("model.safetensors", "delete", "model was not saved"),
])
def test_a_damaged_run_file_gives_a_sentence(trained, tmp_path, file, how, words):
    import shutil
    service, record = trained
    store = RunStore(tmp_path / "copy")
    shutil.copytree(service.store.path(record.id), store.path(record.id))
    damage(store.path(record.id) / file, how)
    with pytest.raises(RunDamaged, match=words):
        load_run(store, store.read(record.id))


def test_arrays_that_disagree_with_the_model_are_refused(trained, tmp_path):
    import shutil
    from safetensors.numpy import load_file, save_file
    service, record = trained
    store = RunStore(tmp_path / "copy")
    shutil.copytree(service.store.path(record.id), store.path(record.id))
    path = store.path(record.id) / "arrays.safetensors"
    arrays = load_file(str(path))
    arrays["predicted"] = np.full_like(arrays["predicted"], 9)                    # a code the model doesn't have
    save_file(arrays, str(path))
    with pytest.raises(RunDamaged, match="do not agree"):
        load_run(store, store.read(record.id))


def test_camvid_from_its_download_cache_trains_like_the_scenes(service, tmp_path, monkeypatch):
    """CamVid (tiny) online: resolved to its download (here a small folder in CamVid's layout), then the same job."""
    from core import datasets
    from tests.test_segmentation_upload import squares_files
    folder = tmp_path / "camvid_tiny"
    for name, data in squares_files(16).items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    asked = []

    def resolve(name, prefer_online=False, **kwargs):
        asked.append((name, prefer_online))
        return datasets.ResolvedDataset(datasets.get_dataset(name), folder, "cache", "cached")
    monkeypatch.setattr(datasets, "resolve", resolve)
    run = service.submit("segmentation", "fit", {"dataset": "camvid_tiny", "source": "online"}, TINY, owner="t")
    record = service.wait(run.id, timeout=300)
    assert record.status == DONE, record.error
    assert asked == [("camvid_tiny", True)] and record.fingerprint.startswith("md5:")
    assert load_run(service.store, record).results["description"] == "CamVid (tiny)"
