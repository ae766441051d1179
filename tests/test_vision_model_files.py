"""A classifier someone else made (an upload, or a run's files on disk) is checked before anything is built from it:
its metadata's fields, then its weights' shapes read from the safetensors header (core/modelfiles.py, tested in
tests/test_modelfiles.py). Never a pickle."""
import json
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save

import core.vision.train as train
from core.modelfiles import ModelFileError
from core.models import create_backbone
from core.runs import RunDamaged
from core.vision.train import TrainedClassifier, classifier_from_files, expected_shapes, from_export

META = dict(task="image_classification", backbone="efficientnet_lite0", vocab=["bird", "not bird"], size=64,
            method="squish", mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])


@pytest.fixture(scope="module")
def exported():
    model = create_backbone("efficientnet_lite0", 2, pretrained=False).model.eval()
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    return save(state), json.dumps(META).encode(), model


@pytest.fixture
def nothing_is_built(monkeypatch):
    """Fails the test if a model is created: the check has to come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built before the files were checked")
    monkeypatch.setattr(train, "create_backbone", refuse)


def test_a_good_export_loads_and_predicts_like_the_original(exported):
    weights, meta, model = exported
    loaded = classifier_from_files(weights, meta)
    original = TrainedClassifier(model, META["vocab"], 64, "squish", (0.5,) * 3, (0.5,) * 3, "efficientnet_lite0")
    from PIL import Image
    photos = [Image.new("RGB", (50, 40), (200, 10, 10)), Image.new("RGB", (30, 60), (10, 200, 10))]
    torch.testing.assert_close(torch.from_numpy(loaded.predict(photos)), torch.from_numpy(original.predict(photos)))


@pytest.mark.parametrize("change, words", [
    (dict(task="tabular"), "not an image classifier"),
    (dict(backbone="../../etc/passwd"), "backbone is not one this app knows"),
    (dict(vocab="bird"), "class names"),
    (dict(vocab=["x"] * 3), "class names"),                        # not different
    (dict(vocab=[f"c{i}" for i in range(50_000)]), "class names"),   # a 256 MB head, never built
    (dict(vocab=[["nested"], "b"]), "class names"),
    (dict(size=10**9), "image size"),
    (dict(size=True), "image size"),
    (dict(method="stretch"), "resize method"),
    (dict(mean=[0.5, 0.5]), "normalisation"),
    (dict(std=[0.5, 0.0, 0.5]), "normalisation"),
    (dict(std=["a", "b", "c"]), "normalisation"),
])
def test_metadata_of_the_wrong_type_or_range_is_refused_before_anything_is_built(exported, nothing_is_built,
                                                                                 change, words):
    weights, _, _ = exported
    with pytest.raises(ModelFileError, match=words):
        classifier_from_files(weights, json.dumps(dict(META, **change)).encode())


def test_deeply_nested_or_huge_or_non_object_json_gets_a_sentence(exported, nothing_is_built):
    weights, _, _ = exported
    for raw, words in [(b"[" * 200_000 + b"]" * 200_000, "not valid JSON|nested|larger"),
                       (json.dumps(dict(META, notes={"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}})).encode(), "nested"),
                       (b"x" * (2**20 + 1), "larger"), (b"[1, 2]", "JSON object"), (b"\xff\xfe", "not valid JSON")]:
        with pytest.raises(ModelFileError, match=words):
            classifier_from_files(weights, raw)


def test_weights_that_do_not_fit_are_refused_from_the_header_before_a_tensor_is_read(exported, nothing_is_built,
                                                                                     monkeypatch):
    weights, meta, _ = exported
    monkeypatch.setattr(train, "read_tensors", lambda source: pytest.fail("tensors read before the check"))
    three = json.dumps(dict(META, vocab=["a", "b", "c"])).encode()
    with pytest.raises(ModelFileError, match="do not fit the metadata: 'classifier.weight' is 2 × 1,280, but a "
                                             "efficientnet_lite0 with 3 classes needs 3 × 1,280"):
        classifier_from_files(weights, three)
    other = json.dumps(dict(META, backbone="resnet18")).encode()
    with pytest.raises(ModelFileError, match="not those of a resnet18"):
        classifier_from_files(weights, other)
    ints = save({k: torch.zeros(v, dtype=torch.int8) for k, v in expected_shapes("efficientnet_lite0", 2).items()})
    with pytest.raises(ModelFileError, match="holds I8 numbers, not floating-point"):
        classifier_from_files(ints, meta)


def test_a_pickle_posing_as_weights_is_never_unpickled(exported, nothing_is_built, monkeypatch):
    _, meta, model = exported
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    import io
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)                         # a .pt file: a zip holding a pickle
    for posing in (buffer.getvalue(), pickle.dumps({"a": 1}), b"", b"\x08" + b"\0" * 7 + b"{}"):
        with pytest.raises(ModelFileError, match="not a safetensors file"):
            classifier_from_files(posing, meta)


def test_the_files_of_a_run_on_disk_load_the_same(exported, tmp_path):
    weights, meta, _ = exported
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "model.json").write_bytes(meta)
    from_disk = classifier_from_files(tmp_path / "model.safetensors", tmp_path / "model.json")
    from_bytes = classifier_from_files(weights, meta)
    for a, b in zip(from_disk.model.state_dict().values(), from_bytes.model.state_dict().values()):
        assert torch.equal(a, b)


def test_from_export_checks_weights_already_in_memory_too(exported, nothing_is_built):
    from safetensors.torch import load
    weights, _, _ = exported
    with pytest.raises(ModelFileError, match="3 classes"):
        from_export(load(weights), dict(META, vocab=["a", "b", "c"]))


def test_a_run_whose_model_files_are_damaged_loads_as_a_sentence(tmp_path, exported):
    """load_run reads the run's own files through the same checks."""
    from core.runs import RunStore
    from core.vision.jobs import load_run
    weights, meta, _ = exported
    store = RunStore(tmp_path)
    record = store.create("image_classification", "fit", "me", {}, {"dataset": "birds"})
    folder = store.path(record.id)
    (folder / "results.json").write_text("{}")
    import numpy as np
    from safetensors.numpy import save_file
    save_file({"probs": np.zeros((1, 2), np.float32)}, str(folder / "arrays.safetensors"))
    with pytest.raises(RunDamaged, match="model was not saved"):
        load_run(store, record)
    (folder / "model.safetensors").write_bytes(weights)
    (folder / "model.json").write_bytes(json.dumps(dict(META, vocab=["x"] * 10**5)).encode())
    with pytest.raises(RunDamaged, match="model cannot be used: The metadata's class names"):
        load_run(store, record)
    (folder / "model.json").write_bytes(meta)
    (folder / "model.safetensors").write_bytes(weights[: len(weights) // 2])
    with pytest.raises(RunDamaged, match="model cannot be used: The weights file is damaged"):
        load_run(store, record)
    assert Path(folder / "model.json").exists()
