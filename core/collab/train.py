"""From ratings to a trained model: the Learner, and saving / re-loading the model with its vocabularies.

The course's version:
    learn = collab_learner(dls, n_factors=50, y_range=(0.5, 5.5))
    learn.fit_one_cycle(5, 5e-3, wd=0.1)
Mean squared error is the loss, RMSE the metric; weight decay (AdamW's, as fastai's) keeps the factors small.

The app's defaults train the same model with batches of 512 instead of fastai's 64: every batch is a step of
Python work, and in the app (the page polling the job in the same process) the course's 1,250 small steps per epoch
took 6-15 s an epoch on an idle 2-core CPU (46.5 s for the 5 epochs; 4.3 s an epoch without the app), and 20-35 s
on a busy one; 157 big ones take about 12 s for all 5. Fewer steps also mean weight decay acts fewer times, so it is
raised with the learning rate: fit_one_cycle(5, 1e-2, wd=0.5) reaches the same validation RMSE as the course's
recipe (benchmarks/bench_collab.py runs both).
"""
from dataclasses import dataclass

import torch
from torch import nn

from core.collab.data import COURSE_Y_RANGE, FASTAI_BATCH_SIZE, CollabData, make_dls
from core.collab.model import N_FACTORS, NN_LAYERS, CollabNN, build_model
from core.device import seed_everything, training_device
from core.learner import Learner
from core.metrics import rmse

DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_WD, DEFAULT_EPOCHS = 512, 1e-2, 0.5, 5
COURSE_LR, COURSE_WD = 5e-3, 0.1             # with FASTAI_BATCH_SIZE: learn.fit_one_cycle(5, 5e-3, wd=0.1)


@dataclass(frozen=True)
class CollabSettings:
    n_factors: int = N_FACTORS
    y_range: tuple[float, float] = COURSE_Y_RANGE
    wd: float = DEFAULT_WD
    use_nn: bool = False
    layers: tuple[int, ...] = tuple(NN_LAYERS)
    batch_size: int = DEFAULT_BATCH_SIZE

    def to_dict(self) -> dict:
        return {"n_factors": self.n_factors, "y_range": list(self.y_range), "wd": self.wd, "use_nn": self.use_nn,
                "layers": list(self.layers), "batch_size": self.batch_size}


def make_model(data: CollabData, settings: CollabSettings) -> nn.Module:
    return build_model(len(data.users), len(data.items), settings.n_factors, settings.y_range,
                       settings.use_nn, list(settings.layers))


def make_learner(data: CollabData, settings: CollabSettings = CollabSettings(), device: torch.device | None = None,
                 cbs=(), seed: int = 0) -> Learner:
    """collab_learner(dls, n_factors, y_range, use_nn): the model, MSE, rmse, AdamW with weight decay."""
    device = device or training_device()
    seed_everything(seed)
    model = make_model(data, settings)
    return Learner(model, make_dls(data, device, settings.batch_size, seed), nn.MSELoss(), metrics=[rmse],
                   wd=settings.wd, cbs=cbs, device=device)


def model_meta(data: CollabData, settings: CollabSettings, extra: dict | None = None) -> dict:
    """What, besides the weights, rebuilds the model and names its rows: settings and both vocabularies (JSON)."""
    return {"kind": "collab", "settings": settings.to_dict(), "users": data.users, "items": data.items,
            **(extra or {})}


def model_from_saved(state: dict[str, torch.Tensor], meta: dict) -> tuple[nn.Module, list[str], list[str], dict]:
    """(model, users, items, meta) from saved files. Raises ValueError when they don't describe a collab model."""
    if meta.get("kind") != "collab":
        raise ValueError("this metadata is not a collaborative-filtering model's (its 'kind' is not 'collab')")
    try:
        s = meta["settings"]
        settings = CollabSettings(int(s["n_factors"]), tuple(s["y_range"]), float(s["wd"]), bool(s["use_nn"]),
                                  tuple(s["layers"]), int(s.get("batch_size", FASTAI_BATCH_SIZE)))
        users, items = list(map(str, meta["users"])), list(map(str, meta["items"]))
        model = build_model(len(users), len(items), settings.n_factors, settings.y_range, settings.use_nn,
                            list(settings.layers))
        model.load_state_dict(state)
    except (KeyError, TypeError, ValueError, RuntimeError) as e:
        raise ValueError(f"the weights and the metadata do not match ({str(e)[:200]})") from None
    return model.eval(), users, items, meta


def is_dot_product(model: nn.Module) -> bool:
    return not isinstance(model, CollabNN)
