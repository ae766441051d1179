"""A run outlives the tab that started it: a link with the run's id, or a new tab of the same browser, shows it,
live or finished, from the run store (on the "How training works" page, whose network trains as a run)."""
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT
from tests.helpers import open_page, texts, wait_until

PAGE = "pages/how_training_works.py"
LESSON, KIND, DATA = "how_training_works", "titanic", {"dataset": "titanic"}


def tab_of(browser_id: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / PAGE), default_timeout=90)
    at.session_state["browser_id"] = browser_id          # the browser's cookie: the same person
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_new_tab_with_the_run_in_its_url_shows_the_finished_run(service):
    run = service.submit(LESSON, KIND, DATA, dict(n_train=60, epochs=3, n_hidden=8, seed=1),
                         owner="browser-the-tab-that-was-closed")
    assert service.wait(run.id, timeout=120).status == "done"
    at = open_page(PAGE, query={"run": run.id})
    assert "Trained in" in texts(at.success)
    assert at.session_state[f"run:{LESSON}:{KIND}"] == run.id


def test_a_new_tab_of_the_same_browser_finds_its_running_run_with_stop_and_the_one_run_limit(service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    run = service.submit(LESSON, KIND, DATA, dict(n_train=1000, epochs=300, n_hidden=64, seed=1),
                         owner="browser-0123abcd")
    try:
        wait_until(lambda: service.store.read(run.id).status == "running", timeout=60)
        at = tab_of("0123abcd")
        assert at.session_state[f"run:{LESSON}:{KIND}"] == run.id
        assert any(b.label == "Stop" for b in at.button)
        at.button(key="htw_t_train").click().run()
        assert "You already have a run training" in texts(at.warning)
        at.run()                                  # a redraw (a poll, a replay ending) still says why
        assert "You already have a run training" in texts(at.warning)
    finally:
        service.cancel(run.id, by="browser-0123abcd")
        service.wait(run.id, timeout=60)
    at.run()                                      # that run has ended: the refusal no longer holds
    assert "You already have a run" not in texts(at.warning)
    assert "you can train now" in "\n".join(t.value for t in at.toast)


def test_a_run_on_another_page_in_the_way_is_named_with_its_lesson_and_a_link(service, monkeypatch):
    """Train refused on the tabular lesson while this person's network trains on How training works: the sentence
    says which lesson that run is on, and a link opens it there (its live panel, with Stop)."""
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    run = service.submit(LESSON, KIND, DATA, dict(n_train=1000, epochs=300, n_hidden=64, seed=1),
                         owner="browser-4567cdef")
    try:
        wait_until(lambda: service.store.read(run.id).status == "running", timeout=60)
        at = AppTest.from_file(str(ROOT / "pages/tabular.py"), default_timeout=90)
        at.session_state["browser_id"] = "4567cdef"
        at.run()
        at.button(key="tab_train").click().run()
        said = [w.value for w in at.warning if "You already have a run training" in w.value]
        assert said and "(How training works)" in said[0]
        assert f"[Go to that run (How training works)](how_training_works?run={run.id})" in texts(at.markdown)
    finally:
        service.cancel(run.id, by="browser-4567cdef")
        service.wait(run.id, timeout=60)
