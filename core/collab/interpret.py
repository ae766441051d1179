"""What the trained model learned, and using it: show_results, movie biases, PCA of the movie factors,
similar movies, recommendations for a user, a new user from a few ratings, and a baseline of biases only."""
import threading
import weakref

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.collab.data import CollabData
from core.collab.model import DotProductBias, item_factors, sigmoid_range


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 65536) -> torch.Tensor:
    """Predicted ratings for (user, item) positions, on the CPU, float32."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)]
    return torch.cat(out) if out else torch.empty(0)


def show_results(data: CollabData, preds: np.ndarray, n: int = 10, seed: int = 0) -> pd.DataFrame:
    """learn.show_results(): a few validation ratings beside the model's predictions."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(data.valid_idx), size=min(n, len(data.valid_idx)), replace=False))
    rows = data.valid.iloc[pick]
    return pd.DataFrame({"user": rows["user"].astype(str).to_numpy(), "movie": rows["item"].astype(str).to_numpy(),
                         "rating": rows["rating"].to_numpy(), "prediction": preds[pick].round(2)})


def item_counts(ratings: pd.DataFrame, items: list[str]) -> np.ndarray:
    """How many ratings each vocabulary item has (in all of `ratings`), in vocabulary order."""
    return counts_per_item(ratings).reindex(items).fillna(0).to_numpy(np.int64)


def counts_per_item(ratings: pd.DataFrame) -> pd.Series:
    """How many ratings each item has, most-rated first, items named as text. Counted once per table (the collab
    page asks five times a run, and its tables are shared by every session), forgotten with the table: a table of
    ratings is never changed once made."""
    return _counted(ratings)[0]


def most_rated(ratings: pd.DataFrame) -> list[str]:
    """The items, most-rated first (counts_per_item's order)."""
    return _counted(ratings)[1]


_COUNTED: dict[int, tuple[pd.Series, list[str]]] = {}
_COUNTED_LOCK = threading.Lock()


def _counted(ratings: pd.DataFrame) -> tuple[pd.Series, list[str]]:
    key = id(ratings)
    with _COUNTED_LOCK:
        found = _COUNTED.get(key)
    if found is None:
        counts = ratings["item"].astype(str).value_counts()
        found = (counts, counts.index.tolist())
        with _COUNTED_LOCK:
            if key not in _COUNTED:
                _COUNTED[key] = found
                weakref.finalize(ratings, _COUNTED.pop, key, None)     # its id may be reused once it is gone
    return found


