"""Where jobs run: slots that each train one run at a time. The service (core/service.py) queues runs and hands
them to free slots; a backend only starts a run in a slot, reports when it ended or its process died, and kills a
slot that will not stop.

    thread   in the server's own process (tests, debugging): nothing to start, nothing isolated
    local    long-lived worker processes the app starts (the default): spawn, each keeps its imports and CUDA
             context warm between jobs, runs at a lower priority than the web server, and is replaced if it dies
    ray      core/ray_backend.py: a Ray task per run, on whichever machine of the cluster has room
"""
from __future__ import annotations

import logging
import multiprocessing as mp
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from multiprocessing.connection import wait as wait_for
from pathlib import Path

import torch

log = logging.getLogger(__name__)

WORKER_NICENESS = 5      # the web server stays responsive while workers train on a shared CPU


@dataclass
class Ended:
    slot: int
    run_id: str
    died: bool = False      # the process running it is gone (killed, crashed, out of memory)
    stopped: bool = False   # ... by a polite signal: the server's service manager stopping it (below)


# What a worker dies of when the service as a whole is stopped or restarted: systemd or a container's init signal
# every process of the service, its workers too (a terminal's Ctrl-C as well, which workers ignore: worker_main).
# The kernel's out-of-memory killer and a class's time limit send SIGKILL; a crash is SIGSEGV or SIGABRT.
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


@dataclass(frozen=True)
class SlotPlan:
    device: str                      # "cpu", "cuda:0"...
    memory_budget: int | None        # bytes of GPU memory a job may use; None on a CPU


def plan_slots(n: int | None = None) -> list[SlotPlan]:
    """LESSON1_WORKERS slots (or as many as fit on the GPUs, see core/memory.py; one on a CPU), spread over the
    GPUs, each with its share of its GPU's memory."""
    from core.device import training_device
    from core.memory import job_budget_bytes, jobs_per_gpu
    device = training_device()
    if device.type != "cuda":
        return [SlotPlan(str(device), None)] * (n or int(os.environ.get("LESSON1_WORKERS", 1)))
    gpus = torch.cuda.device_count()
    totals = [torch.cuda.get_device_properties(i).total_memory for i in range(gpus)]
    if n is None:
        n = int(os.environ["LESSON1_WORKERS"]) if "LESSON1_WORKERS" in os.environ else sum(map(jobs_per_gpu, totals))
    plans = []
    for slot in range(max(1, n)):
        gpu = slot % gpus
        on_gpu = len(range(gpu, n, gpus))
        plans.append(SlotPlan(f"cuda:{gpu}", job_budget_bytes(totals[gpu], on_gpu)))
    return plans


class ThreadBackend:
    """Runs each slot's jobs on one long-lived thread of this process. For tests and debugging: a crash here is the
    server's crash. One thread per slot, not one per job, for the same reason a worker process is long-lived: PyTorch
    keeps cuDNN's execution plans per thread, and on the H200 building them again cost a job's first epoch ~8 s of
    its ~10 (benchmarks/results/README.md, 2026-12-04)."""
    name = "thread"

    def __init__(self, runs_root: Path, plans: list[SlotPlan]):
        self.runs_root, self.plans = Path(runs_root), plans
        self._ended: list[Ended] = []
        self._cond = threading.Condition()
        self._inboxes: list[queue.SimpleQueue] = [queue.SimpleQueue() for _ in plans]
        self._threads: list[threading.Thread | None] = [None] * len(plans)

    @property
    def n_slots(self) -> int:
        return len(self.plans)

    def start(self) -> None:
        pass

    def launch(self, slot: int, run_id: str, time_limit: float | None = None) -> None:
        if self._threads[slot] is None or not self._threads[slot].is_alive():
            self._threads[slot] = threading.Thread(target=self._serve, args=(slot,), name=f"lesson1-job-{slot}",
                                                   daemon=True)
            self._threads[slot].start()
        self._inboxes[slot].put((run_id, time_limit))

    def _serve(self, slot: int) -> None:
        from core.runs import RunStore
        from core.worker import execute
        plan = self.plans[slot]
        while (message := self._inboxes[slot].get()) is not None:
            run_id, time_limit = message
            try:
                execute(RunStore(self.runs_root), run_id, torch.device(plan.device), plan.memory_budget, time_limit)
                died = False
            except Exception:
                log.exception("run %s: the job runner itself failed", run_id)
                died = True
            with self._cond:
                self._ended.append(Ended(slot, run_id, died))
                self._cond.notify_all()

    def wait(self, timeout: float) -> list[Ended]:
        with self._cond:
            if not self._ended:
                self._cond.wait(timeout)
            ended, self._ended = self._ended, []
        return ended

    def kill(self, slot: int) -> bool:
        return False                  # a thread cannot be killed: the job stops at its next cancel check

    def describe(self) -> dict:
        return dict(backend=self.name, workers=self.n_slots, alive=self.n_slots)

    def shutdown(self) -> None:
        for inbox in self._inboxes:
            inbox.put(None)       # a slot's thread ends after its current job (daemon: never holds the process)


