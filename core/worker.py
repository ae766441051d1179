"""Running one job: the same code in a worker process, a Ray task or a test's thread.

`execute(store, run_id, device, memory_budget)` reads the run's record, finds the lesson's job function
(core/lessons.py), calls `fn(ctx, data, config)` and writes how it ended. Everything the job produces goes into
the run's folder through `ctx` (core/runs.py), so whoever watches the run, in whichever process or machine, reads it
from there.

A failure is a sentence for the student: a `StudentError`'s own message, the GPU or the host out of memory, or,
for anything else, a plain apology with a reference; the details go to the server's log and the run's error.log.
"""
from __future__ import annotations

import errno
import gc
import logging
import os
import socket
import threading
import time
import traceback

import torch

from core.callbacks import Callback, CancelFitException, WeightStats
from core.errors import StudentError
from core.runs import (CANCELLED, DONE, FAILED, QUEUED, RUNNING, Progress, RunStore, RunWriter, read_progress)

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
CANCEL_CHECK_SECONDS = 0.2

GPU_OUT_OF_MEMORY = ("The GPU ran out of memory for this job (other students' jobs share it). Try smaller images or "
                     "a smaller batch, or try again when the queue is shorter.")
HOST_OUT_OF_MEMORY = ("The server ran out of memory for this job. Try smaller images, fewer rows or a smaller batch; "
                      "if it happens again, tell your instructor.")
WORKER_DIED = ("The process training this run stopped unexpectedly (most often: the server ran out of memory). "
               "Nothing else was affected: train again, perhaps with smaller images or fewer epochs.")
SERVER_RESTARTED = ("The server restarted while this run was training, so it did not finish. Its settings are "
                    "kept: press \"Train again with these settings\".")
TIME_LIMIT = "Stopped: this run went over the class's time limit of {minutes:g} minutes per run."
DISK_FULL = ("The server ran out of disk space while saving this run, so it was not kept. Tell your instructor; "
             "nothing else you did was lost.")


def unexpected(run_id: str) -> str:
    return (f"Training failed because of a problem on the server, not because of anything you did "
            f"(reference {run_id}). Try again; if it happens again, tell your instructor.")


class JobCancelled(Exception):
    """Raised by `ctx.check_cancelled()` between steps of a job once Stop was pressed."""


class RunContext:
    """What a job function gets: where it trains, how to report, how to know it was stopped, where to write."""

    def __init__(self, store: RunStore, record, device: torch.device, memory_budget: int | None = None,
                 time_limit: float | None = None):
        self.store, self.record, self.run_id = store, record, record.id
        self.device, self.memory_budget = device, memory_budget
        self.config, self.data = record.config, record.data
        self.run_dir = store.path(record.id)
        self.writer = RunWriter(store, record.id)
        self.metrics: dict = {}
        self.deadline = time.time() + time_limit if time_limit else None
        self.stopped_by_time = False
        self._cancelled, self._checked = False, 0.0

    @property
    def inputs(self):
        from core.inputs import InputStore
        return InputStore(self.store.root)

    @property
    def cancelled(self) -> bool:
        """Stop pressed (the run's cancel file), or the class's time limit reached. Checked a few times a second."""
        if not self._cancelled and time.monotonic() - self._checked >= CANCEL_CHECK_SECONDS:
            self._checked = time.monotonic()
            if self.deadline is not None and time.time() > self.deadline:
                self._cancelled = self.stopped_by_time = True
            self._cancelled = self._cancelled or self.store.cancel_requested(self.run_id)
        return self._cancelled

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise JobCancelled()

    def report(self, stage: str | None = None, fraction: float | None = None, **info) -> None:
        """Say where the job is (`stage`, `fraction` of the whole) and anything the page shows (`info`)."""
        if stage is not None or fraction is not None:
            progress = {"stage": stage} if stage is not None else {}
            if fraction is not None:
                progress["fraction"] = max(0.0, min(1.0, fraction))
            self.writer.event("progress", **progress)
        if info:
            self.writer.event("info", force=True, **info)

    def set_metrics(self, **metrics) -> None:
        """The run's final numbers (accuracy, error rate, RMSE...), kept in its record for lists and comparisons."""
        self.metrics.update(metrics)

    def callbacks(self, weight_stats: bool = False, layer_of=None) -> list[Callback]:
        """Give these to a Learner: live progress, loss curves, epoch table, Stop, optional per-layer statistics
        (`layer_of` names the layer of a parameter, by default core.callbacks.layer_name)."""
        stats = WeightStats(layer_of=layer_of) if weight_stats else None
        return [RunProgress(self, stats), CancelCheck(self)] + ([stats] if stats else [])

    def save_model(self, model, meta: dict):
        return self.writer.save_model(model, meta)

    def save_arrays(self, **arrays) -> None:
        self.writer.save_arrays(**arrays)

    def save_results(self, results: dict) -> None:
        self.writer.save_results(results)


class CancelCheck(Callback):
    """The Stop button: a cancel request ends the fit at the next batch, keeping what was trained."""

    def __init__(self, ctx: RunContext):
        self.ctx = ctx

    def before_batch(self):
        if self.ctx.cancelled:
            raise CancelFitException()


