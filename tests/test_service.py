"""The training service over both local backends: runs end the way they should whatever a job does, a worker
killed mid-run is replaced, a restarted server finds its runs, only a run's owner (or an instructor) stops it, and
the class's limits hold when the page is bypassed."""
import os
import signal
import time

import pytest

from core import service as service_module
from core.backends import make_backend
from core.classroom import ClassLimits, set_limits
from core.errors import LimitError
from core.runs import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, RunStore, read_progress
from core.service import TrainingService
from core.worker import DISK_FULL, GPU_OUT_OF_MEMORY, HOST_OUT_OF_MEMORY, SERVER_RESTARTED, WORKER_DIED
from tests.helpers import wait_until
from tests.lesson_for_tests import KEY, kill_server_mid_run


@pytest.fixture
def threads(tmp_path):
    svc = TrainingService(RunStore(tmp_path), make_backend("thread", tmp_path, 1))
    yield svc
    svc.shutdown()


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    """One local process backend for the module: starting workers costs seconds."""
    root = tmp_path_factory.mktemp("runs")
    svc = TrainingService(RunStore(root), make_backend("local", root, 1))
    yield svc
    svc.shutdown()


def submit(svc, kind="train", owner="alice", **config):
    return svc.submit(KEY, kind, {}, config, owner=owner)


def test_a_run_trains_and_its_results_are_in_the_store(threads):
    record = threads.wait(submit(threads, epochs=2).id, timeout=60)
    assert record.status == DONE, record.error
    assert len(record.epoch_table) == 2 and record.metrics["final_error"] < 0.3
    assert record.started >= record.created and record.finished >= record.started
    store = threads.store
    assert store.arrays(record.id)["probs"].shape[1] == 2 and store.has_model(record.id)
    assert record.info["note"] == "hello" and "worker" in record.info


@pytest.mark.parametrize("backend", ["threads", "processes"])
def test_a_slots_jobs_all_run_on_one_long_lived_thread(backend, request):
    """As a worker process's main thread does: PyTorch keeps cuDNN's plans per thread (core/backends.py)."""
    svc = request.getfixturevalue(backend)
    records = [svc.wait(submit(svc, epochs=1).id, timeout=60) for _ in range(2)]
    assert all(r.status == DONE for r in records), [r.error for r in records]
    assert records[0].info["thread"] == records[1].info["thread"]
    assert records[0].info["worker"] == records[1].info["worker"]


def test_results_are_the_same_for_a_new_service_on_the_same_store(threads, tmp_path):
    record = threads.wait(submit(threads).id, timeout=60)
    threads.shutdown()
    again = TrainingService(RunStore(tmp_path), make_backend("thread", tmp_path, 1))
    try:
        reread = again.store.read(record.id)
        assert reread.epoch_table == record.epoch_table and reread.metrics == record.metrics
        assert (again.store.arrays(record.id)["probs"] == threads.store.arrays(record.id)["probs"]).all()
    finally:
        again.shutdown()


def test_one_run_at_a_time_per_person_not_per_tab(threads):
    first = submit(threads, "wait", seconds=30)
    wait_until(lambda: threads.store.read(first.id).status == "running")
    with pytest.raises(LimitError, match=r"already have a run training: “wait” \(Engine test\)\. Stop it"):
        submit(threads, "wait")
    other = submit(threads, "wait", owner="bob", seconds=30)           # someone else queues behind
    assert threads.position(other.id) == 1
    with pytest.raises(LimitError, match="already have a run waiting in the queue"):      # and is told so
        submit(threads, "wait", owner="bob")
    assert threads.cancel(first.id, by="alice") and threads.cancel(other.id, by="bob")
    assert threads.wait(first.id, 10).status == CANCELLED
    assert threads.wait(other.id, 10).status == CANCELLED


