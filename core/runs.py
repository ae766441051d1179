"""The run store: every training is one folder that outlives the process, the tab and the machine that made it.

    <LESSON1_RUNS_DIR>/<run id>/
        run.json            the record: who, which lesson and job, settings (seed included), data and its
                            fingerprint, status, times, epoch table, final metrics, a sentence if it failed
        events.jsonl        appended while it trains (losses, epochs, stage, per-layer stats); any reader tails it
        model.safetensors   the weights, and model.json what rebuilds them (core/serialize.py)
        arrays.safetensors  the numbers the results sections draw (probabilities, targets, losses, split, IoU...)
        results.json        the rest of the results, as JSON
        heartbeat           touched every few seconds by the process training it
        cancel              present once its owner (or an instructor) pressed Stop
    <LESSON1_RUNS_DIR>/.owners/<owner>/<run id>   one empty file per run: "my runs" without scanning everyone's

Nothing here unpickles: JSON, safetensors, and arrays without pickle. Every file but the event log is written to
a temporary name and renamed, so a reader sees the old file or the new one, never half of one; the event log is
appended in whole lines and a reader ignores a last line still being written. A missing or damaged file raises
`RunDamaged`, whose message is a sentence for the student.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
from core.errors import StudentError

FORMAT = 2
QUEUED, RUNNING, DONE, FAILED, CANCELLED, INTERRUPTED = "queued", "running", "done", "failed", "cancelled", "interrupted"
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED, INTERRUPTED)
RUN_FILE, EVENTS_FILE, ARRAYS_FILE, RESULTS_FILE = "run.json", "events.jsonl", "arrays.safetensors", "results.json"
MODEL_FILE = "model"                     # model.safetensors + model.json
LEGACY_FILE = "job.json"                 # what the job runner wrote before runs had their own record
HEARTBEAT_FILE, CANCEL_FILE = "heartbeat", "cancel"
INSTRUCTOR = "instructor"      # in a run's cancel file: its Stop was pressed by an instructor, not by its owner
MAX_JSON_BYTES = 64 * 2**20

_ID = re.compile(r"^[0-9a-z]{6,40}$")
_OWNER = re.compile(r"^[0-9A-Za-z_.:@-]{1,128}$")


class RunError(StudentError):
    """Something is wrong with a run; the message is a sentence a student can read."""


class RunNotFound(RunError):
    pass


class RunDamaged(RunError):
    pass


def runs_root() -> Path:
    return Path(os.environ.get("LESSON1_RUNS_DIR", Path(__file__).resolve().parents[1] / "runs"))


def new_run_id() -> str:
    """Sortable by creation time (newest last), unguessable (64 random bits): a link is the only way in."""
    return f"{int(time.time() * 1000):011x}{secrets.token_hex(8)}"


def valid_run_id(run_id: str) -> bool:
    return isinstance(run_id, str) and bool(_ID.match(run_id))


def owner_key(owner: str) -> str:
    """Owners name folders: anything odd in them is escaped, so no owner id can name a path."""
    return owner if _OWNER.match(owner) and owner not in (".", "..") else "x" + owner.encode().hex()[:120]


@dataclass
class RunRecord:
    id: str
    lesson: str
    kind: str
    owner: str
    config: dict
    data: dict                       # {"dataset": name, ...} or {"input": sha256, "name": ..., "kind": ...}
    title: str = ""
    owner_name: str = ""
    fingerprint: str = ""            # of the data the run trained on
    status: str = QUEUED
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    epoch_table: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)     # what the job reported: weights used, batch size and why...
    error: str | None = None
    executor: str | None = None      # the server process that queued it (core/service.py)
    format: int = FORMAT

    @property
    def active(self) -> bool:
        return self.status in ACTIVE

    @property
    def finished_ok(self) -> bool:
        return self.status == DONE

    @property
    def seconds(self) -> float | None:
        if self.started is None:
            return None
        return (self.finished or time.time()) - self.started

    @property
    def seed(self):
        return self.config.get("seed")

    def to_json(self) -> str:
        return json.dumps(asdict(self), allow_nan=False, default=_plain)

    @classmethod
    def from_dict(cls, raw: Any) -> "RunRecord":
        if not isinstance(raw, dict):
            raise RunDamaged("This run's record is not what the app writes.")
        try:
            record = cls(**{k: raw[k] for k in cls.__dataclass_fields__ if k in raw})
        except TypeError as e:
            raise RunDamaged("This run's record is incomplete.") from e
        wanted = dict(id=str, lesson=str, kind=str, owner=str, config=dict, data=dict, status=str,
                      epoch_table=list, metrics=dict, info=dict)
        for name, kind in wanted.items():
            if not isinstance(getattr(record, name), kind):
                raise RunDamaged(f"This run's record has a damaged field ({name}).")
        return record


def _plain(value):
    """JSON for numpy scalars and arrays that reach a record."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON")


