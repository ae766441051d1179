"""The bad-input corpus against a real server, through the pages' own file inputs in headless Chromium.

    .venv/bin/python benchmarks/bad_input.py [--paths ic_zip seg_photo ...] [--cases zip_bomb_lying ...]
                                             [--budget 1500] [--screenshots artifacts/bad_input] [--settle 150]

A fresh run store gets a finished run of every lesson on tiny data (trained here first, seconds), so the uploaders
shown after training are there too; then `streamlit run` starts on it (worker processes, as in class) and every
corpus case goes through every upload path a browser can use (tests/bad_input/paths.py; the camera's paths are left
to the AppTest suite: a browser's camera sends its own frames). It prints, for each case and path, what the page did
and the sentence it said (for a browser step that failed, which wait timed out, and a screenshot with
--screenshots); then the server's resident memory before and after all of it, and again --settle seconds later, once
Streamlit has let go of the closed tabs' sessions; whether it still answers /_stcore/health and still draws a lesson
page, and whether anything was written outside the run store.

Cases run in a fixed order until --budget seconds have passed; the rest are listed as skipped. The exit status is 1
when a case crashed a page, showed an exception's text, was used when it should have been refused (or the reverse),
when the server stopped answering, or when something was written outside the run store.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import bench_watching  # noqa: E402
from benchmarks.bench_watching import CHROMIUM_ARGS, Server  # noqa: E402
from tests.bad_input import made  # noqa: E402
from tests.bad_input.corpus import ACCEPT, EITHER, REFUSE, Case, cases, model_cases, photo, upload_name  # noqa: E402
from tests.bad_input.paths import LESSON_OF_PAGE, PATHS, raw_text  # noqa: E402

SKIP_IN_BROWSER = {"ic_use_camera", "ic_look_camera", "ic_collect_shot"}     # a real camera sends its own frames
CRASH, RAW, REFUSED, USED, SILENT, SKIPPED = "CRASH", "RAW TEXT", "refused", "used", "silent", "skipped (time)"
MIME = {"csv": "text/csv", "zip": "application/zip", "json": "application/json"}
STANDING = re.compile(r"^(CPU \(|No pretraining|Some settings in the link)")   # the pages' own notices


@dataclass
class Row:
    path: str
    case: str
    expect: str
    outcome: str
    said: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.outcome == SKIPPED or (
            self.outcome not in (CRASH, RAW, SILENT)
            and (self.expect == EITHER or (self.outcome == REFUSED) == (self.expect == REFUSE)))


def wait_idle(page, timeout: float = 120_000) -> None:
    """The app is drawn and its script has finished (bench_watching.wait_idle), and no element is left stale from
    the run before."""
    bench_watching.wait_idle(page, timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-stale=\"true\"]')", timeout=timeout)


QUIET_MS = 400                                         # a rerun asked for by the one before starts well within this
# Counts the script runs that have ended in this tab: the app's root leaves the state "running" once per run.
COUNT_SCRIPT_RUNS = """
window.__lesson1RunsEnded = 0;
new MutationObserver(records => {
  for (const r of records) if (r.oldValue === 'running') window.__lesson1RunsEnded += 1;
}).observe(document, {subtree: true, attributes: true, attributeOldValue: true,
                      attributeFilter: ['data-test-script-state']});
