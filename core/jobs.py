"""The job runner: a whole class shares one GPU, so training runs on worker threads, never in a page's script.

A job is a function `fn(ctx) -> result`. It waits in a process-wide queue, runs on a worker (as many per GPU
as fit in its memory, see core/memory.py; one on the CPU), reports progress through `ctx` (the callbacks it gives
the Learner), and ends done, failed or cancelled. Any session can read a job by id, so a job outlives the tab
that started it; a finished job's metrics are written to the runs directory, so they outlive the server too.
"""
import gc
import json
import logging
import os
import threading
import time
import traceback
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import torch

from core.callbacks import Callback, CancelOnEvent, WeightStats
from core.device import training_device
from core.memory import job_budget_bytes, jobs_per_gpu

log = logging.getLogger(__name__)

MODEL_FILE = "model"      # runs/<job_id>/model.safetensors + model.json, written by ctx.save_model
QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)


class JobCancelled(Exception):
    """Raised by `ctx.check_cancelled()` between steps of a job once Stop was pressed."""


class JobLimitError(RuntimeError):
    """This session already has a job waiting or running, or the queue is full."""


@dataclass
class JobSnapshot:
    id: str
    kind: str
    title: str
    owner: str
    config: dict
    status: str = QUEUED
    queue_position: int | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    stage: str = "waiting"
    fraction: float = 0.0
    epoch: int = 0
    n_epochs: int = 0
    batch: int = 0
    n_batches: int = 0
    losses: list = field(default_factory=list)          # per batch: step, epoch, phase, train_loss, raw, lr
    valid_losses: list = field(default_factory=list)    # per epoch: step, valid_loss
    epoch_table: list = field(default_factory=list)     # per epoch: epoch, phase, train_loss, valid_loss, metric, time
    weight_stats: list = field(default_factory=list)    # per layer every few steps: see core.callbacks.WeightStats
    info: dict = field(default_factory=dict)            # whatever the job reports with ctx.report(...)
    error: str | None = None
    result: Any = None                                  # the job function's return value, in memory only
    persisted: bool = False                             # read back from the runs directory

    @property
    def finished_ok(self) -> bool:
        return self.status == DONE

    @property
    def active(self) -> bool:
        return self.status in (QUEUED, RUNNING)

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started


class JobContext:
    """What a job function gets: progress reporting, the Stop signal, a directory for its files."""

    def __init__(self, runner: "JobRunner", job_id: str, run_dir: Path, device: torch.device,
                 memory_budget: int | None = None):
        self.runner, self.job_id, self.run_dir, self.device = runner, job_id, run_dir, device
        self.memory_budget = memory_budget      # bytes of GPU memory this job may use; None on a CPU
        self.cancel_event = threading.Event()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    def report(self, stage: str | None = None, fraction: float | None = None, **info) -> None:
        with self.runner._lock:
            job = self.runner._jobs[self.job_id]
            if stage is not None:
                job.stage = stage
            if fraction is not None:
                job.fraction = max(0.0, min(1.0, fraction))
            job.info.update(info)

    def save_model(self, model: torch.nn.Module, meta: dict) -> Path:
        """Write the trained weights (safetensors) and what's needed to use them (JSON) into the run's directory,
        so a finished run survives a restart of the server."""
        from core.serialize import save_model
        weights, _ = save_model(self.run_dir / MODEL_FILE, model, meta)
        return weights

    def callbacks(self, weight_stats: bool = False) -> list[Callback]:
        """Give these to a Learner: live progress, loss curves, epoch table, Stop, and optional weight stats."""
        stats = WeightStats() if weight_stats else None
        cbs: list[Callback] = [JobProgress(self, stats), CancelOnEvent(self.cancel_event)]
        return cbs + ([stats] if stats else [])


class JobProgress(Callback):
    """Copies the Learner's recorder into the job's snapshot as training goes."""
    order = 10

    def __init__(self, ctx: JobContext, weight_stats: WeightStats | None = None):
        self.ctx, self.weight_stats = ctx, weight_stats
        self._losses_seen = self._stats_seen = 0

    def after_batch(self):
        learn = self.learn
        if not learn.training:
            return
        recorder = learn.recorder
        with self.ctx.runner._lock:
            job = self.ctx.runner._jobs[self.ctx.job_id]
            job.batch, job.n_batches = learn.iter + 1, learn.n_iter
            if learn.phase == "lr_find":
                job.stage, job.fraction = "lr_find", (learn.iter + 1) / max(1, learn.n_iter)
                return
            planned = max(1, learn.planned_epochs or learn.n_epochs)
            job.stage = learn.phase or "training"
            job.epoch, job.n_epochs = learn.epochs_done + 1, planned
            job.fraction = min(1.0, (learn.epochs_done + (learn.iter + 1) / max(1, learn.n_iter)) / planned)
            job.losses.extend(recorder.losses[self._losses_seen:])
            self._losses_seen = len(recorder.losses)
            if self.weight_stats is not None:
                job.weight_stats.extend(self.weight_stats.records[self._stats_seen:])
                self._stats_seen = len(self.weight_stats.records)

    def after_epoch(self):
        recorder = self.learn.recorder
        with self.ctx.runner._lock:
            job = self.ctx.runner._jobs[self.ctx.job_id]
            job.epoch_table = [dict(row) for row in recorder.epochs]
            job.valid_losses = list(recorder.valid_losses)