def atomic_write(path: Path, data: bytes | str) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_json(path: Path, what: str) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_JSON_BYTES:
            raise RunDamaged(f"This run's {what} is too large to read.")
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (OSError, ValueError, RecursionError) as e:     # RecursionError: JSON nested thousands deep
        raise RunDamaged(f"This run's {what} is damaged and cannot be read.") from e


class RunStore:
    """The runs directory. Safe to share between threads, processes and machines (a shared volume)."""

    def __init__(self, root: Path | str | None = None):
        self.root = Path(root) if root is not None else runs_root()
        self.root.mkdir(parents=True, exist_ok=True)

    # ---- paths -------------------------------------------------------------------------------------------------
    def path(self, run_id: str) -> Path:
        if not valid_run_id(run_id):              # ids come from URLs: never let one name a path
            raise RunNotFound("There is no run with that id.")
        return self.root / run_id

    def _owner_dir(self, owner: str) -> Path:
        return self.root / ".owners" / owner_key(owner)

    # ---- records -----------------------------------------------------------------------------------------------
    def create(self, lesson: str, kind: str, owner: str, config: dict, data: dict, *, title: str = "",
               owner_name: str = "", fingerprint: str = "", executor: str | None = None,
               run_id: str | None = None) -> RunRecord:
        record = RunRecord(run_id or new_run_id(), lesson, kind, owner, dict(config), dict(data), title=title,
                           owner_name=owner_name, fingerprint=fingerprint, executor=executor)
        folder = self.path(record.id)
        folder.mkdir(parents=True)
        self.write(record)
        owners = self._owner_dir(owner)
        owners.mkdir(parents=True, exist_ok=True)
        (owners / record.id).touch()
        return record

    def write(self, record: RunRecord) -> None:
        atomic_write(self.path(record.id) / RUN_FILE, record.to_json())

    def read(self, run_id: str) -> RunRecord:
        folder = self.path(run_id)
        try:
            raw = read_json(folder / RUN_FILE, "record")
        except FileNotFoundError:
            if (folder / LEGACY_FILE).exists():
                return self._read_legacy(folder)
            raise RunNotFound("There is no run with that id (it may have been deleted).") from None
        return RunRecord.from_dict(raw)

    def update(self, run_id: str, **changes) -> RunRecord:
        """Read, change, write. Each field of a run has one writer at a time (the server while it is queued, the
        worker while it runs), so this needs no lock."""
        record = self.read(run_id)
        for k, v in changes.items():
            setattr(record, k, v)
        self.write(record)
        return record

    def exists(self, run_id: str) -> bool:
        return valid_run_id(run_id) and ((self.root / run_id / RUN_FILE).exists()
                                         or (self.root / run_id / LEGACY_FILE).exists())

    def ids(self) -> list[str]:
        """Every run id, oldest first."""
        return sorted(p.name for p in self.root.iterdir() if valid_run_id(p.name) and p.is_dir())

    def owner_ids(self, owner: str) -> list[str]:
        folder = self._owner_dir(owner)
        return sorted(p.name for p in folder.iterdir() if valid_run_id(p.name)) if folder.is_dir() else []

    def records(self, ids: Iterable[str]) -> list[RunRecord]:
        """The readable records of `ids`; damaged or deleted ones are left out."""
        out = []
        for run_id in ids:
            try:
                out.append(self.read(run_id))
            except RunError:
                continue
        return out

    def delete(self, run_id: str) -> None:
        import shutil
        record = self.read(run_id)
        (self._owner_dir(record.owner) / run_id).unlink(missing_ok=True)
        shutil.rmtree(self.path(run_id), ignore_errors=True)

    def _read_legacy(self, folder: Path) -> RunRecord:
        """A run written by the job runner before runs had a record: its metrics and curves, no results."""
        raw = read_json(folder / LEGACY_FILE, "record")
        if not isinstance(raw, dict):
            raise RunDamaged("This run's record is not what the app writes.")
        record = RunRecord(folder.name, "", str(raw.get("kind", "")), str(raw.get("owner", "")),
                           raw.get("config") if isinstance(raw.get("config"), dict) else {}, {},
                           title=str(raw.get("title", "")), status=str(raw.get("status", DONE)),
                           created=raw.get("created") or 0.0, started=raw.get("started"),
                           finished=raw.get("finished"),
                           epoch_table=raw.get("epoch_table") if isinstance(raw.get("epoch_table"), list) else [],
                           info=raw.get("info") if isinstance(raw.get("info"), dict) else {},
                           error=raw.get("error"), format=1)
        return record

    # ---- live signals ------------------------------------------------------------------------------------------
    def beat(self, run_id: str) -> None:
        path = self.path(run_id) / HEARTBEAT_FILE
        try:
            os.utime(path)
        except FileNotFoundError:
            path.touch()

    def request_cancel(self, run_id: str, by_instructor: bool = False) -> None:
        path = self.path(run_id) / CANCEL_FILE
        if by_instructor:
            path.write_text(INSTRUCTOR)
        else:
            path.touch()

    def stopped_by_instructor(self, run_id: str) -> bool:
        try:
            return (self.path(run_id) / CANCEL_FILE).read_text() == INSTRUCTOR
        except OSError:
            return False

    def has_results(self, run_id: str) -> bool:
        return (self.path(run_id) / RESULTS_FILE).exists()

    def cancel_requested(self, run_id: str) -> bool:
        return (self.path(run_id) / CANCEL_FILE).exists()

    # ---- what a job wrote --------------------------------------------------------------------------------------
    def events(self, run_id: str) -> "EventReader":
        return EventReader(self.path(run_id) / EVENTS_FILE)

    def arrays(self, run_id: str) -> dict[str, np.ndarray]:
        from safetensors.numpy import load_file
        path = self.path(run_id) / ARRAYS_FILE
        try:
            return load_file(str(path))
        except FileNotFoundError:
            raise RunDamaged("This run's results were not saved (it may have stopped before the end).") from None
        except Exception as e:                    # safetensors raises its own errors on a truncated file
            raise RunDamaged("This run's results file is damaged and cannot be read.") from e

    def results(self, run_id: str) -> dict:
        try:
            raw = read_json(self.path(run_id) / RESULTS_FILE, "results")
        except FileNotFoundError:
            raise RunDamaged("This run's results were not saved (it may have stopped before the end).") from None
        if not isinstance(raw, dict):
            raise RunDamaged("This run's results are not what the app writes.")
        return raw

    def stopped_line(self, run_id: str) -> str:
        """What a stopped run says to the person who trained it: who stopped it, and whether anything was kept."""
        who = "Your instructor stopped this run." if self.stopped_by_instructor(run_id) else "Stopped."
        if self.has_results(run_id):
            return f"{who} What it had trained before then is kept: its results are below."
        return f"{who} Nothing was kept: it had no results yet. Train again when you are ready."

    def has_model(self, run_id: str) -> bool:
        return (self.path(run_id) / f"{MODEL_FILE}.safetensors").exists()


