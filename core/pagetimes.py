"""How long this server takes to run a page's script: the part of a student's wait that grows with the class.

After a click the server runs the page's script and sends what it draws; the student's browser then draws it, on
the student's own machine. On a class server the first part is shared by everyone, so it is the one to watch: the
instructor's page shows it, and benchmarks/class_load.py reads it to tell the server's share of a slow page from its
browsers'. Only whole-page runs are counted (a fragment's rerun does not run the frame), and only those that
finished (a run stopped by the next click is not a time). Kept in memory, per server process.
"""
import threading
import time
from collections import deque

WINDOW_S = 300


def percentile(values, q: float) -> float:
    """The nearest-rank percentile `q` (0-100) of `values`; NaN for none."""
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


class PageTimes:
    def __init__(self, keep: int = 5000):
        self._runs: deque = deque(maxlen=keep)        # (when, page, seconds), oldest first
        self._lock = threading.Lock()                   # one script thread per session records at once

    def record(self, page: str, seconds: float, at: float | None = None) -> None:
        with self._lock:
            self._runs.append((time.time() if at is None else at, page, seconds))

    def summary(self, window_s: float = WINDOW_S, now: float | None = None) -> dict:
        """The runs of the last `window_s` seconds: how many, p50 / p95 / max seconds, and the same per page."""
        since = (time.time() if now is None else now) - window_s
        with self._lock:
            recent = [(page, seconds) for at, page, seconds in self._runs if at >= since]

        def spread(times):
            return {"runs": len(times), "p50_s": percentile(times, 50), "p95_s": percentile(times, 95),
                    "max_s": max(times, default=float("nan"))}

        pages = {}
        for page, seconds in recent:
            pages.setdefault(page, []).append(seconds)
        return {"window_s": window_s, **spread([s for _, s in recent]),
                "pages": {page: spread(times) for page, times in sorted(pages.items())}}


PAGE_TIMES = PageTimes()      # this server process's
