"""The instructor's page: students cannot reach it; an instructor sees the queue, stops anyone's run, sets the
class's limits (which core then enforces), pins a ready-made run and chooses what presentation mode hides."""
import pytest

from core import readymade
from core.classroom import ClassLimits, current_limits, presentation_settings
from core.errors import LimitError
from tests.helpers import texts, wait_until
from tests.lesson_for_tests import KEY
from tests.page_users import ALICE, BOB, TEACHER, open_as

PAGE = "pages/instructor.py"


def test_a_student_cannot_reach_the_instructors_page(service):
    app = open_as("streamlit_app.py", ALICE)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        app.switch_page(PAGE)
    at = open_as(PAGE, ALICE)                            # the file itself, run directly, refuses too
    assert "for the class's instructor" in at.warning[0].value
    assert not at.get("form") and not at.dataframe and not at.metric
    assert open_as(PAGE, None).warning                  # an anonymous browser as well


def test_the_instructor_sees_it_in_the_navigation(service):
    app = open_as("streamlit_app.py", TEACHER)
    app.switch_page(PAGE).run()
    assert not app.exception and app.title[0].value == "Instructor"


@pytest.fixture
def two_jobs(service):
    running = service.submit(KEY, "wait", {}, {"seconds": 60}, owner=ALICE.id, owner_name=ALICE.name,
                             title="Alice waits")
    wait_until(lambda: service.store.read(running.id).status == "running")
    queued = service.submit(KEY, "wait", {}, {"seconds": 60}, owner=BOB.id, owner_name=BOB.name, title="Bob waits")
    yield running, queued
    for run in (running, queued):
        service.cancel(run.id, by="cleanup", instructor=True)
        service.wait(run.id, 30)


def test_the_queue_shows_who_trains_what_and_the_instructor_stops_anyones_run(service, two_jobs):
    running, queued = two_jobs
    at = open_as(PAGE, TEACHER)
    cells = [m.value for m in at.markdown]
    first, second = cells.index("Alice"), cells.index("Bob")
    link = "[{} waits](engine_test?run={})".format                               # the run opens from its row
    assert cells[first:first + 4] == ["Alice", "Engine test", link("Alice", running.id), "training"]
    assert cells[second:second + 4] == ["Bob", "Engine test", link("Bob", queued.id), "waiting, #1"]
    assert first < second
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training now"] == "1" and metrics["Waiting"] == "1" and metrics["Workers"] == "1 of 1"
    at.button(key=f"inst_stop_{running.id}").click().run()
    if "_inst_stopped" in at.session_state:       # AppTest does not run the fragment again by itself
        at.run()
    assert "Stopped Alice's run. They will see that you stopped it." in texts(at.toast)   # whose, said
    stopped = service.wait(running.id, 30)
    assert stopped.status == "cancelled"                                # someone else's run, stopped
    assert stopped.error == "Your instructor stopped this run. Nothing was kept: it had no results yet. Train again " \
                            "when you are ready."                         # what Alice reads, not "you pressed Stop"
    assert service.store.read(queued.id).status in ("queued", "running")


def test_two_anonymous_students_are_told_apart_in_the_queue(service):
    runs = [service.submit(KEY, "wait", {}, {"seconds": 60}, owner=f"browser-{who}", owner_name="anonymous",
                           title="waits") for who in ("aaaa1111", "bbbb2222")]
    try:
        cells = [m.value for m in open_as(PAGE, TEACHER).markdown]
        names = [c for c in cells if c.startswith("anonymous ")]
        assert len(names) == 2 and len(set(names)) == 2 and all(len(n) == len("anonymous 3f2a") for n in names)
    finally:
        for run in runs:
            service.cancel(run.id, by="cleanup", instructor=True)
            service.wait(run.id, 30)


def test_limits_set_on_the_page_are_enforced_by_core(service):
    at = open_as(PAGE, TEACHER)
    form_inputs = [n for n in at.number_input]
    by_label = {n.label: n for n in form_inputs}
    by_label["Most epochs per run"].set_value(4)
    by_label["Longest run (minutes)"].set_value(7)
    next(b for b in at.button if b.label == "Save the limits").click().run()
    limits = current_limits(service.store.root)
    assert limits.epochs == 4 and limits.job_seconds == 7 * 60
    with pytest.raises(LimitError, match="at most 4 epochs"):
        service.submit(KEY, "train", {}, {"epochs": 5}, owner=ALICE.id)
    at.button(key="limits_default").click().run()                       # and back, without typing them in
    assert current_limits(service.store.root) == ClassLimits()
    assert {n.label: n.value for n in at.number_input}["Most epochs per run"] == ClassLimits().epochs
    assert not [b for b in at.button if b.key == "limits_default"]       # nothing to undo


def test_pinning_a_run_as_the_lessons_ready_made_run(service, monkeypatch, tmp_path):
    monkeypatch.setenv("LESSON1_READYMADE_DIR", str(tmp_path / "none"))
    run = service.wait(service.submit("tabular", "fit", {"dataset": "adult", "source": "embedded"},
                                      dict(get_default_config(), epochs=1), owner=ALICE.id,
                                      owner_name=ALICE.name, title="Alice's fit").id, 180)
    assert run.status == "done", run.error
    at = open_as(PAGE, TEACHER)
    at.selectbox(key="pin_tabular").set_value(run.id).run()
    at.button(key="pin_btn_tabular").click().run()
    assert readymade.pins(service.store.root) == {"tabular": run.id}
    assert readymade.ready_made("tabular", service.store)[1].id == run.id
    assert "Opens with pinned: Alice's fit." in "\n".join(c.value for c in at.caption)


def get_default_config():
    from core.lessons import get_lesson
    return dict(get_lesson("tabular").default_run.config)


def test_choosing_what_presentation_mode_hides(service):
    at = open_as(PAGE, TEACHER)
    at.checkbox(key="hide_code").check()
    at.checkbox(key="hide_uploads").check()
    next(b for b in at.button if b.label == "Save").click().run()
    assert presentation_settings(service.store.root) == {"hide": ["code", "uploads"]}


def test_the_instructor_sees_workers_warming_up(service, monkeypatch):
    """Workers on a GPU rehearse each lesson before their first student (core/rehearsal.py): the page says so."""
    described = service.backend.describe()
    monkeypatch.setattr(service.backend, "describe", lambda: dict(described, warming=1))
    workers = next(m for m in open_as(PAGE, TEACHER).metric if m.label == "Workers")
    assert workers.value == "1 of 1" and workers.delta == "1 warming up"
    monkeypatch.setattr(service.backend, "describe", lambda: dict(described, warming=0))
    workers = next(m for m in open_as(PAGE, TEACHER).metric if m.label == "Workers")
    assert not workers.delta
