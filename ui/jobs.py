"""Starting a training job from a page, and watching it live.

The page's script never trains: it submits a job to the shared runner and a fragment polls the job twice a
second (progress, epoch table, loss curves, Stop). The job id goes into the URL, so a reloaded or reopened
tab finds its job again.
"""
from typing import Callable

import streamlit as st

from core import plots
from core.jobs import CANCELLED, DONE, FAILED, MODEL_FILE, QUEUED, JobLimitError, JobSnapshot, get_runner
from core.serialize import load_model
from ui.session import adopt_owner, session_owner

POLL_SECONDS = 0.5


def _key(kind: str) -> str:
    return f"job:{kind}"


def finished_model(job_id: str, cache_key: str, from_result: Callable, from_files: Callable):
    """What a page needs from a finished training job: `from_result(result)` while the runner still holds the
    result in memory, else `from_files((weights, meta), snapshot)` from the run's saved model, built once per
    session (after a server restart, or once the runner has let old results go). None if there is nothing."""
    snap = get_runner().get(job_id)
    if snap is None or snap.active or snap.status == FAILED:
        return None
    if snap.result is not None:
        return from_result(snap.result)
    cache = st.session_state.setdefault(cache_key, {})
    if job_id not in cache:
        try:
            cache[job_id] = from_files(load_model(get_runner().runs_path / job_id / MODEL_FILE), snap)
        except (OSError, ValueError):
            return None
    return cache[job_id]


def start_job(fn: Callable, *, kind: str, title: str, config: dict | None = None) -> str | None:
    """Queue `fn` as this session's job of this kind; shows why not (one job per session, full queue)."""
    try:
        job_id = get_runner().submit(fn, owner=session_owner(), kind=kind, title=title, config=config)
    except JobLimitError as e:
        st.warning(str(e), icon=":material/hourglass_top:")
        return None
    st.session_state[_key(kind)] = job_id
    st.query_params["job"] = job_id
    return job_id


def current_job_id(kind: str) -> str | None:
    """This session's latest job of `kind`, or the one named in the URL (`?job=`) if it is of that kind."""
    job_id = st.session_state.get(_key(kind))
    if job_id:
        return job_id
    from_url = st.query_params.get("job")
    if from_url:
        snap = get_runner().get(from_url)
        if snap is not None and snap.kind == kind:
            st.session_state[_key(kind)] = from_url
            if snap.active:
                adopt_owner(snap.owner)
            return from_url
    return None


def live_job(job_id: str, *, chart: bool = True, table: bool = True,
             extra: Callable[[JobSnapshot], None] | None = None) -> JobSnapshot | None:
    """Show a job as it runs. While it is queued or running, a fragment re-draws this panel every half second
    without rerunning the rest of the page; when it ends, the whole page reruns once to show the results."""
    snap = get_runner().get(job_id)
    if snap is None:
        st.warning("That training run is no longer known to this server (it may have been restarted).")
        return None
    if snap.active:
        st.fragment(run_every=POLL_SECONDS)(_poll)(job_id, chart, table, extra)
    else:
        _panel(snap, chart, table, extra)
    return snap


def _poll(job_id, chart, table, extra):
    snap = get_runner().get(job_id)
    _panel(snap, chart, table, extra)
    if not snap.active:
        st.rerun(scope="app")


def _panel(snap: JobSnapshot, chart: bool, table: bool, extra) -> None:
    _status_line(snap)
    if table and snap.epoch_table:
        st.dataframe(plots.epoch_table(snap.epoch_table), width="stretch")
    if chart and (snap.losses or snap.valid_losses):
        st.plotly_chart(plots.loss_curves(snap.losses, snap.valid_losses), width="stretch",
                        key=f"loss-{snap.id}", config={"displayModeBar": False})
    if extra is not None:
        extra(snap)


def _status_line(snap: JobSnapshot) -> None:
    if snap.status == QUEUED:
        stats = get_runner().stats()
        st.info(f"Waiting in the queue: position {snap.queue_position} "
                f"({stats['running']} training now on {stats['workers']} worker(s)).", icon=":material/schedule:")
    elif snap.active:
        where = f"epoch {snap.epoch} of {snap.n_epochs}" if snap.n_epochs else snap.stage
        if snap.stage in ("frozen", "unfrozen"):
            where += f" ({snap.stage})"
        if snap.n_batches:
            where += f" · batch {snap.batch} of {snap.n_batches}"
        cols = st.columns([5, 1])
        cols[0].progress(snap.fraction, text=f"Training — {where} · {snap.seconds or 0:.0f} s")
        if snap.stage == "stopping":
            cols[1].button("Stopping…", disabled=True, key=f"stop-{snap.id}")
        elif cols[1].button("Stop", key=f"stop-{snap.id}", icon=":material/stop_circle:", type="secondary"):
            get_runner().cancel(snap.id)
    elif snap.status == DONE:
        st.success(f"Finished in {snap.seconds or 0:.1f} s.", icon=":material/check_circle:")
    elif snap.status == CANCELLED:
        st.info("Stopped. Whatever was trained before you pressed Stop is kept.", icon=":material/stop_circle:")
    elif snap.status == FAILED:
        st.error(f"Training failed: {snap.error}", icon=":material/error:")
