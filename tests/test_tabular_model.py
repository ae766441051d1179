"""The model, a tiny fit, saving and loading, and the interpretation tools against scikit-learn."""
import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.inspection import permutation_importance as sk_permutation_importance
from sklearn.metrics import confusion_matrix as sk_confusion_matrix

from core.modelfiles import ModelFileError
from core.serialize import model_to_bytes, save_model
from core.tabular.interpret import (confusion_matrix, gradient_boosting_baseline, permutation_importance,
                                    predict_proba, predict_rows)
from core.embeddings import emb_sz_rule
from core.tabular.model import TabularModel, get_emb_szs
from core.tabular.table import ADULT_SPEC, TableSpec, load_adult
from core.device import cpu_threads
from core.tabular.saved import tabular_from_files
from core.tabular.train import make_learner, model_meta, prepare

CPU = torch.device("cpu")


def toy_table(n=1200, seed=0) -> pd.DataFrame:
    """'rich' depends on the city and the hours (plus noise); 'colour' and 'noise' are irrelevant."""
    rng = np.random.default_rng(seed)
    city = rng.choice(["paris", "lyon", "nice"], n)
    hours = rng.uniform(10, 60, n)
    hours[rng.random(n) < 0.1] = np.nan
    score = (city == "paris") * 1.5 + np.nan_to_num(hours, nan=35) / 20 - 2.2 + rng.normal(0, 0.4, n)
    return pd.DataFrame({"city": city, "colour": rng.choice(["red", "blue"], n), "hours": hours,
                         "noise": rng.normal(size=n), "rich": np.where(score > 0, "yes", "no")})


TOY_SPEC = TableSpec("rich", ["city", "colour"], ["hours", "noise"])


@pytest.fixture(scope="module")
def trained():
    data = prepare(toy_table(), TOY_SPEC)
    learn = make_learner(data, CPU, batch_size=64)
    with cpu_threads(CPU):
        learn.fit_one_cycle(3, 1e-2)
    return data, learn


def test_embedding_sizes_are_fastais():
    # fastai 2.8's tabular_learner on the embedded Adult table printed these Embedding(n, width)
    data = prepare(load_adult("datasets/adult"), ADULT_SPEC)
    assert get_emb_szs(data.procs.categorify.vocab, data.procs.cat_names) == \
        [(9, 5), (17, 8), (8, 5), (15, 7), (7, 5), (6, 4)]
    assert emb_sz_rule(10 ** 6) == 600                       # the cap


def test_model_shapes_and_layers():
    model = TabularModel([(4, 3), (3, 2)], n_cont=2, out_sz=2)
    out = model(torch.tensor([[1, 2], [3, 0], [0, 1]]), torch.randn(3, 2))
    assert out.shape == (3, 2)
    described = model.describe(["a", "b"], ["x", "y"])
    assert described["layers"] == [200, 100, 2] and described["n_in"] == 3 + 2 + 2


def test_tiny_fit_beats_majority_class(trained):
    data, learn = trained
    y = data.procs.encode_target(data.valid_df["rich"]).to_numpy()
    majority = np.bincount(y).max() / len(y)
    assert learn.recorder.epochs[-1]["accuracy"] > majority + 0.1


def test_save_and_load_give_the_same_predictions(trained, tmp_path):
    data, learn = trained
    model = learn.model.cpu().eval()
    rows = data.valid_df.head(20)
    before = predict_rows(model, data.procs, rows)
    save_model(tmp_path / "m", model, model_meta(data.spec, data.procs, model))
    again = tabular_from_files(tmp_path / "m.safetensors", tmp_path / "m.json")
    pd.testing.assert_frame_equal(predict_rows(again.model, again.procs, rows), before)
    assert again.spec == TOY_SPEC
    weights, meta = model_to_bytes(model, model_meta(data.spec, data.procs, model))
    assert json.loads(meta)["kind"] == "tabular"
    pd.testing.assert_frame_equal(predict_rows(tabular_from_files(weights, meta).model, again.procs, rows), before)
    with pytest.raises(ModelFileError, match="not a tabular"):
        tabular_from_files(weights, json.dumps({"kind": "image"}).encode())


def test_a_single_what_if_row_with_an_unseen_category_and_a_gap(trained):
    data, learn = trained
    row = pd.DataFrame([{"city": "tokyo", "colour": "red", "hours": np.nan, "noise": 0.0}])
    probs = predict_rows(learn.model.cpu(), data.procs, row)
    assert list(probs.columns) == ["no", "yes"] and probs.iloc[0].sum() == pytest.approx(1.0, abs=1e-5)


def test_confusion_matrix_matches_sklearn():
    rng = np.random.default_rng(1)
    actual, predicted = rng.integers(0, 3, 200), rng.integers(0, 3, 200)
    np.testing.assert_array_equal(confusion_matrix(predicted, actual, 3),
                                  sk_confusion_matrix(actual, predicted, labels=[0, 1, 2]))


class _Wrapped:
    """Our model as a scikit-learn estimator over [x_cat | x_cont] columns, for sklearn's importance."""
    def __init__(self, model, n_cat):
        self.model, self.n_cat = model, n_cat

    def fit(self, X, y):
        return self

    def score(self, X, y):
        X = torch.as_tensor(X)
        probs = predict_proba(self.model, X[:, :self.n_cat].long(), X[:, self.n_cat:].float())
        return (probs.argmax(1).numpy() == y).mean()


def test_permutation_importance_matches_sklearn(trained):
    data, learn = trained
    model = learn.model.cpu().eval()
    procs = data.procs
    x_cat, x_cont, y = procs.tensors(data.valid_df)
    with cpu_threads(CPU):
        ours = permutation_importance(model, procs, x_cat, x_cont, y, n_repeats=20).set_index("column")
    assert ours.index[0] in ("hours", "city") and ours.loc["noise", "importance"] < 0.02
    X = torch.cat([x_cat.double(), x_cont.double()], 1).numpy()
    with cpu_threads(CPU):
        sk = sk_permutation_importance(_Wrapped(model, x_cat.shape[1]), X, y.numpy(), n_repeats=20, random_state=0)
    for column in ("city", "colour", "noise"):        # single-column groups (hours also shuffles hours_na)
        j = procs.cat_names.index(column) if column in procs.cat_names else x_cat.shape[1] + procs.cont_names.index(column)
        assert ours.loc[column, "importance"] == pytest.approx(sk.importances_mean[j], abs=0.02)


def test_gradient_boosting_baseline_learns(trained):
    data, _ = trained
    result = gradient_boosting_baseline(data.procs, data.train_df, data.valid_df)
    y = data.procs.encode_target(data.valid_df["rich"]).to_numpy()
    assert result["accuracy"] > np.bincount(y).max() / len(y) + 0.1
