"""Loading a collab model someone hands us: the metadata is checked, and its shapes matched against the safetensors
header, before anything is built; every bad file gets a sentence; nothing is unpickled."""
import json
import pickle
import struct

import pytest
import torch
from safetensors.torch import save

from core.collab import saved
from core.collab.model import build_model
from core.collab.saved import check_meta, collab_from_files
from core.modelfiles import ModelFileError, header_of

USERS, ITEMS = ["#na#", "a", "b", "c"], ["#na#", "x", "y"]


def meta(**changes) -> dict:
    base = {"kind": "collab", "users": USERS, "items": ITEMS,
            "settings": {"n_factors": 4, "y_range": [0.5, 5.5], "wd": 0.1, "use_nn": False, "layers": [100],
                         "batch_size": 64}}
    settings = changes.pop("settings", {})
    base["settings"] = {**base["settings"], **settings}
    return {**base, **changes}


def weights(model=None) -> bytes:
    model = model or build_model(len(USERS), len(ITEMS), 4)
    return save({k: v.contiguous() for k, v in model.state_dict().items()})


def as_json(value) -> bytes:
    return json.dumps(value).encode()


@pytest.fixture
def never_built(monkeypatch):
    """Fails a test if a model would be built: refusing must happen before any allocation."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built from metadata that should have been refused first")
    monkeypatch.setattr(saved, "build_model", refuse)


def test_a_good_pair_loads_and_predicts_like_the_original():
    model = build_model(len(USERS), len(ITEMS), 4)
    loaded = collab_from_files(weights(model), as_json(meta()))
    x = torch.tensor([[1, 2], [3, 1]])
    assert torch.equal(loaded.model(x), model.eval()(x)) and loaded.users == USERS and loaded.items == ITEMS


def test_a_tiny_json_claiming_millions_of_users_allocates_nothing(never_built):
    many = ["#na#"] + [f"u{i}" for i in range(600_000)]            # 600k users × 500 factors: 300M numbers
    with pytest.raises(ModelFileError, match="parameters"):
        collab_from_files(weights(), as_json(meta(users=many, settings={"n_factors": 500})))
    # under the size limit but not what the weights hold: refused from the header, still nothing built
    with pytest.raises(ModelFileError, match="do not fit the metadata.*needs 600,001 × 4"):
        collab_from_files(weights(), as_json(meta(users=many)))
    with pytest.raises(ModelFileError, match="from 2 to"):
        check_meta(meta(users=["#na#"] * (saved.MAX_VOCAB + 1)))
    with pytest.raises(ModelFileError, match="n_factors"):
        check_meta(meta(settings={"n_factors": 100_000}))


@pytest.mark.parametrize("bad, words", [
    (b"[" * 100_000 + b"]" * 100_000, "nested far too deeply"),
    (b"{not json", "not valid JSON"),
    (b"[1, 2]", "JSON object"),
    (as_json(meta(kind="tabular")), "not a collaborative-filtering"),
    (as_json({"kind": "collab"}), "no 'settings'"),
    (as_json(meta(settings={"n_factors": "50"})), "n_factors"),
    (as_json(meta(settings={"n_factors": True})), "n_factors"),
    (as_json(meta(settings={"y_range": [5.5, 0.5]})), "y_range"),
    (as_json(meta(settings={"y_range": [0.5]})), "y_range"),
    (b'{"kind": "collab", "users": [], "items": [], "settings": {"n_factors": 4, "y_range": [NaN, 5]}}', "y_range"),
    (as_json(meta(settings={"use_nn": "yes"})), "use_nn"),
    (as_json(meta(settings={"layers": [[[[1]]]]})), "layers"),
    (as_json(meta(users="abc")), "list of names"),
    (as_json(meta(users=[1, 2, 3])), "list of names"),
    (as_json(meta(items={"x": 1})), "list of names"),
])
def test_a_wrong_settings_file_gets_a_sentence(bad, words, never_built):
    with pytest.raises(ModelFileError, match=words):
        collab_from_files(weights(), bad)


@pytest.mark.parametrize("bad, words", [
    (b"", "not a safetensors file"),
    (pickle.dumps({"u_weight.weight": [1.0]}), "not a safetensors"),       # a pickle posing as weights
    (struct.pack("<Q", 2**40) + b"{}", "not a safetensors"),              # a header that claims a terabyte
    (struct.pack("<Q", 2) + b"[]", "not a safetensors"),
    (save({"u_weight.weight": torch.zeros(4, 4)}), "not those of a dot product of 4 users and 3 items"),
    (save({"u_weight.weight": torch.zeros(4, 4, dtype=torch.int64), "i_weight.weight": torch.zeros(3, 4),
           "u_bias.weight": torch.zeros(4, 1), "i_bias.weight": torch.zeros(3, 1)}), "not floating-point"),
    (save({"u_weight.weight": torch.zeros(4, 5), "i_weight.weight": torch.zeros(3, 5),
           "u_bias.weight": torch.zeros(4, 1), "i_bias.weight": torch.zeros(3, 1)}), "is 4 × 5, but .* needs 4 × 4"),
])
def test_a_wrong_weights_file_gets_a_sentence(bad, words, never_built):
    with pytest.raises(ModelFileError, match=words):
        collab_from_files(bad, as_json(meta()))


def test_weights_cut_short_after_a_good_header_get_a_sentence():
    good = weights()
    n = struct.unpack("<Q", good[:8])[0]
    json.loads(good[8:8 + n])                                         # the header is whole, the numbers are not
    with pytest.raises(ModelFileError, match="damaged: it ends before the numbers its header lists"):
        header_of(good[:8 + n + 10])
    with pytest.raises(ModelFileError, match="cut short"):
        collab_from_files(good[:8 + n + 10], as_json(meta()))


def test_an_export_from_before_fastais_names_still_loads():
    model = build_model(len(USERS), len(ITEMS), 4)
    old_names = {"u_weight.weight": "user_factors.weight", "i_weight.weight": "item_factors.weight",
                 "u_bias.weight": "user_bias.weight", "i_bias.weight": "item_bias.weight"}
    old = save({old_names[k]: v.contiguous() for k, v in model.state_dict().items()})
    loaded = collab_from_files(old, as_json(meta()))
    assert torch.equal(loaded.model.i_bias.weight, model.i_bias.weight)


def test_files_on_disk_are_checked_from_the_header_too(tmp_path, never_built):
    (tmp_path / "m.safetensors").write_bytes(weights())
    (tmp_path / "m.json").write_bytes(as_json(meta(items=ITEMS + ["z"])))
    with pytest.raises(ModelFileError, match="'i_weight.weight' is 3 × 4, but .* needs 4 × 4"):
        collab_from_files(tmp_path / "m.safetensors", tmp_path / "m.json")
    (tmp_path / "m.safetensors").write_bytes(b"garbage" * 10)
    with pytest.raises(ModelFileError, match="not a safetensors file") as e:
        collab_from_files(tmp_path / "m.safetensors", tmp_path / "m.json")
    assert str(tmp_path) not in str(e.value)                           # no server path in a sentence
