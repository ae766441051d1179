"""The lesson's jobs through the real job runner: lr_find, fit with results, Stop, and what survives a restart."""
import functools
import json
import time

import pytest

from core.jobs import CANCELLED, DONE, JobRunner
from core.serialize import load_model
from core.jobs import MODEL_FILE
from core.tabular.jobs import fit_job, lr_find_job
from core.tabular.train import model_from_saved
from tests.test_tabular_model import TOY_SPEC, toy_table


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    r = JobRunner(workers=1, runs_path=tmp_path)
    yield r
    r.shutdown()


def test_lr_find_job(runner):
    job = runner.submit(functools.partial(lr_find_job, df=toy_table(600), spec=TOY_SPEC, batch_size=64),
                        owner="t", kind="tabular-lr-find", title="lr_find")
    snap = runner.wait(job, timeout=60)
    assert snap.status == DONE, snap.error
    assert len(snap.result["lrs"]) == len(snap.result["losses"]) > 10
    assert snap.result["valley"] is not None


def test_fit_job_results_persist(runner, tmp_path):
    job = runner.submit(functools.partial(fit_job, df=toy_table(), spec=TOY_SPEC, lr=1e-2, batch_size=64),
                        owner="t", kind="tabular-fit", title="fit")
    snap = runner.wait(job, timeout=90)
    assert snap.status == DONE, snap.error
    assert [row["epoch"] for row in snap.epoch_table] == [0, 1, 2]
    summary = snap.result.summary
    assert summary["accuracy"] > summary["majority_accuracy"]
    assert sum(map(sum, summary["confusion"])) == summary["n_valid"]
    assert {r["column"] for r in summary["importance"]} == {"city", "colour", "hours", "noise"}
    assert 0.5 < summary["baseline"]["accuracy"] <= 1
    # after a restart, the JSON in the runs folder and the saved model are all that's left
    record = json.loads((tmp_path / job / "job.json").read_text())
    assert record["info"]["summary"]["accuracy"] == summary["accuracy"]
    model, procs, spec = model_from_saved(*load_model(tmp_path / job / MODEL_FILE))
    assert spec == TOY_SPEC and procs.classes == ["no", "yes"]


def test_stop_keeps_the_model(runner):
    job = runner.submit(functools.partial(fit_job, df=toy_table(3000), spec=TOY_SPEC, lr=1e-2, epochs=50,
                                          batch_size=16), owner="t", kind="tabular-fit", title="fit")
    deadline = time.time() + 60
    while runner.get(job).epoch < 1 and time.time() < deadline:
        time.sleep(0.02)
    runner.cancel(job)
    snap = runner.wait(job, timeout=60)
    assert snap.status == CANCELLED
    assert snap.result.summary["stopped_early"] and "importance" not in snap.result.summary
