"""Training from a page, the same way in every lesson. A page never trains and never waits on a worker: it asks
the training service (core/service.py) for a run and draws what the run store says about it.

    view = ui_runs.live(run_id)                                     # the live panel, polled while it trains
    found = ui_runs.lr_find_section("tabular", data, config, key="tab", lr_key="tab_lr")
    ui_runs.train_button("tabular", data, config, "Train", key="tab_train")
    view = ui_runs.current_view("tabular", "fit", data)             # this person's run, or the link's ?run=
    result = ui_runs.loaded(view)                                   # the lesson's loader, cached, from the store
    ui_runs.run_details(view, widgets)                              # seed, settings, data, link, Train again
    view = ui_runs.ready_made("tabular")                            # the run the lesson opens with

A run's id goes in the URL (`?run=`): a reloaded tab, another tab, or anyone given the link opens the same run.
Only its owner (or an instructor) sees its Stop button; everyone else reads it.

Ready-made runs (core/readymade.py): until a person has a run of the lesson's default kind, `current` returns the
lesson's ready-made run (the class's pinned one, else the shipped one) while the page's data is the run's, so every
page opens with a finished run and pages need no code of their own for it. `live` replays it from its events at the
speed the student picks (as it trained, 10x, instant), and `loaded` gives its results once the replay has reached
its end, as for a real run.
"""
from __future__ import annotations

import contextlib
import json
import time
from dataclasses import dataclass
from typing import Any, Callable

import streamlit as st
from streamlit.errors import StreamlitPageNotFoundError

from core import compare, readymade
from core.live import ended_line, epoch_cell, queued_line, replay_line, training_line
from core.errors import StudentError
from core.kept import Kept
from core.lessons import get_lesson
from core.runs import (CANCELLED, DONE, FAILED, INTERRUPTED, QUEUED, Progress, RunError, RunRecord,
                       RunStore)
from core.service import get_service
from ui import live_panel, present
from ui.charts import show_chart
from ui.code import show_code
from ui.identity import current_user
from ui.tables import show_table

POLL_SECONDS = 1.0           # a run next in line (it starts any moment), a ready-made run replaying
# While a run trains, its tab asks every 2 s. Each poll costs the student's browser ~0.1 s of CPU whatever changed
# (Streamlit's frontend handles a whole script run: new_session, the pages, the fragment's elements), so a tab
# watching at 1 s used 0.15 of a core, at 2 s 0.09-0.10, at no poll 0.03 (benchmarks/bench_watching.py's page,
# 2-core machine). Epochs take tens of seconds on a CPU: a 2 s step is still a live progress line.
TRAINING_POLL_SECONDS = 2.0
QUEUED_POLL_SECONDS = 3.0    # a run waiting behind others changes slowly: its tab asks a third as often
RUN_PARAM = "run"
SPEEDS = {"as it trained": 1.0, "10×": 10.0, "instant": float("inf")}


@dataclass
class RunView:
    """A run as a page draws it: its record, its live progress, its place in the queue, and whose it is."""
    record: RunRecord
    progress: Progress
    position: int | None
    mine: bool
    ready_made: bool = False          # the lesson's ready-made run (shipped, or pinned by the instructor)
    replaying: bool = False           # its replay has not reached the end yet: `progress` is where it stands

    def __getattr__(self, name):                      # id, status, config, error, seconds... from the record
        return getattr(self.record, name)

    @property
    def epoch_table(self) -> list:
        return self.record.epoch_table if not self.record.active and self.record.epoch_table \
            and not self.replaying else self.progress.epoch_table

    @property
    def info(self) -> dict:
        return {**self.progress.info, **self.record.info}


# ---- reading runs ------------------------------------------------------------------------------------------------
def store_of(run_id: str) -> RunStore:
    """The store holding a run: the class's, or the shipped ready-made runs."""
    return readymade.locate(run_id, get_service().store)