def test_only_the_owner_or_an_instructor_can_stop_a_run(threads):
    run = submit(threads, "wait", seconds=30)
    assert not threads.cancel(run.id, by="someone-with-the-link")
    time.sleep(0.3)
    assert threads.store.read(run.id).active and not threads.store.cancel_requested(run.id)
    assert threads.cancel(run.id, by="the-instructor", instructor=True)
    assert threads.wait(run.id, 10).status == CANCELLED
    assert threads.store.read(run.id).error.startswith("Your instructor stopped this run. Nothing was kept")
    waiting = [submit(threads, "wait", owner=o, seconds=30) for o in ("ann", "ben")]     # one waits in the queue
    assert threads.position(waiting[1].id) is not None
    assert threads.cancel(waiting[1].id, by="ben") and threads.cancel(waiting[1].id, by="ben") is False
    assert threads.store.read(waiting[1].id).error == "Stopped. Nothing was kept: it had no results yet. Train " \
                                                     "again when you are ready."
    threads.cancel(waiting[0].id, by="ann")


def test_limits_hold_when_the_page_is_bypassed(threads):
    set_limits(ClassLimits(epochs=5), threads.store.root)
    with pytest.raises(LimitError, match="at most 5 epochs"):
        submit(threads, epochs=500)
    with pytest.raises(LimitError, match="must be a number"):
        submit(threads, epochs="lots")
    with pytest.raises(LimitError, match="no dataset"):
        threads.submit(KEY, "train", {"dataset": "../../etc"}, {}, owner="alice")
    assert not threads.store.owner_ids("alice")          # nothing was queued


@pytest.mark.parametrize("how, status, message", [
    ("student", FAILED, "Your table has no rows."),
    ("gpu_oom", FAILED, GPU_OUT_OF_MEMORY),
    ("host_oom", FAILED, HOST_OUT_OF_MEMORY),
    ("other", FAILED, "problem on the server"),
    ("disk_full", FAILED, DISK_FULL),
])
def test_a_failing_job_fails_with_a_sentence_and_the_next_one_runs(processes, how, status, message):
    record = processes.wait(submit(processes, "fail", how=how).id, timeout=60)
    assert record.status == status and message in record.error
    assert "/srv" not in record.error and "Traceback" not in record.error     # details are for the server's log
    if how == "other":
        assert "secret/path.csv" in (processes.store.path(record.id) / "error.log").read_text()
    if how == "disk_full":                                   # nothing half-written is left in the run
        assert not [p.name for p in processes.store.path(record.id).iterdir()
                    if p.name.startswith("arrays") or p.name.endswith(".tmp")]
    assert processes.wait(submit(processes, epochs=1).id, timeout=60).status == DONE


def a_run_waiting_in_its_worker(processes, tmp_path, seconds=60):
    """A run that waits in its worker process, and that process's id."""
    pid_file = tmp_path / "pid"
    run = submit(processes, "wait", seconds=seconds, pid_file=str(pid_file))
    wait_until(pid_file.exists, timeout=30)
    return run, int(pid_file.read_text())


def test_a_worker_killed_mid_run_is_replaced(processes, tmp_path):
    run, pid = a_run_waiting_in_its_worker(processes, tmp_path)
    os.kill(pid, signal.SIGKILL)
    record = processes.wait(run.id, timeout=30)
    assert record.status == FAILED and record.error == WORKER_DIED
    assert processes.wait(submit(processes, epochs=1).id, timeout=60).status == DONE
    assert processes.stats()["alive"] == 1


def test_a_worker_stopped_with_its_service_leaves_its_run_interrupted(processes, tmp_path):
    """systemd stopping or restarting the service signals every process in it, the workers too (SIGTERM): the run
    reads as a restart does, not as a worker that ran out of memory."""
    run, pid = a_run_waiting_in_its_worker(processes, tmp_path)
    os.kill(pid, signal.SIGTERM)
    record = processes.wait(run.id, timeout=30)
    assert record.status == INTERRUPTED and record.error == SERVER_RESTARTED
    assert processes.wait(submit(processes, epochs=1).id, timeout=60).status == DONE


def test_ctrl_c_in_the_servers_terminal_is_for_the_server_not_its_workers(processes, tmp_path):
    """A terminal sends SIGINT to the server and its workers; a worker trains on, and follows its server out if the
    server stops (backends._exit_with_parent)."""
    run, pid = a_run_waiting_in_its_worker(processes, tmp_path, seconds=2)
    os.kill(pid, signal.SIGINT)
    assert processes.wait(run.id, timeout=30).status == DONE


