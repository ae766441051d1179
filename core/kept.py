"""Things made once and shared by every session of a process: the newest few, by key.

    photos = Kept(4)
    items = photos.get(("birds", "is_bird"), lambda: load_embedded(folder))   # made once, then shared
    photos.ahead(key, make)                    # made in the background now, so that a later `get` need not wait

Each key is made by one thread at a time: a second thread asking for it meanwhile waits for the first one's result
instead of making it again (thirty students opening the same run at once load it once). A `make` that raises
keeps nothing; whoever waited tries again, so the error reaches a page that can say it.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable

log = logging.getLogger(__name__)


class Kept:
    def __init__(self, keep: int):
        self.keep = keep
        self._done: OrderedDict[Hashable, Any] = OrderedDict()
        self._making: dict[Hashable, threading.Event] = {}
        self._lock = threading.Lock()

    def holds(self, key: Hashable) -> bool:
        """Whether `get(key, ...)` would answer at once."""
        with self._lock:
            return key in self._done

    def get(self, key: Hashable, make: Callable[[], Any]) -> Any:
        while True:
            with self._lock:
                if key in self._done:
                    self._done.move_to_end(key)
                    return self._done[key]
                making = self._making.get(key)
                mine = making is None
                if mine:
                    making = self._making[key] = threading.Event()
            if mine:
                return self._make(key, make, making)
            making.wait()

    def ahead(self, key: Hashable, make: Callable[[], Any]) -> None:
        """Start making `key` in a background thread, unless it is made or being made. A failure is only logged:
        the `get` that needs it will try again and raise."""
        with self._lock:
            if key in self._done or key in self._making:
                return
            making = self._making[key] = threading.Event()

        def run():
            try:
                self._make(key, make, making)
            except Exception:
                log.info("making %r ahead of time failed", key, exc_info=True)
        threading.Thread(target=run, name="lesson1-ahead", daemon=True).start()

    def _make(self, key: Hashable, make: Callable[[], Any], making: threading.Event) -> Any:
        try:
            value = make()
            with self._lock:
                self._done[key] = value
                while len(self._done) > self.keep:
                    self._done.popitem(last=False)
            return value
        finally:
            with self._lock:
                del self._making[key]
            making.set()