def _progress(run_id: str, active: bool) -> Progress:
    """The run's progress; while it trains, only the lines appended since this session's last look are read."""
    tails = st.session_state.setdefault("_run_tails", {})
    if run_id not in tails:
        if len(tails) > 8:
            tails.clear()
        tails[run_id] = (store_of(run_id).events(run_id), Progress())
    reader, progress = tails[run_id]
    progress.apply(reader.read_new(max_bytes=None if not active else 8 * 2**20))
    return progress


def view(run_id: str, replay: bool = True) -> RunView:
    """The run, read from the store. Raises RunError (a sentence) if it is unknown or damaged. A ready-made run is
    where this session's replay of it stands, unless `replay` is False (then: as it ended)."""
    service = get_service()
    store = store_of(run_id)
    record = store.read(run_id)
    user = current_user()
    mine = record.owner == user.id
    found = RunView(record, None, service.position(run_id) if record.status == QUEUED else None, mine,
                    ready_made=not mine and not record.active and readymade.is_ready_made(record, service.store))
    if found.ready_made and replay:
        found.progress, found.replaying = _replayed(record)
    else:
        found.progress = _progress(run_id, record.active)
    return found


def view_or_say(run_id: str, replay: bool = True) -> RunView | None:
    try:
        return view(run_id, replay)
    except RunError as e:
        st.warning(str(e), icon=":material/help:")
        return None


def _session_key(lesson: str, kind: str) -> str:
    return f"run:{lesson}:{kind}"


def current(lesson: str, kind: str, data: dict) -> str | None:
    """The run of `kind` this page shows: the one started in this session, else the link's `?run=` if it is one,
    else this person's latest (so their runs follow them to a new tab), else the lesson's ready-made run if it was
    trained on `data`, the data the page has chosen."""
    ss = st.session_state
    if ss.get(_session_key(lesson, kind)):
        return ss[_session_key(lesson, kind)]
    store = get_service().store
    wanted = st.query_params.get(RUN_PARAM)
    if wanted:
        try:
            record = store_of(wanted).read(wanted)
        except RunError:
            record = None
        if record is not None and record.lesson == lesson and record.kind == kind:
            ss[_session_key(lesson, kind)] = wanted
            return wanted
    for record in reversed(store.records(store.owner_ids(current_user().id)[-30:])):
        if record.lesson == lesson and record.kind == kind:
            ss[_session_key(lesson, kind)] = record.id
            return record.id
    return _ready_made_id(lesson, kind, data)


def _ready_made_id(lesson: str, kind: str, data: dict) -> str | None:
    """The lesson's ready-made run, if it is of this kind and on this data (not remembered: once the person trains,
    theirs shows). On other data (their own CSV, another label) its results would answer questions about photos or
    columns the page no longer shows: the sections wait, numbered, for the student's run instead."""
    from core.lessons import get_lesson
    spec = readymade.default_run(get_lesson(lesson))
    if spec is None or spec.kind != kind:
        return None
    found = readymade.ready_made(lesson, get_service().store)
    return found[1].id if found and found[1].data == data else None


def ready_made(lesson: str) -> RunView | None:
    """The run the lesson opens with (the class's pinned one, else the shipped one), or None if it has none.
    `live(view.id)` replays it; `loaded(view)` is its results once the replay is over."""
    found = readymade.ready_made(lesson, get_service().store)
    return view_or_say(found[1].id) if found else None


def current_view(lesson: str, kind: str, data: dict) -> RunView | None:
    run_id = current(lesson, kind, data)
    return view_or_say(run_id) if run_id else None


def link_opened(lesson: str) -> RunView | None:
    """A run of this lesson named by the URL (`?run=`), whoever owns it."""
    wanted = st.query_params.get(RUN_PARAM)
    if not wanted:
        return None
    found = view_or_say(wanted)
    return found if found is not None and found.lesson == lesson else None


# ---- starting runs -----------------------------------------------------------------------------------------------
REFUSED = "_refused"        # session state: why this person's last Train was refused, said until it no longer holds


