"""Does a CPU training step survive sharing the CPU? OpenMP's wait policies side by side: libgomp's default
(unset: spin a while, then sleep), ACTIVE (spin), PASSIVE (sleep at once), and a short spin (GOMP_SPINCOUNT).

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
import time, torch  # torch first: OpenMP reads its policy when torch loads, before core/__init__.py could set one
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


POLICIES = {"default": {}, "ACTIVE": {"OMP_WAIT_POLICY": "ACTIVE"}, "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
            "spin 10k": {"GOMP_SPINCOUNT": "10000"}}


def time_step(policy: str, busy: bool, steps: int, size: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    env.update(POLICIES[policy], PYTHONPATH=str(ROOT))
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
    print(f"{'CPU':8s}" + "".join(f"{name:>12s}" for name in POLICIES))
    for busy in (False, True):
        cells = [time_step(policy, busy, args.steps, args.size) for policy in POLICIES]
        print(f"{'busy' if busy else 'idle':8s}" + "".join(f"{c:12.3f}" for c in cells))


if __name__ == "__main__":
    main()