"""


# ---- the page, driven ---------------------------------------------------------------------------------------------
class Session:
    """One browser tab on one upload path: opened where its uploader shows, then fed one case after another."""

    def __init__(self, browser, url: str, path, runs: dict[str, str]):
        self.browser, self.url, self.path, self.runs = browser, url, path, runs
        self.open()

    def open(self):
        self.context = self.browser.new_context(viewport={"width": 1400, "height": 1000})
        self.context.add_init_script(COUNT_SCRIPT_RUNS)
        self.page = self.context.new_page()
        self.uploaded = 0                                 # files the server has answered for

        def count(response):
            if "/_stcore/upload_file" in response.url and response.request.method in ("PUT", "POST"):
                self.uploaded += 1
        self.page.on("response", count)
        query = f"?run={self.runs[self.path.lesson_run]}" if self.path.lesson_run else ""
        self.page.goto(f"{self.url}/{Path(self.path.page).stem}{query}")
        wait_idle(self.page)
        REACH[self.path.name](self.page)
        wait_idle(self.page)

    def close(self):
        self.context.close()

    def key(self, key: str):
        return self.page.locator(f".st-key-{key}")

    def files(self, key: str, files: list[tuple[str, bytes, str]]):
        """The files in the uploader, once the server has them all (one upload request each)."""
        wanted, runs = self.uploaded + len(files), self.runs_ended()
        self.key(key).locator('input[type="file"]').set_input_files(
            files=[{"name": n, "mimeType": m, "buffer": b} for n, b, m in files])
        deadline = time.time() + 60
        while self.uploaded < wanted and time.time() < deadline:
            self.page.wait_for_timeout(50)
        self.settle(runs)

    def click(self, key: str):
        runs = self.runs_ended()
        self.key(key).locator("button").first.click()
        self.settle(runs)

    def runs_ended(self) -> int:
        return self.page.evaluate("window.__lesson1RunsEnded || 0")

    def settle(self, runs_before: int):
        """Until the rerun that the upload or click asked for has ended, and any it asked for in turn (a page that
        loads a model calls st.rerun to draw the sections above again). A fixed pause let a loaded machine's rerun
        start after it: the page was then judged on the rerun before, with the last case's other file (CI, 12-07)."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout
        try:
            self.page.wait_for_function(f"() => (window.__lesson1RunsEnded || 0) > {runs_before}", timeout=30_000)
        except PlaywrightTimeout:                        # no rerun came: judged on the page as it stands
            pass
        for _ in range(20):                              # quiet: no run ends for QUIET_MS after the page is idle
            wait_idle(self.page, timeout=120_000)
            ended = self.runs_ended()
            self.page.wait_for_timeout(QUIET_MS)
            if self.runs_ended() == ended and self.page.evaluate(f"() => {bench_watching.SCRIPT_FINISHED}"):
                return

    def alerts(self, kinds=("Error", "Warning"), inside: str | None = None) -> list[str]:
        """The page's alerts of these kinds that a student can see (one in a closed expander is not said: the collab
        page's load box closed when a load drew the sections above it, and hid its error), only in the expander
        titled `inside`, but its standing notices."""
        selector = ", ".join(f'[data-testid="stAlertContent{k}"]:visible [data-testid="stMarkdownContainer"]'
                             for k in kinds)
        where = self.page.locator("details").filter(has_text=inside).first if inside else self.page
        texts = [" ".join(t.split()) for t in where.locator(selector).all_text_contents()]
        return [t for t in texts if t and not STANDING.match(t)]

    def crashed(self) -> bool:
        return self.page.locator('[data-testid="stException"]').count() > 0

    def text(self) -> str:
        return self.page.locator('[data-testid="stMain"]').text_content()


def _radio(key: str, label: str):
    def reach(page):
        page.locator(f".st-key-{key}").get_by_text(label, exact=True).click()
    return reach


def _tab_then_radio(tab: str):
    def reach(page):
        _radio("ic_source", "Your own photos")(page)
        wait_idle(page)
        page.get_by_role("tab", name=tab).click()
    return reach


LOAD_EXPANDER = "Load a model you exported earlier"


def _expander(title: str):
    def reach(page):
        details = page.locator("details").filter(has_text=title).first
        details.wait_for(timeout=120_000)
        if details.get_attribute("open") is None:
            details.locator("summary").click()
    return reach


def _nothing(page):
    pass