def start(lesson: str, kind: str, data: dict, config: dict, title: str = "") -> str | None:
    """Queue this person's run; says why not (one at a time, the class's limits, a full queue, a bad setting)."""
    user = current_user()
    try:
        record = get_service().submit(lesson, kind, data, config, owner=user.id, owner_name=user.name, title=title)
    except StudentError as e:
        busy = bool(get_service().active_runs(user.id))
        st.session_state[REFUSED] = dict(where=[lesson, kind], asked=_asked(data, config), said=str(e), busy=busy)
        return None
    st.session_state.pop(REFUSED, None)
    st.session_state[_session_key(lesson, kind)] = record.id
    st.query_params[RUN_PARAM] = record.id
    return record.id


def _asked(data: dict, config: dict) -> str:
    return json.dumps([data, config], sort_keys=True, default=str)


def say_refused(lesson: str, kind: str, data: dict, config: dict) -> None:
    """Why Train was refused, under its button, on every redraw of the page (a replay ending, a poll) for as long
    as it holds: until the settings change, or, when it was the one-run-at-a-time rule, until that run ends."""
    if st.session_state.pop(_FREE_AGAIN, None):
        st.toast("Your other run has ended: you can train now.", icon=":material/play_arrow:")
    refused = st.session_state.get(REFUSED)
    if not refused or refused["where"] != [lesson, kind]:
        return
    if refused["asked"] != _asked(data, config):
        st.session_state.pop(REFUSED, None)
        return
    if refused["busy"]:
        _while_busy()
    else:
        st.warning(refused["said"], icon=":material/hourglass_top:")


_FREE_AGAIN = "_free_again"       # session state: the run that kept this person from training has just ended


@st.fragment(run_every=3)
def _while_busy() -> None:
    """The one-run-at-a-time refusal, looked at again every few seconds: the run in the way is often another
    lesson's, whose end does not redraw this page, so the refusal stayed, saying that run was still queued. When
    it ends, the page is drawn again, without this poll."""
    refused = st.session_state.get(REFUSED)
    if refused is None:                       # a Train pressed since, in another of the page's fragments
        return
    service = get_service()
    mine = service.active_runs(current_user().id)
    if mine:                                  # said afresh: the run queued when Train was pressed may train now
        st.warning(service.busy_sentence(mine[0]), icon=":material/hourglass_top:")
        _link_to(mine[0], refused["where"])
        return
    st.session_state.pop(REFUSED, None)
    st.session_state[_FREE_AGAIN] = True
    st.rerun()


def run_link(record: RunRecord) -> str:
    """A run's address, relative to the app's pages: a lesson's URL path is its key."""
    return f"{record.lesson}?{RUN_PARAM}={record.id}"


def _link_to(record: RunRecord, here: list[str]) -> None:
    """The run in the way, one click away, when it is another page's: its live panel, with its Stop button."""
    lesson = get_lesson(record.lesson)
    if [record.lesson, record.kind] == here or not lesson.listed or record.info.get("comparison"):
        return
    label = f"Go to that run ({lesson.title})"
    try:                                             # in the app's navigation: the same tab, no reload
        st.page_link(lesson.page, label=label, icon=":material/arrow_forward:", query_params={RUN_PARAM: record.id})
    except StreamlitPageNotFoundError:               # a page run on its own (AppTest): a plain link
        st.markdown(f":material/arrow_forward: [{label}]({run_link(record)})")


def train_button(lesson: str, data: dict, config: dict, label: str, *, key: str, kind: str = "fit",
                 title: str = "", disabled: bool = False) -> None:
    """Train, and the whole page redrawn for the new run (the button may sit in a fragment: the settings beside it
    rerun only their own section, but a new run replaces the results further down)."""
    if st.button(label, type="primary", icon=":material/play_arrow:", key=key, disabled=disabled):
        if start(lesson, kind, data, config, title or label):
            st.rerun()
    say_refused(lesson, kind, data, config)


