"""The models against hand computations, training on tiny data, save/load, and the interpretation helpers."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from core.collab.data import prepare
from core.collab.interpret import (bias_baseline, factor_pca, fit_new_user, item_biases, pca, predict,
                                   prediction_parts, recommend, recommend_for_factors, show_results, similar_items,
                                   valid_rmse)
from core.collab.model import (CollabNN, DotProductBias, build_model, count_parameters, expected_shapes,
                               sigmoid_range)
from core.collab.saved import collab_from_files, export_bytes
from core.collab.train import CollabSettings, fine_tune, make_learner, model_meta
from core.serialize import save_model


def test_sigmoid_range_is_the_formula():
    x = torch.linspace(-8, 8, 41)
    assert torch.allclose(sigmoid_range(x, 0.5, 5.5), 0.5 + 5.0 / (1 + torch.exp(-x)))
    assert sigmoid_range(torch.tensor([-100.0, 100.0]), 1, 3).tolist() == [1.0, 3.0]


def test_dot_product_bias_is_an_einsum_plus_biases():
    torch.manual_seed(0)
    model = DotProductBias(7, 9, n_factors=4, y_range=(0, 5))
    for p in model.parameters():
        nn.init.normal_(p)
    x = torch.tensor([[1, 2], [6, 8], [0, 0], [3, 2]])
    u, i = model.u_weight.weight[x[:, 0]], model.i_weight.weight[x[:, 1]]
    logits = torch.einsum("nf,nf->n", u, i) + model.u_bias.weight[x[:, 0], 0] + model.i_bias.weight[x[:, 1], 0]
    assert torch.allclose(model(x), 5 * torch.sigmoid(logits), atol=1e-6)


def test_dot_product_bias_on_a_hand_built_case():
    model = DotProductBias(2, 2, n_factors=2, y_range=(0, 4))
    with torch.no_grad():
        model.u_weight.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 2.0]]))
        model.i_weight.weight.copy_(torch.tensor([[3.0, 1.0], [0.5, -1.0]]))
        model.u_bias.weight.copy_(torch.tensor([[0.0], [1.0]]))
        model.i_bias.weight.copy_(torch.tensor([[-1.0], [0.0]]))
    # user 1 · item 1 = 0*0.5 + 2*(-1) = -2; + 1 + 0 = -1 → 4 * sigmoid(-1)
    # user 0 · item 0 = 3;  + 0 - 1 = 2 → 4 * sigmoid(2)
    out = model(torch.tensor([[1, 1], [0, 0]]))
    assert out.tolist() == pytest.approx([4 / (1 + np.e), 4 / (1 + np.exp(-2))], abs=1e-6)


def test_the_neural_net_version_is_concat_then_mlp():
    torch.manual_seed(0)
    model = CollabNN(5, 6, layers=[8], y_range=(0.5, 5.5))
    x = torch.tensor([[1, 2], [4, 5]])
    embs = torch.cat([model.user_factors.weight[x[:, 0]], model.item_factors.weight[x[:, 1]]], dim=1)
    first, last = model.layers[0], model.layers[2]
    hidden = torch.relu(embs @ first.weight.T + first.bias)
    expected = 0.5 + 5 * torch.sigmoid(hidden @ last.weight.T + last.bias)[:, 0]
    assert torch.allclose(model(x), expected, atol=1e-6)
    assert isinstance(build_model(5, 6, use_nn=True), CollabNN) and isinstance(build_model(5, 6), DotProductBias)
    assert count_parameters(DotProductBias(5, 6, 3)) == 5 * 4 + 6 * 4


def taste_ratings(n_users=60, n_items=40, seed=0, density=0.5) -> pd.DataFrame:
    """Ratings made by a real rank-2 model, so there is something to learn."""
    rng = np.random.default_rng(seed)
    u, i = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    item_bias = rng.normal(0, 0.5, n_items)
    rows = [(a, f"movie {b}", float(np.clip(np.round(3 + u[a] @ i[b] + item_bias[b]), 1, 5)))
            for a in range(n_users) for b in range(n_items) if rng.random() < density]
    return pd.DataFrame(rows, columns=["user", "item", "rating"]).astype({"rating": "float32"})


@pytest.fixture(scope="module")
def trained():
    data = prepare(taste_ratings(), seed=42)
    learn = make_learner(data, CollabSettings(n_factors=8, batch_size=64, wd=0.01), torch.device("cpu"))
    before = learn.get_preds()
    learn.fit_one_cycle(6, 3e-2)
    return data, learn, before


def test_training_lowers_the_validation_loss_and_beats_the_biases(trained):
    data, learn, (preds, targets, _) = trained
    first = torch.sqrt(torch.mean((preds - targets) ** 2)).item()
    rmse = learn.recorder.epochs[-1]["rmse"]
    assert rmse < 0.7 * first
    model = learn.model.cpu().eval()
    ours, _ = valid_rmse(model, data)
    assert ours == pytest.approx(rmse, rel=1e-4)
    base = bias_baseline(data)
    assert ours < base["biases_rmse"] < base["mean_rmse"]


def test_weight_decay_reaches_the_embeddings():
    data = prepare(taste_ratings(), seed=42)
    learn = make_learner(data, CollabSettings(n_factors=4, wd=0.3), torch.device("cpu"))
    learn.fit(1, 1e-3)
    decays = {id(p): g["weight_decay"] for g in learn.opt.param_groups for p in g["params"]}
    assert decays[id(learn.model.u_weight.weight)] == 0.3 == decays[id(learn.model.i_bias.weight)]


def test_export_round_trip_gives_identical_predictions(trained, tmp_path):
    data, learn, _ = trained
    model = learn.model.cpu().eval()
    settings = CollabSettings(n_factors=8, batch_size=64, wd=0.01)
    meta = model_meta(data, settings, {"rmse": 0.5})
    x, _ = data.tensors(data.valid_idx)
    save_model(tmp_path / "m", model, meta)
    again, users, items, _ = collab_from_files(tmp_path / "m.safetensors", tmp_path / "m.json")
    assert torch.equal(predict(again, x), predict(model, x)) and users == data.users and items == data.items
    weights, meta_bytes = export_bytes(model, meta)
    from_bytes, *_ = collab_from_files(weights, meta_bytes)
    assert torch.equal(predict(from_bytes, x), predict(model, x))


def test_the_state_dict_has_fastais_names_and_expected_shapes_are_right():
    """collab_learner's EmbeddingDotBias keys (u_weight, i_weight, u_bias, i_bias), and the shapes worked out
    without building a model are the ones building it gives."""
    dot = build_model(7, 9, 4)
    assert list(dot.state_dict()) == ["u_weight.weight", "i_weight.weight", "u_bias.weight", "i_bias.weight"]
    for model, args in ((dot, (7, 9, 4, False, [100])), (build_model(30, 500, use_nn=True, layers=[16, 8]),
                                                        (30, 500, 50, True, [16, 8]))):
        assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == expected_shapes(*args)


def test_recommendations_exclude_what_the_user_rated(trained):
    data, learn, _ = trained
    model = learn.model.cpu().eval()
    user = data.users[3]
    seen = set(data.ratings.loc[data.ratings["user"].astype(str) == user, "item"])
    recs = recommend(model, data.users, data.items, user, data.ratings, n=50, min_count=1)
    assert len(recs) == len(set(data.items[1:]) - seen) and not set(recs["movie"]) & seen
    assert recs["predicted rating"].is_monotonic_decreasing
    x = torch.tensor([[data.users.index(user), data.items.index(recs["movie"][0])]])
    assert predict(model, x).item() == pytest.approx(recs["predicted rating"][0], abs=0.006)


def test_pca_matches_scikit_learn_up_to_sign():
    from sklearn.decomposition import PCA
    x = torch.randn(50, 6, generator=torch.Generator().manual_seed(0))
    ours = pca(x, 3).numpy()
    theirs = PCA(3).fit_transform(x.numpy())
    assert np.allclose(np.abs(ours), np.abs(theirs), atol=1e-4)


def test_interpretation_tables(trained):
    data, learn, _ = trained
    model = learn.model.cpu().eval()
    lowest, highest = item_biases(model, data.items, data.ratings, n=3)
    assert lowest["bias"].max() <= highest["bias"].min() and "#na#" not in set(lowest["movie"])
    # the movie with the lowest bias should be rated below average more often than not
    assert lowest["average rating"].mean() < highest["average rating"].mean()
    table = factor_pca(model, data.items, data.ratings, n_top=10)
    assert len(table) == 10 and table["ratings"].is_monotonic_decreasing
    similar = similar_items(model, data.items, data.items[1], data.ratings, n=5, min_count=1)
    assert data.items[1] not in set(similar["movie"]) and similar["similarity"].is_monotonic_decreasing
    shown = show_results(data, predict(model, data.tensors(data.valid_idx)[0]).numpy(), n=4)
    assert shown.columns.tolist() == ["user", "movie", "rating", "prediction"] and len(shown) == 4


def test_a_new_user_is_fitted_by_ridge_regression():
    """With the movies' factors known, ratings made from a known user vector give that vector back."""
    torch.manual_seed(0)
    model = DotProductBias(2, 30, n_factors=3, y_range=(0.5, 5.5))
    for p in model.parameters():
        nn.init.normal_(p, std=0.7)
    items = ["#na#"] + [f"m{i}" for i in range(1, 30)]
    truth, bias = torch.tensor([0.5, -0.3, 0.8]), 0.2
    logits = model.i_weight.weight[1:] @ truth + bias + model.i_bias.weight[1:, 0]
    ratings = dict(zip(items[1:], sigmoid_range(logits, 0.5, 5.5).tolist()))
    factors, b = fit_new_user(model, items, ratings, wd=0.0)
    assert torch.allclose(factors, truth, atol=1e-3) and b == pytest.approx(bias, abs=1e-3)
    table = pd.DataFrame({"user": 0, "item": items[1:], "rating": 3.0})
    recs = recommend_for_factors(model, items, factors, b, table, exclude={"m1", "m2"}, n=5, min_count=1)
    assert not {"m1", "m2"} & set(recs["movie"]) and recs["predicted rating"].is_monotonic_decreasing