REACH = {"tab_upload": _radio("tab_source", "My own CSV"), "col_upload": _radio("col_source", "My own CSV"),
         "ic_zip": _radio("ic_source", "Your own photos"),
         "seg_zip": _radio("seg_source", "My own photos and masks (a zip)"),
         "ic_class_files": _tab_then_radio("Class by class: upload or camera"),
         "ic_use_photo": _radio("ic_use_where", "Upload a photo"),
         "ic_look_photo": _radio("ic_look_where", "Upload a photo"), "seg_photo": _radio("seg_where", "Upload a photo"),
         "tab_model": _expander(LOAD_EXPANDER), "col_model": _expander(LOAD_EXPANDER), "ic_model": _expander(LOAD_EXPANDER), "seg_model": _expander(LOAD_EXPANDER)}


def put(session: Session, case: Case) -> None:
    """The case in the path's uploader(s), and the buttons pressed that the page asks for."""
    name, p = session.path.name, session.path
    if p.kind == "model":
        prefix = name.split("_")[0]
        session.files(f"{prefix}_up_weights", [(upload_name(case), case.data, "application/octet-stream")])
        session.files(f"{prefix}_up_meta", [("meta.json", case.meta, "application/json")])    # loads on upload
    elif name == "ic_class_files":
        session.close()                                # a browser's multi-file input adds to what it holds:
        session.open()                                 # each case starts from an empty one
        good = [(f"good{i}.jpg", photo((40 * i + 50, 140, 60)), "image/jpeg") for i in range(4)]
        session.files("ic_class_files_0", [(photo_name(case), case.data, "image/png")] + good[:2])
        session.files("ic_class_files_1", good[2:])
        session.click("ic_use_uploads")
    else:
        key = p.keys[0]
        mime = MIME.get(p.kind.split("_")[-1], "image/png")
        session.files(key, [(photo_name(case) if p.kind == "photo" else upload_name(case), case.data, mime)])


def photo_name(case: Case) -> str:
    """Photo uploaders take a few suffixes: a case of another is renamed .png (all an attacker has to do)."""
    name = upload_name(case)
    return name if name.rsplit(".", 1)[-1].lower() in ("jpg", "jpeg", "png", "webp", "bmp", "gif") else name + ".png"


def used(session: Session, case: Case) -> bool:
    """Whether the page now uses the case's file, read from what it shows."""
    name, text = session.path.name, session.text()
    stem = upload_name(case).rsplit(".", 1)[0]
    if name in ("tab_upload", "col_upload"):
        return f"Using your file '{stem}" in text and not session.alerts(("Error",))
    if name in ("ic_zip", "seg_zip"):
        return "Using " in text and stem in text and not session.alerts(("Error",))
    if name == "ic_class_files":
        return ": 5 images in 2 classes" in text
    if name == "ic_use_photo":
        return "Prediction:" in text
    if name == "ic_look_photo":
        return "the photo as the model sees it" in text
    if name == "seg_photo":
        return "the model's classes over the photo" in text
    if name in ("tab_model", "col_model"):
        return bool(session.alerts(("Success",), LOAD_EXPANDER)) and not session.alerts(("Error",), LOAD_EXPANDER)
    return session.key(f"{name.split('_')[0]}_which_model").count() > 0        # ic, seg: "Which model?" shows


def one(session: Session, case: Case, shots: Path | None) -> Row:
    start = time.time()
    expect = case.expect[session.path.kind]
    try:
        before = session.alerts()
        put(session, case)
        return judged(session, case, expect, before, start, shots)
    except Exception as e:                               # noqa: BLE001 - a page that stopped answering, said
        step = " ".join(str(e).split())[:160]             # which wait timed out: Playwright names it
        row = Row(session.path.name, case.name, expect, CRASH, f"the browser step failed: {type(e).__name__}: {step}",
                  time.time() - start)
        if shots is not None:
            shots.mkdir(parents=True, exist_ok=True)
            session.page.screenshot(path=str(shots / f"{session.path.name}-{case.name}-failed.png"), full_page=True)
        session.close()
        session.open()
        return row


