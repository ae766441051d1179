"""The lesson's jobs through the training service: lr_find, fit with results, Stop, and what a reader gets back from
the store alone."""
import math

import pytest

from core.runs import CANCELLED, DONE
from core.tabular.jobs import load_run
from tests.conftest import store_csv
from tests.helpers import wait_until
from tests.test_tabular_model import TOY_SPEC, toy_table

SMALL = dict(spec=TOY_SPEC.to_dict(), batch_size=64)


@pytest.fixture
def service(service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    return service


def test_lr_find_job(service):
    run = service.submit("tabular", "lr_find", store_csv(service, toy_table(600)), SMALL, owner="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == DONE, record.error
    found = service.store.results(run.id)
    assert len(found["lrs"]) == len(found["losses"]) > 10 and found["valley"] is not None


def test_fit_job_results_are_read_back_from_the_store(service):
    run = service.submit("tabular", "fit", store_csv(service, toy_table()), dict(SMALL, lr=1e-2), owner="t")
    record = service.wait(run.id, timeout=90)
    assert record.status == DONE, record.error
    assert [row["epoch"] for row in record.epoch_table] == [0, 1, 2]
    loaded = load_run(service.store, record)
    summary = loaded.summary
    assert record.metrics["accuracy"] == summary["accuracy"] > summary["majority_accuracy"]
    assert sum(map(sum, summary["confusion"])) == summary["n_valid"] == len(loaded.valid_df)
    assert {r["column"] for r in summary["importance"]} == {"city", "colour", "hours", "noise"}
    assert 0.5 < summary["baseline"]["accuracy"] <= 1
    assert loaded.spec == TOY_SPEC and loaded.procs.classes == ["no", "yes"]
    assert (loaded.valid_probs.argmax(1) == loaded.valid_targets).mean() == pytest.approx(summary["accuracy"])
    assert len(summary["show_results"]) == 10
    assert "show_results" not in service.store.results(run.id)["summary"]    # the student's rows are not copied


def test_stop_keeps_the_model(service):
    run = service.submit("tabular", "fit", store_csv(service, toy_table(3000)),
                         dict(SMALL, lr=1e-2, epochs=25, batch_size=16), owner="t")
    wait_until(lambda: service.store.events(run.id).read_new(), timeout=60)
    wait_until(lambda: service.store.read(run.id).status == "running")
    service.cancel(run.id, by="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == CANCELLED
    summary = load_run(service.store, record).summary
    assert summary["stopped_early"] and "importance" not in summary


def test_an_infinite_number_is_treated_as_missing_and_training_stays_finite(service):
    from core.tabular.table import check_spec
    table = toy_table()
    table.loc[[3, 7], "hours"] = float("inf")                # what 1e309 in a CSV becomes
    assert any("infinite" in w for w in check_spec(table, TOY_SPEC))
    run = service.submit("tabular", "fit", store_csv(service, table), dict(SMALL, lr=1e-2, epochs=1), owner="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == DONE, record.error
    assert math.isfinite(record.epoch_table[-1]["train_loss"]) and math.isfinite(record.metrics["accuracy"])


def test_a_confusion_cell_and_the_top_losses_name_the_right_rows(service):
    from core.tabular.interpret import cell_rows, rows_with_predictions, top_losses
    run = service.submit("tabular", "fit", store_csv(service, toy_table()), dict(SMALL, lr=1e-2), owner="t")
    loaded = load_run(service.store, service.wait(run.id, timeout=90))
    probs, targets, losses = loaded.valid_probs, loaded.valid_targets, loaded.valid_losses
    predicted = probs.argmax(1)
    for actual in (0, 1):
        for said in (0, 1):
            which = cell_rows(probs, targets, actual, said)
            assert len(which) == loaded.summary["confusion"][actual][said]
            assert all(targets[i] == actual and predicted[i] == said for i in which)
            assert list(probs[which, said]) == sorted(probs[which, said], reverse=True)   # surest first
    worst = top_losses(losses, 5)
    assert losses[worst[0]] == losses.max() and list(losses[worst]) == sorted(losses[worst], reverse=True)
    table = rows_with_predictions(loaded.valid_df, probs, targets, losses, loaded.procs.classes, "rich", worst)
    assert list(table.columns[:4]) == ["actual", "predicted", "probability", "loss"] and "rich" not in table
    assert table["loss"].iloc[0] == round(float(losses.max()), 3)


def test_the_course_table_is_read_once_and_each_caller_gets_its_own_copy(monkeypatch):
    from core.tabular import jobs
    reads = []
    real = jobs.load_adult
    monkeypatch.setattr(jobs, "_TABLES", jobs.Kept(2))
    monkeypatch.setattr(jobs, "load_adult", lambda folder: reads.append(folder) or real(folder))
    first, name = jobs.read_table({"dataset": "adult"}, None)
    first.loc[0, "age"] = -1                                   # a caller's own change...
    second, _ = jobs.read_table({"dataset": "adult"}, None)
    assert len(reads) == 1 and name == "adult.csv" and len(second) == len(first) > 30_000
    assert second.loc[0, "age"] != -1                          # ...reaches nobody else