# ---- the live panel ----------------------------------------------------------------------------------------------
def live(run_id: str, *, chart: bool = True, table: bool = True, say_done: bool = True,
         extra: Callable[[RunView], None] | None = None) -> RunView | None:
    """Show a run. While it is queued or training, a fragment redraws this panel from the run's event log every
    few seconds, without rerunning the page; when it ends, the page reruns once to draw the results."""
    if live_panel.moved_on(run_id) and run_id in st.session_state.get("_replays", {}):
        _replay_state_ended(run_id)             # the browser's replay ended (early, for less motion): so has ours
    found = view_or_say(run_id)
    if found is None:
        return None
    live_panel.rerun_the_page_if_the_run_moved_on(run_id)
    if found.ready_made:
        _replay_controls(found)
        if found.replaying:
            if extra is None and live_panel.mounted():
                state = _replay_state(found.record)
                live_panel.show_replay(found, chart=chart, table=table, at=_replay_position(state),
                                       speed=SPEEDS[state["speed"]])
            else:
                st.fragment(run_every=POLL_SECONDS)(_poll)(run_id, chart, table, extra)
            return found
        _panel(found, chart, table, extra)
    elif found.active:
        if extra is None and live_panel.mounted():
            _drawn_by_the_browser(found, chart, table)
            return found
        if found.status != QUEUED:
            every = TRAINING_POLL_SECONDS
        else:
            every = QUEUED_POLL_SECONDS if (found.position or 0) > 1 else POLL_SECONDS
        st.fragment(run_every=every)(_poll)(run_id, chart, table, extra, found.status)
    elif say_done or not found.finished_ok:
        _panel(found, chart, table, extra)
    return found


def _drawn_by_the_browser(found: RunView, chart: bool, table: bool) -> None:
    """The live panel as the browser polls and draws it (ui/live_panel.py); Stop is decided here."""
    user = current_user()
    may_stop = found.mine or user.instructor

    def stop_pressed():                 # a callback: the run is cancelled before the page is drawn again
        if may_stop:
            get_service().cancel(found.id, by=user.id, instructor=user.instructor)
    live_panel.show(found, chart=chart, table=table, can_stop=may_stop, on_stop=stop_pressed,
                    stopping=get_service().store.cancel_requested(found.id),
                    watching_note=None if may_stop else "Someone else's run: you are watching it.")


def _poll(run_id, chart, table, extra, status=None):
    found = view_or_say(run_id)
    if found is None:
        return
    _panel(found, chart, table, extra)
    if (not found.active and not found.replaying) or (status == QUEUED and found.status != QUEUED):
        st.rerun(scope="app")          # it ended (draw the results), or it started (poll as a training run)


# ---- replaying a ready-made run ----------------------------------------------------------------------------------
@st.cache_resource(max_entries=16, show_spinner=False)
def _events(run_id: str, finished: float | None) -> list[dict]:
    """A finished run's whole event log (it never changes again), shared by every session replaying it."""
    return store_of(run_id).events(run_id).read_new(max_bytes=None)


def _replay_state(record: RunRecord) -> dict:
    """Where this session's replay of a run stands: {"speed", "from" (run seconds), "at" (wall clock)}."""
    replays = st.session_state.setdefault("_replays", {})
    if record.id not in replays:
        default = "as it trained" if (record.seconds or 0) <= 20 else "10×"
        # On a projector a lesson opens on its first step, where a replay can't be seen: it opens on the finished
        # run, so its step count is right from the start (it read "of 6", then "of 7" once the replay had ended).
        # Replay still plays it.
        start = float("inf") if present.is_on() else 0.0
        replays[record.id] = dict(speed=default, at=time.time(), **{"from": start})
    return replays[record.id]


def _replay_state_ended(run_id: str) -> None:
    st.session_state["_replays"][run_id].update(at=time.time(), **{"from": float("inf")})


def _replay_position(state: dict) -> float:
    speed = SPEEDS[state["speed"]]
    return float("inf") if speed == float("inf") else state["from"] + (time.time() - state["at"]) * speed


def _replayed(record: RunRecord) -> tuple[Progress, bool]:
    events = _events(record.id, record.finished)
    state = _replay_state(record)
    position = _replay_position(state)
    return readymade.replay(record, events, position), position < readymade.duration(record, events)


