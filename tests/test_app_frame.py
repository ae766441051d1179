"""The frame: navigation over the registered lessons, the welcome page, the sidebar."""
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.lessons import list_lessons
from tests.conftest import ROOT
from tests.helpers import open_page

TIMEOUT = 120


def run_app() -> AppTest:
    return open_page("streamlit_app.py", timeout=TIMEOUT)


def test_every_page_of_the_frame_opens():
    at = run_app()
    for page in ("pages/my_runs.py", "pages/compare.py"):
        at.switch_page(page).run()
        assert not at.exception and at.title, page


def test_welcome_page_explains_the_game_and_links_every_lesson():
    at = run_app()
    assert at.title[0].value.startswith("Lesson 1")
    text = " ".join(m.value for m in at.markdown)
    assert "inputs" in text and "weights" in text and "loss" in text
    for lesson in list_lessons():
        assert f"#### {lesson.title}" in text
    courses = " ".join(c.value for c in at.caption)
    assert "fit_one_cycle(5, 5e\u20113, wd=0.1)" in courses and "5e-3" not in courses    # never broken at its hyphen


def test_sidebar_says_where_training_runs_and_what_is_queued():
    from ui.sidebar import _warmup
    at = run_app()
    assert _warmup().done.wait(120)                # found in the background after the first page
    at.run()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Training runs on" in sidebar and "waiting" in sidebar
    notes = [i.value for i in at.sidebar.info] + [s.value for s in at.sidebar.success]
    assert any("CPU" in n or "GiB free" in n for n in notes)
    assert "Pretrained weights" in sidebar and "embedded" in sidebar


def test_the_sidebar_shows_the_training_services_stats(service):
    from ui.sidebar import _warmup
    from tests.lesson_for_tests import KEY
    run = service.submit(KEY, "wait", {}, {"seconds": 30}, owner="someone")
    at = run_app()
    assert _warmup().done.wait(120)
    at.run()
    assert "**Jobs:** 1 training · 0 waiting · 1 worker" in [m.value for m in at.sidebar.markdown] or \
        "**Jobs:** 0 training · 1 waiting · 1 worker" in [m.value for m in at.sidebar.markdown]
    service.cancel(run.id, by="someone")
    service.wait(run.id, 30)


def auto_reruns(monkeypatch) -> list[float]:
    """Every `run_every` the app tells the browser (a fragment polling): the intervals, in order."""
    from streamlit.runtime.forward_msg_queue import ForwardMsgQueue
    seen, enqueue = [], ForwardMsgQueue.enqueue

    def spy(queue, msg):
        if msg.WhichOneof("type") == "auto_rerun":
            seen.append(msg.auto_rerun.interval)
        return enqueue(queue, msg)
    monkeypatch.setattr(ForwardMsgQueue, "enqueue", spy)
    return seen


def test_a_tab_left_open_reruns_nothing_for_the_job_counts(service, shipped, monkeypatch):
    """Where the browser can ask for the job counts (ui/job_counts.py's route, mounted by streamlit_app.py), no
    fragment polls for them: a tab left open on a page costs its browser nothing between clicks. Until the service
    has started the sidebar polls, then draws the page once more without a poll."""
    from ui import job_counts, runs as ui_runs
    from ui.sidebar import POLL_SECONDS, WARMING_POLL_SECONDS, _warmup
    intervals = auto_reruns(monkeypatch)
    at = run_app()
    assert _warmup().done.wait(120)
    at.run()
    assert intervals[-1:] == [POLL_SECONDS]             # AppTest has no route: the sidebar's fragment polls
    monkeypatch.setattr(job_counts, "_mounted", {"url": job_counts.PATH})
    intervals.clear()
    at.run()
    assert intervals == [] and not at.exception         # the welcome page: nothing polls
    assert not any(m.value.startswith("**Jobs:**") for m in at.sidebar.markdown)   # the browser's line instead
    at.switch_page("pages/tabular.py").run()            # opens on its ready-made run, replaying as it trained
    assert not at.exception
    assert intervals == [ui_runs.POLL_SECONDS]          # the replay alone (the live panel's own route is not here)
    intervals.clear()
    speed = next(b for b in at.button_group if b.key.startswith("replay-speed-"))
    speed.set_value("instant").run()                    # the replay ends: nothing polls any more
    assert not at.exception and "5. Results" in [h.value for h in at.header]
    assert intervals == []

    monkeypatch.setattr(_warmup().done, "is_set", lambda: False)   # a server still starting its service
    intervals.clear()
    at.run()
    assert intervals[-1:] == [WARMING_POLL_SECONDS]


def test_the_welcome_page_does_not_import_torch():
    """The first page must come up fast: torch and timm load in the background, after it (ui/sidebar.py)."""
    import subprocess
    import sys
    script = ("import sys, os; sys.path.insert(0, os.getcwd());"
              "import ui.sidebar; ui.sidebar.warm_up = lambda: None;"     # the background warm-up, not run here
              "from streamlit.testing.v1 import AppTest;"
              "at = AppTest.from_file('streamlit_app.py', default_timeout=60); at.run();"
              "assert not at.exception, at.exception; assert at.title[0].value.startswith('Lesson 1');"
              "print('torch' in sys.modules, 'timm' in sys.modules)")
    import os
    env = {k: v for k, v in os.environ.items() if k != "LESSON1_LESSON_MODULES"}   # the tests' lesson uses torch
    out = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["False", "False"]


def test_presentation_mode_steps_through_a_lessons_sections(service, monkeypatch):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.query_params["present"] = "1"
    at.run()
    at.switch_page("pages/tabular.py").run()
    assert not at.exception
    bar = " ".join(m.value for m in at.markdown)
    assert "**Start** · step 0 of 7" in bar              # Results included, empty until a run
    assert at.button(key="present-back").disabled
    at.button(key="present-next").click().run()
    assert "**1. The raw table** · step 1 of 7" in " ".join(m.value for m in at.markdown)
    at.button(key="present-exit").click().run()
    assert not at.session_state["present"] and not [b for b in at.button if b.key == "present-next"]
    assert at.query_params["present"] == "0"


def test_the_sidebars_switch_turns_presentation_mode_on_and_is_gone_until_exit(service):
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page("pages/tabular.py").run()
    assert not [b for b in at.button if b.key == "present-next"]
    at.toggle(key="present_toggle").set_value(True).run()
    assert at.session_state["present"] and at.query_params["present"] == "1"
    assert "step 0 of 7" in " ".join(m.value for m in at.markdown)
    assert not [t for t in at.toggle if t.key == "present_toggle"]      # no widget holds the choice while it is on
    at.button(key="present-next").click().run()
    assert "step 1 of 7" in " ".join(m.value for m in at.markdown)
    at.button(key="present-exit").click().run()
    assert not at.session_state["present"] and at.toggle(key="present_toggle").value is False


@pytest.mark.parametrize("lesson", list_lessons(), ids=lambda lesson: lesson.key)
def test_every_registered_lesson_page_opens(lesson):
    at = run_app()
    at.switch_page(lesson.page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title or at.header, f"{lesson.page} shows no title"


def test_lesson_keys_and_pages_are_unique_and_keys_are_the_page_stems():
    lessons = list_lessons()
    assert len({l.key for l in lessons}) == len({l.page for l in lessons}) == len(lessons)
    for lesson in lessons:                   # the URL of a lesson; see streamlit_app.py for why it is the stem
        assert Path(lesson.page).stem == lesson.key and (ROOT / lesson.page).is_file()

