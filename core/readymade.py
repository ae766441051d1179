"""Ready-made runs: every lesson opens with a finished run (epoch table, curves, results and the model, ready to
predict) before the student trains their own, replayed at the speed they pick.

A ready-made run is an ordinary run folder (core/runs.py), made by this module's command and shipped read-only:

    readymade/<run id>/              the lesson's default run (Lesson.default_run), owned by "readymade"
    readymade/<run id>/              with info.preset: one run of a comparison preset (Lesson.comparisons)
    <runs>/.class/pinned.json        {lesson: run id}: a run the instructor pinned as the class's ready-made run

    python -m core.readymade                     every lesson whose job exists (the others are skipped, saying why)
    python -m core.readymade tabular --pairs     one lesson, and its comparison presets' runs too
    python -m core.readymade tabular --pairs-only    its comparison presets' runs, keeping its default run

The replay is the live panel reading the run's events against a clock: each event carries its time `t`, so
`replay(record, events, seconds)` is the run as it stood that many seconds after it started.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from core.lessons import DefaultRun, Lesson, get_lesson, list_lessons
from core.runs import DONE, Progress, RunError, RunRecord, RunStore, atomic_write, valid_run_id

OWNER = "readymade"                       # no person's id looks like this (ui/identity.py: browser-, name-, oidc-)
OWNER_NAME = "the course"
LEFT_BEHIND = ("heartbeat", "cancel", "error.log", ".*")
FULL_RUN_BYTES = 2 * 2**20               # a preset's run is shipped whole up to this; above, its curves only


def shipped_root() -> Path:
    return Path(os.environ.get("LESSON1_READYMADE_DIR", Path(__file__).resolve().parents[1] / "readymade"))


def shipped_store() -> RunStore | None:
    root = shipped_root()
    return RunStore(root) if root.is_dir() else None


def default_run(lesson: Lesson) -> DefaultRun | None:
    """What the lesson's ready-made run is: its own `default_run`, else its first job that keeps a model, on its
    first dataset, with the job's default settings."""
    if lesson.default_run is not None:
        return lesson.default_run
    job = next((j for j in lesson.jobs if j.keeps_model), None)
    if job is None or not lesson.datasets:
        return None
    return DefaultRun(job.kind, {"dataset": lesson.datasets[0]}, {})


# ---- finding them ------------------------------------------------------------------------------------------------
_records_cache: dict[str, tuple[float, list[RunRecord]]] = {}


def shipped_records() -> list[RunRecord]:
    """Every shipped run's record, newest first (re-read when the folder changes)."""
    store = shipped_store()
    if store is None:
        return []
    key, mtime = str(store.root), store.root.stat().st_mtime
    hit = _records_cache.get(key)
    if hit is None or hit[0] != mtime:
        records = sorted(store.records(store.ids()), key=lambda r: r.created or 0, reverse=True)
        _records_cache[key] = hit = (mtime, records)
    return hit[1]


def shipped_run(lesson: str) -> RunRecord | None:
    """The shipped default run of a lesson."""
    return next((r for r in shipped_records() if r.lesson == lesson and r.status == DONE
                 and "preset" not in r.info), None)


def preset_runs(lesson: str, preset: str) -> list[RunRecord]:
    """The shipped runs of one of a lesson's comparison presets, in the preset's order ([] if not shipped)."""
    found = [r for r in shipped_records() if r.lesson == lesson and r.info.get("preset") == preset]
    return sorted(found, key=lambda r: r.info.get("preset_index", 0))


def _pins_path(root: Path) -> Path:
    return Path(root) / ".class" / "pinned.json"


def pins(root: Path) -> dict[str, str]:
    try:
        raw = json.loads(_pins_path(root).read_text())
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in raw.items() if isinstance(v, str) and valid_run_id(v)} if isinstance(raw, dict) else {}


def pin(store: RunStore, lesson: str, run_id: str | None) -> None:
    """Make a finished run of `lesson` the class's ready-made run (None: back to the shipped one)."""
    current = pins(store.root)
    if run_id is None:
        current.pop(lesson, None)
    else:
        record = store.read(run_id)
        if record.lesson != lesson or record.status != DONE:
            raise RunError("Only a finished run of this lesson can be its ready-made run.")
        current[lesson] = run_id
    _pins_path(store.root).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(_pins_path(store.root), json.dumps(current))


def ready_made(lesson: str, store: RunStore) -> tuple[RunStore, RunRecord] | None:
    """The run a lesson opens with: the one the instructor pinned, else the shipped one; with the store it is in."""
    pinned = pins(store.root).get(lesson)
    if pinned:
        try:
            record = store.read(pinned)
            if record.status == DONE:
                return store, record
        except RunError:
            pass
    record = shipped_run(lesson)
    return (shipped_store(), record) if record is not None else None


def is_ready_made(record: RunRecord, store: RunStore) -> bool:
    return record.owner == OWNER or pins(store.root).get(record.lesson) == record.id


def locate(run_id: str, store: RunStore) -> RunStore:
    """The store holding a run: the live one, else the shipped ready-made runs (the live one if neither, so that
    reading it says there is no such run)."""
    if store.exists(run_id):
        return store
    shipped = shipped_store()
    return shipped if shipped is not None and shipped.exists(run_id) else store


# ---- the replay --------------------------------------------------------------------------------------------------
def start_time(record: RunRecord, events: list[dict]) -> float:
    return record.started or (events[0].get("t", 0.0) if events else 0.0)


def duration(record: RunRecord, events: list[dict]) -> float:
    """Seconds from the run's start to its last event (or its end)."""
    end = record.finished or (events[-1].get("t", 0.0) if events else 0.0)
    return max(0.0, end - start_time(record, events))