def _set_speed(record: RunRecord, key: str) -> None:
    state = _replay_state(record)
    speed = st.session_state.get(key) or state["speed"]
    state.update(speed=speed, at=time.time(), **{"from": min(_replay_position(state), 1e12)})


def _replay_again(record: RunRecord) -> None:
    _replay_state(record).update(at=time.time(), **{"from": 0.0})


def _replay_controls(found: RunView) -> None:
    record = found.record
    whose = "the class's ready-made run" if record.owner != readymade.OWNER else "the course's ready-made run"
    state = _replay_state(record)
    cols = st.columns([3, 2, 1], vertical_alignment="center")
    cols[0].markdown(f"**This is {whose}**, trained before you came; train your own "
                     "to see yours here instead.")
    key = f"replay-speed-{record.id}"
    st.session_state.setdefault(key, state["speed"])
    cols[1].segmented_control("Replay speed", list(SPEEDS), key=key, required=True, on_change=_set_speed,
                              args=(record, key), label_visibility="collapsed")
    cols[2].button("Replay", icon=":material/replay:", key=f"replay-again-{record.id}", on_click=_replay_again,
                   args=(record,), disabled=found.replaying)


def show_epoch_table(rows: list[dict], where=None) -> None:
    """fastai's epoch table, its cells as the live panel drew them while the run trained (core/live.epoch_cell)."""
    from core import plots
    frame = plots.epoch_table(rows).reset_index()
    show_table(frame, where=where, index=False, formats={c: epoch_cell for c in frame.columns if c != "epoch"})


def _panel(found: RunView, chart: bool, table: bool, extra) -> None:
    _status_line(found)
    rows = found.epoch_table
    if table and rows:
        show_epoch_table(rows)
    progress = found.progress
    if chart and (progress.losses or progress.valid_losses):
        live_panel.show_curves(found)
    if extra is not None:
        extra(found)


def _status_line(found: RunView) -> None:
    user = current_user()
    if found.replaying:
        st.progress(min(1.0, max(0.0, found.progress.fraction)), text=replay_line(
            found.progress, _replay_position(_replay_state(found.record)), found.seconds or 0))
    elif found.status == QUEUED:
        st.info(queued_line(found.position), icon=":material/schedule:")
    elif found.active:
        cols = st.columns([5, 1])
        cols[0].progress(min(1.0, max(0.0, found.progress.fraction)),
                         text=training_line(found.progress, found.seconds))
        if found.mine or user.instructor:
            if get_service().store.cancel_requested(found.id):
                cols[1].button("Stopping…", disabled=True, key=f"stop-{found.id}")
            elif cols[1].button("Stop", key=f"stop-{found.id}", icon=":material/stop_circle:"):
                get_service().cancel(found.id, by=user.id, instructor=user.instructor)
        else:
            cols[1].caption("Someone else's run: you are watching it.")
    elif found.status == DONE:
        st.success(ended_line(found.record, found.info.get("device", ""), found.ready_made),
                   icon=":material/check_circle:")
        if not found.mine and not found.ready_made:
            whose = _whose(found.record.owner_name)
            st.caption(f"{whose[0].upper()}{whose[1:]} run, shared with you: read-only. "
                       "Train your own with the controls above, or use 'Train again with these settings'.")
    elif found.status == CANCELLED:
        st.info(ended_line(found.record), icon=":material/stop_circle:")
    elif found.status == INTERRUPTED:
        st.warning(ended_line(found.record), icon=":material/restart_alt:")
    elif found.status == FAILED:
        st.error(ended_line(found.record), icon=":material/error:")


