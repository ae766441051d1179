"""Every lesson that keeps a model reads its two files through core/modelfiles.py, and refuses the same bad files
with a sentence: a pickle posing as weights, a truncated safetensors file, metadata nested 10,000 deep, metadata
with fields of the wrong type, weights whose header lies about shapes. Nothing is ever unpickled. The lessons are
discovered from core/lessons.py (a job that keeps a model) and their readers from core/modelfiles.py's registry."""
import importlib
import io
import json
import math
import pickle
import struct

import pytest
import torch
from safetensors.torch import save

from core.errors import StudentError
from core.lessons import list_lessons
from core.modelfiles import READERS, read_run_model
from core.runs import RunDamaged


# ---- a small good pair of files per lesson, and the field its model is built from ----------------------------------
def vision_files():
    from core.models import create_backbone
    model = create_backbone("efficientnet_lite0", 2, pretrained=False).model
    return model, dict(task="image_classification", backbone="efficientnet_lite0", vocab=["bird", "not bird"],
                       size=64, method="squish", mean=[0.5] * 3, std=[0.25] * 3)


def segmentation_files():
    from core.segmentation.model import create_unet
    model, _ = create_unet("efficientnet_lite0", 3, pretrained=False)
    return model, dict(task="segmentation", backbone="efficientnet_lite0", codes=["background", "a", "b"],
                       shape=[48, 64], mean=[0.5] * 3, std=[0.25] * 3, weights="random", trained_on="tests")


def tabular_files():
    from core.tabular.model import build_model
    from core.tabular.train import model_meta, prepare
    from tests.test_tabular_model import TOY_SPEC, toy_table
    data = prepare(toy_table(200), TOY_SPEC)
    model = build_model(data.procs, [8, 4])
    return model, model_meta(data.spec, data.procs, model, {"accuracy": 0.8, "lr": 0.01, "epochs": 1})


def collab_files():
    from core.collab.model import build_model
    users, items = ["#na#", "a", "b", "c"], ["#na#", "x", "y"]
    return build_model(len(users), len(items), 4), {
        "kind": "collab", "users": users, "items": items,
        "settings": {"n_factors": 4, "y_range": [0.5, 5.5], "wd": 0.1, "use_nn": False, "layers": [100],
                     "batch_size": 64}}


def titanic_files():
    from core.basics.titanic import CLASSES, FEATURES, make_mlp
    return make_mlp(8), dict(lesson="how_training_works", network="titanic_mlp", n_hidden=8, features=list(FEATURES),
                             classes=list(CLASSES), n_train=100, seed=0,
                             scaling={"age_median": 28.0, "means": {"age": 29.0, "sibsp": 0.5, "parch": 0.4},
                                      "stds": {"age": 14.0, "sibsp": 1.0, "parch": 0.9}})


# lesson -> (a good pair of files, a field the model's size comes from, that field with a wrong type, what's said)
FILES = {
    "image_classification": (vision_files, ("vocab",), "bird", "class names"),
    "segmentation": (segmentation_files, ("codes",), "background", "class names"),
    "tabular": (tabular_files, ("layers",), "200", "'layers'"),
    "collab": (collab_files, ("settings", "n_factors"), "50", "'n_factors'"),
    "how_training_works": (titanic_files, ("n_hidden",), "32", "'n_hidden'"),
}


def lessons_that_keep_a_model() -> list[str]:
    return [lesson.key for lesson in list_lessons() if any(job.keeps_model for job in lesson.jobs)]


def reader(lesson: str):
    from core.lessons import get_lesson
    for module in get_lesson(lesson).modules:
        importlib.import_module(module)
    return READERS.lookup(lesson)


def test_every_lesson_that_keeps_a_model_registers_a_reader_and_is_tested_here():
    keeping = lessons_that_keep_a_model()
    assert set(keeping) == set(FILES), "a lesson keeps a model: give it a reader and a good pair of files here"
    for lesson in keeping:
        assert callable(reader(lesson))


@pytest.fixture(scope="module", params=sorted(FILES))
def lesson(request):
    make, field, wrong, words = FILES[request.param]
    torch.manual_seed(0)
    model, meta = make()
    state = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    return request.param, reader(request.param), save(state), json.dumps(meta).encode(), (field, wrong, words)


