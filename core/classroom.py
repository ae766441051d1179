"""The class's rules, kept in the run store so every server process and worker shares them, and enforced here, in
core/, whatever the page sent: a run asking for more than the class allows is refused with a sentence.

    <runs>/.class/limits.json   largest image, most epochs, largest upload, longest run (set on the instructor's page)
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from core.errors import LimitError

CLASS_DIR = ".class"


@dataclass(frozen=True)
class ClassLimits:
    image_size: int = 512            # pixels, the longest side a lesson resizes to
    epochs: int = 30                 # epochs of one run (lessons whose epochs are costly)
    upload_mb: int = 50              # one uploaded file
    job_seconds: int = 1200          # one run, start to end

    @classmethod
    def from_dict(cls, raw: dict) -> "ClassLimits":
        clean = {}
        for f in fields(cls):
            value = raw.get(f.name, f.default)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 < value < 10**9:
                value = f.default
            clean[f.name] = int(value)
        return cls(**clean)


LIMIT_WORDS = {"image_size": ("images of at most {} pixels", "px"), "epochs": ("at most {} epochs per run", "epochs")}

_cache: dict[Path, tuple[float, ClassLimits]] = {}
_cache_lock = threading.Lock()


def limits_path(root: Path) -> Path:
    return Path(root) / CLASS_DIR / "limits.json"


def current_limits(root: Path | None = None) -> ClassLimits:
    """The class's limits (the defaults until an instructor sets them); re-read when the file changes."""
    from core.runs import runs_root
    path = limits_path(root or runs_root())
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return ClassLimits()
    with _cache_lock:
        hit = _cache.get(path)
        if hit and hit[0] == mtime:
            return hit[1]
    try:
        limits = ClassLimits.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        limits = ClassLimits()
    with _cache_lock:
        _cache[path] = (mtime, limits)
    return limits


def set_limits(limits: ClassLimits, root: Path | None = None) -> None:
    from core.runs import atomic_write, runs_root
    path = limits_path(root or runs_root())
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(dict(asdict(limits), set_at=time.time())))


def check_run(lesson: str, kind: str, config: dict, data: dict, root: Path | None = None) -> dict:
    """The config a run may have, or LimitError. Checks the settings the lesson ties to a class limit (images,
    epochs) and that the config is plain JSON."""
    from core.lessons import get_lesson
    if not isinstance(config, dict) or not isinstance(data, dict):
        raise LimitError("A run's settings and data must be given as JSON objects.")
    try:
        json.dumps(config, allow_nan=False)
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        raise LimitError("A run's settings must be plain numbers and text.") from None
    limits = current_limits(root)
    for limit, keys in get_lesson(lesson).limited.items():
        allowed = getattr(limits, limit)
        for key in keys:
            value = config.get(key)
            if value is None:
                continue
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise LimitError(f"The setting {key!r} must be a number.")
            if value > allowed:
                words = LIMIT_WORDS[limit][0].format(allowed)
                raise LimitError(f"This class allows {words} (this run asked for {value:g} {LIMIT_WORDS[limit][1]}). "
                                 "Ask your instructor if you need more.")
    return config


def check_upload(n_bytes: int, root: Path | None = None) -> None:
    allowed = current_limits(root).upload_mb
    if n_bytes > allowed * 2**20:
        raise LimitError(f"That file is {n_bytes / 2**20:.1f} MB; this class allows uploads of up to {allowed} MB.")


def class_secret(root: Path | None = None) -> bytes:
    """The key that signs browsers' identity cookies: LESSON1_SECRET, else a random one kept (readable by the
    server's user only) in the run store, so every server process sharing it agrees."""
    import os
    import secrets
    if os.environ.get("LESSON1_SECRET"):
        return os.environ["LESSON1_SECRET"].encode()
    from core.runs import runs_root
    path = Path(root or runs_root()) / CLASS_DIR / "secret"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:               # another process made it first
            return path.read_bytes()
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
        return path.read_bytes()
