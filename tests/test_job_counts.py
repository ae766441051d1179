"""The sidebar's job counts as the browser asks for them (ui/job_counts.py): the route, its token, its line."""
import time

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