# ---- the shared sections -----------------------------------------------------------------------------------------
def lr_find_section(lesson: str, data: dict, config: dict, *, key: str, lr_key: str | None = None,
                    code: str = "learn.lr_find()", title: str = "lr_find") -> dict | None:
    """The lr_find button, its live progress, then the plot and the suggested learning rate. Returns the
    finished run's {"lrs", "losses", "valley"}, or None."""
    from core import plots
    cols = st.columns([1, 3])
    if cols[0].button("Run lr_find", icon=":material/search:", key=f"{key}_lr_find"):
        start(lesson, "lr_find", data, config, title)
    show_code(code, where=cols[1])
    say_refused(lesson, "lr_find", data, config)
    run_id = current(lesson, "lr_find", data)
    if not run_id:
        return None
    found = live(run_id, chart=False, table=False, say_done=False)
    if found is None or not found.finished_ok:
        return None
    try:
        result = store_of(run_id).results(run_id)
    except RunError as e:
        st.warning(str(e))
        return None
    chosen = st.session_state.get(lr_key) if lr_key else None
    show_chart(plots.lr_finder(result["lrs"], result["losses"], result.get("valley"), chosen), key=f"{key}_lr_plot")
    if result.get("valley"):
        st.success(f"Suggested learning rate (the valley): **{result['valley']:.1e}**", icon=":material/lightbulb:")
    return result


# Finished runs as their pages use them, shared by every session. Loading one (a U-Net built, its weights read)
# takes a page ~0.6 s of the server, so a ready-made run is loaded while its replay plays, not when it ends.
_LOADED = Kept(12)


def _loader(lesson: str, run_id: str) -> Callable[[], Any]:
    def load():
        from core.lessons import run_loader
        store = store_of(run_id)
        return run_loader(lesson)(store, store.read(run_id))
    return load


CURVES_ONLY = ("This ready-made run comes with its curves and epoch table only, not its model, to keep the app "
               "small. To see its results and use it, train it yourself: the controls above are set to its settings.")


def _curves_only(found: RunView) -> bool:
    """A comparison's run shipped without its model (core/readymade.FULL_RUN_BYTES): its replay ends on nothing."""
    return found.record.owner == readymade.OWNER and not store_of(found.id).has_results(found.id)


def loaded(found: RunView | None) -> Any:
    """The finished run as its lesson's page uses it (its loader's result, shared between sessions), or None with
    the reason shown."""
    if found is None or not found.finished_ok and found.status != CANCELLED:
        return None
    if found.status == CANCELLED and not store_of(found.id).has_results(found.id):
        return None                                      # stopped before it had any: its status line says so
    if _curves_only(found):
        st.info(CURVES_ONLY, icon=":material/info:")
        return None
    key, load = (found.lesson, found.id, found.finished), _loader(found.lesson, found.id)
    if found.replaying:
        _LOADED.ahead(key, load)                         # ready when the replay ends
        return None
    try:
        with st.spinner("Loading the run…") if not _LOADED.holds(key) else contextlib.nullcontext():
            return _LOADED.get(key, load)
    except StudentError as e:
        st.warning(str(e), icon=":material/report:")
        return None


UNTIL_THE_END = "Shown when the training above ends."
UNTIL_THE_REPLAY_ENDS = "Shown when the replay above ends."


def not_yet(found: RunView | None, what: str = "once a model is trained above") -> str:
    """Why a section that needs a trained model is empty: its run is still training (or its ready-made run still
    replaying), or there is none yet."""
    if found is not None and found.replaying and not _curves_only(found):
        return UNTIL_THE_REPLAY_ENDS
    if found is not None and found.active:
        return UNTIL_THE_END
    return f"Shown {what}."


def stopped_early(results: dict) -> None:
    """Above a lesson's results, when its run was stopped before its last epoch (by its owner, an instructor or the
    class's time limit)."""
    if results.get("stopped_early"):
        st.info("Training was stopped before the end: these are the results of the partly trained model.",
                icon=":material/stop_circle:")


def shown(lesson: str, data: dict | None, kind: str = "fit") -> tuple[RunView | None, Any]:
    """The run a lesson page shows below its Train section, and the run loaded (or None): once the student has
    chosen `data`, their run of `kind` (or the link's); before (None), only a run a link names. A link to a run that
    can't be read is said so either way."""
    data_chosen = data is not None
    found = current_view(lesson, kind, data) if data_chosen else link_opened(lesson)
    if data_chosen and st.query_params.get(RUN_PARAM) not in (None, getattr(found, "id", None)):
        link_opened(lesson)
    return found, loaded(found)


