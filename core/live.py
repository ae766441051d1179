"""A training run's live state as one small JSON document: what a browser needs to draw the live panel itself.

A watching tab asks the server for this every second (ui/live_panel.py) instead of rerunning a Streamlit fragment,
which cost the student's browser ~0.1 s of CPU per poll whatever changed. Everything here is plain data: the
status line's words, the progress fraction, the loss curves thinned to a few hundred points, the epoch table as
text. One watcher or thirty, the server folds a run's new events once (`LiveRuns`) and answers each poll from that.
"""
from __future__ import annotations

import bisect
import math
import threading
from collections import OrderedDict

from core.runs import CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, RUNNING, Progress, RunRecord, RunStore

MAX_POINTS = 300           # per curve: a chart a few hundred pixels wide has nothing to gain from more


def _where(p: Progress, phase: bool) -> str:
    """'epoch 1 of 2 (frozen) · batch 3 of 18', with fine_tune's phase in brackets if `phase`."""
    where = f"epoch {p.epoch} of {p.n_epochs}" if p.n_epochs else p.stage
    if phase and p.stage in ("frozen", "unfrozen"):
        where += f" ({p.stage})"
    if p.n_batches:
        where += f" · batch {p.batch} of {p.n_batches}"
    return where


def training_line(progress: Progress, seconds: float | None) -> str:
    """'Training — epoch 1 of 2 (frozen) · batch 3 of 18 · 12 s': the live panel's words, in both of its forms."""
    return f"Training — {_where(progress, phase=True)} · {seconds or 0:.0f} s"


def device_label(device: str) -> str:
    """A device as a run recorded it ("cpu", "cuda", "cuda:1"), as the pages say it: "the CPU", "a GPU"."""
    kind = str(device).split(":")[0]
    return {"cpu": "the CPU", "cuda": "a GPU", "mps": "an Apple GPU"}.get(kind, str(device))


def replay_line(progress: Progress, position: float, total: float) -> str:
    return f"Replaying — {_where(progress, phase=False)} · {min(total, position):.0f} s of {total:.0f} s"


def queued_line(position: int | None) -> str:
    return f"Waiting in the queue: {f'position {position}' if position else 'waiting for a free worker'}."


def ended_line(record: RunRecord, device: str = "", ready_made: bool = False) -> str:
    if record.status == DONE:
        return finished_line(record, device, ready_made)
    if record.status == CANCELLED:
        return record.error or "Stopped."
    if record.status == INTERRUPTED:
        return record.error or "This run was interrupted."
    if record.status == FAILED:
        return f"Training failed: {record.error}"
    return record.status


def finished_line(record: RunRecord, device: str = "", ready_made: bool = False) -> str:
    """How long a finished run took, said the same way for every run: its epochs' time (what its table adds up to)
    on its device, then the run's time in all (the data loaded, the results worked out). Not for a ready-made run:
    its clock also counted the cold process that made it (the tabular one: 20.6 s for 2.7 s of epochs)."""
    on = f" on {device_label(device)}" if device else ""
    times = [row.get("time") for row in record.epoch_table]
    if not times or not all(isinstance(t, (int, float)) for t in times):             # lr_find, older runs
        return f"Finished in {record.seconds or 0:.1f} s{on}."
    trained = f"Trained in {sum(times):.1f} s{on}"
    return f"{trained}." if ready_made else f"{trained} ({record.seconds or 0:.1f} s in all)."


def thin(n: int, max_points: int = MAX_POINTS) -> list[int]:
    """Up to `max_points` indices spread evenly over range(n), the first and the last always among them."""
    if n <= max_points:
        return list(range(n))
    return sorted({round(i * (n - 1) / (max_points - 1)) for i in range(max_points)})


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


SMOOTH_MOST = 50          # steps: fastai's smoothing (0.98) averages over about this many


def smoothed_losses(progress: Progress) -> list[float | None]:
    """The training loss per batch, smoothed as fastai's loss plot does (a debiased moving average), over about a
    quarter of an epoch and at most fastai's 50 steps. A lesson's short runs (9 to 25 batches an epoch) kept their
    first batches in fastai's 50-step average to the end: the line ended far above the last epoch's losses and the
    epoch table's train_loss (the bird's unfrozen epoch: 0.31 against 0.18)."""
    rows = progress.losses
    per_epoch = (progress.n_batches or sum(1 for r in rows if r.get("epoch") == rows[0].get("epoch"))) if rows else 1
    beta = 1 - 1 / min(SMOOTH_MOST, max(1.0, per_epoch / 4))
    out, average, weight = [], 0.0, 0.0
    for row in rows:
        raw = _number(row.get("raw", row.get("train_loss")))        # (a run recorded before raw losses were kept)
        if raw is not None:
            average, weight = beta * average + (1 - beta) * raw, beta * weight + (1 - beta)
        out.append(average / weight if weight else None)
    return out