def test_fine_tune_on_a_collab_model_is_two_one_cycle_fits_of_every_weight():
    """fastai's fine_tune on collab_learner: freeze() has nothing to freeze (one parameter group), so it is
    fit_one_cycle(1, base_lr, pct_start=0.99) then fit_one_cycle(epochs, base_lr/2, pct_start=0.3, div=5), every
    weight training in both, Adam's state cleared in between."""
    from core.callbacks import Callback

    class Watch(Callback):
        def __init__(self):
            self.frozen, self.optimizers = [], []

        def before_fit(self):
            self.optimizers.append(self.learn.opt)

        def after_batch(self):
            if self.learn.training:
                self.frozen.append(any(not p.requires_grad for p in self.learn.model.parameters()))

    data = prepare(taste_ratings(), seed=42)
    watch = Watch()
    learn = make_learner(data, CollabSettings(n_factors=4, batch_size=64), torch.device("cpu"), cbs=[watch])
    fine_tune(learn, 2, base_lr=1e-2)
    assert [(row["epoch"], row["phase"]) for row in learn.recorder.epochs] == [(0, "cycle 1"), (1, "cycle 2"),
                                                                               (2, "cycle 2")]
    assert not any(watch.frozen) and learn.phase is None
    assert watch.optimizers[0] is not watch.optimizers[1]           # the second cycle starts with a fresh Adam
    lrs = {phase: [r["lr"] for r in learn.recorder.losses if r["phase"] == phase] for phase in ("cycle 1", "cycle 2")}
    assert max(lrs["cycle 1"]) == pytest.approx(1e-2, rel=0.02) and lrs["cycle 1"][0] == pytest.approx(1e-2 / 25)
    assert max(lrs["cycle 2"]) == pytest.approx(5e-3, rel=0.02) and lrs["cycle 2"][0] == pytest.approx(5e-3 / 5)
    assert lrs["cycle 1"].index(max(lrs["cycle 1"])) > 0.9 * len(lrs["cycle 1"])     # pct_start=0.99


