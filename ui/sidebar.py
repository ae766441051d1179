"""The sidebar every page shares: who you are, where training runs and how busy it is (the training service's
stats), presentation mode, which data and weights are here.

The first page must come up fast, so nothing here imports torch in the script: the training service, the device
and the weights' availability are found by a background thread started after the first page has drawn
(`warm_up`), and the sidebar polls for them until they are known.
"""
from __future__ import annotations

import logging
import threading

import streamlit as st

from ui import job_counts

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0              # the job counts, where the browser cannot poll them itself (ui/job_counts.py)
WARMING_POLL_SECONDS = 2.0      # until the training service has started and the device is known


class _Warmup:
    """What the sidebar shows that needs torch: found once per server process, off the script thread."""

    def __init__(self):
        self.started, self.done = False, threading.Event()
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if self.started:
                return
            self.started = True
        threading.Thread(target=self._run, name="lesson1-warmup", daemon=True).start()

    def _run(self) -> None:
        try:
            from core.service import get_service
            get_service()                     # the workers start now, not when the first student presses Train
            _device_summary()
            _sources()
        except Exception:
            log.exception("warming up the training service failed")
        finally:
            self.done.set()


@st.cache_resource(show_spinner=False)
def _warmup() -> _Warmup:
    return _Warmup()


def warm_up() -> None:
    """Start the service and find the device in the background (streamlit_app.py calls it after the page)."""
    _warmup().start()


def service_started() -> bool:
    return _warmup().done.is_set()


@st.cache_data(ttl=10, show_spinner=False)
def _device_summary() -> tuple[str, str]:
    from core.device import describe_device
    info = describe_device()
    return info.kind, info.summary


@st.cache_data(ttl=60, show_spinner=False)
def _sources() -> tuple[list[tuple[str, str]], list[tuple[str, str]], bool]:
    from core import datasets, download, models
    online = download.is_online() or download.is_online("https://huggingface.co")
    data_rows = []
    for spec in datasets.list_datasets():
        if spec.online is not None and download.cached_dataset(spec.online, spec.name):
            where = "downloaded"
        elif spec.embedded_kind is not None:
            where = "embedded"
        else:
            where = "download when online" if online else "not available offline"
        data_rows.append((spec.title, where))
    weight_rows = [(spec.title.split(" (")[0], models.weights_availability(spec, online))
                   for spec in models.list_backbones()]
    return data_rows, weight_rows, online


def _training_status() -> None:
    if not _warmup().done.is_set():
        st.markdown("**Training runs on**")
        st.info("Starting the training service…", icon=":material/hourglass_top:")
        return
    from core.service import get_service
    kind, summary = _device_summary()
    st.markdown("**Training runs on**")
    if kind == "cuda":          # neither is an alert (st.warning is one): a screen reader would cut in on every page
        st.success(summary, icon=":material/memory:")
    else:
        st.info(summary, icon=":material/memory:")
    counts = job_counts.line(get_service().stats())
    if job_counts.mounted():
        job_counts.show(counts)             # the browser keeps them fresh
    else:
        st.markdown(f"**Jobs:** {counts}")


def _sources_box() -> None:
    if not _warmup().done.is_set():
        return
    data_rows, weight_rows, online = _sources()
    st.caption("**Online**: the course's real datasets and weights can be downloaded." if online else
               "**Offline**: every lesson uses its embedded data and weights.")
    with st.expander("Data and weights on this server", icon=":material/inventory_2:"):
        st.markdown("\n".join(f"- {title}: *{where}*" for title, where in data_rows))
        st.markdown("**Pretrained weights**")
        st.markdown("\n".join(f"- {title}: *{where}*" for title, where in weight_rows))


def _live_part() -> None:
    _training_status()
    _sources_box()


def render_sidebar(page: str):
    """The sidebar of `page`: the account box and the presentation toggle, and a place for its live part (the
    service, the jobs), returned for `render_sidebar_live` to fill once the page has drawn."""
    from ui import login, present
    from ui.frame import settle_when_still
    with st.sidebar:
        login.account_box()
        live = st.container()
        present.toggle()
        settle_when_still(page)
    return live


def render_sidebar_live(place) -> None:
    """After the page, so that the job counts are no older than the page's own live panel: drawn before it, the
    sidebar said "1 waiting" beside a panel showing the run that had just started. The counts change as the queue
    moves: the browser asks for them (ui/job_counts.py); until the service has started, this part polls."""
    warming = not _warmup().done.is_set()
    with place:
        if job_counts.mounted() and not warming:
            _live_part()
        elif job_counts.mounted():
            st.fragment(run_every=WARMING_POLL_SECONDS)(_until_warm)()
        else:                               # no route to ask (AppTest): a fragment polls the counts
            st.fragment(run_every=WARMING_POLL_SECONDS if warming else POLL_SECONDS)(_live_part)()


def _until_warm() -> None:
    """Polls while the service starts; once it has, the page is drawn again without a poll (the counts then poll in
    the browser). Once per session, in the first seconds of a server."""
    if _warmup().done.is_set():
        st.rerun(scope="app")
    _live_part()
