"""A worker's rehearsal (core/rehearsal.py): each lesson's default run trained once before the first student, in a
folder that is then removed, and given up as soon as a real job arrives."""
import tempfile
import threading
import time
from pathlib import Path

import pytest
import torch

from core import rehearsal
from core.backends import ProcessBackend, SlotPlan
from tests.lesson_for_tests import KEY

CPU = torch.device("cpu")


def rehearsal_folders() -> set[Path]:
    return set(Path(tempfile.gettempdir()).glob("lesson1-rehearsal-*"))


def never() -> bool:
    return False


def test_a_rehearsal_trains_each_run_and_keeps_nothing():
    before = rehearsal_folders()
    ended = rehearsal.rehearse(CPU, None, never, [(KEY, ("train", {}, {"epochs": 1})),
                                                   (KEY, ("train", {}, {"epochs": 2}))])
    assert [(lesson, status) for lesson, status, _ in ended] == [(KEY, "done"), (KEY, "done")]
    assert rehearsal_folders() == before


def test_a_rehearsal_trains_one_epoch_of_each_phase(monkeypatch):
    """More epochs only repeat the same shapes: each of the lesson's epoch settings is cut to 1, and 0 stays 0."""
    import core.worker
    trained = []

    def execute(store, run_id, *args):
        trained.append(store.read(run_id).config)
        return "done"

    monkeypatch.setattr(core.worker, "execute", execute)
    rehearsal.rehearse(CPU, None, never, [("segmentation", ("fit", {"dataset": "scenes"},
                                                             {"epochs": 4, "freeze_epochs": 0, "width": 96})),
                                          (KEY, ("train", {}, {"epochs": 3, "n": 64}))])
    assert [(c["epochs"], c["freeze_epochs"], c["width"]) for c in trained[:1]] == [(1, 0, 96)]
    assert trained[1]["epochs"] == 1 and trained[1]["n"] == 64


def test_a_rehearsal_gives_way_to_a_real_job():
    job_arrived = threading.Event()
    threading.Timer(0.5, job_arrived.set).start()
    start = time.monotonic()
    ended = rehearsal.rehearse(CPU, None, job_arrived.is_set, [(KEY, ("wait", {}, {"seconds": 60})),
                                                              (KEY, ("train", {}, {"epochs": 1}))])
    assert [(lesson, status) for lesson, status, _ in ended] == [(KEY, "cancelled")]                  # stopped mid-run, and the next not started
    assert time.monotonic() - start < 30                  # not the 60 s the run would have waited


def test_a_rehearsal_that_fails_is_only_logged(caplog):
    ended = rehearsal.rehearse(CPU, None, never, [(KEY, ("fail", {}, {"how": "crash"})),
                                                   (KEY, ("train", {}, {"epochs": float("nan")})),   # refused
                                                   (KEY, ("train", {}, {"epochs": 1}))])
    assert [status for _, status, _ in ended] == ["failed", "failed", "done"]
    assert "could not rehearse" in caplog.text


def test_every_lesson_with_a_ready_made_run_is_rehearsed():
    from core.lessons import LESSONS
    lessons = [lesson for lesson, _ in rehearsal.default_runs()]
    assert lessons == [key for key in LESSONS if key != KEY]          # the engine's test lesson has no data
    assert set(lessons) >= {"image_classification", "segmentation", "tabular", "collab"}


@pytest.mark.parametrize("setting, on_cpu, on_gpu", [
    (None, [], "all"), ("auto", [], "all"), ("on", "all", "all"), ("off", [], []),
    ("tabular, image_classification", ["image_classification", "tabular"], ["image_classification", "tabular"]),
    ("tabular,no_such_lesson", ["tabular"], ["tabular"])])
def test_which_lessons_a_worker_rehearses(monkeypatch, setting, on_cpu, on_gpu):
    every = [lesson for lesson, _ in rehearsal.default_runs()]
    if setting is None:
        monkeypatch.delenv("LESSON1_REHEARSE", raising=False)
    else:
        monkeypatch.setenv("LESSON1_REHEARSE", setting)
    lessons = lambda device: [lesson for lesson, _ in rehearsal.runs_to_rehearse(device)]    # noqa: E731
    assert lessons(CPU) == (every if on_cpu == "all" else on_cpu)
    assert lessons(torch.device("cuda", 0)) == (every if on_gpu == "all" else on_gpu)


