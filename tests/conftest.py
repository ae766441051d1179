"""Shared fixtures: a live app server and a headless Chromium page for browser journeys.

Browser tests skip when Chromium or Playwright is missing, unless LESSON1_REQUIRE_BROWSER=1
(set by .ci/run), where a missing browser is a failure.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LESSON1_LESSON_MODULES", "tests.lesson_for_tests")   # the engine tests' lesson, workers too
# AppTest runs pages in this process: their runs train on a thread, in a store of their own. Browser journeys start
# a real server, whose runs train in worker processes (app_server).
os.environ.setdefault("LESSON1_BACKEND", "thread")
_OWN_FOLDERS = []                              # made for this test session, removed at its end (pytest_unconfigure)


def _own_folder(variable: str, prefix: str) -> None:
    if variable not in os.environ:
        os.environ[variable] = tempfile.mkdtemp(prefix=prefix)
        _OWN_FOLDERS.append(os.environ[variable])


_own_folder("LESSON1_RUNS_DIR", "lesson1-test-runs-")
# Lesson pages open on their ready-made run (core/readymade.py) when one is shipped; their tests start from a page
# without one. The ready-made runs' own tests point this at the shipped folder (tests/test_readymade.py).
_own_folder("LESSON1_READYMADE_DIR", "lesson1-test-readymade-")
import core  # noqa: E402,F401  (before anything loads torch: it sets OpenMP's wait policy, see core/__init__.py)

CHROMIUM = os.environ.get("LESSON1_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"


def pytest_unconfigure(config):
    for folder in _OWN_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _browser_missing_reason():
    if not Path(CHROMIUM).exists() and not shutil.which("chromium"):
        return f"Chromium not found at {CHROMIUM}"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "playwright (Python) not installed"
    return None


@contextmanager
def app_server(log_dir: Path, runs_dir: Path, extra_args: tuple = (), env: dict | None = None,
               script: str = "streamlit_app.py"):
    """`streamlit run streamlit_app.py` (or another `script`, relative to the repository) on a free loopback port
    (with `extra_args`, e.g. a secrets file, and more environment `env`); yields its URL."""
    port = _free_port()
    env = dict(os.environ, LESSON1_RUNS_DIR=str(runs_dir), LESSON1_BACKEND="local", PYTHONUNBUFFERED="1",
               **(env or {}))
    log = open(log_dir / "streamlit.log", "w")
    _SERVER_LOGS.append(Path(log.name))
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script,
         "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false", *extra_args],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        from benchmarks.bench_watching import answers
        if not answers(url, 60):
            raise RuntimeError(f"streamlit did not start; see {log.name}")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        _SERVER_LOGS.remove(Path(log.name))


_SERVER_LOGS: list[Path] = []           # the logs of the servers running now, for a failed journey's artifacts


@contextmanager
def serve_test_page(tmp_path_factory, script: str):
    """One of tests/apps/' pages served on its own, with a fresh run store; yields its URL."""
    with app_server(tmp_path_factory.mktemp("server"), tmp_path_factory.mktemp("runs"), script=script) as url:
        yield url


@contextmanager
def installed_service(root: Path, backend: str = "thread"):
    """A training service of its own (one worker, a run store in `root`), installed as the process-wide one, so the
    pages an AppTest runs use it too."""
    from core.backends import make_backend
    from core.runs import RunStore
    from core.service import TrainingService, set_service
    svc = TrainingService(RunStore(root), make_backend(backend, root, 1))
    previous = set_service(svc)
    try:
        yield svc
    finally:
        set_service(previous)
        svc.shutdown()


@pytest.fixture
def service(tmp_path):
    with installed_service(tmp_path / "runs") as svc:
        yield svc


@pytest.fixture
def shipped(monkeypatch):
    """The ready-made runs the repository ships (readymade/), instead of the tests' empty folder."""
    from core.runs import RunStore
    monkeypatch.setenv("LESSON1_READYMADE_DIR", str(ROOT / "readymade"))
    return RunStore(ROOT / "readymade")


@pytest.fixture(scope="module")
def module_service(tmp_path_factory):
    """One service for a module's page tests (a trained run is shared between them)."""
    with installed_service(tmp_path_factory.mktemp("runs")) as svc:
        yield svc