def runs_dir() -> Path:
    return Path(os.environ.get("LESSON1_RUNS_DIR", Path(__file__).resolve().parents[1] / "runs"))


def default_workers() -> int:
    """LESSON1_WORKERS, else on GPUs as many jobs as fit in each one's memory (core.memory.jobs_per_gpu), else 1."""
    if "LESSON1_WORKERS" in os.environ:
        return max(1, int(os.environ["LESSON1_WORKERS"]))
    if training_device().type != "cuda":
        return 1
    return sum(jobs_per_gpu(torch.cuda.get_device_properties(i).total_memory)
               for i in range(torch.cuda.device_count()))


class JobRunner:
    def __init__(self, workers: int | None = None, runs_path: Path | None = None, max_queue: int = 200,
                 jobs_per_owner: int = 1, results_in_memory: int = 32):
        self.n_workers = workers or default_workers()
        self.runs_path = Path(runs_path) if runs_path else runs_dir()
        self.max_queue, self.jobs_per_owner, self.results_in_memory = max_queue, jobs_per_owner, results_in_memory
        self._lock = threading.RLock()
        self._wakeup = threading.Condition(self._lock)
        self._jobs: OrderedDict[str, JobSnapshot] = OrderedDict()
        self._functions: dict[str, Callable] = {}
        self._contexts: dict[str, JobContext] = {}
        self._queue: deque[str] = deque()
        self._stopping = False
        self._threads = [threading.Thread(target=self._work, args=(i,), name=f"lesson1-worker-{i}", daemon=True)
                         for i in range(self.n_workers)]
        for t in self._threads:
            t.start()

    # ---- what pages call -------------------------------------------------------------------------
    def submit(self, fn: Callable[[JobContext], Any], *, owner: str, kind: str, title: str,
               config: dict | None = None) -> str:
        with self._lock:
            active = [j for j in self._jobs.values() if j.owner == owner and j.active]
            if len(active) >= self.jobs_per_owner:
                raise JobLimitError(f"You already have a job {active[0].status}: “{active[0].title}”. "
                                    "Stop it or wait for it to finish before starting another.")
            if len(self._queue) >= self.max_queue:
                raise JobLimitError("The server's queue is full; please try again in a minute.")
            job_id = uuid.uuid4().hex[:12]
            self._jobs[job_id] = JobSnapshot(job_id, kind, title, owner, dict(config or {}))
            self._functions[job_id] = fn
            self._queue.append(job_id)
            self._wakeup.notify()
            return job_id

    def get(self, job_id: str) -> JobSnapshot | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is not None:
                return self._copy(job)
        return self._load(job_id)

    def cancel(self, job_id: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None or not job.active:
                return False
            if job.status == QUEUED:
                self._queue.remove(job_id)
                self._finish(job, CANCELLED)
            else:
                job.stage = "stopping"
                self._contexts[job_id].cancel_event.set()
            return True

    def active_job(self, owner: str, kind: str | None = None) -> str | None:
        with self._lock:
            for job in reversed(self._jobs.values()):
                if job.owner == owner and job.active and (kind is None or job.kind == kind):
                    return job.id
        return None

    def stats(self) -> dict:
        with self._lock:
            running = sum(j.status == RUNNING for j in self._jobs.values())
            return dict(running=running, queued=len(self._queue), workers=self.n_workers)

    def wait(self, job_id: str, timeout: float = 60.0, poll: float = 0.05) -> JobSnapshot:
        """Block until the job finishes (for scripts and tests; pages poll instead)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            snap = self.get(job_id)
            if snap is None or not snap.active:
                return snap
            time.sleep(poll)
        raise TimeoutError(f"job {job_id} still {self.get(job_id).status} after {timeout} s")

    def shutdown(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopping = True
            for ctx in self._contexts.values():
                ctx.cancel_event.set()
            self._wakeup.notify_all()
        for t in self._threads:
            t.join(timeout)

    # ---- workers -------------------------------------------------------------------------------------
    def _work(self, index: int) -> None:
        device, budget = training_device(), None
        if device.type == "cuda":
            gpus = torch.cuda.device_count()
            device = torch.device("cuda", index % gpus)
            jobs_on_gpu = len(range(index % gpus, self.n_workers, gpus))
            budget = job_budget_bytes(torch.cuda.get_device_properties(device).total_memory, jobs_on_gpu)
        while True:
            with self._lock:
                while not self._queue and not self._stopping:
                    self._wakeup.wait()
                if self._stopping:
                    return
                job_id = self._queue.popleft()
                job = self._jobs[job_id]
                job.status, job.started, job.stage = RUNNING, time.time(), "starting"
                ctx = self._contexts[job_id] = JobContext(self, job_id, self.runs_path / job_id, device, budget)
                fn = self._functions.pop(job_id)
            self._run(job_id, fn, ctx)

    def _run(self, job_id: str, fn: Callable, ctx: JobContext) -> None:
        status, error, result = DONE, None, None
        try:
            if ctx.device.type == "cuda":
                torch.cuda.set_device(ctx.device)
            result = fn(ctx)
            if ctx.cancelled:
                status = CANCELLED
        except JobCancelled:
            status = CANCELLED
        except torch.cuda.OutOfMemoryError:
            status, error = FAILED, ("The GPU ran out of memory for this job (other students' jobs share it). "
                                     "Try a smaller batch size or image size, or try again when the queue is shorter.")
            log.warning("job %s: CUDA out of memory", job_id)
        except Exception as e:  # a job's failure must never take the worker down
            status, error = FAILED, f"{type(e).__name__}: {e}"
            log.error("job %s failed:\n%s", job_id, traceback.format_exc())
        finally:
            fn = None
            gc.collect()
            if ctx.device.type == "cuda":
                torch.cuda.empty_cache()
        with self._lock:
            job = self._jobs[job_id]
            job.result = result
            self._finish(job, status, error)
            self._contexts.pop(job_id, None)
            self._forget_old_results()

    def _finish(self, job: JobSnapshot, status: str, error: str | None = None) -> None:
        job.status, job.error, job.finished = status, error, time.time()
        job.stage = status
        if status == DONE:
            job.fraction = 1.0
        try:
            self._persist(job)
        except OSError as e:
            log.error("could not write run %s: %s", job.id, e)

    def _forget_old_results(self) -> None:
        """Keep the in-memory results (models) of the newest jobs only; older ones stay on disk."""
        finished = [j for j in self._jobs.values() if j.status in FINISHED]
        for job in finished[:-self.results_in_memory]:
            del self._jobs[job.id]

    # ---- snapshots and the runs directory --------------------------------------------------------------
    def _copy(self, job: JobSnapshot) -> JobSnapshot:
        position = self._queue.index(job.id) + 1 if job.status == QUEUED else None
        return replace(job, queue_position=position, config=dict(job.config), losses=list(job.losses),
                       valid_losses=list(job.valid_losses), epoch_table=[dict(r) for r in job.epoch_table],
                       weight_stats=list(job.weight_stats), info=dict(job.info))

    def _persist(self, job: JobSnapshot) -> None:
        run = self.runs_path / job.id
        run.mkdir(parents=True, exist_ok=True)
        record = {k: getattr(job, k) for k in ("id", "kind", "title", "owner", "config", "status", "created",
                                                "started", "finished", "epoch_table", "valid_losses", "error")}
        record["losses"] = job.losses[-5000:]
        record["info"] = {k: v for k, v in job.info.items() if _jsonable(v)}
        tmp = run / "job.json.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, run / "job.json")

    def _load(self, job_id: str) -> JobSnapshot | None:
        if not job_id or not job_id.isalnum():      # ids come from URLs: never let one name a path
            return None
        path = self.runs_path / job_id / "job.json"
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        fields = {k: record[k] for k in ("id", "kind", "title", "owner", "config") if k in record}
        snap = JobSnapshot(**fields)
        for k in ("status", "created", "started", "finished", "epoch_table", "valid_losses", "error", "losses", "info"):
            if k in record:
                setattr(snap, k, record[k])
        snap.stage, snap.persisted = snap.status, True
        snap.fraction = 1.0 if snap.status == DONE else 0.0
        return snap


def _jsonable(value) -> bool:
    try:
        json.dumps(value)
        return True
    except (TypeError, ValueError):
        return False


_runner: JobRunner | None = None
_runner_lock = threading.Lock()


def get_runner() -> JobRunner:
    """The process-wide runner every session shares."""
    global _runner
    with _runner_lock:
        if _runner is None:
            _runner = JobRunner()
        return _runner
