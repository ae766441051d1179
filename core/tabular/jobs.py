"""The tabular lesson's jobs (registered in core/lessons.py), run by a worker, never in a page.

    lr_find(ctx, data, config)    results: lrs, losses, valley
    fit(ctx, data, config)        the model; arrays: valid_idx, valid_probs, valid_targets, valid_losses;
                                  results: the summary the Results section draws (JSON)
    load_run(store, record)       -> TabularRun, for the page

data: {"dataset": "adult", "source": "embedded" | "online"}, or a student's CSV kept in the run store
      ({"input": sha256, "kind": "csv", "name": ...}).
config: spec {target, cat_names, cont_names}, lr, epochs, batch_size, seed, baseline.
The split is fastai's RandomSplitter(valid_pct=0.2, seed=42) whatever the seed: `seed` sets the model's first
weights and the order of the batches, so two seeds on the same split can be compared.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from core.checks import SEED, flag, numbers
from core.device import cpu_threads
from core.kept import Kept
from core.modelfiles import read_run_model
from core.tables import read_csv_bytes
from core.tabular.interpret import (confusion_matrix, gradient_boosting_baseline, permutation_importance,
                                    predict_proba, show_results)
from core.tabular.model import TabularModel
from core.tabular.procs import TabularProcs
from core.tabular.table import TableSpec, check_spec, load_adult
from core.tabular.saved import tabular_from_files
from core.tabular.train import BATCH_SIZE, DEFAULT_LR, make_learner, model_meta, prepare

DEFAULTS = dict(lr=DEFAULT_LR, epochs=3, batch_size=BATCH_SIZE, seed=0, baseline=True)


@dataclass
class TabularRun:
    """A finished run as the page uses it: the model and what the Results, What-if and Export sections draw."""
    model: TabularModel          # on the CPU, in eval mode
    procs: TabularProcs
    spec: TableSpec
    meta: dict
    summary: dict
    valid_df: pd.DataFrame       # the validation rows, original values, in the order of the arrays below
    valid_probs: np.ndarray
    valid_targets: np.ndarray    # class positions (procs.classes)
    valid_losses: np.ndarray


BOUNDS = dict(lr=(1e-6, 1.0), epochs=(1, 100), batch_size=(8, 8192), seed=SEED)


def settings(config: dict) -> dict:
    """The run's settings, complete and checked: a sentence for anything a page (or a crafted link) got wrong."""
    cfg = numbers(dict(DEFAULTS, **config), BOUNDS, whole=("epochs", "batch_size", "seed"))
    cfg["baseline"] = flag(cfg["baseline"], "baseline")
    cfg["spec"] = TableSpec.from_dict(cfg["spec"]).to_dict()
    return cfg


def read_table(data: dict, inputs) -> tuple[pd.DataFrame, str]:
    """The table a run trains on, and its file's name."""
    if "input" in data:
        return read_csv_bytes(inputs.read(data), f"'{data.get('name', 'your file')}'"), data.get("name", "upload.csv")
    from core.datasets import resolve
    found = resolve(data.get("dataset", "adult"), prefer_online=data.get("source") == "online")
    return _TABLES.get(str(found.path), lambda: load_adult(found.path)).copy(), "adult.csv"


# The course's table, read once per process (32,561 rows: ~0.15 s of CSV parsing each time a run loads, while the
# class's pages wait on the same interpreter). Each caller gets a copy of its own.
_TABLES = Kept(2)


def _prepared(ctx, cfg):
    ctx.report(stage="reading the table", fraction=0.0)
    df, _ = read_table(ctx.data, ctx.inputs)
    spec = TableSpec.from_dict(cfg["spec"])
    check_spec(df, spec)
    ctx.report(stage="preparing the data")
    return prepare(df, spec)


def lr_find(ctx, data: dict, config: dict) -> None:
    """learn.lr_find(): a few batches with a growing learning rate; the weights are put back afterwards."""
    cfg = settings(config)
    prepared = _prepared(ctx, cfg)
    learn = make_learner(prepared, ctx.device, cfg["batch_size"], cbs=ctx.callbacks(), seed=cfg["seed"])
    with cpu_threads(ctx.device):
        found = learn.lr_find()
    ctx.check_cancelled()
    ctx.save_results({"lrs": found.lrs, "losses": found.losses, "valley": found.valley})


