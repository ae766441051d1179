"""The training service: what pages (through ui/) ask to train, stop and watch runs. One per server process.

    service = get_service()
    record = service.submit("tabular", "fit", data, config, owner="…")       # -> the run's record, queued
    records = service.submit_comparison("tabular", "fit", data, [config_a, config_b], owner="…")   # a pair
    service.cancel(run_id, by="…")                                           # only its owner, or an instructor
    service.position(run_id); service.queue(); service.stats()

A run waits in this process's queue, in order, until a slot of the backend (core/backends.py) is free; the
dispatcher thread hands it over and learns when it ended. Status, progress and results travel through the run
store (core/runs.py) only, so a page never waits on a worker, and a run trained in another process or on another
machine looks the same.

What survives what:
- a job that raises, runs out of GPU memory or is stopped: the run says so, the worker goes on (core/worker.py);
- a worker process that dies mid-run (killed, crashed, out of host memory): the run is marked failed with a
  sentence, a fresh worker replaces it, the next run starts; one stopped by SIGTERM (systemd or a container
  stopping the whole service) is marked interrupted, as a run is when the server itself is killed (below);
- a run over the class's time limit: asked to stop, then its worker is killed after a grace period;
- this server dying: every server process beats in `.executors/`; at start (and every half minute) each one looks
  at the active runs of silent executors: a queued run is queued again here, a running one is marked interrupted.
"""
from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from collections import deque
from pathlib import Path

from core.errors import LimitError
from core.runs import CANCELLED, FAILED, INTERRUPTED, QUEUED, RUNNING, RunError, RunRecord, RunStore
from core.worker import SERVER_RESTARTED, TIME_LIMIT, WORKER_DIED, finish, unexpected

log = logging.getLogger(__name__)

EXECUTOR_BEAT_SECONDS = 5.0
EXECUTOR_SILENT_SECONDS = 30.0
RECONCILE_SECONDS = 30.0
KILL_GRACE_SECONDS = 30.0
MAX_COMPARED = 4                 # runs in one comparison


