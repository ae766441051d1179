"""Loading a segmentation model back: exported files give the same predictions; metadata that lies, is nested or
wrongly typed, and weights that don't fit it, are refused with a sentence before anything is allocated; nothing is
ever unpickled."""
import json
import pickle

import numpy as np
import pytest
import torch
from PIL import Image

from core.segmentation import saved
from core.segmentation.model import create_unet
from core.modelfiles import ModelFileError
from core.segmentation.saved import segmenter_from_files
from core.segmentation.train import TrainedSegmenter
from core.serialize import model_to_bytes, save_model

CODES = ["background", "red thing", "green thing"]


@pytest.fixture(scope="module")
def segmenter():
    torch.manual_seed(0)
    model, _ = create_unet("efficientnet_lite0", len(CODES), pretrained=False)
    return TrainedSegmenter(model.eval(), CODES, (48, 64), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5), "efficientnet_lite0",
                            dict(weights="random", trained_on="tests"))


@pytest.fixture(scope="module")
def exported(segmenter):
    return model_to_bytes(segmenter.model, segmenter.export_meta())


def photo(seed=0, size=(90, 70)):
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def test_an_exported_model_loads_back_and_predicts_the_same(segmenter, exported, tmp_path):
    loaded = segmenter_from_files(*exported)
    assert loaded.codes == CODES and loaded.shape == (48, 64) and loaded.meta["trained_on"] == "tests"
    save_model(tmp_path / "model", segmenter.model, segmenter.export_meta())
    from_files = segmenter_from_files(tmp_path / "model.safetensors", tmp_path / "model.json")
    for other in (loaded, from_files):
        probs, again = segmenter.predict_proba(photo()), other.predict_proba(photo())
        assert probs.shape == (3, 70, 90)
        np.testing.assert_allclose(probs.sum(0), 1, atol=1e-5)
        np.testing.assert_allclose(probs, again, atol=1e-6)
    codes, confidence = loaded.predict(photo())
    assert codes.dtype == np.uint8 and (confidence >= 1 / 3 - 1e-6).all() and (confidence <= 1 + 1e-6).all()


def test_a_big_photo_is_predicted_at_a_bounded_size(segmenter):
    probs = segmenter.predict_proba(photo(size=(2000, 1500)))
    assert probs.shape == (3, 360, 480)


def meta_with(exported, **changes) -> bytes:
    meta = json.loads(exported[1])
    meta.update(changes)
    return json.dumps(meta).encode()


@pytest.mark.parametrize("change, words", [
    (dict(task="tabular"), "not a segmentation model"),
    (dict(backbone="resnet9000"), "encoder this app does not know"),
    (dict(codes="background"), "class names must be a list"),
    (dict(codes=[["background"], ["x"]]), "class names must be a list"),
    (dict(codes=[f"c{i}" for i in range(10**5)]), "class names must be a list of 2 to 256"),
    (dict(codes=["a", "b" * 500]), "short names"),
    (dict(shape=[10**6, 10**6]), "image size must be"),
    (dict(shape=[48.5, 64]), "image size must be"),
    (dict(shape=[True, 64]), "image size must be"),
    (dict(mean=[0.5, 0.5]), "mean must be three numbers"),
    (dict(std=[0.5, 0.5, 0]), "std must be positive"),
    (dict(std=[0.5, 0.5, float("nan")]), "std must be three numbers"),
])
def test_metadata_that_lies_is_refused_before_a_model_is_built(exported, monkeypatch, change, words):
    def must_not_build(*args, **kwargs):
        raise AssertionError("a model was built from metadata that should have been refused")
    monkeypatch.setattr(saved, "create_unet", must_not_build)
    with pytest.raises(ModelFileError, match=words):
        segmenter_from_files(exported[0], meta_with(exported, **change))


@pytest.mark.parametrize("meta, words", [
    (b"[" * 100_000 + b"]" * 100_000, "nested far too deeply"),
    (json.dumps({"task": "segmentation", "x": [[[[[[[[["deep"]]]]]]]]]}).encode(), "nested far too deeply"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2, 3]", "must hold a JSON object"),
    (b" " * (2 * 2**20), "far larger"),
    (b'{"task": "segmentation", "x": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested far too deeply"),
])
def test_metadata_that_is_not_metadata_gets_a_sentence(exported, meta, words):
    with pytest.raises(ModelFileError, match=words):
        segmenter_from_files(exported[0], meta)


def test_weights_that_do_not_fit_the_metadata_are_refused_before_they_are_read(exported, monkeypatch):
    import safetensors.torch

    def must_not_load(*args, **kwargs):
        raise AssertionError("tensors were read before the header was checked")

    def only_on_the_meta_device(*args, **kwargs):                       # shapes only: nothing allocated
        assert torch.get_default_device().type == "meta", "a model was built before the header was checked"
        return create_unet(*args, **kwargs)
    monkeypatch.setattr(safetensors.torch, "load", must_not_load)
    monkeypatch.setattr(saved, "create_unet", only_on_the_meta_device)
    with pytest.raises(ModelFileError, match="do not fit the metadata"):               # 5 classes, weights for 3
        segmenter_from_files(exported[0], meta_with(exported, codes=["a", "b", "c", "d", "e"]))
    with pytest.raises(ModelFileError, match="not those of a U-Net on resnet18"):      # another encoder
        segmenter_from_files(exported[0], meta_with(exported, backbone="resnet18"))


def test_a_pickle_posing_as_weights_is_refused_and_never_unpickled(exported, monkeypatch):
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle.loads was called"))
    for weights in (pickle.dumps(Boom()), pickle.dumps({"w": torch.zeros(3)}), b"", exported[0][:1000]):
        with pytest.raises(ModelFileError):
            segmenter_from_files(weights, exported[1])


def test_a_damaged_weights_file_on_disk_gets_a_sentence(segmenter, tmp_path):
    save_model(tmp_path / "model", segmenter.model, segmenter.export_meta())
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(ModelFileError, match="damaged"):
        segmenter_from_files(weights, tmp_path / "model.json")