class RunProgress(Callback):
    """Writes the Learner's progress into the run's event log: the losses and where it is, at most five times a
    second however fast the batches, a row per epoch, and per-layer statistics at each epoch's end (they are drawn
    after training, not live)."""
    order = 10
    every = 0.2

    def __init__(self, ctx: RunContext, weight_stats: WeightStats | None = None):
        self.ctx, self.weight_stats = ctx, weight_stats
        self._losses_sent = self._stats_sent = 0
        self._last = 0.0

    def before_fit(self):
        n = getattr(self.learn.dls.train, "n", None)
        if n is not None and self.learn.phase != "lr_find":
            self.ctx.writer.event("info", train_items=int(n))        # what benchmarks count items per second by

    def after_batch(self):
        learn = self.learn
        if not learn.training:
            return
        writer, now = self.ctx.writer, time.monotonic()
        last_batch = learn.iter + 1 == learn.n_iter
        if learn.phase == "lr_find":
            if now - self._last >= self.every or last_batch:
                self._last = now
                writer.event("progress", stage="lr_find", fraction=(learn.iter + 1) / max(1, learn.n_iter),
                             batch=learn.iter + 1, n_batches=learn.n_iter)
            return
        if now - self._last >= self.every or last_batch:
            self._last = now
            self._send_losses(hold=True)    # reading the recorder's losses waits for the GPU: not at every batch;
            # held for the progress line below: flushed alone, the chart would run ahead of "batch i of n"
            planned = max(1, learn.planned_epochs or learn.n_epochs)
            writer.event("progress", stage=learn.phase or "training", epoch=learn.epochs_done + 1, n_epochs=planned,
                         batch=learn.iter + 1, n_batches=learn.n_iter,
                         fraction=min(1.0, (learn.epochs_done + (learn.iter + 1) / max(1, learn.n_iter)) / planned))

    def after_epoch(self):
        recorder, writer = self.learn.recorder, self.ctx.writer
        self._send_losses()
        if self.weight_stats is not None and len(self.weight_stats.records) > self._stats_sent:
            writer.event("weights", rows=self.weight_stats.records[self._stats_sent:])
            self._stats_sent = len(self.weight_stats.records)
        writer.event("epoch", force=True, row=dict(recorder.epochs[-1]), valid=dict(recorder.valid_losses[-1]))

    def after_fit(self):
        self._send_losses()                 # a fit stopped mid-epoch: the losses since the last progress event
        self.ctx.writer.flush()

    def _send_losses(self, hold: bool = False):
        losses = self.learn.recorder.losses
        if len(losses) > self._losses_sent:
            self.ctx.writer.event("losses", hold=hold, rows=losses[self._losses_sent:])
            self._losses_sent = len(losses)


class _Heartbeat:
    """Touches the run's heartbeat file every few seconds while it trains, so any reader can tell a run still
    training from one whose process is gone."""

    def __init__(self, store: RunStore, run_id: str):
        self.store, self.run_id, self.stop = store, run_id, threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"heartbeat-{run_id}", daemon=True)

    def _beat(self):
        while not self.stop.wait(HEARTBEAT_SECONDS):
            try:
                self.store.beat(self.run_id)
            except OSError:
                pass

    def __enter__(self):
        self.store.beat(self.run_id)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()


def _sentence_for(e: BaseException, run_id: str) -> str:
    """What a student reads when a job fails for a reason that is not theirs."""
    if isinstance(e, MemoryError) or (isinstance(e, RuntimeError) and
                                      ("can't allocate memory" in str(e) or "DefaultCPUAllocator" in str(e))):
        return HOST_OUT_OF_MEMORY
    if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return DISK_FULL
    return unexpected(run_id)


def execute(store: RunStore, run_id: str, device: torch.device, memory_budget: int | None = None,
            time_limit: float | None = None) -> str:
    """Run one queued run to its end, whatever happens; return its final status."""
    from core.lessons import job_function

    record = store.read(run_id)
    if record.status != QUEUED:
        return record.status
    if store.cancel_requested(run_id):
        store.update(run_id, status=CANCELLED, finished=time.time(), error=store.stopped_line(run_id))
        return CANCELLED
    record = store.update(run_id, status=RUNNING, started=time.time(),
                          info=dict(record.info, worker=f"{socket.gethostname()}:{os.getpid()}", device=str(device)))
    ctx = RunContext(store, record, device, memory_budget, time_limit)
    status, error = DONE, None
    with _Heartbeat(store, run_id):
        try:
            if device.type == "cuda":
                torch.cuda.set_device(device)
            job_function(record.lesson, record.kind)(ctx, record.data, record.config)
            if ctx.cancelled:
                status = CANCELLED
        except (JobCancelled, CancelFitException):
            status = CANCELLED
        except torch.cuda.OutOfMemoryError:
            status, error = FAILED, GPU_OUT_OF_MEMORY
            log.warning("run %s: CUDA out of memory", run_id)
        except StudentError as e:
            status, error = FAILED, str(e)
            log.info("run %s: %s", run_id, e)
        except Exception as e:             # a job's failure never takes its worker down
            status, error = FAILED, _sentence_for(e, run_id)
            details = traceback.format_exc()
            log.error("run %s failed:\n%s", run_id, details)
            try:
                (ctx.run_dir / "error.log").write_text(details)
            except OSError:
                pass
        finally:
            try:
                ctx.writer.flush()
            except OSError:
                log.exception("run %s: could not write its last events", run_id)
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    if status == CANCELLED:
        error = TIME_LIMIT.format(minutes=round(time_limit / 60, 1)) if ctx.stopped_by_time else \
            store.stopped_line(run_id)
    return finish(store, run_id, status, error, ctx.metrics)


def finish(store: RunStore, run_id: str, status: str, error: str | None = None, metrics: dict | None = None) -> str:
    """Write a run's end into its record: status, time, error, and its epoch table and metrics from its events."""
    progress: Progress = read_progress(store, run_id)
    record = store.read(run_id)
    final = dict(progress.epoch_table[-1]) if progress.epoch_table else {}
    for k in ("epoch", "phase", "time"):
        final.pop(k, None)
    store.update(run_id, status=status, finished=time.time(), error=error, epoch_table=progress.epoch_table,
                 metrics=dict(final, **(metrics or {})), info=dict(record.info, **progress.info))
    return status
