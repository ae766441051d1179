"""From a table to a trained tabular model: split, procs, tensors on the device, Learner, jobs.

The course's version:
    dls = TabularDataLoaders.from_csv(path/'adult.csv', y_names='salary', cat_names=[...], cont_names=[...],
                                      procs=[Categorify, FillMissing, Normalize])
    learn = tabular_learner(dls, metrics=accuracy)
    learn.fit_one_cycle(3)
Here the whole table sits on the device as two tensors (categories, numbers), and batches are large
(1024 rows): a tabular model is so small that a batch of 64 spends its time in Python, not in maths.
"""
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch
from torch import nn

from core.data import DataLoaders, DeviceLoader
from core.device import seed_everything, training_device
from core.learner import Learner
from core.metrics import accuracy
from core.tabular.model import DEFAULT_LAYERS, TabularModel, build_model
from core.tabular.procs import TabularProcs
from core.splits import split_indices
from core.tabular.table import TableSpec

BATCH_SIZE = 1024
DEFAULT_LR = 1e-2


@dataclass
class TabularData:
    """A table split into training and validation rows, with procs set up on the training rows."""
    df: pd.DataFrame            # the rows we use (target present), original values
    spec: TableSpec
    procs: TabularProcs
    train_idx: np.ndarray       # positions in df
    valid_idx: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def train_df(self) -> pd.DataFrame:
        return self.df.iloc[self.train_idx]

    @property
    def valid_df(self) -> pd.DataFrame:
        return self.df.iloc[self.valid_idx]


def prepare(df: pd.DataFrame, spec: TableSpec, valid_pct: float = 0.2, seed: int = 42) -> TabularData:
    notes = []
    keep = df[spec.target].notna()
    if not keep.all():
        notes.append(f"{int((~keep).sum()):,} rows without a '{spec.target}' were left out.")
    df = df.loc[keep, [*spec.cat_names, *spec.cont_names, spec.target]].reset_index(drop=True)
    if spec.cont_names:                       # 1e309 reads as infinity: treated as missing (check_spec says so)
        df[spec.cont_names] = df[spec.cont_names].replace([np.inf, -np.inf], np.nan)
    train_idx, valid_idx = (np.array(i, dtype=np.int64) for i in split_indices(len(df), valid_pct, seed))
    procs = TabularProcs(spec.cat_names, spec.cont_names, spec.target).setup(df.iloc[train_idx])
    # a target class that only appears in the validation rows cannot be predicted: leave those rows out
    seen = procs.encode_target(df[spec.target].iloc[valid_idx]).to_numpy() >= 0
    if not seen.all():
        notes.append(f"{int((~seen).sum())} validation rows have a '{spec.target}' never seen in training "
                     "and were left out.")
        valid_idx = valid_idx[seen]
    return TabularData(df, spec, procs, train_idx, valid_idx, notes)


def make_dls(data: TabularData, device: torch.device, batch_size: int = BATCH_SIZE, seed: int = 0) -> DataLoaders:
    train = data.procs.tensors(data.train_df, device=device)
    valid = data.procs.tensors(data.valid_df, device=device)
    # drop_last: a last batch of 3 rows gives BatchNorm useless statistics
    return DataLoaders(DeviceLoader(*train, batch_size=batch_size, shuffle=True, drop_last=True, seed=seed),
                       DeviceLoader(*valid, batch_size=8192), vocab=data.procs.classes)


def make_learner(data: TabularData, device: torch.device | None = None, batch_size: int = BATCH_SIZE,
                 layers: list[int] = DEFAULT_LAYERS, cbs=(), seed: int = 0) -> Learner:
    """tabular_learner(dls, metrics=accuracy): the model, cross-entropy, Adam with weight decay."""
    device = device or training_device()
    seed_everything(seed)
    model = build_model(data.procs, layers)
    return Learner(model, make_dls(data, device, batch_size, seed), nn.CrossEntropyLoss(),
                   metrics=[accuracy], cbs=cbs, device=device)


def model_meta(spec: TableSpec, procs: TabularProcs, model: TabularModel, extra: dict | None = None) -> dict:
    """Everything, besides the weights, needed to rebuild the model and use it on new rows (JSON)."""
    return {"kind": "tabular", "spec": spec.to_dict(), "procs": procs.state(),
            "layers": model.describe(procs.cat_names, procs.cont_names)["layers"][:-1], **(extra or {})}