def curves(progress: Progress, max_points: int = MAX_POINTS) -> dict:
    """The loss chart's data: per-batch raw and smoothed training loss (thinned), validation loss per epoch, and the
    step range of each phase of fine_tune (frozen, unfrozen) for its shading."""
    kept = thin(len(progress.losses), max_points)
    rows = [progress.losses[i] for i in kept]
    smooth = smoothed_losses(progress)
    phases: dict[str, list] = {}
    for row in progress.losses:
        if row.get("phase"):
            span = phases.setdefault(row["phase"], [row["step"], row["step"]])
            span[0], span[1] = min(span[0], row["step"]), max(span[1], row["step"])
    return {"step": [r["step"] for r in rows], "raw": [_number(r.get("raw")) for r in rows],
            "smooth": [smooth[i] for i in kept],
            "valid_step": [r["step"] for r in progress.valid_losses],
            "valid": [_number(r.get("valid_loss")) for r in progress.valid_losses],
            "phases": [{"phase": k, "from": v[0], "to": v[1]} for k, v in phases.items()]}


def table(rows: list[dict]) -> dict:
    """fastai's epoch table as text, the same cells as core/plots.epoch_table draws."""
    from core.plots import epoch_table
    frame = epoch_table(rows)
    if frame.empty:
        return {"columns": [], "rows": []}
    frame = frame.reset_index()
    return {"columns": [str(c) for c in frame.columns],
            "rows": [[epoch_cell(v) for v in row] for row in frame.itertuples(index=False)]}


def epoch_cell(value) -> str:
    """One cell of the epoch table, live or finished (ui/runs.show_epoch_table): losses and metrics to four decimals,
    a loss that blew up as NaN (fastai prints nan), the epoch and time as they are."""
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.4f}"
    return str(value)


def snapshot(record: RunRecord, progress: Progress, position: int | None = None, stopping: bool = False,
             drawn: dict | None = None) -> dict:
    """The run as the live panel draws it. `version` changes whenever anything drawn does (the seconds aside), so
    a tab that has it already is told so in a few bytes. `drawn` is `drawing(progress)`, if made already."""
    if record.status == QUEUED:
        line = queued_line(position)
    elif record.active:
        line = "Stopping…" if stopping else training_line(progress, record.seconds)
    else:
        line = ended_line(record, {**progress.info, **record.info}.get("device", ""))
    return {"version": f"{record.status}:{progress.n_events}:{position}:{int(stopping)}",
            "status": record.status, "active": record.active, "line": line,
            "fraction": min(1.0, max(0.0, progress.fraction)) if record.active else 1.0,
            **(drawn or drawing(progress))}


def drawing(progress: Progress) -> dict:
    return {"curves": curves(progress), "table": table(progress.epoch_table)}


class LiveRuns:
    """The live state of the runs being watched, shared by every poll of every tab: each run's event log is read
    from where the last poll stopped, and its curves and table are made once per change, so thirty watchers of a
    run cost one reader. Holds the `size` runs polled most recently."""

    def __init__(self, size: int = 64):
        self.size = size
        self._runs: OrderedDict[str, _Watched] = OrderedDict()
        self._replays: OrderedDict[tuple, _Replayed] = OrderedDict()
        self._lock = threading.Lock()

    def snapshot(self, store: RunStore, record: RunRecord, position: int | None = None,
                 stopping: bool = False) -> dict:
        with self._lock:
            watched = self._runs.get(record.id)
            if watched is None:
                watched = self._runs[record.id] = _Watched(store.events(record.id))
                while len(self._runs) > self.size:
                    self._runs.popitem(last=False)
            self._runs.move_to_end(record.id)
        with watched.lock:            # one reader per run: two polls at once must not read the same lines twice
            watched.progress.apply(watched.reader.read_new(max_bytes=8 * 2**20))
            if watched.drawn_at != watched.progress.n_events:
                watched.drawn, watched.drawn_at = drawing(watched.progress), watched.progress.n_events
            return snapshot(record, watched.progress, position, stopping, watched.drawn)

    def replay(self, store: RunStore, record: RunRecord, at: float) -> dict:
        """A finished run `at` seconds into its replay (core/readymade.py): as the live panel drew it then. The
        run's events are read once; its curves and table are made once per event the replay has passed."""
        from core import readymade
        key = (record.id, record.finished)
        with self._lock:
            replayed = self._replays.get(key)
            if replayed is None:
                events = store.events(record.id).read_new(max_bytes=None)
                start = readymade.start_time(record, events)
                replayed = self._replays[key] = _Replayed(events, [e.get("t", 0.0) - start for e in events],
                                                          readymade.duration(record, events))
                while len(self._replays) > 16:
                    self._replays.popitem(last=False)
            self._replays.move_to_end(key)
        with replayed.lock:
            passed = bisect.bisect_right(replayed.times, at)
            if replayed.drawn_at != passed:
                progress = Progress().apply(replayed.events[:passed])
                replayed.progress, replayed.drawn, replayed.drawn_at = progress, drawing(progress), passed
            progress, drawn = replayed.progress, replayed.drawn
        over = at >= replayed.total
        return {"version": f"replay:{passed}:{int(over)}", "status": record.status if over else RUNNING,
                "active": not over, "line": replay_line(progress, at, replayed.total),
                "fraction": 1.0 if over else min(1.0, max(0.0, progress.fraction)), **drawn}


class _Replayed:
    def __init__(self, events: list, times: list, total: float):
        self.events, self.times, self.total, self.lock = events, times, total, threading.Lock()
        self.progress, self.drawn, self.drawn_at = None, None, -1


class _Watched:
    def __init__(self, reader):
        self.reader, self.progress, self.lock = reader, Progress(), threading.Lock()
        self.drawn, self.drawn_at = None, -1