class RunWriter:
    """What a job writes into its run, from the process that trains it. Events are buffered and appended in whole
    lines at most every `flush_every` seconds (and at every epoch's end), so a fast GPU's thousands of batches a
    second cost a reader a few lines, not thousands of tiny writes."""

    def __init__(self, store: RunStore, run_id: str, flush_every: float = 0.25):
        self.store, self.run_id, self.flush_every = store, run_id, flush_every
        self.folder = store.path(run_id)
        self._buffer: list[str] = []
        self._last_flush = time.monotonic()

    def event(self, type_: str, force: bool = False, hold: bool = False, **fields) -> None:
        """`hold`: never flush at this event, as the first of a pair a reader must see together."""
        fields["e"], fields["t"] = type_, round(time.time(), 3)
        self._buffer.append(json.dumps(fields, allow_nan=True, default=_plain))
        if not hold and (force or time.monotonic() - self._last_flush >= self.flush_every):
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._buffer:
            return
        data = ("\n".join(self._buffer) + "\n").encode()
        self._buffer.clear()
        fd = os.open(self.folder / EVENTS_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)

    def save_arrays(self, **arrays) -> None:
        from safetensors.numpy import save
        clean = {k: np.ascontiguousarray(np.asarray(v)) for k, v in arrays.items()}
        for name, a in clean.items():
            if a.dtype == object or a.dtype.kind in "USV":
                raise TypeError(f"array {name!r} is not numeric: put names and text in save_results")
        atomic_write(self.folder / ARRAYS_FILE, save(clean))

    def save_results(self, results: dict) -> None:
        atomic_write(self.folder / RESULTS_FILE, json.dumps(results, allow_nan=True, default=_plain))

    def save_model(self, model, meta: dict) -> Path:
        from core.serialize import save_model
        weights, _ = save_model(self.folder / MODEL_FILE, model, meta)
        return weights