@pytest.fixture(autouse=True)
def nothing_is_unpickled(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")
    for name in ("load", "loads"):
        monkeypatch.setattr(pickle, name, refuse)
    monkeypatch.setattr(torch, "load", refuse)


def refused(read, weights: bytes, meta: bytes, tmp_path) -> list[str]:
    """The sentences for an upload (bytes) and for a run's files (paths): both must refuse."""
    with pytest.raises(StudentError) as upload:
        read(weights, meta)
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "model.json").write_bytes(meta)
    with pytest.raises(RunDamaged) as run:
        read_run_model(tmp_path, read)
    for sentence in (str(upload.value), str(run.value)):
        assert sentence[0].isupper() and sentence.rstrip().endswith((".", "?", ")")), sentence
        assert str(tmp_path) not in sentence and "Traceback" not in sentence
    return [str(upload.value), str(run.value)]


def test_a_good_pair_loads_from_bytes_and_from_a_runs_files(lesson, tmp_path):
    _, read, weights, meta, _ = lesson
    assert read(weights, meta) is not None
    (tmp_path / "model.safetensors").write_bytes(weights)
    (tmp_path / "model.json").write_bytes(meta)
    assert read_run_model(tmp_path, read) is not None


def test_a_pickle_posing_as_weights(lesson, tmp_path):
    _, read, weights, meta, _ = lesson

    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('unpickled!')",))
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buffer)                          # a .pt file: a zip holding a pickle
    for posing in (pickle.dumps(Boom()), pickle.dumps({"0.weight": [1.0]}), buffer.getvalue()):
        assert "not a safetensors file" in refused(read, posing, meta, tmp_path)[0]


def test_a_truncated_safetensors_file(lesson, tmp_path):
    _, read, weights, meta, _ = lesson
    header_end = 8 + struct.unpack("<Q", weights[:8])[0]
    for cut in (weights[:4], weights[:header_end // 2], weights[:header_end + 8], weights[:-1]):
        assert "damaged" in refused(read, cut, meta, tmp_path)[0]


def test_metadata_nested_10000_deep(lesson, tmp_path):
    _, read, weights, meta, _ = lesson
    deep = b"[" * 10_000 + b"]" * 10_000
    for nested in (deep, meta.rstrip()[:-1] + b', "notes": ' + deep + b"}"):
        assert "nested far too deeply" in refused(read, weights, nested, tmp_path)[0]


def test_metadata_whose_model_field_has_the_wrong_type(lesson, tmp_path):
    _, read, weights, meta, (field, wrong, words) = lesson
    changed = json.loads(meta)
    inner = changed
    for key in field[:-1]:
        inner = inner[key]
    inner[field[-1]] = wrong
    assert words in refused(read, weights, json.dumps(changed).encode(), tmp_path)[0]


WRONG_TYPES = [None, True, 7, -1, 2.5, float("inf"), "text", [], ["a", 1], {}, {"a": [1]}]


def test_any_field_of_any_type_gets_a_sentence_or_is_ignored_never_a_crash(lesson):
    """Every field, and every field of an object inside, replaced by values of other types: the reader either
    refuses with a sentence or (for fields it does not use) loads; never another exception."""
    _, read, weights, meta, _ = lesson
    original, crashes = json.loads(meta), []
    paths = [(k,) for k in original] + [(k, sub) for k, v in original.items() if isinstance(v, dict) for sub in v]
    for path in paths:
        for value in WRONG_TYPES:
            changed = json.loads(meta)
            inner = changed
            for key in path[:-1]:
                inner = inner[key]
            if type(inner[path[-1]]) is type(value):
                continue
            inner[path[-1]] = value
            try:
                read(weights, json.dumps(changed).encode())
            except StudentError:
                pass
            except Exception as e:                      # noqa: BLE001 - what this test looks for
                crashes.append(f"{path}={value!r}: {type(e).__name__}: {e}"[:200])
    assert not crashes


def rewrite_header(weights: bytes, change) -> bytes:
    n = struct.unpack("<Q", weights[:8])[0]
    header = json.loads(weights[8:8 + n])
    change(header)
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + weights[8 + n:]


def test_weights_whose_header_lies_about_shapes(lesson, tmp_path, monkeypatch):
    _, read, weights, meta, _ = lesson
    header = json.loads(weights[8:8 + struct.unpack("<Q", weights[:8])[0]])
    matrix = next(k for k, v in header.items() if k != "__metadata__" and len(v["shape"]) >= 2)

    def flattened(h):                                   # the same numbers, another shape: safetensors accepts it
        h[matrix]["shape"] = [math.prod(h[matrix]["shape"])]

    def huge(h):                                        # a shape far bigger than the numbers that follow
        h[matrix]["shape"] = [16384, 16384]
    assert "do not fit the metadata" in refused(read, rewrite_header(weights, flattened), meta, tmp_path)[0]
    assert "not a safetensors file" in refused(read, rewrite_header(weights, huge), meta, tmp_path)[0]