def test_the_sidebar_says_while_workers_warm_up():
    from ui.job_counts import line
    stats = dict(running=0, queued=1, workers=2, alive=2)
    assert line(dict(stats, warming=2)) == "0 training · 1 waiting · 2 workers, 2 warming up"
    assert line(dict(stats, warming=0)) == "0 training · 1 waiting · 2 workers"


def rehearsing(scratch: Path) -> bool:
    from core.runs import RunStore
    for folder in scratch.glob("lesson1-rehearsal-*"):
        try:
            store = RunStore(folder)
            if any(r.status == "running" for r in store.records(store.ids())):
                return True
        except OSError:                           # removed as we read it
            pass
    return False


def test_a_worker_rehearses_until_its_first_job(tmp_path, monkeypatch):
    """A worker process told to rehearse on the CPU starts on the first lesson (the bird's, seconds of CPU a step);
    a job sent while it trains stops it there, and trains."""
    from core.runs import RunStore
    monkeypatch.setenv("LESSON1_REHEARSE", "on")
    scratch = tmp_path / "tmp"                    # the worker's temporary folder, where it rehearses
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    store = RunStore(tmp_path / "runs")
    run = store.create(KEY, "train", "student", {"epochs": 1}, {})
    backend = ProcessBackend(store.root, [SlotPlan("cpu", None)])
    backend.start()
    try:
        deadline = time.monotonic() + 120
        while not rehearsing(scratch):
            assert time.monotonic() < deadline, "the worker never started rehearsing"
            time.sleep(0.1)
        backend.wait(0.5)                         # reads the worker's "rehearsing"
        describe_while_rehearsing = backend.describe()
        backend.launch(0, run.id)
        ended = []
        while not ended and time.monotonic() < deadline + 120:
            ended = backend.wait(1.0)
        describe_after = backend.describe()
        rehearsed = describe_after["rehearsed"]
        first_pid = describe_after["pids"]
        backend.kill(0)                           # the worker that replaces it does not rehearse: it could die of it
        while backend.describe()["pids"] == first_pid:
            assert time.monotonic() < deadline + 180, "the worker was not replaced"
            backend.wait(0.5)
        second = store.create(KEY, "train", "student", {"epochs": 1}, {})
        backend.launch(0, second.id)
        while not backend.wait(1.0) and time.monotonic() < deadline + 240:
            pass
        describe_replaced = backend.describe()
    finally:
        backend.shutdown()
    assert [(e.run_id, e.died) for e in ended] == [(run.id, False)]
    assert store.read(run.id).status == "done"
    assert not list(scratch.glob("lesson1-rehearsal-*"))
    assert [(lesson, status) for lesson, status, _ in rehearsed[0]] == [("image_classification", "cancelled")]
    assert describe_while_rehearsing["warming"] == 1 and describe_after["warming"] == 0
    assert store.read(second.id).status == "done"
    assert describe_replaced["rehearsed"] == {} and describe_replaced["warming"] == 0


def test_a_worker_with_a_job_waiting_does_not_rehearse(tmp_path, monkeypatch):
    from core.runs import RunStore
    monkeypatch.setenv("LESSON1_REHEARSE", "on")
    store = RunStore(tmp_path)
    run = store.create(KEY, "train", "student", {"epochs": 1}, {})
    backend = ProcessBackend(store.root, [SlotPlan("cpu", None)])
    backend.start()
    try:
        backend.launch(0, run.id)                 # long before the worker has imported torch
        deadline = time.monotonic() + 120
        while not backend.wait(1.0):
            assert time.monotonic() < deadline, "the job never ended"
        described = backend.describe()
    finally:
        backend.shutdown()
    assert store.read(run.id).status == "done"
    assert described["rehearsed"] == {} and described["warming"] == 0


def test_a_rehearsal_removes_what_a_stopped_worker_left(tmp_path, monkeypatch):
    """A server stopped while a worker rehearsed leaves its folder; the next rehearsal removes it, not a live one's."""
    import os
    import subprocess
    import sys
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    left = tmp_path / f"{rehearsal.PREFIX}{int(gone.stdout)}-abc123"
    live = tmp_path / f"{rehearsal.PREFIX}{os.getppid()}-def456"
    for folder in (left, live):
        (folder / "run").mkdir(parents=True)
    ended = rehearsal.rehearse(CPU, None, never, [(KEY, ("train", {}, {"epochs": 1}))])
    assert [status for _, status, _ in ended] == ["done"]
    assert not left.exists() and live.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [live.name]      # its own folder is gone too