def judged(session: Session, case: Case, expect: str, before: list[str], start: float, shots: Path | None) -> Row:
    if session.crashed():
        outcome, said = CRASH, "Streamlit's error box"
    else:
        new = [m for m in session.alerts() if m not in before] or session.alerts()
        raw = [m for m in new if raw_text(m)]
        is_used = used(session, case)
        outcome = RAW if raw else USED if is_used else REFUSED if new else SILENT
        said = (raw or new or [""])[0]
    if shots is not None and (outcome != USED or expect == REFUSE):
        shots.mkdir(parents=True, exist_ok=True)
        error = session.page.locator('[data-testid="stAlertContentError"]:visible, [data-testid="stException"]')
        (error.last if error.count() else session.key(session.path.keys[0])).scroll_into_view_if_needed()
        session.page.screenshot(path=str(shots / f"{session.path.name}-{case.name}.png"), full_page=False)
    if outcome == CRASH:
        session.close()
        session.open()
    return Row(session.path.name, case.name, expect, outcome, said, time.time() - start)


# ---- the whole corpus ---------------------------------------------------------------------------------------------
def browser_paths(names: list[str] | None):
    return [p for p in PATHS if p.name not in SKIP_IN_BROWSER and (not names or p.name in names)]


def cases_for(path, exports, names: list[str] | None) -> list[Case]:
    if path.kind == "model":
        pairs = model_cases(*exports[LESSON_OF_PAGE[path.page]])
        pairs = sorted(pairs, key=lambda c: c.expect["model"] == ACCEPT)     # the good pair last: once loaded,
    else:                                                                    # "Which model?" stays on the page
        pairs = cases(path.kind)
    return [c for c in pairs if not names or c.name in names]


def run_cases(browser, url: str, runs: dict[str, str], plan: list[tuple[object, list[Case]]], deadline: float,
              shots: Path | None = None) -> list[Row]:
    """Each (path, cases) of the plan in one tab, case after case, until `deadline` (time.time())."""
    rows = []
    for path, chosen in plan:
        session = None
        for case in chosen:
            if time.time() > deadline:
                rows.append(Row(path.name, case.name, case.expect[path.kind], SKIPPED))
                continue
            session = session or Session(browser, url, path, runs)
            rows.append(one(session, case, shots))
            row = rows[-1]
            print(f"  {path.name:16} {case.name:24} {row.outcome:9} {row.said[:90 if row.outcome != CRASH else None]}",
                  flush=True)
        if session:
            session.close()
    return rows


def warm_up(browser, url: str, runs: dict[str, str]) -> None:
    """Every lesson page once, on its finished run, to its last section: what the server keeps from then on (the
    libraries, the models, the caches) is its level before the corpus."""
    for lesson, run_id in runs.items():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(f"{url}/{lesson}?run={run_id}")
        page.get_by_text("Export", exact=False).last.wait_for(timeout=180_000)
        wait_idle(page, timeout=180_000)
        context.close()


def rss_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def still_serving(browser, url: str) -> tuple[bool, bool]:
    """(health answers "ok", a lesson page draws its title) for a new visitor."""
    try:
        healthy = urllib.request.urlopen(url + "/_stcore/health", timeout=10).read() == b"ok"
    except OSError:
        healthy = False
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        page.goto(url + "/tabular")
        page.get_by_text("will this person earn $50k or more?").first.wait_for(timeout=120_000)
        wait_idle(page)
        draws = page.locator('[data-testid="stException"]').count() == 0
    except Exception:                                     # noqa: BLE001
        draws = False
    finally:
        context.close()
    return healthy, draws


def prepared_store(runs_dir: Path) -> tuple[dict[str, str], dict]:
    """Tiny finished runs of every lesson in `runs_dir`, and their exported files (trained here, before the
    server starts on the same store)."""
    from core.backends import make_backend
    from core.runs import RunStore
    from core.service import TrainingService
    service = TrainingService(RunStore(runs_dir), make_backend("thread", runs_dir, 1))
    try:
        runs = made.tiny_runs(service)
        return runs, made.exports(service.store, runs)
    finally:
        service.shutdown()


