"""A GPU worker's rehearsal: before its first student, it trains each lesson's default run once, in a folder of its
own that it then removes.

Why: a fresh process's first job on a GPU pays CUDA's and cuDNN's warm-up. On the H200 the bird lesson's default
run took 23.4 s as a worker's first job and 4.0 s as its next (benchmarks/results/README.md, 2026-12-04): cuDNN
builds an execution plan for every convolution and input shape, and PyTorch keeps those plans per thread. A worker
runs every job on its main thread, so what the rehearsal builds there is what the class's jobs use, as long as they
have the default's shapes (its image size and batch size: the training batches drop their ragged end, and
evaluation pads it, core/learner.py).

A rehearsal trains one epoch of each phase (a frozen one, then an unfrozen one): more epochs only repeat the same
shapes. It gives way as soon as a real job arrives (`interrupted()`): the lesson being rehearsed is stopped at its
next step and no other is started. What it warmed stays warm.

    LESSON1_REHEARSE   auto (the default: every lesson, on workers with a GPU), on (every lesson, a CPU's workers
                       too), off, or the lessons to rehearse, by key: image_classification,tabular
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

import torch

log = logging.getLogger(__name__)

LESSON_SECONDS = 180          # a lesson's rehearsal past this is stopped (the GPU is slower, or busy, than expected)
CHECK_SECONDS = 0.1
PREFIX = "lesson1-rehearsal-"                   # + the worker's pid: the folder of a rehearsal in the temporary folder


def runs_to_rehearse(device: torch.device) -> list[tuple[str, tuple[str, dict, dict]]]:
    """The default runs a worker on `device` rehearses (LESSON1_REHEARSE), in the lessons' order."""
    from core.lessons import LESSONS
    setting = os.environ.get("LESSON1_REHEARSE", "auto").strip().lower()
    if setting in ("off", "0", "false", "no", ""):
        return []
    if setting in ("on", "1", "true", "yes") or (setting == "auto" and device.type == "cuda"):
        return default_runs()
    if setting == "auto":
        return []
    asked = {key.strip() for key in setting.split(",")}
    unknown = asked - set(LESSONS)
    if unknown:
        log.warning("LESSON1_REHEARSE names no lesson %s (lessons: %s)", sorted(unknown), ", ".join(LESSONS))
    return default_runs(asked)


def default_runs(lessons: Iterable[str] | None = None) -> list[tuple[str, tuple[str, dict, dict]]]:
    """(lesson, (job kind, data, settings)) of each lesson's ready-made run (every lesson's, or `lessons`')."""
    from core.lessons import LESSONS
    from core.readymade import default_run
    wanted = set(LESSONS) if lessons is None else set(lessons)
    runs = []
    for key, lesson in LESSONS.items():
        spec = default_run(lesson) if key in wanted else None
        if spec is not None:
            runs.append((key, (spec.kind, dict(spec.data), dict(spec.config))))
    return runs


def one_epoch_each(lesson: str, config: dict) -> dict:
    """`config` with each of the lesson's epoch settings (a phase's epochs) at most 1; 0 (no such phase) stays 0."""
    from core.lessons import get_lesson
    short = dict(config)
    for key in get_lesson(lesson).limited.get("epochs", ()):
        if isinstance(short.get(key), int) and short[key] > 1:
            short[key] = 1
    return short


def rehearse(device: torch.device, memory_budget: int | None, interrupted: Callable[[], bool],
             runs: Iterable[tuple[str, tuple[str, dict, dict]]]) -> list[tuple[str, str, float]]:
    """Train each of `runs` (runs_to_rehearse) once on `device`, until `interrupted()`. Returns how each ended and
    when: (lesson, "done" | "cancelled" | "failed", seconds). Nothing is kept, and a failure is only logged."""
    from core.classroom import check_run
    from core.runs import RunStore
    from core.worker import execute

    _remove_leftovers()
    ended = []
    for lesson, (kind, data, config) in runs:
        if interrupted():
            break
        root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
        start = time.perf_counter()
        try:
            store = RunStore(root)
            settings = one_epoch_each(lesson, check_run(lesson, kind, config, data, root))
            record = store.create(lesson, kind, "rehearsal", settings, data, title="rehearsal")
            with _GivingWay(store, record.id, interrupted):
                status = execute(store, record.id, device, memory_budget, LESSON_SECONDS)
        except Exception:                       # a rehearsal never takes its worker down
            status = "failed"
            log.exception("could not rehearse %s", lesson)
        finally:
            shutil.rmtree(root, ignore_errors=True)
        seconds = round(time.perf_counter() - start, 2)
        log.info("rehearsed %s on %s: %s in %.1f s", lesson, device, status, seconds)
        ended.append((lesson, status, seconds))
    return ended


def _remove_leftovers() -> None:
    """Rehearsal folders of workers that are gone (a server stopped while one rehearsed): nothing else removes them."""
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*-*"):
        pid = folder.name[len(PREFIX):].split("-")[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                     # someone else's process
        return True
    return True


class _GivingWay:
    """Stops the rehearsed run (its Stop, as a student's) once `interrupted()` says a real job is waiting."""

    def __init__(self, store, run_id: str, interrupted: Callable[[], bool]):
        self.store, self.run_id, self.interrupted = store, run_id, interrupted
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="lesson1-rehearsal", daemon=True)

    def _watch(self) -> None:
        while not self._done.wait(CHECK_SECONDS):
            if self.interrupted():
                self.store.request_cancel(self.run_id)
                return

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._done.set()
        self._thread.join()