def test_a_job_that_dies_by_itself_is_replaced_too(processes):
    record = processes.wait(submit(processes, "fail", how="die").id, timeout=60)
    assert record.status == FAILED and record.error == WORKER_DIED
    assert processes.wait(submit(processes, epochs=1).id, timeout=60).status == DONE


def test_stop_reaches_the_worker_and_keeps_what_was_trained(processes):
    run = submit(processes, epochs=25, n=20_000)
    wait_until(lambda: read_progress(processes.store, run.id).epoch_table, timeout=30)
    assert processes.cancel(run.id, by="alice")
    record = processes.wait(run.id, timeout=30)
    assert record.status == CANCELLED and processes.store.has_model(run.id)
    assert record.error == "Stopped. What it had trained before then is kept: its results are below."


def test_the_time_limit_stops_a_run_and_kills_one_that_ignores_it(tmp_path, monkeypatch):
    # A polite job stops within a second; 5 s leaves room for a machine busy with other tests (1 s failed there)
    monkeypatch.setattr(service_module, "KILL_GRACE_SECONDS", 5.0)
    set_limits(ClassLimits(job_seconds=1), tmp_path)
    svc = TrainingService(RunStore(tmp_path), make_backend("local", tmp_path, 1))
    try:
        polite = svc.wait(submit(svc, "wait", seconds=60).id, timeout=90)
        assert polite.status == CANCELLED and "time limit" in polite.error
        stubborn = svc.wait(submit(svc, "wait", seconds=60, ignore_stop=True).id, timeout=90)
        assert stubborn.status == FAILED and "time limit" in stubborn.error
    finally:
        svc.shutdown()


def test_a_server_killed_mid_run_is_found_out_by_the_next_one(tmp_path, monkeypatch):
    _, running, queued = kill_server_mid_run(tmp_path / "runs", tmp_path / "server.py")
    monkeypatch.setattr(service_module, "EXECUTOR_SILENT_SECONDS", 1.0)
    time.sleep(1.5)
    svc = TrainingService(RunStore(tmp_path / "runs"), make_backend("thread", tmp_path / "runs", 1))
    try:
        interrupted = svc.store.read(running)
        assert interrupted.status == INTERRUPTED and interrupted.error == SERVER_RESTARTED
        assert svc.store.read(queued).executor == svc.id          # this server's now: not orphaned a second time
        svc._adopt_orphans()                                      # the next look for orphans leaves it be
        assert svc.store.read(queued).status in (QUEUED, RUNNING, DONE)
        assert svc.wait(queued, timeout=60).status == DONE         # the waiting run was queued again, and ran
    finally:
        svc.shutdown()


def test_a_heartbeat_that_cannot_be_written_leaves_the_queue_going(threads, caplog):
    import shutil
    shutil.rmtree(threads._beats_dir)                       # the store taken away under the server, or a full disk
    threads._beat()
    assert "heartbeat" in caplog.text
    run = threads.submit("tabular", "lr_find", {"dataset": "adult", "source": "embedded"},
                         {"spec": {"target": "salary", "cat_names": ["workclass"], "cont_names": ["age"]},
                          "batch_size": 256, "seed": 0}, owner="t")
    assert threads.wait(run.id, 120).status == "done"


def test_a_run_left_by_a_server_that_is_gone_does_not_block_its_owner(threads):
    """Until the next look for orphans queues it again here, it is nobody's run in the way."""
    threads.store.create("tabular", "train", "alice", {}, {}, executor="a-server-long-gone")
    assert threads.active_runs("alice") == []


def test_a_worker_never_trains_a_run_stopped_before_it_started(tmp_path):
    """Stop can land between the service handing a run out and the worker starting it."""
    import torch
    from core.worker import execute
    store = RunStore(tmp_path)
    stopped = store.create(KEY, "train", "alice", {"epochs": 1}, {})
    store.request_cancel(stopped.id)
    assert execute(store, stopped.id, torch.device("cpu")) == CANCELLED
    ended = store.create(KEY, "train", "alice", {"epochs": 1}, {})
    store.update(ended.id, status=CANCELLED)
    assert execute(store, ended.id, torch.device("cpu")) == CANCELLED
    for run_id in (stopped.id, ended.id):
        record = store.read(run_id)
        assert record.status == CANCELLED and record.started is None
        assert read_progress(store, run_id).n_events == 0                  # the job never ran
