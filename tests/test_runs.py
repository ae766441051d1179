"""The run store: records, the event log a reader tails while a worker appends, results without pickle, and a
sentence (never a traceback) for a run whose files are missing or damaged."""
import json
import threading
import time

import numpy as np
import pytest

from core.runs import (DONE, QUEUED, EventReader, Progress, RunDamaged, RunNotFound, RunStore, RunWriter,
                       new_run_id, read_progress)


@pytest.fixture
def store(tmp_path):
    return RunStore(tmp_path)


def make(store, owner="alice", **config):
    return store.create("tabular", "fit", owner, dict(config, seed=1), {"dataset": "adult"}, title="t")


def test_a_run_is_a_folder_with_its_record(store):
    record = make(store, lr=0.01)
    again = store.read(record.id)
    assert again.status == QUEUED and again.config == {"lr": 0.01, "seed": 1} and again.seed == 1
    assert again.data == {"dataset": "adult"} and again.owner == "alice"
    store.update(record.id, status=DONE, metrics={"accuracy": 0.83})
    assert store.read(record.id).metrics == {"accuracy": 0.83}
    assert not [p for p in store.path(record.id).iterdir() if p.name.endswith(".tmp")]


def test_ids_sort_by_time_and_cannot_name_a_path(store):
    a = new_run_id()
    time.sleep(0.002)
    assert a < new_run_id()
    for bad in ("../etc", "..", "", "a/b", "A" * 100, None):
        with pytest.raises(RunNotFound):
            store.read(bad)


def test_each_owner_lists_only_their_runs(store):
    mine = [make(store, "alice").id for _ in range(3)]
    make(store, "bob")
    make(store, "../../evil")
    assert store.owner_ids("alice") == sorted(mine)
    assert len(store.owner_ids("bob")) == 1
    assert not list((store.root / ".owners").glob("*/*/*"))          # an odd owner id never made a deeper folder


@pytest.mark.parametrize("damage, message", [
    (lambda p: p.write_text('{"id": "x", "lesson": '), "damaged"),                     # truncated
    (lambda p: p.write_text("[" * 100_000 + "]" * 100_000), "damaged"),                # nested very deep
    (lambda p: p.write_text(json.dumps({"id": 1})), "incomplete"),                     # fields missing
    (lambda p: p.write_text(json.dumps(dict(id="x", lesson="t", kind="f", owner="a", config=[1], data={}))),
     "damaged field"),                                                                  # wrong types
])
def test_a_damaged_record_gives_a_sentence(store, damage, message):
    record = make(store)
    damage(store.path(record.id) / "run.json")
    with pytest.raises(RunDamaged, match=message):
        store.read(record.id)


def test_missing_or_truncated_results_give_a_sentence(store):
    record = make(store)
    with pytest.raises(RunDamaged, match="not saved"):
        store.arrays(record.id)
    assert not store.has_model(record.id)
    writer = RunWriter(store, record.id)
    writer.save_arrays(probs=np.random.rand(10, 2).astype(np.float32), targets=np.arange(10))
    path = store.path(record.id) / "arrays.safetensors"
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(RunDamaged, match="damaged"):
        store.arrays(record.id)


def test_results_round_trip_without_pickle(store):
    record = make(store)
    writer = RunWriter(store, record.id)
    probs = np.random.rand(5, 3).astype(np.float32)
    writer.save_arrays(probs=probs, idx=np.array([3, 1, 4]))
    writer.save_results({"vocab": ["a", "b", "c"], "rows": [{"age": 39}]})
    arrays = store.arrays(record.id)
    np.testing.assert_array_equal(arrays["probs"], probs)
    assert arrays["idx"].tolist() == [3, 1, 4]
    assert store.results(record.id)["vocab"] == ["a", "b", "c"]
    with pytest.raises(TypeError, match="not numeric"):
        writer.save_arrays(names=np.array(["a", "b"], dtype=object))


def test_the_event_log_is_read_incrementally_and_a_half_written_line_waits(store):
    record = make(store)
    path = store.path(record.id) / "events.jsonl"
    reader = EventReader(path)
    assert reader.read_new() == []
    path.write_bytes(b'{"e": "progress", "t": 1, "fraction": 0.5}\n{"e": "progr')
    assert [e["fraction"] for e in reader.read_new()] == [0.5]
    with open(path, "ab") as f:
        f.write(b'ess", "t": 2, "fraction": 0.75}\nnot json\n{"e": "info", "t": 3, "x": 1}\n')
    new = reader.read_new()
    assert [e["e"] for e in new] == ["progress", "info"]        # the damaged line is skipped, never fatal
    assert reader.read_new() == []


def test_a_reader_never_fails_while_a_writer_appends(store):
    record = make(store)
    writer = RunWriter(store, record.id, flush_every=0.0)
    n = 2000

    def write():
        for i in range(n):
            writer.event("losses", rows=[{"step": i, "train_loss": 1.0 / (i + 1), "raw": 1.0}])
        writer.event("epoch", force=True, row={"epoch": 0, "train_loss": 0.1}, valid={"step": n, "valid_loss": 0.2})

    thread = threading.Thread(target=write)
    progress, reader = Progress(), store.events(record.id)
    thread.start()
    while thread.is_alive():
        progress.apply(reader.read_new(max_bytes=4096))     # small reads: lines are cut at every boundary
    progress.apply(reader.read_new(max_bytes=None))
    thread.join()
    assert [r["step"] for r in progress.losses] == list(range(n))
    assert progress.epoch_table == [{"epoch": 0, "train_loss": 0.1}]