def item_biases(model: DotProductBias, items: list[str], ratings: pd.DataFrame, n: int = 8,
                min_count: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The course's `learn.model.i_bias.weight.squeeze().argsort()`: the movies people rate low (or high)
    even when they should like them given their taste. Only items with at least `min_count` ratings."""
    bias = model.i_bias.weight[:, 0].detach().float().cpu().numpy()
    stats = ratings.assign(item=ratings["item"].astype(str)).groupby("item")["rating"].agg(["mean", "count"])
    table = pd.DataFrame({"movie": items, "bias": bias}).iloc[1:]          # not '#na#'
    table = table.join(stats, on="movie").rename(columns={"mean": "average rating", "count": "ratings"})
    table = table[table["ratings"].fillna(0) >= min_count]
    lowest = table.nsmallest(n, "bias").reset_index(drop=True)
    highest = table.nlargest(n, "bias").reset_index(drop=True)
    return lowest.round(3), highest.round(3)


def pca(x: torch.Tensor, k: int = 3) -> torch.Tensor:
    """fastai's Tensor.pca: centre the rows, project them on the top-k right singular vectors."""
    x = x - x.mean(dim=0)
    _, _, vh = torch.linalg.svd(x, full_matrices=False)
    return x @ vh[:k].T


def factor_pca(model: DotProductBias, items: list[str], ratings: pd.DataFrame, n_top: int = 1000,
               k: int = 3) -> pd.DataFrame:
    """The chapter's picture: PCA of the factors of the `n_top` most-rated movies (rarely-rated ones are noise)."""
    counts = item_counts(ratings, items)
    counts[0] = 0
    top = np.argsort(-counts, kind="stable")[:min(n_top, int((counts > 0).sum()))]
    weights = item_factors(model).detach().float().cpu()[torch.from_numpy(top)]
    comps = pca(weights, k).numpy()
    table = pd.DataFrame(comps, columns=[f"PC{i + 1}" for i in range(comps.shape[1])])
    table.insert(0, "movie", [items[i] for i in top])
    table["ratings"] = counts[top]
    table["position"] = top                     # in the vocabulary: what a run stores, names come back from it
    return table


def similar_items(model: nn.Module, items: list[str], item: str, ratings: pd.DataFrame, n: int = 10,
                  min_count: int = 20) -> pd.DataFrame:
    """Movies whose factor vectors point the same way (cosine similarity), as the chapter finds
    'Silence of the Lambs'' neighbours. Only movies with at least `min_count` ratings."""
    factors = item_factors(model).detach().float().cpu()
    idx = items.index(item)
    similarity = nn.functional.cosine_similarity(factors, factors[idx][None], dim=1).numpy()
    counts = item_counts(ratings, items)
    keep = (counts >= min_count) & (np.arange(len(items)) != idx) & (np.arange(len(items)) != 0)
    order = [i for i in np.argsort(-similarity, kind="stable") if keep[i]][:n]
    return pd.DataFrame({"movie": [items[i] for i in order], "similarity": similarity[order].round(3),
                         "ratings": counts[order]})


def recommend(model: nn.Module, users: list[str], items: list[str], user: str, ratings: pd.DataFrame,
              n: int = 10, min_count: int = 20) -> pd.DataFrame:
    """The movies `user` hasn't rated (anywhere in `ratings`) that the model predicts they'd rate highest."""
    u = users.index(user)
    seen = set(ratings.loc[ratings["user"].astype(str) == user, "item"].astype(str))
    counts = item_counts(ratings, items)
    candidates = np.array([i for i, name in enumerate(items) if i and name not in seen and counts[i] >= min_count],
                          dtype=np.int64)
    if not len(candidates):
        return pd.DataFrame(columns=["movie", "predicted rating", "ratings"])
    x = torch.from_numpy(np.stack([np.full(len(candidates), u), candidates], axis=1))
    preds = predict(model, x).numpy()
    order = np.argsort(-preds, kind="stable")[:n]
    return pd.DataFrame({"movie": [items[i] for i in candidates[order]], "predicted rating": preds[order].round(2),
                         "ratings": counts[candidates[order]]})


def user_history(ratings: pd.DataFrame, user: str, n: int = 10) -> pd.DataFrame:
    """What this user rated highest (their taste, to judge the recommendations by)."""
    rows = ratings[ratings["user"].astype(str) == user].sort_values("rating", ascending=False, kind="stable")
    return rows[["item", "rating"]].head(n).rename(columns={"item": "movie"}).reset_index(drop=True)


def predict_one(model: nn.Module, user: int, item: int) -> float:
    """learn.predict for one (user, item), given as positions in the vocabularies."""
    return float(predict(model, torch.tensor([[user, item]]))[0])


# ---- one prediction, part by part ------------------------------------------------------------------------------
@torch.no_grad()
def prediction_parts(model: DotProductBias, user: int, item: int) -> dict:
    """What the dot-product model adds up for one (user, item): the dot product of their factors, the user's bias
    and the item's bias, then sigmoid_range squashes the sum into y_range. Positions in the vocabularies."""
    u, i = model.u_weight.weight[user].float().cpu(), model.i_weight.weight[item].float().cpu()
    products = u * i
    parts = {"dot": float(products.sum()), "user_bias": float(model.u_bias.weight[user, 0]),
             "item_bias": float(model.i_bias.weight[item, 0])}
    total = parts["dot"] + parts["user_bias"] + parts["item_bias"]
    low, high = model.y_range
    prediction = float(sigmoid_range(torch.tensor(total, dtype=torch.float64), low, high))
    order = torch.argsort(products.abs(), descending=True)[:5]
    return {**parts, "sum": total, "prediction": prediction, "y_range": (low, high),
            "top_factors": [{"factor": int(k), "user": float(u[k]), "item": float(i[k]),
                             "product": float(products[k])} for k in order]}


# ---- a new user ------------------------------------------------------------------------------------------------
def fit_new_user(model: DotProductBias, items: list[str], my_ratings: dict[str, float], wd: float = 0.1
                 ) -> tuple[torch.Tensor, float]:
    """Factors and bias for someone who isn't in the training data, from a few ratings, with the movies' factors
    fixed. Undo the sigmoid_range, then it is ridge regression: i_weight @ u + b ≈ logit - i_bias."""
    low, high = model.y_range
    idx = torch.tensor([items.index(m) for m in my_ratings])
    r = torch.tensor(list(my_ratings.values()), dtype=torch.float64)
    p = ((r - low) / (high - low)).clamp(0.02, 0.98)            # a rating at an end of y_range is not infinite
    target = torch.log(p / (1 - p)) - model.i_bias.weight[idx, 0].detach().double()
    f = model.i_weight.weight[idx].detach().double()
    design = torch.cat([f, torch.ones(len(idx), 1, dtype=torch.float64)], dim=1)
    penalty = torch.eye(design.shape[1], dtype=torch.float64) * wd * len(idx)
    penalty[-1, -1] = 0.0                                       # the bias is not shrunk
    solution = torch.linalg.solve(design.T @ design + penalty, design.T @ target)
    return solution[:-1].float(), float(solution[-1])


@torch.no_grad()
def recommend_for_factors(model: DotProductBias, items: list[str], factors: torch.Tensor, bias: float,
                          ratings: pd.DataFrame, exclude: set[str], n: int = 10, min_count: int = 20) -> pd.DataFrame:
    """Recommendations for a user given as a factor vector and a bias (e.g. from fit_new_user)."""
    counts = item_counts(ratings, items)
    all_factors = model.i_weight.weight.detach().float().cpu()
    preds = sigmoid_range(all_factors @ factors + bias + model.i_bias.weight[:, 0].detach().float().cpu(),
                          *model.y_range).numpy()
    keep = np.array([i and name not in exclude and counts[i] >= min_count for i, name in enumerate(items)])
    order = [i for i in np.argsort(-preds, kind="stable") if keep[i]][:n]
    return pd.DataFrame({"movie": [items[i] for i in order], "predicted rating": preds[order].round(2),
                         "ratings": counts[order]})


# ---- baselines -------------------------------------------------------------------------------------------------
def bias_baseline(data: CollabData, reg: float = 10.0, sweeps: int = 10) -> dict:
    """Reference lines with no learned taste at all: the training mean for everyone; then the mean plus a user
    bias and an item bias (regularised averages of what's left, alternating a few sweeps). RMSE on validation."""
    x_train, y_train = data.tensors(data.train_idx)
    x_valid, y_valid = data.tensors(data.valid_idx)
    u, i, y = x_train[:, 0].numpy(), x_train[:, 1].numpy(), y_train.numpy().astype(np.float64)
    mean = y.mean()
    user_bias, item_bias = np.zeros(len(data.users)), np.zeros(len(data.items))
    for _ in range(sweeps):
        rest = y - mean - user_bias[u]
        item_bias = np.bincount(i, rest, len(data.items)) / (np.bincount(i, minlength=len(data.items)) + reg)
        rest = y - mean - item_bias[i]
        user_bias = np.bincount(u, rest, len(data.users)) / (np.bincount(u, minlength=len(data.users)) + reg)
    uv, iv, yv = x_valid[:, 0].numpy(), x_valid[:, 1].numpy(), y_valid.numpy().astype(np.float64)
    guess = np.clip(mean + user_bias[uv] + item_bias[iv], data.ratings["rating"].min(), data.ratings["rating"].max())
    return {"mean": float(mean), "mean_rmse": float(np.sqrt(np.mean((yv - mean) ** 2))),
            "biases_rmse": float(np.sqrt(np.mean((yv - guess) ** 2)))}


def valid_rmse(model: nn.Module, data: CollabData) -> tuple[float, np.ndarray]:
    x, y = data.tensors(data.valid_idx)
    preds = predict(model, x)
    return float(torch.sqrt(torch.mean((preds - y) ** 2))), preds.numpy()

