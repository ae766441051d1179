"""fastai's side of a benchmark, run in a Python that has fastai (--fastai-python): one JSON line per fine_tune."""
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def fastai_results(command: list[str]) -> list[tuple[str, dict]]:
    """Runs `command` and returns (how it ran, result) for each fine_tune it printed: the first in a cold process, the
    next warm, as a notebook's second run. A failure is printed with fastai's own words, and what ran is kept."""
    out = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        print(f"fastai's side failed:\n{out.stderr[-2000:]}")
    results = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    if len(results) == 1:
        return [("", results[0])]
    return [(f", run {i + 1} ({'cold' if i == 0 else 'warm'} process)", result) for i, result in enumerate(results)]
