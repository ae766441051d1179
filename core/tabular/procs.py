"""fastai's tabular procs: Categorify, FillMissing, Normalize.

Each one learns its state from the TRAINING rows only (`setup`), then transforms any frame the same
way (`__call__`): the validation set and a single what-if row use the training vocabulary, medians,
means and standard deviations. The state is plain JSON so a trained model can be saved without pickle.
"""
import math

import numpy as np
import pandas as pd
import torch

NA = "#na#"


class Categorify:
    """Category → integer. Index 0 is '#na#': missing values and categories never seen in training."""

    def __init__(self, cat_names: list[str]):
        self.cat_names = list(cat_names)
        self.vocab: dict[str, list[str]] = {}

    def setup(self, train: pd.DataFrame) -> "Categorify":
        # values are kept as text, so the vocabulary survives a JSON round trip unchanged
        self.vocab = {c: [NA] + [_key(v) for v in _sorted(train[c].dropna().unique())] for c in self.cat_names}
        return self

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for c in self.cat_names:
            keys = df[c].map(lambda v: None if _isna(v) else _key(v))
            # unseen categories and missing values are not in the index (-1), +1 → 0 = '#na#'
            df[c] = pd.Index(self.vocab[c][1:]).get_indexer(keys).astype("int64") + 1
        return df

    def decode(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for c in self.cat_names:
            df[c] = df[c].map(lambda i: self.vocab[c][int(i)])
        return df

    def state(self) -> dict:
        return {"cat_names": self.cat_names, "vocab": self.vocab}

    @classmethod
    def from_state(cls, s: dict) -> "Categorify":
        proc = cls(s["cat_names"])
        proc.vocab = {c: list(v) for c, v in s["vocab"].items()}
        return proc


class FillMissing:
    """Missing number → the training median, plus a `<col>_na` True/False column saying it was missing.

    Only columns with gaps in the training set get an `_na` column (as in fastai); the model learns from
    that flag whether "unknown" itself carries information.
    """

    def __init__(self, cont_names: list[str]):
        self.cont_names = list(cont_names)
        self.medians: dict[str, float] = {}
        self.na_columns: list[str] = []       # the continuous columns that get a `_na` flag

    def setup(self, train: pd.DataFrame) -> "FillMissing":
        self.medians = {c: _finite(train[c].median()) for c in self.cont_names}
        self.na_columns = [c for c in self.cont_names if train[c].isna().any()]
        return self

    @property
    def flag_names(self) -> list[str]:
        return [f"{c}_na" for c in self.na_columns]

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for c in self.na_columns:
            df[f"{c}_na"] = df[c].isna()
        for c in self.cont_names:
            df[c] = df[c].astype("float64").fillna(self.medians[c])
        return df

    def state(self) -> dict:
        return {"cont_names": self.cont_names, "medians": self.medians, "na_columns": self.na_columns}

    @classmethod
    def from_state(cls, s: dict) -> "FillMissing":
        proc = cls(s["cont_names"])
        proc.medians = {c: float(v) for c, v in s["medians"].items()}
        proc.na_columns = list(s["na_columns"])
        return proc


class Normalize:
    """Number → (number - training mean) / training std, so every input has a similar scale."""

    def __init__(self, cont_names: list[str]):
        self.cont_names = list(cont_names)
        self.means: dict[str, float] = {}
        self.stds: dict[str, float] = {}

    def setup(self, train: pd.DataFrame) -> "Normalize":
        # fastai: population std (ddof=0) + 1e-7, so a constant column does not divide by zero
        self.means = {c: _finite(train[c].astype("float64").mean()) for c in self.cont_names}
        self.stds = {c: _finite(train[c].astype("float64").std(ddof=0)) + 1e-7 for c in self.cont_names}
        return self

    def __call__(self, df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        for c in self.cont_names:
            df[c] = (df[c].astype("float64") - self.means[c]) / self.stds[c]
        return df

    def state(self) -> dict:
        return {"cont_names": self.cont_names, "means": self.means, "stds": self.stds}

    @classmethod
    def from_state(cls, s: dict) -> "Normalize":
        proc = cls(s["cont_names"])
        proc.means = {c: float(v) for c, v in s["means"].items()}
        proc.stds = {c: float(v) for c, v in s["stds"].items()}
        return proc


class TabularProcs:
    """The three procs in the order that works: fill gaps (adding `_na` flags), then categorify the
    categorical columns and the flags, then normalise the filled numbers. Also encodes the target."""

    def __init__(self, cat_names: list[str], cont_names: list[str], target: str):
        self.target = target
        self.fill = FillMissing(cont_names)
        self.categorify = Categorify(cat_names)
        self.normalize = Normalize(cont_names)
        self.classes: list[str] = []

    @property
    def cat_names(self) -> list[str]:
        return self.categorify.cat_names       # the chosen categorical columns, then the `_na` flags

    @property
    def cont_names(self) -> list[str]:
        return self.normalize.cont_names

    def setup(self, train: pd.DataFrame) -> "TabularProcs":
        self.fill.setup(train)
        filled = self.fill(train)
        self.categorify.cat_names += [f for f in self.fill.flag_names if f not in self.categorify.cat_names]
        self.categorify.setup(filled)
        self.normalize.setup(filled)
        self.classes = [_key(v) for v in _sorted(train[self.target].dropna().unique())]
        return self

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        return self.normalize(self.categorify(self.fill(df)))

    def tensors(self, df: pd.DataFrame, device=None, with_target: bool = True):
        """(x_cat int64, x_cont float32[, y int64]): what the model and the DeviceLoader take."""
        out = self.transform(df)
        x_cat = torch.tensor(out[self.cat_names].to_numpy(dtype=np.int64)).reshape(len(df), -1)
        x_cont = torch.tensor(out[self.cont_names].to_numpy(dtype=np.float32)).reshape(len(df), -1)
        tensors = [x_cat, x_cont]
        if with_target:
            tensors.append(torch.tensor(self.encode_target(df[self.target]).to_numpy(dtype=np.int64)))
        return tuple(t.to(device) for t in tensors) if device is not None else tuple(tensors)

    def encode_target(self, y: pd.Series) -> pd.Series:
        index = {v: i for i, v in enumerate(self.classes)}
        return y.map(lambda v: index.get(_key(v), -1))   # -1: a class never seen in training

    def state(self) -> dict:
        return {"target": self.target, "classes": self.classes, "fill": self.fill.state(),
                "categorify": self.categorify.state(), "normalize": self.normalize.state()}

    @classmethod
    def from_state(cls, s: dict) -> "TabularProcs":
        procs = cls([], [], s["target"])
        procs.fill = FillMissing.from_state(s["fill"])
        procs.categorify = Categorify.from_state(s["categorify"])
        procs.normalize = Normalize.from_state(s["normalize"])
        procs.classes = list(s["classes"])
        return procs


def _isna(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA or v is pd.NaT


def _key(v) -> str:
    """How a category is written in the vocabulary: 3, 3.0 and '3' are the same category."""
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v))
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def _sorted(values) -> list:
    try:
        return sorted(values)
    except TypeError:            # a column mixing numbers and text
        return sorted(values, key=str)


def _finite(x) -> float:
    """A column that is entirely missing has no median or mean; use 0 rather than NaN."""
    x = float(x)
    return 0.0 if math.isnan(x) else x