class ProcessBackend:
    """One long-lived worker process per slot (spawned, so CUDA is safe to use in it)."""
    name = "local"

    def __init__(self, runs_root: Path, plans: list[SlotPlan]):
        self.runs_root, self.plans = Path(runs_root), plans
        self._ctx = mp.get_context("spawn")
        self._procs: list = [None] * len(plans)
        self._conns: list = [None] * len(plans)
        self._running: dict[int, str] = {}
        self._rehearsals: dict[int, list | None] = {}   # slot -> how its rehearsal ended (None: still rehearsing)
        self._lock = threading.Lock()

    @property
    def n_slots(self) -> int:
        return len(self.plans)

    def start(self) -> None:
        for slot in range(self.n_slots):
            self._spawn(slot, rehearse=True)

    def _spawn(self, slot: int, rehearse: bool = False) -> None:
        """A worker for `slot`. Only the first ones rehearse (core/rehearsal.py): one that replaces a worker that
        died could die of the same, over and over."""
        plan = self.plans[slot]
        parent, child = self._ctx.Pipe()
        proc = self._ctx.Process(target=worker_main, name=f"lesson1-worker-{slot}", daemon=True,
                                 args=(child, str(self.runs_root), plan.device, plan.memory_budget, os.getpid(),
                                       rehearse))
        proc.start()
        child.close()
        with self._lock:
            self._procs[slot], self._conns[slot] = proc, parent
            self._rehearsals.pop(slot, None)

    def launch(self, slot: int, run_id: str, time_limit: float | None = None) -> None:
        with self._lock:
            self._running[slot] = run_id
            try:
                self._conns[slot].send(("run", run_id, time_limit))
            except (OSError, ValueError):       # the worker is already gone: wait() reports it
                pass

    def wait(self, timeout: float) -> list[Ended]:
        with self._lock:
            conns = {self._conns[s]: s for s in range(self.n_slots) if self._conns[s] is not None}
            sentinels = {self._procs[s].sentinel: s for s in range(self.n_slots) if self._procs[s] is not None}
        ready = wait_for(list(conns) + list(sentinels), timeout)
        ended, dead = [], set()
        for obj in ready:
            if obj in conns:
                slot = conns[obj]
                try:
                    message = obj.recv()
                except (EOFError, OSError):
                    dead.add(slot)
                    continue
                if message[0] == "done":
                    with self._lock:
                        self._running.pop(slot, None)
                    ended.append(Ended(slot, message[1]))
                elif message[0] in ("rehearsing", "rehearsed"):
                    with self._lock:
                        self._rehearsals[slot] = None if message[0] == "rehearsing" else message[1]
            else:
                dead.add(sentinels[obj])
        for slot in dead:
            proc = self._procs[slot]
            proc.join(timeout=1)
            if proc.is_alive():
                continue
            with self._lock:
                run_id = self._running.pop(slot, None)
            log.warning("worker %s exited (code %s) %s", slot, proc.exitcode,
                        f"while training run {run_id}" if run_id else "while idle")
            if run_id:
                ended.append(Ended(slot, run_id, died=True, stopped=-proc.exitcode in STOP_SIGNALS))
            self._spawn(slot)                          # the next job gets a fresh worker
        return ended

    def kill(self, slot: int) -> bool:
        proc = self._procs[slot]
        if proc is not None and proc.is_alive():
            proc.kill()
            return True
        return False

    def describe(self) -> dict:
        with self._lock:
            alive = sum(p is not None and p.is_alive() for p in self._procs)
            rehearsals = dict(self._rehearsals)
        return dict(backend=self.name, workers=self.n_slots, alive=alive,
                    pids=[p.pid for p in self._procs if p is not None],
                    warming=sum(ended is None for ended in rehearsals.values()),
                    rehearsed={slot: ended for slot, ended in rehearsals.items() if ended is not None})

    def shutdown(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("stop",))
            except (OSError, ValueError, AttributeError):
                pass
        deadline = time.time() + 5
        for proc in self._procs:
            if proc is not None:
                proc.join(max(0.1, deadline - time.time()))
                if proc.is_alive():
                    proc.kill()


