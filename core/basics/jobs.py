"""The lesson's job (registered in core/lessons.py), run by a worker, never in a page.

    titanic(ctx, data, config)        trains the Titanic MLP; while it trains, the weights travel as "snapshot"
                                      events (a few a second at most) for the live heatmaps
    load_titanic_run(store, record)   -> TitanicRun, everything the page draws, from the store alone
    titanic_from_files(weights, meta) -> (the network, its inputs' scaling), checked before anything is built

data: {"dataset": "titanic"}. config: n_train, epochs, n_hidden, lr, seed (batch_size optional).
What a run keeps: the model (model.safetensors, and model.json with the inputs' scaling, so a new passenger can be
asked about); arrays: the weight snapshots (steps, both matrices, training loss) and the validation predictions;
results: a summary and a few validation passengers with their probabilities.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from core.basics.titanic import (CLASSES, COLUMNS, DATASET, FEATURES, RANGES, Scaling, fit, load_table, make_mlp,
                                 predict_proba, settings)
from core.errors import StudentError
from core.modelfiles import (ModelFileError, check_header, header_of, parse_meta, read_run_model, read_tensors,
                             register_reader)

STREAM_SECONDS = 0.3        # at most ~3 snapshots a second in the event log, whatever the speed of training
N_EXAMPLES = 8


class SnapshotStream:
    """Writes the weight snapshots a page draws live: the first one, then the latest at most every
    STREAM_SECONDS, then the last one."""

    def __init__(self, writer):
        self.writer, self._last = writer, -math.inf

    @staticmethod
    def fields(snap: dict) -> dict:
        return dict(step=snap["step"], train_loss=snap["train_loss"],
                    weights={k: np.round(w, 4).tolist() for k, w in snap["weights"].items()})

    def __call__(self, snap: dict, snapshots: list) -> None:
        if len(snapshots) == 1:
            self.writer.event("snapshot_start", force=True, **self.fields(snap))
        now = time.monotonic()
        if now - self._last >= STREAM_SECONDS:
            self._last = now
            self.writer.event("snapshot", force=True, **self.fields(snap))

    def last(self, snap: dict) -> None:
        self.writer.event("snapshot", force=True, **self.fields(snap))


def titanic(ctx, data: dict, config: dict) -> None:
    """learn.fit_one_cycle(epochs, lr) on the passengers, keeping the weights every few steps."""
    if data.get("dataset") != DATASET:
        raise StudentError("This lesson's network trains on the Titanic passengers only.")
    cfg = settings(config)
    ctx.report(stage="reading the Titanic table", fraction=0.0)
    table = load_table()
    ctx.check_cancelled()
    stream = SnapshotStream(ctx.writer)
    learn, snapshots, prepared = fit(cfg, cbs=ctx.callbacks(), on_snapshot=stream, device=ctx.device, table=table)
    stream.last(snapshots.snapshots[-1])
    ctx.report(stage="looking at the results")
    model = learn.model.cpu().eval()
    probs = predict_proba(model, prepared.x_valid)
    targets = prepared.y_valid.numpy()
    acc = float((probs.argmax(1) == targets).mean())
    summary = dict(accuracy=acc, majority_accuracy=float(max(targets.mean(), 1 - targets.mean())),
                   n_train=len(prepared.x_train), n_valid=len(targets), stopped_early=learn.cancelled,
                   snapshot_every=snapshots.every, device=str(ctx.device), lr=cfg["lr"], epochs=cfg["epochs"],
                   n_hidden=cfg["n_hidden"], batch_size=cfg["batch_size"])
    ctx.save_model(model, dict(lesson="how_training_works", network="titanic_mlp", n_hidden=cfg["n_hidden"],
                               features=list(FEATURES), classes=list(CLASSES),
                               scaling=prepared.scaling.to_dict(), n_train=cfg["n_train"], seed=cfg["seed"]))
    kept = snapshots.snapshots
    ctx.save_arrays(
        snapshot_steps=np.array([s["step"] for s in kept], dtype=np.int64),
        snapshot_layer1=np.stack([s["weights"]["layer 1"] for s in kept]).astype(np.float32),
        snapshot_layer2=np.stack([s["weights"]["layer 2"] for s in kept]).astype(np.float32),
        snapshot_train_loss=np.array([np.nan if s["train_loss"] is None else s["train_loss"] for s in kept],
                                     dtype=np.float32),
        valid_probs=probs.astype(np.float32), valid_targets=targets.astype(np.int64))
    ctx.save_results(dict(summary=summary, examples=_examples(prepared.valid_rows, probs)))
    ctx.set_metrics(accuracy=acc)


def _examples(rows: pd.DataFrame, probs: np.ndarray) -> list[dict]:
    """A few validation passengers as the table has them, with what the network says about them."""
    shown = rows.head(N_EXAMPLES)
    out = []
    for (_, row), p in zip(shown.iterrows(), probs):
        out.append({c: (None if pd.isna(row[c]) else row[c].item() if hasattr(row[c], "item") else row[c])
                    for c in COLUMNS} | {"p_survived": float(p[CLASSES.index("survived")])})
    return out


@dataclass
class TitanicRun:
    """A finished (or stopped) run as the page uses it."""
    model: torch.nn.Sequential      # on the CPU, in eval mode
    scaling: Scaling
    snapshots: list                 # [{"step", "weights": {"layer 1", "layer 2"}, "train_loss"}], in step order
    summary: dict
    examples: list                  # validation passengers with p_survived
    epoch_table: list
    valid_probs: np.ndarray
    valid_targets: np.ndarray
    config: dict


def titanic_from_files(weights, meta) -> tuple[torch.nn.Sequential, Scaling]:
    """The network a run saved and the scaling of its inputs (core/modelfiles.py reads the two files safely)."""
    raw = parse_meta(meta)
    if raw.get("network") != "titanic_mlp" or raw.get("features") != list(FEATURES) or \
            raw.get("classes") != list(CLASSES):
        raise ModelFileError("This is not the metadata of this lesson's Titanic network (its network, inputs or "
                             "classes are not this lesson's).")
    n_hidden, (low, high) = raw.get("n_hidden"), RANGES["n_hidden"]
    if not isinstance(n_hidden, int) or isinstance(n_hidden, bool) or not low <= n_hidden <= high:
        raise ModelFileError(f"The metadata's 'n_hidden' must be a whole number from {low} to {high}.")
    try:
        scaling = Scaling.from_dict(raw.get("scaling"))
    except ValueError:
        raise ModelFileError("The metadata's scaling of the inputs is missing or damaged.") from None
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in make_mlp(n_hidden).state_dict().items()}
    check_header(expected, header_of(weights), f"this lesson's network with {n_hidden} hidden units")
    model = make_mlp(n_hidden)
    model.load_state_dict(read_tensors(weights), strict=True)
    return model.eval(), scaling


register_reader("how_training_works", titanic_from_files)


def load_titanic_run(store, record) -> TitanicRun:
    from core.runs import RunDamaged
    model, scaling = read_run_model(store.path(record.id), titanic_from_files)
    arrays, results = store.arrays(record.id), store.results(record.id)
    try:
        steps, layer1, layer2 = arrays["snapshot_steps"], arrays["snapshot_layer1"], arrays["snapshot_layer2"]
        losses = arrays["snapshot_train_loss"]
        snapshots = [dict(step=int(steps[i]), weights={"layer 1": layer1[i], "layer 2": layer2[i]},
                          train_loss=None if np.isnan(losses[i]) else float(losses[i])) for i in range(len(steps))]
        summary, examples = results["summary"], results["examples"]
        valid_probs, valid_targets = arrays["valid_probs"], arrays["valid_targets"]
    except (KeyError, IndexError) as e:
        raise RunDamaged("This run's results are incomplete.") from e
    return TitanicRun(model, scaling, snapshots, summary, examples, record.epoch_table, valid_probs, valid_targets,
                      dict(record.config))
