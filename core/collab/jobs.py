"""The collab lesson's jobs, run by the job runner (core/jobs.py) on a worker thread, never in a page.

Give them to the runner with functools.partial(fit_job, ratings=..., settings=...). The model is saved in
the run's folder with its vocabularies, and the JSON-able results are reported, so a page can show a
finished run after a server restart.
"""
from dataclasses import dataclass

import numpy as np
from torch import nn

from core.collab.data import CollabData, prepare
from core.collab.interpret import bias_baseline, show_results, valid_rmse
from core.collab.train import CollabSettings, make_learner, model_meta
from core.device import cpu_threads


@dataclass
class CollabRun:
    """A trained model, on the CPU in eval mode, with what the results, interpretation and export use."""
    model: nn.Module
    users: list[str]
    items: list[str]
    settings: CollabSettings
    meta: dict
    summary: dict
    valid_preds: np.ndarray


def lr_find_job(ctx, ratings, settings: CollabSettings, top_items: int | None = None, seed: int = 0) -> dict:
    """learn.lr_find(): a few batches with a growing learning rate; the weights are put back afterwards."""
    ctx.report(stage="preparing the data")
    data = prepare(ratings, top_items=top_items)
    learn = make_learner(data, settings, ctx.device, cbs=ctx.callbacks(), seed=seed)
    with cpu_threads(ctx.device):
        result = learn.lr_find()
    ctx.check_cancelled()
    found = {"lrs": result.lrs, "losses": result.losses, "valley": result.valley}
    ctx.report(stage="lr_find done", lr_find=found)
    return found


def fit_job(ctx, ratings, settings: CollabSettings, lr: float, epochs: int, top_items: int | None = None,
            seed: int = 0) -> CollabRun:
    """learn.fit_one_cycle(epochs, lr) (wd in the settings), then show_results and the baselines."""
    ctx.report(stage="preparing the data")
    data = prepare(ratings, top_items=top_items)
    learn = make_learner(data, settings, ctx.device, cbs=ctx.callbacks(), seed=seed)
    with cpu_threads(ctx.device):
        learn.fit_one_cycle(epochs, lr)
    ctx.report(stage="looking at the results")
    model = learn.model.cpu().eval()
    summary, preds = results(data, model, settings, lr, epochs, str(ctx.device), learn.cancelled,
                             [row["time"] for row in learn.recorder.epochs])
    summary["top_items"] = top_items
    meta = model_meta(data, settings, {"rmse": summary["rmse"], "lr": lr, "epochs": epochs})
    ctx.save_model(model, meta)
    ctx.report(stage="done", summary=summary)
    return CollabRun(model, data.users, data.items, settings, meta, summary, preds)


def results(data: CollabData, model: nn.Module, settings: CollabSettings, lr: float, epochs: int, device: str,
            stopped: bool, seconds: list[float]) -> tuple[dict, np.ndarray]:
    """The JSON-able results (valid RMSE, baselines, show_results) and the validation predictions."""
    rmse, preds = valid_rmse(model, data)
    summary = {"rmse": rmse, "lr": lr, "epochs": epochs, "settings": settings.to_dict(), "device": device,
               "n_train": len(data.train_idx), "n_valid": len(data.valid_idx), "notes": data.notes,
               "n_users": len(data.users) - 1, "n_items": len(data.items) - 1,
               "stopped_early": stopped, "seconds_per_epoch": seconds,
               "baseline": bias_baseline(data),
               "show_results": show_results(data, preds).to_dict("records")}
    return summary, preds