class TrainingService:
    def __init__(self, store: RunStore, backend, *, max_queue: int = 200, runs_per_owner: int = 1):
        self.store, self.backend = store, backend
        self.max_queue, self.runs_per_owner = max_queue, runs_per_owner
        self.id = f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._lock = threading.Condition()
        self._queue: deque[str] = deque()
        self._slots: dict[int, str] = {}              # slot -> run id running there
        self._limits_checked = 0.0
        self._stop_asked: dict[str, float] = {}       # run id -> when the time limit asked it to stop
        self._owners: dict[str, str] = {}             # run id -> owner, for the runs this process queued
        self._stopping = False
        self._beats_dir = store.root / ".executors"
        self._beats_dir.mkdir(exist_ok=True)
        self._beat()
        self.backend.start()
        self._adopt_orphans()
        self._thread = threading.Thread(target=self._dispatch, name="lesson1-dispatcher", daemon=True)
        self._thread.start()

    # ---- what pages ask ----------------------------------------------------------------------------------------
    def submit(self, lesson: str, kind: str, data: dict, config: dict, *, owner: str, owner_name: str = "",
               title: str = "") -> RunRecord:
        """Queue a run; raises LimitError (a sentence) when the class's limits or the queue refuse it."""
        return self._submit(lesson, kind, data, [config], owner=owner, owner_name=owner_name, titles=[title])[0]

    def submit_comparison(self, lesson: str, kind: str, data: dict, configs: list[dict], *, owner: str,
                          owner_name: str = "", titles: list[str] | None = None) -> list[RunRecord]:
        """Queue two to four runs to compare (the same job and data, different settings) one after the other.
        Together they count as one towards a person's one-at-a-time limit; each is checked against the class's
        limits, and if one is refused none is queued."""
        if not 2 <= len(configs) <= MAX_COMPARED:
            raise LimitError(f"A comparison trains two to {MAX_COMPARED} runs.")
        return self._submit(lesson, kind, data, configs, owner=owner, owner_name=owner_name,
                            titles=list(titles or [""] * len(configs)), group=secrets.token_hex(6))

    def _submit(self, lesson, kind, data, configs, *, owner, owner_name, titles, group=None) -> list[RunRecord]:
        from core.classroom import check_run
        from core.lessons import get_lesson
        job = get_lesson(lesson).job(kind)
        configs = [check_run(lesson, kind, config, data, self.store.root) for config in configs]
        fingerprint = _fingerprint(self.store, data)
        with self._lock:
            mine = self.active_runs(owner)
            if len({r.info.get("comparison") or r.id for r in mine}) >= self.runs_per_owner:
                raise LimitError(self.busy_sentence(mine[0]))
            if len(self._queue) + len(configs) > self.max_queue:
                raise LimitError("The server's queue is full; please try again in a minute.")
            records = []
            for config, title in zip(configs, titles):
                record = self.store.create(lesson, kind, owner, config, data, title=title or job.title,
                                           owner_name=owner_name, fingerprint=fingerprint, executor=self.id)
                if group:
                    record = self.store.update(record.id, info={"comparison": group})
                self._mark_active(record.id)
                self._queue.append(record.id)
                self._owners[record.id] = owner
                records.append(record)
            self._lock.notify_all()
        return records

    def cancel(self, run_id: str, by: str, instructor: bool = False) -> bool:
        """Stop a run: only its owner or an instructor may. A queued run ends at once; a running one at its next
        batch, keeping what it trained."""
        try:
            record = self.store.read(run_id)
        except RunError:
            return False
        if not record.active or (record.owner != by and not instructor):
            return False
        by_instructor = instructor and record.owner != by
        with self._lock:
            if run_id in self._queue:
                self._queue.remove(run_id)
                self.store.request_cancel(run_id, by_instructor)
                self.store.update(run_id, status=CANCELLED, finished=time.time(), error=self.store.stopped_line(run_id))
                self._unmark_active(run_id)
                return True
        self.store.request_cancel(run_id, by_instructor)     # whoever trains it (here, elsewhere) stops
        return True

    def active_runs(self, owner: str) -> list[RunRecord]:
        """The owner's queued or running runs, in any server process sharing this store."""
        mine = [rid for rid, o in self._owners.items() if o == owner and (rid in self._queue or
                                                                          rid in self._slots.values())]
        others = [rid for rid in self.store.owner_ids(owner)[-20:] if rid not in mine]
        records = self.store.records(mine) + [r for r in self.store.records(others)
                                              if r.active and not self._orphaned(r)]
        return [r for r in records if r.active]

    def busy_sentence(self, record: RunRecord) -> str:
        """Why a person may not train now: their run (or comparison) in the way, with its lesson, as it stands. A
        run handed to a worker is training for them, though its record says queued until the worker has it."""
        from core.lessons import LESSONS
        what = "comparison" if record.info.get("comparison") else "run"
        with self._lock:
            handed = record.id in self._slots.values()
        state = "training" if record.status == RUNNING or handed else "waiting in the queue"
        where = f" ({LESSONS[record.lesson].title})" if record.lesson in LESSONS else ""
        return (f"You already have a {what} {state}: “{record.title}”{where}. Stop it or wait for it to finish "
                "before starting another.")

    def position(self, run_id: str) -> int | None:
        with self._lock:
            return self._queue.index(run_id) + 1 if run_id in self._queue else None

    def queue(self) -> list[dict]:
        """Every active run of every server process sharing the store, for the instructor's page."""
        now, rows = time.time(), []
        with self._lock:
            positions = {rid: i + 1 for i, rid in enumerate(self._queue)}
        for record in self.store.records(self._active_ids()):
            if not record.active:
                continue
            rows.append(dict(id=record.id, owner=record.owner, owner_name=record.owner_name, lesson=record.lesson,
                             kind=record.kind, title=record.title, status=record.status,
                             position=positions.get(record.id), waiting_s=(record.started or now) - record.created,
                             running_s=now - record.started if record.started else None,
                             memory_mib=record.info.get("estimated_peak_mib"),
                             here=record.executor == self.id))
        return sorted(rows, key=lambda r: (r["status"] != RUNNING, r["position"] or 0, r["waiting_s"]))

    def stats(self) -> dict:
        with self._lock:
            return dict(running=len(self._slots), queued=len(self._queue), **self.backend.describe())

    def shutdown(self) -> None:
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._thread.join(5)
        self.backend.shutdown()
        (self._beats_dir / self.id).unlink(missing_ok=True)

    def wait(self, run_id: str, timeout: float = 60.0, poll: float = 0.05) -> RunRecord:
        """Block until the run ends (for scripts and tests; pages poll instead)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            record = self.store.read(run_id)
            if not record.active:
                return record
            time.sleep(poll)
        raise TimeoutError(f"run {run_id} still {self.store.read(run_id).status} after {timeout} s")

    # ---- the dispatcher ----------------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        last_beat = last_reconcile = time.time()
        while True:
            with self._lock:
                if self._stopping:
                    return
                self._hand_out()
            for ended in self.backend.wait(timeout=0.25):
                self._ended(ended)
            self._enforce_time_limits()
            now = time.time()
            if now - last_beat >= EXECUTOR_BEAT_SECONDS:
                last_beat = now
                self._beat()
            if now - last_reconcile >= RECONCILE_SECONDS:
                last_reconcile = now
                self._adopt_orphans()

    def _hand_out(self) -> None:
        from core.classroom import current_limits
        free = [s for s in range(self.backend.n_slots) if s not in self._slots]
        limit = current_limits(self.store.root).job_seconds
        while free and self._queue:
            run_id = self._queue.popleft()
            slot = free.pop(0)
            self._slots[slot] = run_id
            self.backend.launch(slot, run_id, limit)

    def _ended(self, ended) -> None:
        with self._lock:
            self._slots.pop(ended.slot, None)
            stopped_by_limit = self._stop_asked.pop(ended.run_id, None) is not None
            self._owners.pop(ended.run_id, None)
            self._lock.notify_all()
        try:                          # a run whose slot ended must not stay "running": say why it ended
            record = self.store.read(ended.run_id)
            if record.active:
                from core.classroom import current_limits
                minutes = current_limits(self.store.root).job_seconds / 60
                status, why = ((FAILED, TIME_LIMIT.format(minutes=round(minutes, 1))) if stopped_by_limit else
                               (INTERRUPTED, SERVER_RESTARTED) if ended.stopped else   # the service is stopping
                               (FAILED, WORKER_DIED) if ended.died else
                               (FAILED, unexpected(ended.run_id)))
                finish(self.store, ended.run_id, status, why)
        except (RunError, OSError):
            log.exception("run %s: could not record how it ended", ended.run_id)
        self._unmark_active(ended.run_id)

    def _enforce_time_limits(self) -> None:
        """A run over the limit was asked to stop by its own context; one that does not stop is killed. Counted
        from when its worker started it (a fresh worker may take seconds to start)."""
        from core.classroom import current_limits
        now = time.time()
        if now - self._limits_checked < 1.0:
            return
        self._limits_checked = now
        limit = current_limits(self.store.root).job_seconds
        with self._lock:
            running = list(self._slots.items())
        for slot, run_id in running:
            try:
                started = self.store.read(run_id).started
            except RunError:
                continue
            if started and now - started > limit + KILL_GRACE_SECONDS and run_id not in self._stop_asked:
                self._stop_asked[run_id] = now
                self.store.request_cancel(run_id)
                if self.backend.kill(slot):
                    log.warning("run %s: killed its worker, %.0f s over the time limit", run_id, now - started - limit)

    # ---- surviving restarts ------------------------------------------------------------------------------------
    def _beat(self) -> None:
        path = self._beats_dir / self.id
        try:
            path.write_text(json.dumps(dict(host=socket.gethostname(), pid=os.getpid(), backend=self.backend.name)))
        except OSError as e:             # a full disk, the store taken away: the dispatcher must not die of it
            log.warning("could not write this server's heartbeat (%s): the queue goes on", e)

    def _executor_alive(self, executor: str | None) -> bool:
        if executor == self.id:
            return True
        if not executor:
            return False
        path = self._beats_dir / executor
        try:
            return time.time() - path.stat().st_mtime < EXECUTOR_SILENT_SECONDS
        except OSError:
            return False

    def _orphaned(self, record: RunRecord) -> bool:
        return record.active and not self._executor_alive(record.executor)

    def _adopt_orphans(self) -> None:
        """Runs left active by a server process that is gone: queued ones are queued again here, in the order they
        were made; running ones are marked interrupted (their worker went with the server)."""
        for record in self.store.records(self._active_ids()):
            if not record.active:
                self._unmark_active(record.id)
                continue
            if not self._orphaned(record):
                continue
            if record.status == QUEUED:
                self.store.update(record.id, executor=self.id)
                with self._lock:
                    if record.id not in self._queue:
                        self._queue.append(record.id)
                        self._owners[record.id] = record.owner
                        self._lock.notify_all()
                log.info("run %s: queued again after a restart", record.id)
            elif record.status == RUNNING:
                finish(self.store, record.id, INTERRUPTED, SERVER_RESTARTED)
                self._unmark_active(record.id)
                log.info("run %s: interrupted by a restart", record.id)

    # the runs that may be active, without reading every record in the store
    def _active_dir(self) -> Path:
        path = self.store.root / ".active"
        path.mkdir(exist_ok=True)
        return path

    def _mark_active(self, run_id: str) -> None:
        (self._active_dir() / run_id).touch()

    def _unmark_active(self, run_id: str) -> None:
        (self._active_dir() / run_id).unlink(missing_ok=True)

    def _active_ids(self) -> list[str]:
        return sorted(p.name for p in self._active_dir().iterdir())


def _fingerprint(store: RunStore, data: dict) -> str:
    if "input" in data:
        return f"sha256:{data['input']}"
    if "dataset" in data:
        from core.datasets import fingerprint, get_dataset
        try:
            get_dataset(data["dataset"])
        except KeyError:
            raise LimitError(f"There is no dataset called {str(data['dataset'])[:40]!r} on this server.") from None
        return fingerprint(data["dataset"], online=data.get("source") == "online")
    return ""


_service: TrainingService | None = None
_service_lock = threading.Lock()


def get_service() -> TrainingService:
    """The process-wide service every session shares: LESSON1_BACKEND (local, ray or thread) over the run store
    in LESSON1_RUNS_DIR."""
    global _service
    with _service_lock:
        if _service is None:
            from core.backends import make_backend
            store = RunStore()
            _service = TrainingService(store, make_backend(os.environ.get("LESSON1_BACKEND", "local"), store.root))
        return _service


def set_service(service: TrainingService | None) -> TrainingService | None:
    """Replace the process-wide service (tests); returns the previous one."""
    global _service
    with _service_lock:
        previous, _service = _service, service
        return previous
