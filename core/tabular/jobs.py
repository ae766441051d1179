"""The tabular lesson's jobs, run by the job runner (core/jobs.py) on a worker thread, never in a page.

`lr_find_job` and `fit_job` take the table itself; give them to the runner with functools.partial.
What a page needs after a restart (epoch table, confusion matrix, baseline, importance) is also
reported as JSON with ctx.report, and the model is saved in the run's folder.
"""
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.tabular.interpret import (confusion_matrix, gradient_boosting_baseline, permutation_importance,
                                    predict_proba, show_results)
from core.tabular.model import TabularModel
from core.tabular.procs import TabularProcs
from core.tabular.table import TableSpec
from core.device import cpu_threads
from core.tabular.train import BATCH_SIZE, make_learner, model_meta, prepare



@dataclass
class TabularRun:
    """A trained model with everything the Results, What-if and Export sections use."""
    model: TabularModel          # on the CPU, in eval mode
    procs: TabularProcs
    spec: TableSpec
    meta: dict
    summary: dict                # the JSON-able results (also in the job's info)
    valid_df: pd.DataFrame       # original values of the validation rows
    valid_probs: np.ndarray


def lr_find_job(ctx, df: pd.DataFrame, spec: TableSpec, batch_size: int = BATCH_SIZE, seed: int = 0) -> dict:
    """learn.lr_find(): a few batches with a growing learning rate; the weights are put back afterwards."""
    ctx.report(stage="preparing the data")
    data = prepare(df, spec)
    learn = make_learner(data, ctx.device, batch_size, cbs=ctx.callbacks(), seed=seed)
    with cpu_threads(ctx.device):
        result = learn.lr_find()
    ctx.check_cancelled()
    found = {"lrs": result.lrs, "losses": result.losses, "valley": result.valley}
    ctx.report(stage="lr_find done", lr_find=found)
    return found


def fit_job(ctx, df: pd.DataFrame, spec: TableSpec, lr: float, epochs: int = 3,
            batch_size: int = BATCH_SIZE, seed: int = 0, baseline: bool = True) -> TabularRun:
    """learn.fit_one_cycle(epochs, lr), then the results: predictions, confusion matrix, scikit-learn's
    gradient boosting on the same split, and permutation importance."""
    ctx.report(stage="preparing the data")
    data = prepare(df, spec)
    learn = make_learner(data, ctx.device, batch_size, cbs=ctx.callbacks(), seed=seed)
    with cpu_threads(ctx.device):
        learn.fit_one_cycle(epochs, lr)
        summary, probs = _results(ctx, data, learn, lr, epochs, batch_size, seed, baseline)
    model = learn.model            # on the CPU and in eval mode since _results
    meta = model_meta(spec, data.procs, model, {"accuracy": summary["accuracy"], "lr": lr, "epochs": epochs})
    ctx.save_model(model, meta)
    ctx.report(stage="done", summary=summary)
    return TabularRun(model, data.procs, spec, meta, summary, data.valid_df.reset_index(drop=True), probs)


def _results(ctx, data, learn, lr, epochs, batch_size, seed, baseline) -> tuple[dict, np.ndarray]:
    """Validation predictions, confusion matrix, importance and the baseline, as JSON-able numbers."""
    ctx.report(stage="looking at the results")
    model = learn.model.cpu().eval()
    x_cat, x_cont, y = data.procs.tensors(data.valid_df)
    probs = predict_proba(model, x_cat, x_cont).numpy()
    predicted = probs.argmax(1)
    classes = data.procs.classes
    summary = {
        "accuracy": float((predicted == y.numpy()).mean()),
        "majority_accuracy": float(np.bincount(y.numpy(), minlength=len(classes)).max() / len(y)),
        "confusion": confusion_matrix(predicted, y.numpy(), len(classes)).tolist(),
        "classes": classes, "lr": lr, "epochs": epochs, "batch_size": batch_size,
        "n_train": len(data.train_idx), "n_valid": len(data.valid_idx), "notes": data.notes,
        "stopped_early": learn.cancelled, "device": str(ctx.device),
        "seconds_per_epoch": [row["time"] for row in learn.recorder.epochs],
    }
    if not learn.cancelled:          # after Stop, hand the model back at once
        summary["importance"] = permutation_importance(model, data.procs, x_cat, x_cont, y).to_dict("records")
        if baseline:
            ctx.report(stage="training scikit-learn's gradient boosting for comparison")
            summary["baseline"] = gradient_boosting_baseline(data.procs, data.train_df, data.valid_df, seed)
    summary["show_results"] = show_results(data.valid_df, probs, classes, data.spec.target).to_dict("records")
    return summary, probs