class EventReader:
    """Reads what was appended to an event log since the last call: a reader of a long run pays for the new lines
    only. A last line still being written is left for the next call."""

    def __init__(self, path: Path):
        self.path, self.offset = Path(path), 0

    def read_new(self, max_bytes: int | None = 16 * 2**20) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read(max_bytes) if max_bytes else f.read()
        except FileNotFoundError:
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        events = []
        for line in chunk[:end].split(b"\n"):
            try:
                event = json.loads(line)
            except ValueError:
                continue                              # a damaged line is skipped, never fatal
            if isinstance(event, dict) and isinstance(event.get("e"), str):
                events.append(event)
        return events


@dataclass
class Progress:
    """A run's live state, folded from its events: what the live panel draws."""
    stage: str = "waiting"
    fraction: float = 0.0
    epoch: int = 0
    n_epochs: int = 0
    batch: int = 0
    n_batches: int = 0
    losses: list = field(default_factory=list)          # per batch: step, epoch, phase, train_loss, raw, lr
    valid_losses: list = field(default_factory=list)    # per epoch: step, epoch, valid_loss
    epoch_table: list = field(default_factory=list)
    weight_stats: list = field(default_factory=list)
    info: dict = field(default_factory=dict)
    latest: dict = field(default_factory=dict)          # a lesson's own events (weight snapshots...): the last of each
    n_events: int = 0
    last_t: float = 0.0

    def apply(self, events: Iterable[dict]) -> "Progress":
        for ev in events:
            self.n_events += 1
            self.last_t = ev.get("t", self.last_t)
            kind = ev["e"]
            if kind == "progress":
                if "stage" in ev and "epoch" not in ev:       # a stage of its own (the results): no epoch to name
                    self.epoch = self.n_epochs = self.batch = self.n_batches = 0
                for k in ("stage", "fraction", "epoch", "n_epochs", "batch", "n_batches"):
                    if k in ev:
                        setattr(self, k, ev[k])
            elif kind == "losses":
                self.losses.extend(ev.get("rows", []))
            elif kind == "epoch":
                self.epoch_table.append(ev["row"])
                self.valid_losses.append(ev["valid"])
            elif kind == "weights":
                self.weight_stats.extend(ev.get("rows", []))
            elif kind == "info":
                self.info.update({k: v for k, v in ev.items() if k not in ("e", "t")})
            else:
                self.latest[kind] = ev
        return self


def read_progress(store: RunStore, run_id: str) -> Progress:
    return Progress().apply(store.events(run_id).read_new(max_bytes=None))
