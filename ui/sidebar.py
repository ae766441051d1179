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

log = logging.getLogger(__name__)

POLL_SECONDS = 5.0              # the job counts, on every page
WARMING_POLL_SECONDS = 2.0      # until the training service has started and the device is known
# A page whose live panel polls a run (ui/runs.py, every 1-3 s) already makes the student's browser redraw the app at
# each poll, whatever changed (~0.1 s of its CPU each); the sidebar's own poll every 5 s on top made a tab watching
# the bird lesson train cost 0.080 of a core instead of 0.070 (2-core machine). Beside such a panel the counts
# refresh twice a minute, and with the page when the run ends.
BESIDE_A_LIVE_RUN_POLL_SECONDS = 30.0
_PAGE_POLLS = "_sidebar_page_polls_a_run"       # set by this script run's page, read once after it


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
    if kind == "cuda":
        st.success(summary, icon=":material/memory:")
    else:
        st.warning(summary, icon=":material/memory:")
    stats = get_service().stats()
    alive = f" ({stats['alive']} ready)" if stats.get("alive", stats["workers"]) != stats["workers"] else ""
    workers = f"{stats['workers']} worker{'' if stats['workers'] == 1 else 's'}"
    st.markdown(f"**Jobs:** {stats['running']} training · {stats['queued']} waiting · {workers}{alive}")


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


def render_sidebar():
    """The sidebar: the account box and the presentation toggle, and a place for its live part (the service, the
    jobs), returned for `render_sidebar_live` to fill once the page has drawn."""
    from ui import login, present
    st.session_state.pop(_PAGE_POLLS, None)         # a fragment's rerun may have set it since the last full run
    with st.sidebar:
        login.account_box()
        live = st.container()
        present.toggle()
    return live


def page_polls_a_run() -> None:
    """The page has set a live panel polling (ui/runs.py): the sidebar, drawn after it, polls less."""
    st.session_state[_PAGE_POLLS] = True


def poll_seconds(warming: bool, beside_a_live_run: bool) -> float:
    if warming:
        return WARMING_POLL_SECONDS
    return BESIDE_A_LIVE_RUN_POLL_SECONDS if beside_a_live_run else POLL_SECONDS


def render_sidebar_live(place) -> None:
    """After the page, so that the job counts are no older than the page's own live panel: drawn before it, the
    sidebar said "1 waiting" beside a panel showing the run that had just started. Polled: the queue changes, and
    the first time round the service is still starting."""
    every = poll_seconds(not _warmup().done.is_set(), bool(st.session_state.pop(_PAGE_POLLS, False)))
    with place:
        st.fragment(run_every=every)(_live_part)()
