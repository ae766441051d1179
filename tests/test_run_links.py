"""A run outlives the tab that started it: a new tab (or another person) opening the run's link while it is still
training, in a worker of another process, sees it live; only its owner can stop it. (The finished case, a restart
and a damaged run: tests/test_page_image_classification.py.)"""
import time

import pytest

from core.runs import RUNNING, RunWriter
from tests.helpers import texts
from ui.identity import User

PAGE = "pages/image_classification.py"


@pytest.fixture
def training_elsewhere(service, monkeypatch):
    """A bird run that a worker of another process is training: its record says running, its events say where."""
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    store = service.store
    record = store.create("image_classification", "fit", "browser-ann", dict(size=64, seed=5, epochs=2),
                          {"dataset": "birds", "label": "is_bird"}, title="fine_tune(2)", owner_name="Ann",
                          executor=service.id)
    store.update(record.id, status=RUNNING, started=time.time())
    store.beat(record.id)
    writer = RunWriter(store, record.id)
    writer.event("progress", stage="frozen", epoch=1, n_epochs=3, batch=4, n_batches=11, fraction=0.12)
    writer.event("losses", rows=[dict(step=i, epoch=0, phase="frozen", train_loss=0.9 - i / 20, raw=0.9, lr=1e-3)
                                 for i in range(4)])
    writer.flush()
    return record


def open_as(run_id: str, user: User | None):
    from streamlit.testing.v1 import AppTest
    from tests.conftest import ROOT
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=120)
    at.query_params["run"] = run_id
    if user is not None:
        at.session_state["user"] = user
    at.run()
    assert not at.exception, at.exception
    return at


def test_the_owner_reopening_the_link_sees_it_training_and_can_stop_it(training_elsewhere, service):
    at = open_as(training_elsewhere.id, User("browser-ann", "Ann"))
    progress = [p.value for p in at.get("progress")]
    assert progress, "the live panel shows the run's progress"
    assert "epoch 1 of 3 (frozen) · batch 4 of 11" in "\n".join(str(p.proto.text) for p in at.get("progress"))
    assert at.session_state["run:image_classification:fit"] == training_elsewhere.id
    stop = next(b for b in at.button if b.label == "Stop")
    stop.click().run()
    assert service.store.cancel_requested(training_elsewhere.id)          # the worker stops at its next batch


def test_someone_else_with_the_link_watches_without_a_stop_button(training_elsewhere, service):
    at = open_as(training_elsewhere.id, None)                              # a new browser: someone else
    assert "Someone else's run: you are watching it." in texts(at.caption)
    assert not [b for b in at.button if b.label == "Stop"]
    assert not service.store.cancel_requested(training_elsewhere.id)
    assert "7. Results: where is it right, where is it wrong?" in [h.value for h in at.header]   # numbered already
    assert "Shown when the training above ends." in texts(at.caption)      # and empty until then


def test_a_run_of_another_lesson_is_not_taken_for_this_one(service):
    other = service.store.create("tabular", "fit", "bob", {}, {"dataset": "adult"})
    at = open_as(other.id, None)
    assert "run:image_classification:fit" not in at.session_state
    assert "Shown once a model is trained above." in texts(at.caption)
