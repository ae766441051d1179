"""The sidebar's job counts ("2 training · 5 waiting · 1 worker"), kept fresh by the student's browser: a small
component asks a route for them every few seconds and changes its line of text, and asks at once when a live panel
on the page sees its run start or end (a window event), so the two never disagree for a whole poll.

Why not a fragment rerunning every 5 s, as before: each rerun cost the browser ~65 ms of Streamlit's frontend
handling a script run, whatever changed, so a tab left open on a lesson used 0.036 of a core doing nothing (3 tabs:
0.10 of a core; blank tabs: 0.001); a class's idle tabs competed with the server on the same machines. And a
student's page reran whole when their run started, only to redraw these counts. A `fetch` of a few bytes costs
next to nothing.

Counts only, as ui/server_stats.py: nobody's name or runs. Still, only a page this server drew may ask (the
token is signed with the class's secret, as the live panel's). Where the route is not mounted (AppTest),
`mounted()` is False and the sidebar polls with a fragment as before (ui/sidebar.py).
"""
from __future__ import annotations

import hmac

from ui.components import component

PATH = "/lesson1-api/jobs"
POLL_MS = 2000
_mounted: dict = {}


def line(stats: dict) -> str:
    """What the sidebar says after "Jobs:", from the training service's stats."""
    alive = f" ({stats['alive']} ready)" if stats.get("alive", stats["workers"]) != stats["workers"] else ""
    workers = f"{stats['workers']} worker{'' if stats['workers'] == 1 else 's'}"
    warming = f", {stats['warming']} warming up" if stats.get("warming") else ""     # core/rehearsal.py
    return f"{stats['running']} training · {stats['queued']} waiting · {workers}{alive}{warming}"


# ---- the server's side -------------------------------------------------------------------------------------------
def routes() -> list:
    """The route the counts poll, for `st.App(..., routes=...)`. Under server.baseUrlPath when one is set."""
    from starlette.routing import Route

    from ui.live_panel import under_base_path
    _mounted["url"] = under_base_path(PATH)
    return [Route(_mounted["url"], _answer, methods=["GET"])]


def mounted() -> bool:
    return "url" in _mounted


def token() -> str:
    from ui.identity import sign
    return sign("jobs")


def _answer(request):
    """GET <PATH>?token=… → {"line": …}; 503 while the training service is still starting. A plain function:
    Starlette runs it in its thread pool, off the event loop."""
    from starlette.responses import JSONResponse
    if not hmac.compare_digest(request.query_params.get("token", ""), token()):
        return JSONResponse({"error": "Reload the page to see the job counts."}, status_code=403)
    from ui.sidebar import service_started
    if not service_started():             # asked before the sidebar drew the counts: never starts the service
        return JSONResponse({"error": "The training service is starting."}, status_code=503)
    from core.service import get_service
    return JSONResponse({"line": line(get_service().stats())}, headers={"Cache-Control": "no-store"})


# ---- the page's side ---------------------------------------------------------------------------------------------
_COUNTS = component("lesson1_job_counts", "job_counts")


def show(first: str) -> None:
    """The counts as they are now (`first`), then as the browser finds them."""
    _COUNTS(data={"url": _mounted["url"], "token": token(), "line": first, "poll_ms": POLL_MS}, key="job-counts")
