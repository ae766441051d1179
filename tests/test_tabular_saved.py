"""A tabular model's files read back without trusting them: a JSON of a few hundred bytes claiming huge layers is
refused before anything is allocated, every field of the wrong type or value gets a sentence, and weights that do
not fit are refused from their header, before a model is built."""
import copy
import json

import pytest
import torch

from core.modelfiles import ModelFileError
from core.serialize import model_to_bytes
from core.tabular import saved
from core.tabular.model import build_model
from core.tabular.saved import MAX_PARAMETERS, parameter_count, tabular_from_files
from core.tabular.train import model_meta, prepare
from tests.test_tabular_model import TOY_SPEC, toy_table


@pytest.fixture(scope="module")
def prepared():
    return prepare(toy_table(300), TOY_SPEC)


@pytest.fixture(scope="module")
def exported(prepared):
    torch.manual_seed(0)
    model = build_model(prepared.procs, [8, 4]).eval()
    return model_to_bytes(model, model_meta(prepared.spec, prepared.procs, model)), model


@pytest.fixture
def nothing_is_built(monkeypatch):
    """Fails a test if a model is built for real: only the meta device (shapes, no memory) is allowed."""
    def refuse(*args, **kwargs):
        raise AssertionError("a model was built before the files were checked")

    real = saved.TabularModel

    def only_on_the_meta_device(*args, **kwargs):
        assert torch.get_default_device().type == "meta", "a model was allocated before the files were checked"
        return real(*args, **kwargs)
    monkeypatch.setattr(saved, "build_model", refuse)
    monkeypatch.setattr(saved, "TabularModel", only_on_the_meta_device)


def meta_with(exported, change) -> bytes:
    (_, meta), _ = exported
    meta = json.loads(meta)
    change(meta)
    return json.dumps(meta).encode()


def test_the_issues_tiny_json_claiming_three_layers_of_16k_units_allocates_nothing(exported, nothing_is_built,
                                                                                   monkeypatch):
    """The issue: a 463-byte JSON with three hidden layers of 16k units allocated about 1 GB."""
    monkeypatch.setattr(saved, "TabularModel", lambda *a, **k: pytest.fail("not even on the meta device"))
    (weights, _), _ = exported
    tiny = json.dumps({"kind": "tabular", "layers": [16384] * 3,
                       "spec": {"target": "y", "cat_names": ["a"], "cont_names": ["x"]},
                       "procs": {"target": "y", "classes": ["no", "yes"],
                                 "fill": {"cont_names": ["x"], "medians": {"x": 0}, "na_columns": []},
                                 "categorify": {"cat_names": ["a"], "vocab": {"a": ["#na#", "p", "q"]}},
                                 "normalize": {"cont_names": ["x"], "means": {"x": 0}, "stds": {"x": 1}}}}).encode()
    assert len(tiny) < 500
    with pytest.raises(ModelFileError, match="'layers' must be a list of up to 8 layer widths, each from 1 to 4,096"):
        tabular_from_files(weights, tiny)


def test_layers_each_allowed_but_too_many_parameters_together_are_refused_from_the_count(exported, nothing_is_built,
                                                                                       monkeypatch):
    monkeypatch.setattr(saved, "TabularModel", lambda *a, **k: pytest.fail("not even on the meta device"))
    (weights, _), _ = exported
    with pytest.raises(ModelFileError, match=f"parameters; this server loads tabular models of up to "
                                             f"{MAX_PARAMETERS:,}"):
        tabular_from_files(weights, meta_with(exported, lambda m: m.update(layers=[4096] * 8)))


def test_the_parameter_count_is_the_models(prepared):
    procs = prepared.procs
    assert procs.categorify.cat_names[-1] == "hours_na"                  # a FillMissing flag is an embedding too
    for layers in ([200, 100], [8, 4], [], [3]):
        model = build_model(procs, layers)
        assert parameter_count(procs, layers) == sum(p.numel() for p in model.parameters())


def drop(*path):
    def change(meta):
        for key in path[:-1]:
            meta = meta[key]
        del meta[path[-1]]
    return change


def put(value, *path):
    def change(meta):
        for key in path[:-1]:
            meta = meta[key]
        meta[path[-1]] = value
    return change