def fit(ctx, data: dict, config: dict) -> None:
    """learn.fit_one_cycle(epochs, lr), then the results: predictions, confusion matrix, scikit-learn's gradient
    boosting on the same split, and permutation importance."""
    cfg = settings(config)
    prepared = _prepared(ctx, cfg)
    learn = make_learner(prepared, ctx.device, cfg["batch_size"], cbs=ctx.callbacks(), seed=cfg["seed"])
    with cpu_threads(ctx.device):
        learn.fit_one_cycle(cfg["epochs"], cfg["lr"])
        if not all(np.isfinite(row["train_loss"]) and np.isfinite(row["valid_loss"]) for row in learn.recorder.epochs):
            from core.errors import StudentError
            raise StudentError("Training diverged: the loss became infinite or not a number. Try a smaller "
                               "learning rate, or check the table for huge numbers (such as 1e309).")
        summary, arrays = _results(ctx, prepared, learn, cfg)
    model = learn.model            # on the CPU and in eval mode since _results
    meta = model_meta(prepared.spec, prepared.procs, model,
                      {"accuracy": summary["accuracy"], "lr": cfg["lr"], "epochs": cfg["epochs"]})
    ctx.save_model(model, meta)
    ctx.save_arrays(**arrays)
    ctx.save_results({"summary": summary})
    ctx.set_metrics(accuracy=summary["accuracy"])


def _results(ctx, data, learn, cfg) -> tuple[dict, dict]:
    """Validation predictions, confusion matrix, importance and the baseline."""
    ctx.report(stage="looking at the results")
    model = learn.model.cpu().eval()
    x_cat, x_cont, y = data.procs.tensors(data.valid_df)
    probs = predict_proba(model, x_cat, x_cont)
    losses = F.nll_loss(torch.log(probs.clamp_min(1e-12)), y, reduction="none")
    probs, y = probs.numpy(), y.numpy()
    predicted = probs.argmax(1)
    classes = data.procs.classes
    summary = {
        "accuracy": float((predicted == y).mean()),
        "majority_accuracy": float(np.bincount(y, minlength=len(classes)).max() / len(y)),
        "confusion": confusion_matrix(predicted, y, len(classes)).tolist(),
        "classes": classes, "lr": cfg["lr"], "epochs": cfg["epochs"], "batch_size": cfg["batch_size"],
        "seed": cfg["seed"], "n_train": len(data.train_idx), "n_valid": len(data.valid_idx), "notes": data.notes,
        "stopped_early": learn.cancelled, "device": str(ctx.device),
        "seconds_per_epoch": [row["time"] for row in learn.recorder.epochs],
    }
    if not learn.cancelled:          # after Stop, hand the model back at once
        summary["importance"] = permutation_importance(model, data.procs, x_cat, x_cont, torch.from_numpy(y)) \
            .to_dict("records")
        if cfg["baseline"]:
            ctx.report(stage="training scikit-learn's gradient boosting for comparison")
            summary["baseline"] = gradient_boosting_baseline(data.procs, data.train_df, data.valid_df, cfg["seed"])
    arrays = dict(valid_idx=np.asarray(data.valid_idx), valid_probs=probs.astype(np.float32),
                  valid_targets=y.astype(np.int64), valid_losses=losses.numpy().astype(np.float32))
    return summary, arrays


def load_run(store, record) -> TabularRun:
    """A finished fit run, from the store alone: the model, its summary, and the validation rows it was scored
    on (re-read from the run's data, so the run keeps no copy of the student's rows)."""
    from core.inputs import InputStore
    saved = read_run_model(store.path(record.id), tabular_from_files)
    model, procs, spec, meta = saved.model, saved.procs, saved.spec, saved.meta
    summary = store.results(record.id)["summary"]
    arrays = store.arrays(record.id)
    df, _ = read_table(record.data, InputStore(store.root))
    data = prepare(df, spec)
    valid_df = data.df.iloc[arrays["valid_idx"]].reset_index(drop=True)
    summary["show_results"] = show_results(valid_df, arrays["valid_probs"], procs.classes, spec.target) \
        .to_dict("records")
    return TabularRun(model, procs, spec, meta, summary, valid_df, arrays["valid_probs"], arrays["valid_targets"],
                      arrays["valid_losses"])
