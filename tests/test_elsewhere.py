"""benchmarks/elsewhere.py: a program started through its wrapper lands in a CPU group with the smallest share,
and the group is gone afterwards."""
import subprocess
from pathlib import Path

import pytest

from benchmarks import elsewhere


def test_a_program_started_through_the_wrapper_runs_in_the_low_share_group(monkeypatch):
    monkeypatch.setattr(elsewhere, "CHROMIUM", "/bin/sleep")          # the wrapper execs whatever this names
    with elsewhere.browsers_elsewhere("lesson1-test") as path:
        if path is None:
            pytest.skip("no CPU cgroup can be made here (not root, or no cpu controller)")
        proc = subprocess.Popen([path, "30"])
        try:
            group = None
            for _ in range(50):
                line = next(l for l in Path(f"/proc/{proc.pid}/cgroup").read_text().splitlines()
                            if l.split(":")[1] in ("cpu", "cpu,cpuacct", ""))
                if "lesson1-test" in line:
                    group = line.split(":", 2)[2]
                    break
                subprocess.run(["sleep", "0.1"])
            assert group, "the program never joined the group"
            assert Path(f"/proc/{proc.pid}/comm").read_text().strip() == "sleep"     # exec'd, not a child
            root = elsewhere.V1 if (elsewhere.V1 / group.lstrip("/")).exists() else elsewhere.V2
            knob = "cpu.shares" if root == elsewhere.V1 else "cpu.weight"
            assert (root / group.lstrip("/") / knob).read_text().strip() in ("2", "1")
        finally:
            proc.kill()
            proc.wait()
    assert not (root / group.lstrip("/")).exists()
