"""core/modelfiles.py, the one way every lesson reads a model's two files: the metadata (bounded JSON object) and
the safetensors header (read from bytes or from a path, without a tensor), checked against the shapes a model needs;
every refusal a sentence, nothing unpickled. Each lesson's own checks: tests/test_modelfiles_lessons.py."""
import io
import json
import pickle
import struct

import pytest
import torch

from core.errors import StudentError
from core.modelfiles import (MAX_META_DEPTH, ModelFileError, check_header, check_size, depth, header_of,
                             parameter_count, parse_meta, read_run_model, read_tensors)
from core.runs import RunDamaged
from core.serialize import model_to_bytes

MODEL = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4))
WEIGHTS, META = model_to_bytes(MODEL, {"kind": "test", "layers": [4]})
SHAPES = {k: tuple(v.shape) for k, v in MODEL.state_dict().items()}


def with_header(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


@pytest.fixture(params=["bytes", "path"])
def source(request, tmp_path):
    """The same file as an upload's bytes or as a run's file on disk: both are read the same way."""
    def make(content: bytes):
        if request.param == "bytes":
            return content
        path = tmp_path / "model.safetensors"
        path.write_bytes(content)
        return path
    return make


def test_the_error_is_a_sentence_for_the_student():
    assert issubclass(ModelFileError, StudentError) and issubclass(ModelFileError, ValueError)


# ---- the metadata ---------------------------------------------------------------------------------------------------
def test_metadata_that_is_a_plain_object_is_kept(tmp_path):
    assert parse_meta(META) == {"kind": "test", "layers": [4], "format_version": 1}
    (tmp_path / "m.json").write_bytes(META)
    assert parse_meta(tmp_path / "m.json") == parse_meta(META)


@pytest.mark.parametrize("raw, words", [
    (b"[" * 10_000 + b"]" * 10_000, "nested far too deeply"),                 # the parser gives up: a sentence
    (b'{"a": ' + b"[" * 10_000 + b"]" * 10_000 + b"}", "nested far too deeply"),
    (json.dumps({"a": {"b": {"c": {"d": {"e": {"f": {}}}}}}}).encode(), "nested far too deeply"),   # 7 levels
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe", "not valid JSON"),
    (b"\x80\x04\x95pickle", "not valid JSON"),
    (b"[1, 2]", "must hold a JSON object"),
    (b'"text"', "must hold a JSON object"),
    (b" " * (2**20 + 1), "far larger than a model's metadata file"),
])
def test_metadata_that_is_not_metadata_gets_a_sentence(raw, words):
    with pytest.raises(ModelFileError, match=words):
        parse_meta(raw)


def test_a_lesson_may_allow_larger_metadata_and_name_it_its_way(tmp_path):
    big = json.dumps({"users": ["x" * 10] * 200_000}).encode()               # 2.7 MB of vocabulary
    assert len(parse_meta(big, max_bytes=64 * 2**20)["users"]) == 200_000
    with pytest.raises(ModelFileError, match="The settings file is 2.7 MB"):
        parse_meta(big, name="settings file")
    (tmp_path / "m.json").write_bytes(big)                                     # refused from its size: never read
    with pytest.raises(ModelFileError, match="far larger"):
        parse_meta(tmp_path / "m.json")


def test_depth_counts_objects_and_lists_only():
    assert depth({}) == 1 and depth({"a": [1, "x", {"b": 2}]}) == 3 and depth({"a": "[[[[[[[["}) == 1
    assert depth({"a": [[[[[[[[1]]]]]]]]}) == MAX_META_DEPTH + 1               # stops counting past the limit


# ---- the weights' header --------------------------------------------------------------------------------------------
def test_the_header_is_read_without_a_tensor_from_bytes_or_a_path(source, monkeypatch):
    import safetensors.torch
    monkeypatch.setattr(safetensors.torch, "load", lambda *a: pytest.fail("tensors read"))
    monkeypatch.setattr(safetensors.torch, "load_file", lambda *a: pytest.fail("tensors read"))
    found = header_of(source(WEIGHTS))
    assert found["0.weight"] == ("F32", (4, 3)) and found["1.num_batches_tracked"] == ("I64", ())
    assert {k: shape for k, (_, shape) in found.items()} == SHAPES


def test_a_missing_file_is_not_a_damaged_one(tmp_path):
    with pytest.raises(FileNotFoundError):
        header_of(tmp_path / "nothing.safetensors")
    with pytest.raises(FileNotFoundError):
        parse_meta(tmp_path / "nothing.json")


def torch_save_bytes() -> bytes:
    buffer = io.BytesIO()
    torch.save(MODEL.state_dict(), buffer)                 # a .pt file: a zip holding a pickle
    return buffer.getvalue()


@pytest.mark.parametrize("content, words", [
    (b"", "not a safetensors file"),
    (b"\x01\x02", "not a safetensors file"),
    (pickle.dumps({"0.weight": [1.0]}), "not a safetensors file"),            # a pickle posing as weights
    ("torch.save", "not a safetensors file"),
    (struct.pack("<Q", 2**40) + b"{}", "not a safetensors file"),            # a header claiming a terabyte
    (struct.pack("<Q", 8) + b"{}", "not a safetensors file"),                # a header longer than the file
    (struct.pack("<Q", 2) + b"[]", "not a safetensors file"),
    (with_header({"a": {"dtype": "F32", "shape": [2, 2]}}), "not a safetensors file"),           # no offsets
    (with_header({"a": {"dtype": "F32", "shape": [2, -2], "data_offsets": [0, 16]}}), "not a safetensors file"),
    (with_header({"a": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}), "not a safetensors file"),
    (with_header({"a": {"dtype": "F32", "shape": [1] * 9, "data_offsets": [0, 4]}}), "not a safetensors file"),
    (with_header({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 4]}}, b"\0" * 4), "not a safetensors"),
    (with_header({"a": [1, 2]}), "not a safetensors file"),
    (struct.pack("<Q", 10_000) + b"[" * 10_000, "not a safetensors file"),   # a header nested 10,000 deep
    (with_header({"a": {"dtype": "F32", "shape": [16384, 16384], "data_offsets": [0, 4 * 16384 ** 2]}}),
     "cut short"),                                                              # the numbers it lists are not there
    ("truncated", "cut short"),
])
def test_a_file_that_is_not_safetensors_or_is_cut_short_gets_a_sentence(source, content, words, monkeypatch):
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(pickle, "load", lambda *a, **k: pytest.fail("unpickled"))
    content = {"torch.save": torch_save_bytes(), "truncated": WEIGHTS[:-10]}.get(content, content)
    with pytest.raises(ModelFileError, match=words) as e:
        header_of(source(content))
    assert "/" not in str(e.value).split(":")[0]                               # no server path in the sentence


