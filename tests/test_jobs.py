import threading
import time

import pytest
import torch
from torch import nn

from core.device import seed_everything
from core.jobs import CANCELLED, DONE, FAILED, QUEUED, RUNNING, JobLimitError, JobRunner
from core.learner import Learner
from core.metrics import accuracy
from tests.helpers import BodyHead, body_head_splitter, xor_data


@pytest.fixture
def runner(tmp_path):
    r = JobRunner(workers=2, runs_path=tmp_path)
    yield r
    r.shutdown()


def train_job(epochs=2, gate: threading.Event | None = None):
    """A real fine_tune; `gate`, if given, holds the first batch until the test lets it go."""
    def fn(ctx):
        seed_everything(0)
        learn = Learner(BodyHead(), xor_data(), nn.CrossEntropyLoss(), metrics=[accuracy],
                        splitter=body_head_splitter, device=torch.device("cpu"), cbs=ctx.callbacks(weight_stats=True))
        if gate is not None:
            from core.callbacks import Callback

            class Hold(Callback):
                order = 20                                  # after JobProgress has published the batch

                def after_batch(self):
                    if self.learn.iter == 3 and self.learn.epochs_done == 0:
                        gate.wait(20)
            learn.add_cb(Hold())
        learn.fine_tune(epochs, base_lr=1e-2)
        ctx.save_model(learn.model, dict(vocab=list(learn.dls.vocab)))
        return learn
    return fn


def test_a_job_reports_live_progress_then_its_result(runner):
    gate = threading.Event()
    job_id = runner.submit(train_job(gate=gate), owner="ana", kind="test", title="xor")
    deadline = time.time() + 20
    while (snap := runner.get(job_id)).batch < 4 and time.time() < deadline:
        time.sleep(0.02)
    assert snap.status == RUNNING and snap.stage == "frozen"
    assert 0 < snap.fraction < 0.5 and snap.n_epochs == 3
    assert len(snap.losses) >= 3
    gate.set()
    snap = runner.wait(job_id, timeout=60)
    assert snap.status == DONE and snap.fraction == 1.0
    assert [row["phase"] for row in snap.epoch_table] == ["frozen", "unfrozen", "unfrozen"]
    assert len(snap.valid_losses) == 3 and snap.weight_stats
    assert isinstance(snap.result, Learner) and snap.result.recorder.epochs[-1]["accuracy"] > 0.7


def test_one_active_job_per_owner(runner):
    gate = threading.Event()
    first = runner.submit(train_job(gate=gate), owner="ana", kind="test", title="first")
    with pytest.raises(JobLimitError, match="already have a job"):
        runner.submit(train_job(), owner="ana", kind="test", title="second")
    other = runner.submit(train_job(epochs=1), owner="ben", kind="test", title="someone else's")
    gate.set()
    assert runner.wait(first).status == DONE and runner.wait(other).status == DONE
    runner.wait(runner.submit(train_job(epochs=1), owner="ana", kind="test", title="next"))


def test_many_students_share_the_workers_in_order(tmp_path):
    runner = JobRunner(workers=2, runs_path=tmp_path)
    gates = [threading.Event() for _ in range(5)]

    def held(i):
        def fn(ctx):
            gates[i].wait(20)
            return i
        return fn
    ids = [runner.submit(held(i), owner=f"student{i}", kind="test", title=str(i)) for i in range(5)]
    time.sleep(0.2)
    snaps = [runner.get(i) for i in ids]
    assert [s.status for s in snaps] == [RUNNING, RUNNING, QUEUED, QUEUED, QUEUED]
    assert [s.queue_position for s in snaps[2:]] == [1, 2, 3]
    assert runner.stats() == dict(running=2, queued=3, workers=2)
    for gate in gates:
        gate.set()
    assert [runner.wait(i).result for i in ids] == [0, 1, 2, 3, 4]
    runner.shutdown()


def test_stop_cancels_a_running_job_and_keeps_what_was_trained(runner):
    gate = threading.Event()
    job_id = runner.submit(train_job(epochs=3, gate=gate), owner="ana", kind="test", title="stop me")
    while runner.get(job_id).batch < 4:
        time.sleep(0.02)
    assert runner.cancel(job_id)
    assert runner.get(job_id).stage == "stopping"
    gate.set()
    snap = runner.wait(job_id)
    assert snap.status == CANCELLED
    learn = snap.result
    assert learn.cancelled and len(learn.recorder.losses) == 4     # stopped at the next batch, weights kept


def test_cancel_a_queued_job(tmp_path):
    runner = JobRunner(workers=1, runs_path=tmp_path)
    gate = threading.Event()
    first = runner.submit(lambda ctx: gate.wait(20), owner="a", kind="test", title="busy")
    queued = runner.submit(lambda ctx: "never runs", owner="b", kind="test", title="waiting")
    assert runner.cancel(queued)
    gate.set()
    runner.wait(first)
    snap = runner.get(queued)
    assert snap.status == CANCELLED and snap.result is None
    runner.shutdown()


def test_a_failing_job_says_why_and_the_worker_carries_on(tmp_path):
    runner = JobRunner(workers=1, runs_path=tmp_path)

    def broken(ctx):
        raise ValueError("the CSV has no 'salary' column")

    def out_of_memory(ctx):
        ctx.report(stage="allocating")
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    failed = runner.wait(runner.submit(broken, owner="a", kind="test", title="broken"))
    assert failed.status == FAILED and "no 'salary' column" in failed.error
    oom = runner.wait(runner.submit(out_of_memory, owner="a", kind="test", title="too big"))
    assert oom.status == FAILED and "ran out of memory" in oom.error and "batch size" in oom.error
    ok = runner.wait(runner.submit(train_job(epochs=1), owner="a", kind="test", title="fine"))
    assert ok.status == DONE
    runner.shutdown()


def test_finished_runs_survive_a_restart(tmp_path):
    first = JobRunner(workers=1, runs_path=tmp_path)
    job_id = first.submit(train_job(epochs=1), owner="ana", kind="test", title="persist", config=dict(lr=1e-2))
    done = first.wait(job_id)
    first.shutdown()
    second = JobRunner(workers=1, runs_path=tmp_path)        # a new server process, same runs directory
    snap = second.get(job_id)
    assert snap.persisted and snap.status == DONE and snap.config == {"lr": 1e-2}
    assert snap.epoch_table == done.epoch_table and snap.result is None
    from core.serialize import load_model
    state, meta = load_model(tmp_path / job_id / "model")
    assert meta["vocab"] == ["different", "same"]
    assert torch.equal(state["head.weight"], done.result.model.head.weight.detach())
    assert second.get("../../etc/passwd") is None and second.get("") is None
    second.shutdown()


def test_old_results_leave_memory_but_stay_on_disk(tmp_path):
    runner = JobRunner(workers=1, runs_path=tmp_path, results_in_memory=2)
    ids = [runner.wait(runner.submit(lambda ctx, i=i: i, owner="a", kind="test", title=str(i))).id for i in range(4)]
    assert runner.get(ids[-1]).result == 3
    oldest = runner.get(ids[0])
    assert oldest.persisted and oldest.status == DONE and oldest.result is None
    runner.shutdown()