def _whose(owner_name: str) -> str:
    """ "Ada's", or "someone else's" for a browser nobody signed in from (its name is "anonymous")."""
    return f"{owner_name}'s" if owner_name and owner_name != "anonymous" else "someone else's"


def run_details(found: RunView, widgets: dict[str, str] | None = None) -> None:
    """What a run is: its seed, settings, data and weights, a link to it, and "Train again with these settings"."""
    record = found.record
    whose = ("the course's ready-made run" if record.owner == readymade.OWNER else
             "the class's ready-made run" if found.ready_made else "your run" if found.mine else
             f"{_whose(record.owner_name)} run, shared with you (read-only)")
    seed = f", seed {record.seed}" if record.seed is not None else ""      # runs from before settings were kept
    with st.expander(f"About this run: {whose}{seed}", icon=":material/info:"):
        name = get_lesson(record.lesson).setting_name
        show_table([{"setting": name(k), "value": v} for k, v in compare.flatten(record.config).items()], index=False)
        data = record.data.get("name") or record.data.get("dataset") or "?"
        st.markdown(f"**Data:** {data} · fingerprint `{record.fingerprint or '-'}`  \n"
                    f"**Started from:** {found.info.get('weights_detail', 'random weights')}  \n"
                    f"**Trained:** {time.strftime('%Y-%m-%d %H:%M', time.localtime(record.created))}, "
                    f"{record.seconds or 0:.1f} s · run `{record.id}`")
        show_code(share_link(record.id), language=None)
        if widgets and st.button("Train again with these settings", key=f"again-{record.id}",
                                 icon=":material/replay:"):
            st.session_state["_refill"] = controls_of(record, widgets)
            st.rerun()


def share_link(run_id: str) -> str:
    try:
        base = st.context.url.split("?")[0]
    except Exception:
        base = ""
    return f"{base}?{RUN_PARAM}={run_id}"


def controls_of(record: RunRecord, widgets: dict[str, str]) -> dict:
    """The page's controls (widget keys) set as `record` trained: for "Train again" and for a link to it."""
    return {widgets[k]: v for k, v in record.config.items() if k in widgets}


def apply_settings(widgets: dict[str, str], lesson: str | None = None) -> None:
    """Call before drawing the page's widgets: fills them from "Train again with these settings", or, the first
    time a session opens the page, from settings in the URL (`?lr=0.01&epochs=3`), else from the run a link opens
    (`?run=…`, a run of `lesson`), so that the controls and the code above a run shown say what it trained with."""
    ss = st.session_state
    refill = ss.pop("_refill", None)
    if refill:
        for widget, value in refill.items():
            ss[widget] = value
        return
    marker = f"_url_settings:{','.join(sorted(widgets))}"
    if ss.get(marker):
        return
    ss[marker] = True
    given = {name: widget for name, widget in widgets.items() if st.query_params.get(name) is not None}
    for name, widget in given.items():
        raw = st.query_params.get(name)
        try:
            ss[widget] = json.loads(raw)
        except ValueError:
            ss[widget] = raw
    run_id = st.query_params.get(RUN_PARAM)
    if given or not lesson or not run_id:
        return
    try:
        record = store_of(run_id).read(run_id)
    except RunError:
        return                                            # the page says so where it shows the run
    if record.lesson == lesson and record.kind != "lr_find":
        ss.update(controls_of(record, widgets))


# ---- the class's runs, for the instructor's page and My runs --------------------------------------------------------
def store():
    """The run store the training service writes to."""
    return get_service().store


def queue() -> list[dict]:
    return get_service().queue()


def stats() -> dict:
    return get_service().stats()


def stop(run_id: str) -> bool:
    """Stop a run as the person using this session (only their own, or any if they are the instructor)."""
    user = current_user()
    return get_service().cancel(run_id, by=user.id, instructor=user.instructor)