def worker_main(conn, runs_root: str, device: str, memory_budget: int | None, parent_pid: int,
                rehearse: bool = False) -> None:
    """A worker process: warm up once (and rehearse, if asked and LESSON1_REHEARSE wants it for this device), then
    run whatever run ids the server sends, one at a time."""
    import core  # noqa: F401  (OpenMP's wait policy, before torch's threads start)
    try:
        os.nice(WORKER_NICENESS)
    except OSError:
        pass
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s[worker]: %(message)s")
    signal.signal(signal.SIGINT, signal.SIG_IGN)        # a terminal's Ctrl-C is for the server: follow it out, below
    _exit_with_parent(parent_pid)
    from core import rehearsal
    from core.lessons import warm_up
    from core.runs import RunStore
    from core.worker import execute
    warm_up()
    store, dev = RunStore(runs_root), torch.device(device)
    runs = rehearsal.runs_to_rehearse(dev) if rehearse else []

    def job_waiting() -> bool:
        try:
            return conn.poll()
        except (OSError, EOFError):
            return True

    if runs and not job_waiting():                      # a GPU's first job pays for cuDNN's plans: not a student's
        try:
            conn.send(("rehearsing", [lesson for lesson, _ in runs]))
            conn.send(("rehearsed", rehearsal.rehearse(dev, memory_budget, job_waiting, runs)))
        except (OSError, ValueError):
            return
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if message[0] != "run":
            return
        _, run_id, time_limit = message
        try:
            status = execute(store, run_id, dev, memory_budget, time_limit)
        except Exception:                               # the store itself failed (disk full...): say so, go on
            log.exception("run %s could not be run", run_id)
            status = "failed"
        try:
            conn.send(("done", run_id, status))
        except (OSError, ValueError):
            return


def _exit_with_parent(parent_pid: int) -> None:
    """A worker whose server is gone (killed, crashed) stops too, instead of training for nobody."""
    def watch():
        while True:
            time.sleep(2)
            if os.getppid() != parent_pid:
                os._exit(0)
    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def make_backend(name: str, runs_root: Path, n: int | None = None):
    if name == "thread":
        return ThreadBackend(runs_root, plan_slots(n))
    if name == "local":
        return ProcessBackend(runs_root, plan_slots(n))
    if name == "ray":
        from core.ray_backend import RayBackend
        return RayBackend(runs_root, n)
    raise ValueError(f"LESSON1_BACKEND must be local, ray or thread, not {name!r}")
