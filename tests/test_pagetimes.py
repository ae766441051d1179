"""core/pagetimes.py (how long this server takes to run whole pages), the route that reports it, and the frame
(streamlit_app.py) recording each page run that finished."""
import math

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from core.pagetimes import PAGE_TIMES, PageTimes, percentile
from tests.page_users import TEACHER, open_as


def test_percentiles_by_nearest_rank():
    assert percentile([3, 1, 2], 50) == 2 and percentile(list(range(1, 21)), 95) == 19
    assert math.isnan(percentile([], 95))


def test_a_summary_counts_the_runs_in_its_window_overall_and_per_page():
    times = PageTimes(keep=100)
    times.record("Tabular", 9.0, at=0)                          # too old for the window
    for i in range(10):
        times.record("Tabular" if i % 2 else "Welcome", 0.1 * (i + 1), at=1000 + i)
    s = times.summary(window_s=60, now=1030)
    assert s["runs"] == 10 and s["max_s"] == pytest.approx(1.0)
    assert s["p50_s"] == pytest.approx(0.5) and s["p95_s"] == pytest.approx(1.0)
    assert s["pages"]["Tabular"]["runs"] == 5 and s["pages"]["Welcome"]["max_s"] == pytest.approx(0.9)
    assert PageTimes().summary()["runs"] == 0


def test_only_the_last_runs_are_kept():
    times = PageTimes(keep=3)
    for i in range(5):
        times.record("p", float(i), at=1000)
    assert times.summary(now=1000)["max_s"] == 4.0 and times.summary(now=1000)["runs"] == 3


def test_the_route_reports_the_summary_and_refuses_odd_windows(monkeypatch):
    from ui import server_stats
    times = PageTimes()
    monkeypatch.setattr(server_stats, "PAGE_TIMES", times)
    client = TestClient(Starlette(routes=server_stats.routes()))
    empty = client.get(server_stats.PATH)
    assert empty.status_code == 200 and empty.json()["runs"] == 0 and empty.json()["p95_s"] is None   # JSON, no NaN
    assert empty.headers["cache-control"] == "no-store"
    times.record("Tabular", 0.25)
    answer = client.get(server_stats.PATH + "?minutes=1").json()
    assert answer["runs"] == 1 and answer["window_s"] == 60 and answer["pages"]["Tabular"]["p95_s"] == 0.25
    for odd in ("0", "-1", "nan", "1e9", "five"):
        assert client.get(server_stats.PATH + f"?minutes={odd}").status_code == 400, odd


def test_the_frame_records_every_page_it_finished_and_the_instructor_sees_them(service):
    before = PAGE_TIMES.summary()["pages"].get("Welcome", {}).get("runs", 0)
    app = open_as("streamlit_app.py", TEACHER)
    assert PAGE_TIMES.summary()["pages"]["Welcome"]["runs"] == before + 1
    app.switch_page("pages/instructor.py").run()
    assert not app.exception
    assert any(c.value.startswith("This server ran ") and "95% within" in c.value for c in app.caption)
