"""The live panel drawn by the student's browser: a small component that asks the server for its run's state every
second and draws the progress line, the epoch table and the loss chart itself.

Why not a Streamlit fragment rerunning every few seconds: each rerun cost the watching browser ~0.1 s of CPU
whatever changed (Streamlit's frontend handles a whole script run), so a watching tab used 0.075-0.10 of a core at
one poll every 2 s, and on a class server or a laptop those tabs competed with the training. A `fetch` of a few
bytes ("nothing new") or a few kilobytes (new losses), drawn into one SVG, costs a fraction of that at one poll a
second (benchmarks/bench_watching.py).

The server side is a route beside Streamlit's own (`routes()`, mounted by streamlit_app.py through `st.App`); it
answers from core/live.py's shared state, so thirty tabs watching a run read its event log once. A tab may only
watch a run its page was drawn with: the page signs the run's id (`token`) with the class's secret, so with
sign-in configured a browser that never signed in gets nothing. Where the route is not mounted (AppTest, a script
that imports the pages), `mounted()` is False and ui/runs.py polls with a fragment as before.

Stop stays the server's decision: the component only says it was pressed (a trigger); the page cancels the run if
this person may (its owner or an instructor), exactly as the Streamlit button did.
"""
from __future__ import annotations

import hmac
import math

import streamlit as st

from core import live
from ui.components import component

API_PREFIX = "/lesson1-api/live/"
POLL_MS = 1000
_mounted: dict = {}
_MOVED_ON = "_live_panel_moved_on"     # the run the browser has just seen end
_state = live.LiveRuns()


# ---- the server's side -------------------------------------------------------------------------------------------
def routes() -> list:
    """The route the panel polls, for `st.App(..., routes=routes())`. Under server.baseUrlPath when one is set."""
    from starlette.routing import Route
    _mounted["prefix"] = under_base_path(API_PREFIX)
    return [Route(_mounted["prefix"] + "{run_id}", _answer, methods=["GET"])]


def under_base_path(path: str) -> str:
    """`path` under server.baseUrlPath when one is set, as Streamlit's own routes are."""
    from streamlit import config
    base = (config.get_option("server.baseUrlPath") or "").strip("/")
    return (f"/{base}" if base else "") + path


def mounted() -> bool:
    return "prefix" in _mounted


def token(run_id: str) -> str:
    from ui.identity import sign
    return sign("live:" + run_id)


def _answer(request):
    """GET <prefix><run id>?token=…&v=<version the tab has>: the run's snapshot, or {"same": true, "line": …} when
    the tab has this version already. Starlette runs a plain function in its thread pool, off the event loop."""
    from starlette.responses import JSONResponse
    from core.runs import RunError, valid_run_id
    run_id, query = request.path_params["run_id"], request.query_params
    if not valid_run_id(run_id) or not hmac.compare_digest(query.get("token", ""), token(run_id)):
        return JSONResponse({"error": "This run can't be watched from here: reload the page."}, status_code=403)
    try:
        found = _snapshot(run_id) if "at" not in query else _replayed(run_id, _seconds(query["at"]))
    except (RunError, ValueError) as e:
        return JSONResponse({"error": str(e)}, status_code=404)
    if query.get("v") == found["version"]:
        found = {"same": True, "version": found["version"], "line": found["line"], "fraction": found["fraction"]}
    return JSONResponse(found, headers={"Cache-Control": "no-store"})


def _snapshot(run_id: str) -> dict:
    from core.runs import QUEUED
    from core.service import get_service
    from ui.runs import store_of
    service = get_service()
    store = store_of(run_id)
    record = store.read(run_id)
    position = service.position(run_id) if record.status == QUEUED else None
    return _state.snapshot(store, record, position, record.active and store.cancel_requested(run_id))


def _seconds(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value < 0:
        raise ValueError("A replay's position is a number of seconds.")
    return value


def _replayed(run_id: str, at: float) -> dict:
    """A ready-made run `at` seconds into its replay (only those replay: any other run is watched as it is)."""
    from core import readymade
    from core.service import get_service
    from ui.runs import store_of
    store = store_of(run_id)
    record = store.read(run_id)
    if record.active or not readymade.is_ready_made(record, get_service().store):
        raise ValueError("Only a lesson's ready-made run replays.")
    return _state.replay(store, record, at)


# ---- the page's side ---------------------------------------------------------------------------------------------
_PANEL = component("lesson1_live_panel", "live_panel")


def show(found, *, chart: bool, table: bool, can_stop: bool, stopping: bool, on_stop,
         watching_note: str | None) -> None:
    """The live panel of a queued or training run (a ui/runs.RunView), drawn and polled by the browser. Stop calls
    `on_stop` (before the page reruns). When the run ends the page reruns to draw the results."""
    _mount(found, chart, table, live.snapshot(found.record, found.progress, found.position, stopping), on_stop,
           can_stop=can_stop, note=watching_note or "")


def show_replay(found, *, chart: bool, table: bool, at: float, speed: float) -> None:
    """A ready-made run replaying from `at` seconds at `speed` (ui/runs.py keeps the replay's clock): the browser
    keeps time and asks the route for the run as it was at each moment; the page reruns when the replay ends."""
    from ui.runs import store_of
    _mount(found, chart, table, _state.replay(store_of(found.id), found.record, at), lambda: None,
           replay={"from": at, "speed": speed})


def show_curves(found) -> None:
    """The run's loss chart alone, drawn by the browser as the live panel draws it, and still (nothing polled): a run
    that has ended, or one a fragment redraws. The chart a student watched grow stays as it was, and a lesson's
    results load no Plotly for it (~0.9 s of a first visit's browser on a 2-core machine)."""
    data = {"still": True, "chart": True, "table": False, "first": {"curves": live.curves(found.progress)},
            "colors": _colours()}
    _PANEL(data=data, key=f"loss-{found.id}")


def _mount(found, chart: bool, table: bool, first: dict, on_stop, **more) -> None:
    data = {"url": _mounted["prefix"] + found.id, "token": token(found.id), "poll_ms": POLL_MS, "chart": chart,
            "table": table, "first": first, "can_stop": False, "note": "", "replay": None, "colors": _colours(),
            **more}
    _PANEL(data=data, key=f"live-{found.id}", on_stop_change=on_stop,
           on_status_change=lambda: st.session_state.__setitem__(_MOVED_ON, found.id))


def _colours() -> dict:
    from core import plots
    return {"train": plots.TRAIN_COLOR, "valid": plots.VALID_COLOR, "phases": plots.PHASE_COLORS,
            "muted": plots.MUTED_TEXT}


def moved_on(run_id: str) -> bool:
    """Whether the browser has just said that `run_id` ended (a replay too: its clock is the browser's)."""
    return st.session_state.get(_MOVED_ON) == run_id


def rerun_the_page_if_the_run_moved_on(run_id: str) -> None:
    """The browser said the run ended: its trigger reran what holds the panel. Where that is a fragment (a lesson's
    Train section), the results below have not been drawn: rerun the whole page, once."""
    if st.session_state.get(_MOVED_ON) != run_id:
        return
    del st.session_state[_MOVED_ON]
    from streamlit.runtime.scriptrunner import get_script_run_ctx
    ctx = get_script_run_ctx()
    if ctx is not None and ctx.fragment_ids_this_run:
        st.rerun(scope="app")
