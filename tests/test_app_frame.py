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


def test_welcome_page_explains_the_game_and_links_every_lesson():
    at = run_app()
    assert at.title[0].value.startswith("Lesson 1")
    text = " ".join(m.value for m in at.markdown)
    assert "inputs" in text and "weights" in text and "loss" in text
    for lesson in list_lessons():
        assert f"#### {lesson.title}" in text


def test_sidebar_says_where_training_runs_and_what_is_queued():
    at = run_app()
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "Training runs on" in sidebar and "waiting" in sidebar
    notes = [w.value for w in at.sidebar.warning] + [s.value for s in at.sidebar.success]
    assert any("CPU" in n or "GiB free" in n for n in notes)
    assert "Pretrained weights" in sidebar and "embedded" in sidebar


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