def replay(record: RunRecord, events: list[dict], seconds: float) -> Progress:
    """The run's live state `seconds` after it started, folded from its events (all of them once past its end)."""
    cutoff = start_time(record, events) + seconds
    return Progress().apply(e for e in events if e.get("t", 0.0) <= cutoff)


# ---- making them -------------------------------------------------------------------------------------------------
def _ship(source: RunStore, run_id: str, out: Path, whole: bool = True) -> Path:
    target = out / run_id
    shutil.rmtree(target, ignore_errors=True)
    if whole:
        shutil.copytree(source.path(run_id), target, ignore=shutil.ignore_patterns(*LEFT_BEHIND))
        halve_weights(target / "model.safetensors")
    else:
        target.mkdir(parents=True)
        for name in ("run.json", "events.jsonl"):
            if (source.path(run_id) / name).exists():
                shutil.copy2(source.path(run_id) / name, target / name)
    return target


def halve_weights(path: Path) -> None:
    """Ship float32 weights as float16: half the repository's size, and the predictions of a model this small do
    not change (loaders build the model in float32 and copy the weights in; tests/test_readymade.py checks every
    shipped run loads). Integer tensors (BatchNorm's step count) are kept as they are."""
    if not path.exists():
        return
    from safetensors.torch import load_file, save_file
    import torch
    state = load_file(str(path))
    halved = {k: v.half() if v.dtype == torch.float32 else v for k, v in state.items()}
    save_file(halved, str(path))


def _size(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def _train(service, lesson: Lesson, spec: DefaultRun, config: dict, title: str) -> RunRecord:
    record = service.submit(lesson.key, spec.kind, spec.data, config, owner=OWNER, owner_name=OWNER_NAME,
                            title=title)
    return service.wait(record.id, timeout=3 * 3600, poll=0.2)


def make(keys: list[str] | None = None, out: Path | None = None, pairs: bool = False, say=print,
         default: bool = True) -> list[dict]:
    """Train each lesson's default run (unless not `default`) and, with `pairs`, its comparison presets' runs, and
    ship them into `out`, replacing the ones shipped before. A lesson whose job cannot run yet is skipped with a
    message."""
    from core.backends import make_backend
    from core.lessons import job_function
    from core.service import TrainingService

    out = Path(out or shipped_root())
    out.mkdir(parents=True, exist_ok=True)
    lessons = [get_lesson(k) for k in keys] if keys else list_lessons()
    made = []
    with tempfile.TemporaryDirectory(prefix="readymade-") as tmp:
        service = TrainingService(RunStore(tmp), make_backend("thread", Path(tmp), 1))
        try:
            for lesson in lessons:
                spec = default_run(lesson)
                if spec is None:
                    say(f"{lesson.key}: skipped, it has no job that trains a model.")
                    continue
                try:
                    job_function(lesson.key, spec.kind)
                except Exception as e:        # its job is not written yet (another lesson's migration)
                    say(f"{lesson.key}: skipped, its job {spec.kind!r} is not available ({type(e).__name__}: {e}).")
                    continue
                wanted = [(None, 0, dict(spec.config), f"{lesson.title}: the ready-made run")] if default else []
                if pairs:
                    wanted += [(c.key, i, dict(spec.config, **change), f"{lesson.title}: {c.title} ({i + 1})")
                               for c in lesson.comparisons for i, change in enumerate(c.changes)]
                for preset, index, config, title in wanted:
                    started = time.time()
                    record = _train(service, lesson, spec, config, title)
                    if record.status != DONE:
                        say(f"{lesson.key}{' ' + preset if preset else ''}: not shipped, the run ended "
                            f"{record.status}: {record.error}")
                        continue
                    if preset:
                        record = service.store.update(record.id, info=dict(record.info, preset=preset,
                                                                           preset_index=index))
                    for old in [r for r in shipped_records_in(out) if r.lesson == lesson.key
                                and r.info.get("preset") == preset and r.info.get("preset_index", 0) == index]:
                        shutil.rmtree(out / old.id, ignore_errors=True)
                    whole = preset is None or _size(service.store.path(record.id)) <= FULL_RUN_BYTES
                    folder = _ship(service.store, record.id, out, whole)
                    size = _size(folder)
                    made.append(dict(lesson=lesson.key, preset=preset, run=record.id, bytes=size, whole=whole))
                    say(f"{lesson.key}{' ' + preset + f' #{index + 1}' if preset else ''}: shipped run {record.id} "
                        f"({size / 2**20:.2f} MB{'' if whole else ', curves only'}), trained in "
                        f"{time.time() - started:.1f} s on {record.info.get('device', '?')}.")
        finally:
            service.shutdown()
    _records_cache.clear()
    total = _size(out) if out.is_dir() else 0
    say(f"{out}: {total / 2**20:.2f} MB in all.")
    return made


def shipped_records_in(folder: Path) -> list[RunRecord]:
    store = RunStore(folder)
    return store.records(store.ids())


def main(argv: list[str] | None = None) -> int:
    import argparse
    import logging
    import core  # noqa: F401  (OpenMP's settings before torch starts its threads)
    parser = argparse.ArgumentParser(prog="python -m core.readymade",
                                     description="Train and ship the lessons' ready-made runs.")
    parser.add_argument("lessons", nargs="*", help="lesson keys (default: every lesson)")
    parser.add_argument("--out", type=Path, default=None, help="where to ship them (default: readymade/)")
    parser.add_argument("--pairs", action="store_true", help="also the runs of each lesson's comparison presets")
    parser.add_argument("--pairs-only", action="store_true", help="only those, keeping the default runs shipped")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    made = make(args.lessons or None, args.out, args.pairs or args.pairs_only, default=not args.pairs_only)
    return 0 if made or not args.lessons else 1


if __name__ == "__main__":
    sys.exit(main())
