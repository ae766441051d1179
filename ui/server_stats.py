"""The server's own figures as JSON, beside Streamlit's routes (streamlit_app.py mounts `routes()`):
GET /lesson1-api/page-runs[?minutes=5] → how long this server took to run whole pages lately (core/pagetimes.py).
Counts and seconds only: nobody's name, page contents or runs."""
import math

from core.pagetimes import PAGE_TIMES, WINDOW_S

PATH = "/lesson1-api/page-runs"


def routes() -> list:
    from starlette.routing import Route

    from ui.live_panel import under_base_path
    return [Route(under_base_path(PATH), _answer, methods=["GET"])]


def _answer(request):
    from starlette.responses import JSONResponse
    try:
        minutes = float(request.query_params.get("minutes", WINDOW_S / 60))
    except ValueError:
        minutes = math.nan
    if not 0 < minutes <= 24 * 60:
        return JSONResponse({"error": "minutes: a number from 0 to 1440"}, status_code=400)
    summary = PAGE_TIMES.summary(minutes * 60)
    clean = lambda d: {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}
    return JSONResponse({**clean(summary), "pages": {p: clean(s) for p, s in summary["pages"].items()}},
                        headers={"Cache-Control": "no-store"})
