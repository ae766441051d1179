"""The collab jobs through the real job runner: lr_find, fit with results, Stop, and what survives a restart."""
import functools
import json
import time

import numpy as np
import pytest
import torch

from core.collab.data import prepare
from core.collab.interpret import predict
from core.collab.jobs import fit_job, lr_find_job
from core.collab.train import CollabSettings, model_from_saved
from core.jobs import CANCELLED, DONE, MODEL_FILE, JobRunner
from core.serialize import load_model
from tests.test_collab_model import taste_ratings

SMALL = CollabSettings(n_factors=8, wd=0.01, batch_size=64)


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    r = JobRunner(workers=1, runs_path=tmp_path)
    yield r
    r.shutdown()


def test_lr_find_job(runner):
    job = runner.submit(functools.partial(lr_find_job, ratings=taste_ratings(), settings=SMALL),
                        owner="t", kind="collab-lr-find", title="lr_find")
    snap = runner.wait(job, timeout=60)
    assert snap.status == DONE, snap.error
    assert len(snap.result["lrs"]) == len(snap.result["losses"]) > 10 and snap.result["valley"] is not None


def test_fit_job_results_persist(runner, tmp_path):
    ratings = taste_ratings()
    job = runner.submit(functools.partial(fit_job, ratings=ratings, settings=SMALL, lr=3e-2, epochs=4),
                        owner="t", kind="collab-fit", title="fit")
    snap = runner.wait(job, timeout=90)
    assert snap.status == DONE, snap.error
    assert [row["epoch"] for row in snap.epoch_table] == [0, 1, 2, 3]
    assert {"train_loss", "valid_loss", "rmse", "time"} <= set(snap.epoch_table[-1])
    summary = snap.result.summary
    assert summary["rmse"] == pytest.approx(snap.epoch_table[-1]["rmse"], rel=1e-4)
    assert summary["rmse"] < summary["baseline"]["mean_rmse"]
    assert len(summary["show_results"]) == 10 and summary["n_valid"] == len(snap.result.valid_preds)
    # after a restart, the JSON in the runs folder and the saved model are all that's left
    record = json.loads((tmp_path / job / "job.json").read_text())
    assert record["info"]["summary"]["rmse"] == summary["rmse"]
    model, users, items, meta = model_from_saved(*load_model(tmp_path / job / MODEL_FILE))
    data = prepare(ratings)
    assert users == data.users and items == data.items and meta["settings"]["n_factors"] == 8
    x, _ = data.tensors(data.valid_idx)
    assert np.allclose(predict(model, x).numpy(), snap.result.valid_preds)


def test_most_rated_only_trains_on_fewer_items(runner):
    job = runner.submit(functools.partial(fit_job, ratings=taste_ratings(), settings=SMALL, lr=3e-2, epochs=1,
                                          top_items=10), owner="t", kind="collab-fit", title="fit")
    snap = runner.wait(job, timeout=60)
    assert snap.status == DONE, snap.error
    assert len(snap.result.items) == 11 and snap.result.summary["top_items"] == 10


def test_the_neural_net_version_trains_too(runner):
    job = runner.submit(functools.partial(fit_job, ratings=taste_ratings(), settings=CollabSettings(use_nn=True,
                                          layers=(16,), batch_size=64), lr=1e-2, epochs=2), owner="t", kind="collab-fit", title="nn")
    snap = runner.wait(job, timeout=60)
    assert snap.status == DONE, snap.error
    assert snap.result.summary["rmse"] < snap.result.summary["baseline"]["mean_rmse"]


def test_stop_keeps_the_model(runner):
    job = runner.submit(functools.partial(fit_job, ratings=taste_ratings(200, 100), settings=SMALL, lr=1e-2,
                                          epochs=200), owner="t", kind="collab-fit", title="fit")
    deadline = time.time() + 60
    while runner.get(job).epoch < 2 and time.time() < deadline:
        time.sleep(0.02)
    runner.cancel(job)
    snap = runner.wait(job, timeout=60)
    assert snap.status == CANCELLED
    assert snap.result.summary["stopped_early"] and len(snap.epoch_table) < 200
    assert isinstance(snap.result.model, torch.nn.Module)
