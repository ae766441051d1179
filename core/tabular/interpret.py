"""What the trained model does: predictions, confusion matrix, a scikit-learn baseline, which columns matter."""
import numpy as np
import pandas as pd
import torch

from core.tabular.model import TabularModel
from core.tabular.procs import TabularProcs


@torch.no_grad()
def predict_proba(model: TabularModel, x_cat: torch.Tensor, x_cont: torch.Tensor,
                  batch_size: int = 8192) -> torch.Tensor:
    """Class probabilities (softmax of the outputs), on the CPU, in float32."""
    model.eval()
    device = next(model.parameters()).device
    out = [model(x_cat[i:i + batch_size].to(device), x_cont[i:i + batch_size].to(device)).float().softmax(1).cpu()
           for i in range(0, len(x_cat), batch_size)]
    return torch.cat(out) if out else torch.empty(0, model.layers[-1].out_features)


def predict_rows(model: TabularModel, procs: TabularProcs, rows: pd.DataFrame) -> pd.DataFrame:
    """learn.predict for whole rows of original values: one probability column per class."""
    x_cat, x_cont = procs.tensors(rows, with_target=False)
    return pd.DataFrame(predict_proba(model, x_cat, x_cont).numpy(), columns=procs.classes, index=rows.index)


def confusion_matrix(predicted: np.ndarray, actual: np.ndarray, n_classes: int) -> np.ndarray:
    """cm[i, j] = rows whose truth is class i and prediction class j (scikit-learn's convention)."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(actual), np.asarray(predicted)), 1)
    return cm


def show_results(valid_df: pd.DataFrame, probs: np.ndarray, classes: list[str], target: str,
                 n: int = 10, seed: int = 0) -> pd.DataFrame:
    """learn.show_results: a few validation rows, their truth, the prediction and its probability."""
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(valid_df), size=min(n, len(valid_df)), replace=False))
    rows = valid_df.iloc[pick].copy()
    predicted = probs[pick].argmax(1)
    rows.insert(len(rows.columns), f"{target}_pred", [classes[i] for i in predicted])
    rows.insert(len(rows.columns), "probability", probs[pick].max(1).round(3))
    return rows.rename(columns={target: f"{target} (truth)"})


def permutation_importance(model: TabularModel, procs: TabularProcs, x_cat: torch.Tensor, x_cont: torch.Tensor,
                           y: torch.Tensor, n_repeats: int = 3, seed: int = 0) -> pd.DataFrame:
    """How much accuracy drops when one input column's values are shuffled across rows.

    Shuffling breaks the link between that column and the target while keeping its distribution, so a
    big drop means the model relies on it. A continuous column is shuffled together with its `_na` flag.
    Returns columns: column, importance (mean drop), std; sorted, most important first.
    """
    rng = torch.Generator().manual_seed(seed)
    baseline = _accuracy(model, x_cat, x_cont, y)
    flags = set(procs.fill.flag_names)
    groups = {c: ([procs.cat_names.index(c)], []) for c in procs.cat_names if c not in flags}
    for j, c in enumerate(procs.cont_names):
        flag = f"{c}_na"
        groups[c] = ([procs.cat_names.index(flag)] if flag in flags else [], [j])
    rows = []
    for column, (cat_cols, cont_cols) in groups.items():
        drops = []
        for _ in range(n_repeats):
            perm = torch.randperm(len(y), generator=rng)
            xc, xn = x_cat.clone(), x_cont.clone()
            xc[:, cat_cols] = x_cat[perm][:, cat_cols]
            xn[:, cont_cols] = x_cont[perm][:, cont_cols]
            drops.append(baseline - _accuracy(model, xc, xn, y))
        rows.append({"column": column, "importance": float(np.mean(drops)), "std": float(np.std(drops))})
    return pd.DataFrame(rows).sort_values("importance", ascending=False, ignore_index=True)


def _accuracy(model, x_cat, x_cont, y) -> float:
    return (predict_proba(model, x_cat, x_cont).argmax(1) == y.cpu()).float().mean().item()


def gradient_boosting_baseline(procs: TabularProcs, train_df: pd.DataFrame, valid_df: pd.DataFrame,
                               seed: int = 0) -> dict:
    """scikit-learn's HistGradientBoostingClassifier on the same rows and columns: the usual strong
    baseline for tables. Categories go in as Categorify's codes (marked categorical), numbers raw
    (it handles missing values itself)."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits
    cats = [c for c in procs.cat_names if c not in procs.fill.flag_names]

    def features(df):
        coded = procs.categorify(procs.fill(df))
        return pd.concat([coded[cats].astype("int64"), df[procs.cont_names].astype("float64")], axis=1)

    X_train, X_valid = features(train_df), features(valid_df)
    # HistGradientBoosting handles up to 255 categories in a column; beyond that, treat codes as numbers
    is_cat = [c in cats and len(procs.categorify.vocab[c]) <= 255 for c in X_train.columns]
    y_train = procs.encode_target(train_df[procs.target]).to_numpy()
    y_valid = procs.encode_target(valid_df[procs.target]).to_numpy()
    clf = HistGradientBoostingClassifier(categorical_features=np.array(is_cat), random_state=seed)
    # one OpenMP thread: on a shared, busy server its threads spin-wait on each other (17 s instead of 0.9 s
    # on Adult here); the result is the same
    with threadpool_limits(limits=1):
        clf.fit(X_train.to_numpy(), y_train)
        accuracy = float((clf.predict(X_valid.to_numpy()) == y_valid).mean())
    return {"accuracy": accuracy, "model": "HistGradientBoostingClassifier (scikit-learn defaults)"}


def rows_with_predictions(valid_df: pd.DataFrame, probs: np.ndarray, targets: np.ndarray, losses: np.ndarray,
                          classes: list[str], target: str, which: np.ndarray) -> pd.DataFrame:
    """The validation rows `which` (positions), with the truth, the prediction, its probability and the loss."""
    rows = valid_df.iloc[which].copy()
    predicted = probs[which].argmax(1)
    rows = rows.drop(columns=[target], errors="ignore")
    rows.insert(0, "loss", losses[which].round(3))
    rows.insert(0, "probability", probs[which, predicted].round(3))
    rows.insert(0, "predicted", [classes[i] for i in predicted])
    rows.insert(0, "actual", [classes[i] for i in targets[which]])
    return rows


def cell_rows(probs: np.ndarray, targets: np.ndarray, actual: int, predicted: int) -> np.ndarray:
    """Positions of the validation rows that are really `actual` and were predicted `predicted` (a confusion
    matrix's cell), the model's surest first."""
    which = np.flatnonzero((targets == actual) & (probs.argmax(1) == predicted))
    return which[np.argsort(-probs[which, predicted])]


def top_losses(losses: np.ndarray, n: int = 10) -> np.ndarray:
    """Positions of the `n` rows the model was most wrong (or least sure) about: fastai's top losses for tables."""
    return np.argsort(-losses)[:n]
