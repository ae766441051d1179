"""Does a CPU training step survive sharing the CPU? OpenMP threads that spin (ACTIVE) vs sleep (PASSIVE).

    .venv/bin/python benchmarks/bench_threads.py [--steps 5] [--size 64]

Each cell is a fresh process (the wait policy is read when torch loads OpenMP) timing forward + backward of the
"Is it a bird?" model on a batch of 16, with torch using every core. "busy" runs one other CPU-bound process
beside it, as on a class server or a laptop doing something else. core/__init__.py sets PASSIVE because of this.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STEP = """
import time, torch
from core.models import create_backbone
model = create_backbone("efficientnet_lite0", 2).model
x = torch.randn(16, 3, {size}, {size})
model(x).sum().backward()
start = time.perf_counter()
for _ in range({steps}):
    model(x).sum().backward()
print((time.perf_counter() - start) / {steps})
"""

BURN = "import time\nend = time.time() + 600\nwhile time.time() < end: sum(i * i for i in range(10000))"


def time_step(policy: str, busy: bool, steps: int, size: int) -> float:
    env = dict(os.environ, OMP_WAIT_POLICY=policy, PYTHONPATH=str(ROOT))
    burner = subprocess.Popen([sys.executable, "-c", BURN]) if busy else None
    try:
        time.sleep(0.5 if busy else 0)
        out = subprocess.run([sys.executable, "-c", STEP.format(steps=steps, size=size)], env=env, cwd=ROOT,
                             capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])
    finally:
        if burner:
            burner.kill()
            burner.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    print(f"seconds per training step (batch 16, {args.size} px, {os.cpu_count()} cores)")
    print(f"{'CPU':12s} {'ACTIVE (spin)':>14s} {'PASSIVE (sleep)':>16s}")
    for busy in (False, True):
        cells = [time_step(policy, busy, args.steps, args.size) for policy in ("ACTIVE", "PASSIVE")]
        print(f"{'busy' if busy else 'idle':12s} {cells[0]:14.3f} {cells[1]:16.3f}")


if __name__ == "__main__":
    main()
