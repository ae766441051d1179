"""How fast does the app answer? Headless Chromium against a real `streamlit run`.

    .venv/bin/python benchmarks/bench_startup.py [--starts 3] [--switches 3]

- first page: seconds from starting `streamlit run` to the welcome page's title drawn in the browser (the browser
  polls the server until it answers, as a student's reload would), over several fresh starts;
- switching lessons: seconds from clicking a lesson in the sidebar to its title drawn, and to the whole page drawn
  (its script finished, the page no longer growing), for every lesson, a few rounds (the first visit of a lesson
  in a fresh server imports its modules; later ones don't). Each click waits until the page before has finished
  drawing and the browser has been quiet for a moment, as a student reads a page before moving on; clicking while
  the last page still draws timed that page's drawing too.

- with `--visits N`: each lesson opened N more times from the welcome page, in a fresh server once every lesson was
  visited: seconds until drawn, the browser's main thread busy meanwhile (Chrome's TaskDuration, steadier than the
  wall time on a shared machine), and the server's own time per page. Paired this way, a change to one lesson's
  drawing shows through the ±0.1 s that lesson-to-lesson switches vary from run to run.

Goals (the issue): the first page within 5 s of `streamlit run`; switching lessons under 1 s. Measured before this
work on the same 2-core machine: a median of 6.6 s for the first page (9–10 s when busy).
"""
import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from benchmarks.bench_watching import CHROMIUM_ARGS, SCRIPT_FINISHED, free_port, wait_idle  # noqa: E402
from benchmarks.class_load import server_page_runs  # noqa: E402


def start_server(runs: Path) -> tuple[subprocess.Popen, str, float]:
    port = free_port()
    env = dict(os.environ, LESSON1_RUNS_DIR=str(runs), LESSON1_BACKEND="local", PYTHONUNBUFFERED="1")
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}", started


@contextlib.contextmanager
def served():
    """A fresh server on an empty run store, stopped at the end: (its URL, when it was started)."""
    with tempfile.TemporaryDirectory() as tmp:
        proc, url, started = start_server(Path(tmp))
        try:
            yield url, started
        finally:
            proc.terminate()
            proc.wait(15)


def first_page(browser) -> float:
    with served() as (url, started):
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


def open_when_up(page, url: str, seconds: float = 90) -> None:
    """Open `url` in `page` as soon as a server that is still starting answers it."""
    deadline = time.time() + seconds
    while True:
        try:
            page.goto(url, timeout=2000)
            return
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


READ_SECONDS = 2.0      # between a page drawn and the next click
QUIET_MS = 300          # the page counts as drawn once it has stayed still this long

# When was the page last still, for good? Still: its script has finished (SCRIPT_FINISHED) and the page has stopped
# growing (charts and tables draw after the script, as their code arrives) and the browser has not been busy (a
# check that comes late found the page's main thread at work, say loading a chart library). A page may also rerun
# itself at once (st.rerun). Streamlit's status widget is no sign: it shows only once a script has run for 0.5 s.
SETTLED = """quiet => {
    const nodes = document.getElementsByTagName('*').length;
    const now = performance.now();
    const busy = !(""" + SCRIPT_FINISHED + """) || nodes !== window.__nodes || now - (window.__checked ?? now) > 150;
    window.__nodes = nodes;
    window.__checked = now;
    if (busy || window.__stillSince === undefined) window.__stillSince = busy ? undefined : now;
    return !busy && now - window.__stillSince >= quiet;
}"""


def drawn_after(page, clicked_ms: float) -> float:
    """Seconds from a click (the page's performance.now()) until its page was drawn."""
    page.evaluate("() => { window.__stillSince = window.__checked = undefined; }")     # the click made it run
    page.wait_for_function(SETTLED, arg=QUIET_MS, polling=50, timeout=120_000)
    return (page.evaluate("window.__stillSince") - clicked_ms) / 1000