def test_a_prediction_is_its_parts_through_sigmoid_range(trained):
    data, learn, _ = trained
    model = learn.model.cpu().eval()
    parts = prediction_parts(model, 3, 5)
    u, i = model.u_weight.weight[3].detach(), model.i_weight.weight[5].detach()
    assert parts["dot"] == pytest.approx(float(u @ i), abs=1e-5)
    assert parts["user_bias"] == pytest.approx(float(model.u_bias.weight[3, 0].detach()))
    assert parts["sum"] == pytest.approx(parts["dot"] + parts["user_bias"] + parts["item_bias"])
    assert parts["prediction"] == pytest.approx(predict(model, torch.tensor([[3, 5]])).item(), abs=1e-5)
    products = [abs(f["product"]) for f in parts["top_factors"]]
    assert products == sorted(products, reverse=True) and len(products) == 5


def test_the_ratings_per_item_are_counted_once_per_table_and_forgotten_with_it():
    import gc

    from core.collab import interpret
    ratings = pd.DataFrame({"user": [1, 2, 3, 1, 2], "item": [10, 20, 10, 30, 10], "rating": [4.0, 3, 5, 2, 1]})
    counts = interpret.counts_per_item(ratings)
    assert counts.to_dict() == {"10": 3, "20": 1, "30": 1} and interpret.most_rated(ratings)[0] == "10"
    assert interpret.counts_per_item(ratings) is counts                         # not counted again
    assert interpret.item_counts(ratings, ["#na#", "30", "10", "99"]).tolist() == [0, 1, 3, 0]
    other = ratings.assign(item=[20, 20, 20, 30, 10])                          # another table: its own counts
    assert interpret.most_rated(other)[0] == "20"
    key = id(ratings)
    del ratings, counts
    gc.collect()
    assert key not in interpret._COUNTED