def test_progress_folds_every_kind_of_event(store):
    record = make(store)
    writer = RunWriter(store, record.id)
    writer.event("progress", stage="frozen", fraction=0.25, epoch=1, n_epochs=2, batch=3, n_batches=10)
    writer.event("info", batch_size=16, weights_source="embedded")
    writer.event("weights", rows=[{"layer": "head", "weight_change": 0.1}])
    writer.event("epoch", row={"epoch": 0, "error_rate": 0.1}, valid={"step": 10, "valid_loss": 0.3})
    writer.flush()
    p = read_progress(store, record.id)
    assert (p.stage, p.fraction, p.epoch, p.n_epochs, p.batch, p.n_batches) == ("frozen", 0.25, 1, 2, 3, 10)
    assert p.info == {"batch_size": 16, "weights_source": "embedded"}
    assert p.weight_stats[0]["layer"] == "head" and p.valid_losses[0]["valid_loss"] == 0.3


def test_a_lessons_own_events_keep_the_latest_of_each_kind(store):
    record = make(store)
    writer = RunWriter(store, record.id)
    for step in (0, 5, 10):
        writer.event("snapshot", step=step)
    writer.event("snapshot_start", step=0)
    writer.flush()
    p = read_progress(store, record.id)
    assert p.latest["snapshot"]["step"] == 10 and p.latest["snapshot_start"]["step"] == 0
    assert not p.info and not p.losses


def test_a_run_from_the_job_runner_still_opens(store):
    folder = store.root / "abc123def456"
    folder.mkdir()
    (folder / "job.json").write_text(json.dumps(dict(
        id="abc123def456", kind="tabular-fit", title="Tabular: fit", owner="o", config={"lr": 0.01},
        status="done", created=1.0, started=2.0, finished=3.0, epoch_table=[{"epoch": 0, "accuracy": 0.8}],
        valid_losses=[], error=None, losses=[], info={})))
    record = store.read("abc123def456")
    assert record.format == 1 and record.status == "done" and record.epoch_table[0]["accuracy"] == 0.8
    assert record.lesson == ""                         # from an older version: shown as such


def test_a_reader_mid_fit_sees_the_losses_and_the_batch_they_came_to_together(store):
    """The live panel draws "batch i of n" and the loss chart from one read of the log: the losses and the progress
    line must reach the file together (a flush between them left the chart a batch or more ahead of the line)."""
    import torch
    from torch import nn

    from core.callbacks import Callback
    from core.learner import Learner
    from core.worker import RunContext, RunProgress
    from tests.helpers import xor_data

    seen = []

    class SlowBatches(Callback):                         # each batch outlasts the writer's flush interval
        def before_batch(self):
            time.sleep(0.03)

    class Reader(Callback):                              # the live panel, reading between two batches
        order = 20

        def after_batch(self):
            if self.learn.training:
                progress = read_progress(store, record.id)
                seen.append((progress.epoch, progress.batch, len(progress.losses)))

    record = make(store)
    ctx = RunContext(store, record, torch.device("cpu"))
    ctx.writer.flush_every = 0.02
    callbacks = ctx.callbacks()
    for cb in callbacks:
        if isinstance(cb, RunProgress):
            cb.every = 0.0                               # a progress line after every batch
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    data = xor_data(n=200, batch_size=40)                # 4 training batches an epoch
    learn = Learner(model, data, nn.CrossEntropyLoss(), cbs=[*callbacks, SlowBatches(), Reader()],
                    device=torch.device("cpu"))
    learn.fit(2, 1e-2)
    assert len(seen) == 8
    assert all(n_losses == (epoch - 1) * 4 + batch for epoch, batch, n_losses in seen), seen


def test_a_fit_stopped_mid_epoch_leaves_every_loss_it_trained_in_the_run(store):
    """Progress goes out a few times a second; the losses after the last progress event go out when the fit ends."""
    import torch
    from torch import nn

    from core.callbacks import Callback, CancelFitException
    from core.learner import Learner
    from core.worker import RunContext
    from tests.helpers import xor_data

    class StopAtBatch7(Callback):
        def before_batch(self):
            if self.learn.training and self.learn.iter == 7:
                raise CancelFitException()

    record = make(store)
    ctx = RunContext(store, record, torch.device("cpu"))
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    learn = Learner(model, xor_data(), nn.CrossEntropyLoss(), cbs=[*ctx.callbacks(), StopAtBatch7()],
                    device=torch.device("cpu"))
    learn.fit(2, 1e-2)
    assert learn.cancelled
    sent = read_progress(store, record.id).losses
    assert [r["raw"] for r in sent] == [r["raw"] for r in learn.recorder.losses] and len(sent) == 7