def switches(browser, rounds: int, welcome_seconds: float = READ_SECONDS) -> tuple[dict, dict]:
    """Per lesson, (seconds to its title, seconds to the whole page) for each visit, and how long the server itself
    took to run each page (ui/server_stats.py; the rest of a switch is the browser drawing). The first click comes
    `welcome_seconds` after the welcome page is drawn (the server warms up in the background meanwhile)."""
    from core.lessons import list_lessons
    lessons = list_lessons()
    out: dict[str, list[tuple[float, float]]] = {lesson.title: [] for lesson in lessons}
    with served() as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        open_when_up(page, url)
        page.get_by_role("heading", name="Lesson 1").first.wait_for(timeout=90_000)
        wait_idle(page)
        time.sleep(max(0.0, welcome_seconds - READ_SECONDS))
        for _ in range(rounds):
            for lesson in lessons:
                wait_idle(page)
                time.sleep(READ_SECONDS)
                link = page.locator('[data-testid="stSidebarNav"] a', has_text=lesson.title).first
                clicked_ms = page.evaluate("performance.now()")
                start = time.perf_counter()
                link.click()
                page.locator("h1", has_text=lesson.title.split(":")[0]).first.wait_for(timeout=120_000)
                title = time.perf_counter() - start
                out[lesson.title].append((title, drawn_after(page, clicked_ms)))
        page.close()
        return out, server_page_runs(url, 60)


def visits(browser, n: int) -> tuple[dict, dict]:
    """Per lesson, [(seconds until drawn, seconds the browser's main thread was busy)] for `n` visits from the
    welcome page, after a first visit (imports, the ready-made run's replay); and the server's own page times."""
    from core.lessons import list_lessons
    out = {}
    with served() as (url, _):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def busy() -> float:
            return next(m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration")

        def open_lesson(title: str) -> float:
            clicked_ms = page.evaluate("performance.now()")
            page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
            return drawn_after(page, clicked_ms)

        open_when_up(page, url)
        page.get_by_role("heading", name="Lesson 1").first.wait_for(timeout=90_000)
        for lesson in list_lessons():
            open_lesson(lesson.title)
            time.sleep(8)                         # the ready-made run's replay ends
            wait_idle(page)
            out[lesson.title] = []
            for _ in range(n):
                open_lesson("Welcome")
                wait_idle(page)
                time.sleep(1.5)
                before = busy()
                drawn = open_lesson(lesson.title)
                out[lesson.title].append((drawn, busy() - before))
                time.sleep(0.5)
        page.close()
        return out, server_page_runs(url, 600)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--switches", type=int, default=3, help="rounds through every lesson")
    parser.add_argument("--visits", type=int, default=0, help="visits of each lesson from the welcome page")
    parser.add_argument("--welcome-seconds", type=float, default=READ_SECONDS,
                        help="how long the student reads the welcome page before the first lesson")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        firsts = [first_page(browser) for _ in range(args.starts)]
        switched, server = switches(browser, args.switches, args.welcome_seconds)
        visited, visited_server = visits(browser, args.visits) if args.visits else (None, None)
        browser.close()
    print(f"{os.cpu_count()} CPUs")
    print(f"first page after `streamlit run`: median {statistics.median(firsts):.2f} s "
          f"(each: {', '.join(f'{s:.2f}' for s in firsts)}); goal under 5 s; before this work: median 6.6 s")
    print("switching to a lesson, seconds to its title / to the whole page (first visit, then later visits):")
    for title, times in switched.items():
        later = times[1:] or times
        print(f"  {title:36s} first {times[0][0]:5.2f} / {times[0][1]:5.2f} s, later median "
              f"{statistics.median(t[0] for t in later):5.2f} / {statistics.median(t[1] for t in later):5.2f} s")
    later_all = [t for times in switched.values() for t in times[1:]]
    if later_all:
        for i, what in enumerate(("title", "whole page")):
            values = [t[i] for t in later_all]
            print(f"all later switches, to the {what}: median {statistics.median(values):.2f} s, "
                  f"max {max(values):.2f} s; goal under 1 s")
        slowest = sorted(((t[1], title, visit) for title, times in switched.items()
                          for visit, t in enumerate(times[1:], start=2)), reverse=True)[:3]
        print("the slowest later switches, whole page: " + ", ".join(
            f"{seconds:.2f} s ({title}, visit {visit})" for seconds, title, visit in slowest))
    print("the server's own time per page run, every visit (p50 / p95 (n)): " + "; ".join(
        f"{page} {s['p50_s']:.2f} / {s['p95_s']:.2f} ({s['runs']})" for page, s in server["pages"].items()))

    if visited:
        print(f"from the welcome page to a lesson, {args.visits} visits each: median seconds until drawn / the browser "
              "busy meanwhile (range of drawn) / the server's own time, p50")
        for title, times in visited.items():
            drawn = [t[0] for t in times]
            own = visited_server["pages"].get(title, {}).get("p50_s", float("nan"))
            print(f"  {title:36s} {statistics.median(drawn):5.2f} / {statistics.median(t[1] for t in times):5.2f} s "
                  f"({min(drawn):.2f}–{max(drawn):.2f}) / {own:.2f} s")


if __name__ == "__main__":
    main()
