"""The sidebar's job counts as the browser asks for them (ui/job_counts.py): the route, its token, its line."""
import time
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from tests.lesson_for_tests import KEY


@pytest.fixture
def client(service, monkeypatch):
    from ui import job_counts
    monkeypatch.setattr(job_counts, "_mounted", {})          # mounted here only: later AppTests poll as fragments
    return TestClient(Starlette(routes=job_counts.routes()))


def ask(client, token=None):
    from ui import job_counts
    return client.get(f"{job_counts.PATH}?token={job_counts.token() if token is None else token}")


def test_the_counts_follow_the_queue(client, service):
    from ui.sidebar import _warmup
    _warmup().start()                                        # as the first page does (streamlit_app.py)
    assert _warmup().done.wait(120)
    first = ask(client)
    assert first.status_code == 200 and first.headers["cache-control"] == "no-store"
    assert first.json()["line"] == "0 training · 0 waiting · 1 worker"
    runs = [service.submit(KEY, "wait", {}, {"seconds": 30}, owner=f"student{i}") for i in range(2)]
    try:
        deadline = time.time() + 30                          # the first one starts any moment
        while ask(client).json()["line"] != "1 training · 1 waiting · 1 worker" and time.time() < deadline:
            time.sleep(0.1)
        assert ask(client).json()["line"] == "1 training · 1 waiting · 1 worker"
    finally:
        for run in runs:
            service.cancel(run.id, by=run.owner)
        for run in runs:
            service.wait(run.id, 30)
    assert ask(client).json()["line"] == "0 training · 0 waiting · 1 worker"


def test_a_page_this_server_did_not_draw_gets_nothing(client):
    for token in ("", "0" * 24, "x"):
        answer = ask(client, token)
        assert answer.status_code == 403 and "line" not in answer.json()


def test_nothing_is_started_by_asking_before_the_sidebar_has(client, monkeypatch):
    """The route answers from the service the sidebar's warm-up started; asked earlier, it says so."""
    from ui import sidebar
    monkeypatch.setattr(sidebar, "service_started", lambda: False)
    answer = ask(client)
    assert answer.status_code == 503 and "starting" in answer.json()["error"]


def test_the_line_names_workers_not_ready():
    from ui.job_counts import line
    assert line(dict(running=2, queued=5, workers=1)) == "2 training · 5 waiting · 1 worker"
    assert line(dict(running=0, queued=0, workers=4, alive=3)) == "0 training · 0 waiting · 4 workers (3 ready)"


# ---- the browser's side: the counts ask again when a live panel sees its run start or end -------------------------
ASSETS = Path(__file__).resolve().parent.parent / "ui" / "assets"


def _mount_assets(page):
    """ui/assets' two components on a blank page, each as Streamlit's frontend calls it, with `fetch` answered here:
    the counts' answers say how many times they were asked, the panel's are the run states in `window.states`."""
    page.set_content("<div id='counts'></div><div id='panel'></div>")
    for stem, name in (("job_counts", "counts"), ("live_panel", "panel")):
        source = (ASSETS / f"{stem}.js").read_text().replace("export default function", f"window.{name} = function", 1)
        page.add_script_tag(content=source, type="module")
    page.wait_for_function("!!(window.counts && window.panel)")
    page.evaluate("""() => {
        window.asked = 0;
        window.states = [];
        window.fetch = async (url) => {
            const body = url.startsWith('/jobs') ? {line: `asked ${++window.asked}`} : window.states.shift();
            return {ok: true, status: 200, json: async () => body};
        };
        window.counts({data: {url: '/jobs', token: 't', line: 'as drawn', poll_ms: 600000},
                       parentElement: document.getElementById('counts')});
    }""")


def _watch(page, first: dict, states: list[dict], replay=None):
    page.evaluate("""([first, states, replay]) => {
        window.states = states;
        window.panel({data: {url: '/run/', token: 't', poll_ms: 50, chart: false, table: false, first, can_stop: false,
                             note: '', replay, colors: {train: '#000', valid: '#111', phases: [], muted: '#222'}},
                      parentElement: document.getElementById('panel'), setTriggerValue: () => {}});
    }""", [first, states, replay])
    page.wait_for_function("window.states.length === 0")
    page.wait_for_timeout(300)


def _state(status: str, version: int) -> dict:
    return {"status": status, "active": status in ("queued", "running"), "version": version, "line": status,
            "fraction": 0.5 if status == "running" else 0.0, "table": {"columns": [], "rows": []}}


@pytest.mark.browser
def test_the_counts_ask_at_once_when_a_watched_run_starts_or_ends_and_not_otherwise(page):
    _mount_assets(page)
    counts = page.locator("#counts .jobs span")
    page.wait_for_timeout(300)
    assert counts.text_content() == "as drawn" and page.evaluate("window.asked") == 0    # next poll: 10 min away

    _watch(page, _state("queued", 1), [_state("queued", 2), _state("running", 3), _state("running", 4)])
    assert page.evaluate("window.asked") == 1 and counts.text_content() == "asked 1"     # queued → running only

    _watch(page, _state("running", 4), [_state("done", 5)])
    assert page.evaluate("window.asked") == 2 and counts.text_content() == "asked 2"     # → done

    _watch(page, _state("running", 1), [_state("done", 2)], replay={"from": 0, "speed": 10})
    assert page.evaluate("window.asked") == 2                                           # a replay trains nothing
