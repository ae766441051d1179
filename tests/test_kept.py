import threading
import time

import pytest

from core.kept import Kept


def test_made_once_then_shared_and_only_the_newest_kept():
    kept, made = Kept(2), []

    def make(key):
        made.append(key)
        return object()
    first = kept.get("a", lambda: make("a"))
    assert kept.get("a", lambda: make("a")) is first and made == ["a"]
    kept.get("b", lambda: make("b"))
    kept.get("a", lambda: make("a"))           # used: "b" is now the oldest
    kept.get("c", lambda: make("c"))
    assert kept.holds("a") and kept.holds("c") and not kept.holds("b")
    assert made == ["a", "b", "c"]


def test_threads_asking_at_once_wait_for_one_make():
    kept, calls, started = Kept(4), [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return [1, 2, 3]
    results = []
    threads = [threading.Thread(target=lambda: results.append(kept.get("run", slow))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(calls) == 1 and len(results) == 8
    assert all(r is results[0] for r in results)


def test_a_failed_make_keeps_nothing_and_the_next_asker_tries_again():
    kept, tries = Kept(4), []

    def flaky():
        tries.append(1)
        if len(tries) == 1:
            raise ValueError("the disk hiccupped")
        return "loaded"
    with pytest.raises(ValueError):
        kept.get("run", flaky)
    assert not kept.holds("run")
    assert kept.get("run", flaky) == "loaded" and len(tries) == 2


def test_a_waiter_whose_maker_failed_makes_it_itself():
    kept, release = Kept(4), threading.Event()
    outcome = {}

    def failing():
        release.wait(10)
        raise RuntimeError("no")

    def first():
        try:
            kept.get("k", failing)
        except RuntimeError as e:
            outcome["first"] = str(e)
    t = threading.Thread(target=first)
    t.start()
    while not kept._making:                  # the first thread is making it
        time.sleep(0.01)
    waiter = threading.Thread(target=lambda: outcome.setdefault("second", kept.get("k", lambda: "mine")))
    waiter.start()
    time.sleep(0.1)
    assert "second" not in outcome           # it waits rather than making it too
    release.set()
    t.join(10)
    waiter.join(10)
    assert outcome == {"first": "no", "second": "mine"}


def test_ahead_makes_it_in_the_background_and_get_does_not_make_it_again():
    kept, calls, release = Kept(4), [], threading.Event()

    def make():
        calls.append(threading.current_thread().name)
        release.wait(10)
        return "ready"
    kept.ahead("run", make)
    kept.ahead("run", make)                  # already being made: not started twice
    assert not kept.holds("run")
    release.set()
    assert kept.get("run", lambda: pytest.fail("made twice")) == "ready"
    assert calls == ["lesson1-ahead"]
    kept.ahead("run", lambda: pytest.fail("made again"))


def test_a_failure_ahead_of_time_is_only_logged_and_get_raises_it_later(caplog):
    kept = Kept(4)

    def broken():
        raise OSError("gone")
    kept.ahead("run", broken)
    deadline = time.time() + 10
    while kept._making and time.time() < deadline:
        time.sleep(0.01)
    assert not kept.holds("run")
    with pytest.raises(OSError, match="gone"):
        kept.get("run", broken)