def test_the_header_is_checked_against_the_shapes_a_model_needs():
    found = header_of(WEIGHTS)
    check_header(SHAPES, found, "a toy")
    with pytest.raises(ModelFileError, match="not those of a toy: 1 of its tensors are missing and 1 are unexpected"):
        check_header({**{k: v for k, v in SHAPES.items() if k != "0.bias"}, "extra": (1,)}, found, "a toy")
    with pytest.raises(ModelFileError, match=r"do not fit the metadata: '0.weight' is 4 × 3, but a toy needs 5 × 3"):
        check_header({**SHAPES, "0.weight": (5, 3)}, found, "a toy")
    ints = {**found, "0.weight": ("I8", (4, 3))}
    with pytest.raises(ModelFileError, match="'0.weight' holds I8 numbers, not floating-point"):
        check_header(SHAPES, ints, "a toy")
    check_header(SHAPES, {**found, "0.weight": ("BF16", (4, 3))}, "a toy")    # any float will do


def test_a_model_too_big_to_build_is_refused_from_its_count():
    assert parameter_count({"a": (3, 4), "b": (4,), "c": ()}) == 17
    check_size(100, 100, "toys")
    with pytest.raises(ModelFileError, match="a model of 101 parameters; this server loads toys of up to 100"):
        check_size(101, 100, "toys")


def test_tensors_are_read_only_from_a_checked_file(source):
    state = read_tensors(source(WEIGHTS))
    assert torch.equal(state["0.weight"], MODEL[0].weight.detach())
    header_end = 8 + struct.unpack("<Q", WEIGHTS[:8])[0]
    with pytest.raises(ModelFileError, match="damaged"):
        read_tensors(source(WEIGHTS[:header_end + 4]))


# ---- a run's files --------------------------------------------------------------------------------------------------
def test_a_runs_model_reads_through_the_lessons_reader_and_fails_with_a_sentence(tmp_path):
    def read(weights, meta):
        return parse_meta(meta), header_of(weights)
    with pytest.raises(RunDamaged, match="This run's model was not saved"):
        read_run_model(tmp_path, read)
    (tmp_path / "model.safetensors").write_bytes(WEIGHTS)
    (tmp_path / "model.json").write_bytes(META)
    assert read_run_model(tmp_path, read)[0]["kind"] == "test"
    (tmp_path / "model.json").write_bytes(b"[1]")
    with pytest.raises(RunDamaged, match="This run's model cannot be used: The metadata file must hold") as e:
        read_run_model(tmp_path, read)
    assert str(tmp_path) not in str(e.value)
