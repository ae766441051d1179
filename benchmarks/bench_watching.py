"""What does watching a run cost? A real server, real headless-Chromium tabs, a real run.

    .venv/bin/python benchmarks/bench_watching.py [--lesson image_classification] [--watchers 1 5]
                                                  [--settings "epochs=1"] [--repeat 1]

For each case the script starts `streamlit run` (worker processes, a fresh run store), opens the lesson's page in
Chromium, presses Train and then either closes the tab at once (unwatched: the student leaves) or keeps N tabs on
the run's live panel (N students watching; the first started it, the others opened its link). It reports:
- the run's time (its worker's start to end, from the run store), watched against unwatched;
- the server process's CPU seconds during the run (its own threads only: training happens in worker processes),
  per watcher and per second of the run: "cores per watcher";
- Chromium's CPU over the same time, for context (the browser runs on this machine too, so on a small machine it
  competes with the training; the issue's per-watcher budget counts the server only).

Before the run store (the issue's measurement, same 2-core machine): 56 s unwatched, 315 s watched by one student,
the server using ~0.8 of a core to redraw one student's panel.

`--browsers-elsewhere` runs Chromium in a CPU group that gets only what the server and the workers leave over, as if
the students' browsers ran on their own machines (benchmarks/elsewhere.py): the run's time then shows what
watching costs the server, not what the browsers on the same cores cost the training.
"""
import argparse
import contextlib
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TICKS = os.sysconf("SC_CLK_TCK")
SETTLE_SECONDS = 8.0       # "steady" leaves out the page's own rerun after Train and the watchers' tabs loading


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process (not its children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def chromium_cpu() -> float:
    total = 0.0
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if "chrom" in (proc / "comm").read_text():
                    total += cpu_seconds(int(proc.name))
            except OSError:
                continue
    return total


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(url: str, seconds: float) -> bool:
    """Whether the app at `url` says ok on its health endpoint within `seconds` (it may still be starting)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=2).read() == b"ok":
                return True
        except OSError:
            time.sleep(0.3)
    return False


class Sampler:
    """CPU seconds of the server and of Chromium, sampled five times a second, so any window can be measured."""

    def __init__(self, pid: int):
        import threading
        self.pid, self.samples, self.stop = pid, [], threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.wait(0.2):
            try:
                self.samples.append((time.time(), cpu_seconds(self.pid), chromium_cpu()))
            except OSError:
                return

    def between(self, start: float, end: float) -> tuple[float, float, float]:
        """(seconds, server CPU seconds, Chromium CPU seconds) from the samples nearest `start` and `end`."""
        inside = [s for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return end - start, 0.0, 0.0
        (t0, s0, c0), (t1, s1, c1) = inside[0], inside[-1]
        return t1 - t0, s1 - s0, c1 - c0

    def close(self):
        self.stop.set()
        self.thread.join()


class Server:
    def __init__(self, runs: Path):
        self.port, self.runs = free_port(), runs
        env = dict(os.environ, LESSON1_RUNS_DIR=str(runs), LESSON1_BACKEND="local", PYTHONUNBUFFERED="1")
        self.log = open(runs.parent / "server.log", "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        if not answers(self.url, 90):
            raise RuntimeError("the server did not start")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:       # seen once after a failed case: the figures matter, not its exit
            self.proc.kill()
            self.proc.wait(15)
        self.log.close()


# Has the page's script finished? The frontend marks the app's root with the script's state (the attribute
# Streamlit's own browser tests read): notRunning, or compilationError for a script that would not run. A JavaScript
# expression, for the waits here and in bench_startup.py.
SCRIPT_FINISHED = ("['notRunning', 'compilationError'].includes("
                   "document.querySelector('[data-testid=\"stApp\"]')?.getAttribute('data-test-script-state'))")


def wait_idle(page, timeout=120_000):
    """The page is drawn and its script has finished (SCRIPT_FINISHED). Streamlit's status widget ("Running...",
    and a Stop button; only the Stop button since Streamlit 1.67) says so too, but only once a script has run for
    0.5 s (a timer in Streamlit's frontend): alone, it let a wait end in the first half second of any run. The tests'
    wait_for_app is this too."""
    page.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    page.wait_for_function("() => { const w = document.querySelector('[data-testid=\"stStatusWidget\"]');"
                           f" return {SCRIPT_FINISHED} && (!w || !/Running|Stop/.test(w.innerText)); }}",
                           timeout=timeout)


def wait_for_results(page, timeout=120_000):
    """A run's end drawn: its finished line, then the page's rerun that fills the sections which waited, numbered
    and empty, for it (ui/sections.later); then the page idle. A lesson's headings are there before the run ends."""
    from ui.runs import UNTIL_THE_END, UNTIL_THE_REPLAY_ENDS
    page.get_by_text("Trained in").first.wait_for(timeout=timeout)
    for waiting in (UNTIL_THE_END, UNTIL_THE_REPLAY_ENDS):
        page.get_by_text(waiting).first.wait_for(state="detached", timeout=timeout)
    wait_idle(page, timeout=timeout)


def one_case(browser, lesson: str, settings: str, watchers: int) -> dict:
    from core.runs import RunStore
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp) / "runs"
        runs.mkdir()
        server = Server(runs)
        try:
            store = RunStore(runs)
            sampler = Sampler(server.proc.pid)
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            first = context.new_page()
            first.goto(f"{server.url}/{lesson}{'?' + settings if settings else ''}")
            wait_idle(first)
            button = first.get_by_role("button", name=re.compile(r"^Train\b"))
            button.first.wait_for(timeout=180_000)             # the server's first page: its imports, its data
            button.first.scroll_into_view_if_needed()
            time.sleep(2)                                       # the page settles; its workers are warm
            button.first.click()
            first.wait_for_url(re.compile(r"run=\w+"), timeout=60_000)
            run_id = re.search(r"run=(\w+)", first.url).group(1)
            tabs = [first]
            if watchers == 0:
                first.close()
            else:
                for _ in range(watchers - 1):
                    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                    tab.goto(f"{server.url}/{lesson}?run={run_id}", timeout=180_000)   # a page load beside training
                    tabs.append(tab)
            record = store.read(run_id)
            while record.active:
                time.sleep(0.2)
                record = store.read(run_id)
            time.sleep(0.5)
            sampler.close()
            whole = sampler.between(record.started, record.finished)
            steady = sampler.between(record.started + SETTLE_SECONDS, record.finished)
            for tab in tabs:
                if not tab.is_closed():
                    tab.context.close()
            if not watchers:
                context.close()
            return dict(watchers=watchers, status=record.status, run_s=record.seconds, error=record.error,
                        wall_s=whole[0], server_cpu_s=whole[1], browser_cpu_s=whole[2],
                        steady_s=steady[0], steady_server_cpu_s=steady[1])
        finally:
            server.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lesson", default="image_classification")
    parser.add_argument("--watchers", type=int, nargs="+", default=[1, 5])
    parser.add_argument("--settings", default="", help="URL settings for the page, e.g. 'epochs=1&size=128'")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--browsers-elsewhere", action="store_true",
                        help="Chromium gets only the CPU the server and workers leave over (benchmarks/elsewhere.py)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from benchmarks.elsewhere import CHROMIUM, browsers_elsewhere
    rows = []
    with (browsers_elsewhere() if args.browsers_elsewhere else contextlib.nullcontext(CHROMIUM)) as chromium, \
            sync_playwright() as p:
        if chromium is None:
            raise SystemExit("--browsers-elsewhere needs a CPU cgroup this process can make (root, a cpu controller)")
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        for _ in range(args.repeat):
            for n in [0, *args.watchers]:
                row = one_case(browser, args.lesson, args.settings, n)
                rows.append(row)
                print(row, flush=True)
        browser.close()
    base = [r for r in rows if r["watchers"] == 0]
    unwatched_s = sum(r["run_s"] for r in base) / len(base)
    idle = sum(r["server_cpu_s"] / max(r["wall_s"], 1e-9) for r in base) / len(base)
    print(f"\n{args.lesson} ({args.settings or 'default settings'}), {os.cpu_count()} CPUs; server cores per "
          f"watcher = (server's CPU s / run's s - the unwatched run's) / watchers; 'steady' leaves out the first "
          f"{SETTLE_SECONDS:.0f} s of the run")
    print(f"{'':24s} {'run s':>7s} {'x unwatched':>12s} {'server cores':>13s} {'per watcher':>12s} "
          f"{'steady, per watcher':>20s} {'chromium cores':>15s}")
    for r in rows:
        cores = r["server_cpu_s"] / max(r["wall_s"], 1e-9)
        steady = r["steady_server_cpu_s"] / max(r["steady_s"], 1e-9)
        per = (cores - idle) / r["watchers"] if r["watchers"] else 0.0
        steady_per = (steady - idle) / r["watchers"] if r["watchers"] and r["steady_s"] > 1 else float("nan")
        who = "unwatched (tab closed)" if not r["watchers"] else f"{r['watchers']} watching"
        print(f"{who:24s} {r['run_s']:7.1f} {r['run_s'] / unwatched_s:12.2f} {cores:13.3f} {per:12.3f} "
              f"{steady_per:20.3f} {r['browser_cpu_s'] / max(r['wall_s'], 1e-9):15.3f}")
    if args.browsers_elsewhere:
        print("the browsers ran in a CPU group getting only what the server and workers left (as if elsewhere)")
    print("\ngoal: watched run at most 1.2x unwatched; server at most 0.05 of a core per watching student")
    print("before the run store (same machine): 56 s unwatched, 315 s watched (5.6x), ~0.8 core for one watcher")


if __name__ == "__main__":
    main()
