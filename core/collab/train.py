"""From ratings to a trained model: the Learner, the course's recipes, and what a saved model keeps.

The course's two calls:
    learn = collab_learner(dls, y_range=(0.5, 5.5)); learn.fine_tune(10)          # chapter 1, on ML_SAMPLE
    learn = collab_learner(dls, n_factors=50, y_range=(0, 5.5)); learn.fit_one_cycle(5, 5e-3, wd=0.1)   # chapter 8
Mean squared error is the loss, RMSE the metric; weight decay (AdamW's, as fastai's) keeps the factors small.

The app's default trains the same model with batches of 512 instead of fastai's 64: every batch is a step of Python
work, and the course's 1,250 small steps take 1.3 s an epoch on one core, 157 big ones 0.16 s
(benchmarks/bench_collab.py). Fewer steps also mean weight decay acts fewer times, so it is raised with the learning rate:
fit_one_cycle(5, 1e-2, wd=0.5) reaches the same validation RMSE as chapter 8's recipe (benchmarks/bench_collab.py).
"""
from dataclasses import dataclass

import torch
from torch import nn

from core.collab.data import COURSE_Y_RANGE, FASTAI_BATCH_SIZE, CollabData, make_dls
from core.collab.model import N_FACTORS, NN_LAYERS, build_model
from core.device import seed_everything, training_device
from core.learner import Learner
from core.metrics import rmse

FASTAI_WD = 0.01                      # what collab_learner trains with when no wd is given (fastai's Adam default)
FINE_TUNE_LR = 2e-3                   # fastai's fine_tune(base_lr=2e-3)
METHODS = ("fit_one_cycle", "fine_tune")


@dataclass(frozen=True)
class Recipe:
    key: str
    label: str
    method: str
    epochs: int
    lr: float
    wd: float
    batch_size: int
    why: str


RECIPES = {r.key: r for r in (
    Recipe("chapter1", "Chapter 1: fine_tune(10)", "fine_tune", 10, FINE_TUNE_LR, FASTAI_WD, FASTAI_BATCH_SIZE,
           "lesson 1's own call, on fast.ai's ML_SAMPLE: collab_learner(dls, y_range=(0.5, 5.5)).fine_tune(10), "
           "fastai's defaults everywhere (batches of 64, base_lr 2e-3, wd 0.01). Seconds on ML_SAMPLE's few "
           "thousand ratings; on the full MovieLens, 11 epochs of 1,250 steps: about a minute on an idle CPU"),
    Recipe("chapter8", "Chapter 8: fit_one_cycle(5, 5e-3, wd=0.1)", "fit_one_cycle", 5, 5e-3, 0.1,
           FASTAI_BATCH_SIZE, "the collaborative-filtering chapter's collab_learner on the full MovieLens: "
                              "batches of 64, fit_one_cycle(5, 5e-3, wd=0.1). Under a minute on an idle CPU"),
    Recipe("app", "The app's fast default", "fit_one_cycle", 5, 1e-2, 0.5, 512,
           "the same model in batches of 512 (8 times fewer steps), so a higher learning rate and more weight decay: "
           "fit_one_cycle(5, 1e-2, wd=0.5) reaches chapter 8's RMSE (about 0.87) in seconds"),
)}
DEFAULT_RECIPE = RECIPES["app"]
DEFAULT_BATCH_SIZE, DEFAULT_LR, DEFAULT_WD, DEFAULT_EPOCHS = (DEFAULT_RECIPE.batch_size, DEFAULT_RECIPE.lr,
                                                              DEFAULT_RECIPE.wd, DEFAULT_RECIPE.epochs)


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


def fine_tune(learn: Learner, epochs: int, base_lr: float = FINE_TUNE_LR, freeze_epochs: int = 1,
              pct_start: float = 0.3, div: float = 5.0) -> None:
    """fastai's `learn.fine_tune(epochs)` as it really plays out on a collab_learner.

    fastai's fine_tune is: freeze(); fit_one_cycle(freeze_epochs, slice(base_lr), pct_start=0.99); unfreeze();
    fit_one_cycle(epochs, slice(base_lr/2/lr_mult, base_lr/2), pct_start=0.3, div=5). freeze() freezes every
    parameter group but the last, and a collab_learner's model is a single group (nothing in it is pretrained), so
    nothing is ever frozen, and a slice gives that one group its top value. So fine_tune(10) is two one-cycle fits of
    every weight: 1 epoch at base_lr, then 10 at base_lr / 2, with Adam's state cleared in between (fastai's
    freeze and unfreeze both clear it). That is what this does, and the epoch table names the two cycles instead of
    calling the first one 'frozen'."""
    assert len(learn.param_groups()) == 1, "the collab models have a single parameter group"
    learn.planned_epochs, learn.epochs_done = freeze_epochs + epochs, 0      # one progress bar for both cycles
    try:
        learn.phase = "cycle 1"
        learn.fit_one_cycle(freeze_epochs, base_lr, pct_start=0.99)
        if learn.cancelled:
            return
        learn.opt = None                    # a fresh optimizer: unfreeze() clears Adam's moments
        learn.phase = "cycle 2"
        learn.fit_one_cycle(epochs, base_lr / 2, pct_start=pct_start, div=div)
    finally:
        learn.phase, learn.planned_epochs = None, 0


def train(learn: Learner, method: str, epochs: int, lr: float) -> None:
    """The recipe's call: learn.fit_one_cycle(epochs, lr) or learn.fine_tune(epochs, base_lr=lr)."""
    if method == "fine_tune":
        fine_tune(learn, epochs, base_lr=lr)
    else:
        learn.fit_one_cycle(epochs, lr)


def model_meta(data: CollabData, settings: CollabSettings, extra: dict | None = None) -> dict:
    """What, besides the weights, rebuilds the model and names its rows: settings and both vocabularies (JSON)."""
    return {"kind": "collab", "settings": settings.to_dict(), "users": data.users, "items": data.items,
            **(extra or {})}
