"""How fast does the app answer? Headless Chromium against a real `streamlit run`.

    .venv/bin/python benchmarks/bench_startup.py [--starts 3] [--switches 3]

- first page: seconds from starting `streamlit run` to the welcome page's title drawn in the browser (the browser
  polls the server until it answers, as a student's reload would), over several fresh starts;
- switching lessons: seconds from clicking a lesson in the sidebar to its title drawn, for every lesson, a few
  rounds (the first visit of a lesson in a fresh server imports its modules; later ones don't).

Goals (the issue): the first page within 5 s of `streamlit run`; switching lessons under 1 s. Measured before this
work on the same 2-core machine: a median of 6.6 s for the first page (9–10 s when busy).
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_watching import CHROMIUM_ARGS, free_port  # noqa: E402


def start_server(runs: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = dict(os.environ, LESSON1_RUNS_DIR=str(runs), LESSON1_BACKEND="local", PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", started


def first_page(browser) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, started = start_server(Path(tmp))
        try:
            page = browser.new_page()
            while True:
                try:
                    page.goto(url, timeout=2000)
                    break
                except Exception:
                    if time.perf_counter() - started > 90:
                        raise
                    time.sleep(0.05)
            page.get_by_role("heading", name="Lesson 1").first.wait_for(timeout=90_000)
            seconds = time.perf_counter() - started
            page.close()
            return seconds
        finally:
            proc.terminate()
            proc.wait(15)


def switches(browser, rounds: int) -> dict[str, list[float]]:
    from core.lessons import list_lessons
    lessons = list_lessons()
    out: dict[str, list[float]] = {lesson.title: [] for lesson in lessons}
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, _ = start_server(Path(tmp))
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            deadline = time.time() + 90
            while True:
                try:
                    page.goto(url, timeout=2000)
                    break
                except Exception:
                    if time.time() > deadline:
                        raise
                    time.sleep(0.2)
            page.get_by_role("heading", name="Lesson 1").first.wait_for(timeout=90_000)
            for _ in range(rounds):
                for lesson in lessons:
                    link = page.locator('[data-testid="stSidebarNav"] a', has_text=lesson.title).first
                    start = time.perf_counter()
                    link.click()
                    page.locator("h1", has_text=lesson.title.split(":")[0]).first.wait_for(timeout=120_000)
                    out[lesson.title].append(time.perf_counter() - start)
            page.close()
        finally:
            proc.terminate()
            proc.wait(15)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--switches", type=int, default=3, help="rounds through every lesson")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        firsts = [first_page(browser) for _ in range(args.starts)]
        switched = switches(browser, args.switches)
        browser.close()
    print(f"{os.cpu_count()} CPUs")
    print(f"first page after `streamlit run`: median {statistics.median(firsts):.2f} s "
          f"(each: {', '.join(f'{s:.2f}' for s in firsts)}); goal under 5 s; before this work: median 6.6 s")
    print("switching to a lesson (first visit, then later visits):")
    for title, times in switched.items():
        later = times[1:] or times
        print(f"  {title:36s} first {times[0]:5.2f} s, later median {statistics.median(later):5.2f} s")
    later_all = [t for times in switched.values() for t in times[1:]]
    if later_all:
        print(f"all later switches: median {statistics.median(later_all):.2f} s, max {max(later_all):.2f} s; "
              "goal under 1 s")


if __name__ == "__main__":
    main()
