"""Browsers as if they ran on the students' own machines, for benchmarks that must run them on the server's.

In a class each student's browser runs on their own laptop; in these benchmarks every headless Chromium runs on
the machine that serves and trains. On a 2-core machine the browsers' CPU then comes out of the training and the
server, which no real class pays. `nice` does not move them aside: Chromium raises some of its own threads to nice
-8 when it runs as root. A CPU cgroup does, for every thread and every process the browser forks: the group gets
the CPU the server and the workers leave over (cgroup v1 `cpu.shares` 2 against the default 1024; v2 `cpu.weight`
1 against 100). The browsers still draw every poll; they wait while the machine is busy, as a slow laptop would not
make the server wait either.

    with browsers_elsewhere() as chromium_path:          # None: not possible here (no root, no cpu controller)
        p.chromium.launch(executable_path=chromium_path, ...)
"""
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
V1 = Path("/sys/fs/cgroup/cpu")           # cgroup v1's cpu hierarchy (this machine)
V2 = Path("/sys/fs/cgroup")               # cgroup v2's unified hierarchy, where its cpu controller is on


def _new_group(name: str) -> Path | None:
    for root, knob, value in ((V1, "cpu.shares", "2"), (V2, "cpu.weight", "1")):
        if not (root / "cgroup.procs").exists() or not os.access(root, os.W_OK):
            continue
        if root == V2 and "cpu" not in (root / "cgroup.subtree_control").read_text().split():
            continue
        group = root / name
        try:
            group.mkdir(exist_ok=True)
            (group / knob).write_text(value)
        except OSError:
            continue
        return group
    return None


def _remove(group: Path) -> None:
    for _ in range(50):                      # a group can go only once its last process has exited
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)


@contextlib.contextmanager
def browsers_elsewhere(name: str = "lesson1-browsers"):
    """Yields the path of a Chromium that starts in a CPU group which only gets the CPU others leave over, or None
    where no such group can be made here (the caller says so and runs the browsers as they are)."""
    group = _new_group(f"{name}-{os.getpid()}")
    if group is None:
        yield None
        return
    folder = Path(tempfile.mkdtemp(prefix="lesson1-chromium-"))
    wrapper = folder / "chromium"
    wrapper.write_text(f"#!/bin/sh\necho $$ > {group / 'cgroup.procs'}\nexec {CHROMIUM} \"$@\"\n")
    wrapper.chmod(0o755)
    try:
        yield str(wrapper)
    finally:
        _remove(group)
        shutil.rmtree(folder, ignore_errors=True)