def table(rows: list[Row]) -> str:
    lines = [f"{'upload path':16} {'case':24} {'expected':8} {'outcome':14} {'s':>5}  the sentence shown (truncated)"]
    for r in rows:
        flag = "" if r.ok else "  <-- !"
        said = r.said[:100 if r.outcome != CRASH else None]
        lines.append(f"{r.path:16} {r.case:24} {r.expect:8} {r.outcome:14} {r.seconds:5.1f}  {said}{flag}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paths", nargs="*", help="upload paths (default: every one a browser can use)")
    parser.add_argument("--cases", nargs="*", help="corpus cases by name (default: all)")
    parser.add_argument("--budget", type=float, default=1500, help="seconds for the cases (then the rest skip)")
    parser.add_argument("--screenshots", type=Path, help="a folder for screenshots of refused uploads")
    parser.add_argument("--settle", type=float, default=150,
                        help="seconds to wait after the corpus before memory is read again: Streamlit keeps a closed "
                             "tab's session for server.disconnectedSessionTTL (120 s) in case it reconnects")
    args = parser.parse_args(argv)
    os.environ.setdefault("LESSON1_DEVICE", "cpu")
    os.environ.setdefault("LESSON1_OFFLINE", "1")
    from playwright.sync_api import sync_playwright
    with tempfile.TemporaryDirectory(prefix="lesson1-bad-input-") as tmp:
        runs_dir = Path(tmp) / "runs"
        runs_dir.mkdir()
        t0 = time.time()
        runs, exports = prepared_store(runs_dir)
        print(f"tiny runs trained in {time.time() - t0:.0f} s: {runs}", flush=True)
        repo_before = made.tree(ROOT)
        server = Server(runs_dir)
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
                warm_up(browser, server.url, runs)
                rss_before = rss_of(server.proc.pid)
                plan = [(path, cases_for(path, exports, args.cases)) for path in browser_paths(args.paths)]
                rows = run_cases(browser, server.url, runs, plan, time.time() + args.budget, args.screenshots)
                rss_after = rss_of(server.proc.pid)
                time.sleep(args.settle)
                rss_settled = rss_of(server.proc.pid)
                healthy, draws = still_serving(browser, server.url)
                browser.close()
        finally:
            server.stop()
        changed = sorted(k for k in set(repo_before) | set(made.tree(ROOT))
                         if repo_before.get(k) != made.tree(ROOT).get(k))
        escaped = [str(x) for x in made.escape_targets(runs_dir) if x.exists()]
    print()
    print(table(rows))
    done = [r for r in rows if r.outcome != SKIPPED]
    bad = [r for r in rows if not r.ok]
    print(f"\n{len(done)} cases run ({len(rows) - len(done)} skipped for time), {len(bad)} wrong; "
          f"{sum(r.outcome == CRASH for r in rows)} crashed a page, {sum(r.outcome == RAW for r in rows)} showed "
          f"exception text")
    print(f"server resident memory: {rss_before / 2**20:.0f} MiB before the corpus, {rss_after / 2**20:.0f} MiB "
          f"after ({(rss_after - rss_before) / 2**20:+.0f} MiB), {rss_settled / 2**20:.0f} MiB {args.settle:.0f} s later "
          f"({(rss_settled - rss_before) / 2**20:+.0f} MiB), every tab closed")
    print(f"after all of it: /_stcore/health {'answers ok' if healthy else 'DOES NOT ANSWER'}; the tabular page "
          f"{'draws' if draws else 'DOES NOT DRAW'} for a new visitor")
    print(f"written outside the run store: {changed[:5] + escaped or 'nothing'}")
    return 0 if not bad and healthy and draws and not changed and not escaped else 1


if __name__ == "__main__":
    sys.exit(main())