@pytest.mark.parametrize("change, words", [
    (put("image", "kind"), "not a tabular model's metadata"),
    (drop("spec"), "'spec' must be an object"),
    (put([1, 2], "procs"), "'procs' must be an object"),
    (put(7, "spec", "target"), "'spec.target' must be"),
    (put("city", "spec", "cat_names"), "'spec.cat_names' must be a list"),
    (put([["city"]], "spec", "cat_names"), "'spec.cat_names' must be a list"),
    (put(["city", "city"], "spec", "cat_names"), "different column names"),
    (put(["x" * 500], "spec", "cont_names"), "'spec.cont_names' must be a list"),
    (put(["rich", "hours"], "spec", "cont_names"), "columns do not add up"),
    (put(["city"], "spec", "cont_names"), "columns do not add up"),
    (put("salary", "procs", "target"), "'procs.target' must be the spec's target"),
    (put(["yes"], "procs", "classes"), "'procs.classes' must be a list of 2 to 20"),
    (put([f"c{i}" for i in range(100)], "procs", "classes"), "'procs.classes' must be a list of 2 to 20"),
    (put([1, 2], "procs", "classes"), "'procs.classes'"),
    (put(["hours"], "procs", "fill", "cont_names"), "'procs' must be the spec's continuous columns"),
    (put(["noise", "hours"], "procs", "normalize", "cont_names"), "'procs' must be the spec's continuous columns"),
    (put(["city"], "procs", "fill", "na_columns"), "'procs.fill.na_columns' must be some of the continuous"),
    (put(["city", "colour"], "procs", "categorify", "cat_names"), "'procs.categorify.cat_names' must be"),
    (put({"city": ["#na#"]}, "procs", "categorify", "vocab"), "'procs.categorify.vocab' must be a list"),
    (put(["paris", "lyon"], "procs", "categorify", "vocab", "city"), "'#na#' then up to 10,000"),
    (put("#na#", "procs", "categorify", "vocab", "city"), "'#na#' then up to 10,000"),
    (put(["#na#"] + [f"v{i}" for i in range(10_001)], "procs", "categorify", "vocab", "city"), "up to 10,000"),
    (put(["#na#", 3], "procs", "categorify", "vocab", "city"), "'#na#' then up to"),
    (put({"hours": "35"}, "procs", "fill", "medians"), "'procs.fill.medians' must be a finite number"),
    (put({"hours": 1, "noise": True}, "procs", "normalize", "means"), "'procs.normalize.means' must be"),
    (put({"hours": 1.0, "noise": 0.0}, "procs", "normalize", "stds"), "'procs.normalize.stds' must be a positive"),
    (put({"hours": 1.0, "noise": float("nan")}, "procs", "normalize", "stds"), "'procs.normalize.stds' must be"),
    (put("200", "layers"), "'layers' must be a list"),
    (put([8.5, 4], "layers"), "'layers' must be a list"),
    (put([8, True], "layers"), "'layers' must be a list"),
    (put([8, 0], "layers"), "'layers' must be a list"),
    (drop("layers"), "'layers' must be a list"),
])
def test_every_field_of_the_wrong_type_or_value_gets_a_sentence_before_anything_is_built(exported, nothing_is_built,
                                                                                     change, words):
    (weights, _), _ = exported
    with pytest.raises(ModelFileError, match=words):
        tabular_from_files(weights, meta_with(exported, change))


def test_weights_that_do_not_fit_the_metadata_are_refused_from_their_header(exported, nothing_is_built,
                                                                             monkeypatch):
    import core.tabular.saved
    monkeypatch.setattr(core.tabular.saved, "read_tensors", lambda source: pytest.fail("tensors read"))
    (weights, _), _ = exported
    with pytest.raises(ModelFileError, match="do not fit the metadata: 'layers.0.weight' is 8 × 11, but a tabular "
                                             "model of 3 embeddings, 2 continuous columns and layers \\[16, 4\\] "
                                             "needs 16 × 11"):
        tabular_from_files(weights, meta_with(exported, put([16, 4], "layers")))
    with pytest.raises(ModelFileError, match="not those of a tabular model"):
        tabular_from_files(weights, meta_with(exported, put([8, 4, 2], "layers")))
    extra = copy.deepcopy(json.loads(exported[0][1]))
    extra["procs"]["categorify"]["vocab"]["city"].append("tokyo")          # one more city than the weights know
    with pytest.raises(ModelFileError, match="'embeds.0.weight' is 4 × 3, but .* needs 5 × 4"):
        tabular_from_files(weights, json.dumps(extra).encode())


def test_a_good_pair_still_loads_and_predicts_the_same(exported):
    (weights, meta), model = exported
    loaded = tabular_from_files(weights, meta)
    x_cat, x_cont = torch.tensor([[1, 2, 1], [3, 1, 2]]), torch.randn(2, 2)
    assert torch.equal(loaded.model(x_cat, x_cont), model(x_cat, x_cont))
    assert loaded.spec == TOY_SPEC and loaded.meta["kind"] == "tabular"