def store_csv(service, df, name="table.csv", owner="tests") -> dict:
    """A table kept in the service's store as an upload; returns the reference a run's data is."""
    from core.inputs import InputStore
    return InputStore(service.store.root).put(df.to_csv(index=False).encode(), kind="csv", name=name, owner=owner)


@pytest.fixture(scope="session")
def app_url(tmp_path_factory):
    """One live app server shared by the browser journeys, or the one at LESSON1_TEST_APP_URL: the journeys that
    need only a URL then run against a server already started elsewhere (the image of deploy/Dockerfile, say)."""
    if os.environ.get("LESSON1_TEST_APP_URL"):
        yield os.environ["LESSON1_TEST_APP_URL"].rstrip("/")
        return
    with app_server(tmp_path_factory.mktemp("server"), tmp_path_factory.mktemp("runs")) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    reason = _browser_missing_reason()
    if reason:
        if os.environ.get("LESSON1_REQUIRE_BROWSER") == "1":
            pytest.fail(reason)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"])
        yield b
        b.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    console: list[str] = []
    pg.on("console", lambda message: console.append(f"{time.strftime('%H:%M:%S')} {message.type}: {message.text}"))
    yield pg
    failed = getattr(request.node, "report_call", None)
    if failed is not None and failed.failed:          # what the page showed when the journey failed, for CI's artifacts
        _keep_what_a_failed_journey_saw(pg, console, f"FAILED-{request.node.path.stem}-{request.node.name}")
    context.close()


def _keep_what_a_failed_journey_saw(page, console: list[str], name: str) -> None:
    """The page (a screenshot), the browser's console and the tail of each running server's log, under artifacts/:
    a journey that fails once in CI cannot be asked again (a click seemed lost twice; the console would have said
    whether Streamlit's frontend sent it)."""
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)
    except Exception as e:                            # a crashed page: the failure itself says enough
        print(f"no screenshot of the failed journey: {e}")
    (ARTIFACTS / f"{name}.console.txt").write_text("\n".join(console) + "\n")
    logs = [f"== {log}\n" + "".join(log.read_text(errors="replace").splitlines(keepends=True)[-200:])
            for log in _SERVER_LOGS if log.exists()]
    (ARTIFACTS / f"{name}.server.txt").write_text("\n".join(logs))


@pytest.fixture
def screenshot_dir():
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def wait_for_app(page, timeout=30_000):
    """Wait until Streamlit has finished running the script (benchmarks.bench_watching.wait_idle: one place knows
    how the frontend says so)."""
    from benchmarks.bench_watching import wait_idle
    wait_idle(page, timeout=timeout)


def wait_for_results(page, timeout=120_000):
    """Wait until a run's end is drawn: its sections, numbered and empty before, filled (bench_watching's)."""
    from benchmarks.bench_watching import wait_for_results as drawn
    drawn(page, timeout=timeout)


def chart_in_view(page, place: str, chart: str | None = None, timeout: float = 30_000):
    """Scroll to a chart as a student does and return it once drawn: ui/charts.py draws a chart when its stand-in
    (`place`: the chart's key, or the `place` it was given) comes near the window. `chart`: a CSS selector for the
    chart's own element when its key is not `place`. Scrolled to again while it waits: the stand-ins above it take
    their heights (and charts theirs) as they come near, which can push it out of the window."""
    from ui.charts import gate_key
    stand_in = page.locator(f".st-key-{gate_key(place)}").first
    drawn = page.locator(f"{chart or '.st-key-' + place} [data-testid='stPlotlyChart']").first
    deadline = time.time() + timeout / 1000
    while True:
        stand_in.evaluate("e => e.scrollIntoView({block: 'center'})")
        try:
            drawn.locator(".main-svg").first.wait_for(timeout=2_000)
            break
        except Exception:
            if time.time() > deadline:
                raise
    drawn.evaluate("e => e.scrollIntoView({block: 'center'})")
    return drawn


def type_number(page, label: str, value, until, tries: int = 4, timeout: float = 30_000):
    """Type `value` into the number input labelled `label` and press Enter, until the locator `until` shows. A rerun
    landing between typing and Enter (a ready-made run's replay ending, a poll) can drop what was typed: type again."""
    for attempt in range(tries):
        wait_for_app(page, timeout=90_000)
        field = page.get_by_role("spinbutton", name=label)
        field.fill(str(value))
        field.press("Enter")
        try:
            until.wait_for(timeout=timeout)
            return
        except Exception:
            if attempt == tries - 1:
                raise
