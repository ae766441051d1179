"""Every widget of every lesson page (and of Compare runs), set one at a time to its first, middle and last choice (numbers: their bounds;
lists: none, one, as many as allowed; text: empty, markup, long), on a page opened afresh each time: the page
answers each without an exception. The widgets are found on the page, not listed here, so a widget is tried the
day it is added. The pages open with their shipped ready-made run shown at once (no replay), so the results
sections' widgets (what-if, use it, the confusion matrix's cells...) are tried too.

Buttons, uploads and the camera are left out: buttons start runs (each page's own tests press them) and uploads
have their own corpus of bad files (tests/bad_input)."""
import time

import pytest
import streamlit.testing.v1.element_tree as element_tree
from streamlit.testing.v1 import AppTest

from core.lessons import list_lessons
from core.readymade import shipped_run
from tests.conftest import ROOT

KINDS = ("selectbox", "radio", "select_slider", "slider", "number_input", "checkbox", "toggle", "multiselect",
         "text_input", "text_area")


class Label(str):
    """A choice given by the label the browser shows. A page's `format_func` turns its values into labels and the
    test cannot turn them back, so the browser's side is what it sends: the label (as the frontend does)."""


@pytest.fixture(autouse=True)
def choices_by_label(monkeypatch, service, shipped):
    format_value = element_tree._format_value_for_widget
    monkeypatch.setattr(element_tree, "_format_value_for_widget",
                        lambda func, v: str(v) if isinstance(v, Label) else format_value(func, v))
    monkeypatch.setenv("LESSON1_OFFLINE", "1")            # a download choice says "offline" at once, never waits


def tries(widget) -> list:
    """The values to try, all of them ones the browser could send."""
    kind = type(widget).__name__
    if kind in ("Checkbox", "Toggle"):
        return [not widget.value]
    if kind in ("Selectbox", "Radio", "SelectSlider"):
        options = list(widget.options)
        picked = [options[0], options[len(options) // 2], options[-1]] if options else []
        if kind == "SelectSlider":                       # its labels are its values' text: give the values back
            value_type = type(widget.value)
            return [value_type(float(o)) if value_type in (int, float) else o for o in picked]
        return [Label(o) for o in picked]
    if kind == "Multiselect":
        options, most = list(widget.options), widget.proto.max_selections or None
        return [[], [Label(options[0])], [Label(o) for o in options[:most]]] if options else [[]]
    if kind in ("Slider", "NumberInput"):
        bounds = [getattr(widget, "min", None), getattr(widget, "max", None)]
        if isinstance(widget.value, (list, tuple)):     # a range slider
            return [[bounds[0], bounds[0]], [bounds[1], bounds[1]]] if None not in bounds else []
        return [b for b in bounds if b is not None] or [widget.value * 2 + 1]
    if kind in ("TextInput", "TextArea"):
        longest = widget.proto.max_chars or 500
        return ["", "<b>x</b> **y** ' \" ; $z$", "x" * longest]
    return []


PAGES = {lesson.page: lesson.key for lesson in list_lessons() if lesson.listed} | {"pages/compare.py": None}


def open_page(page: str) -> AppTest:
    """The page, afresh; a lesson's with its ready-made run shown as it ended (its replay over)."""
    at = AppTest.from_file(str(ROOT / page), default_timeout=120)
    record = shipped_run(PAGES[page]) if PAGES[page] else None
    if record is not None:
        at.session_state["_replays"] = {record.id: {"speed": "instant", "at": time.time(), "from": 0.0}}
    at.run()
    return at


def widgets(at: AppTest) -> list[tuple[str, str]]:
    return [(kind, w.key) for kind in KINDS for w in getattr(at, kind) if w.key is not None]


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.split("/")[-1][:-3])
def test_every_widget_at_its_extremes_leaves_the_page_answering(page):
    at = open_page(page)
    assert not at.exception, [e.value for e in at.exception]
    found = widgets(at)
    assert len(found) >= (8 if PAGES[page] else 2), found   # a lesson drew its sections, results included
    failures, tried = [], 0
    for kind, key in found:
        for value in tries(getattr(at, kind)(key=key)):
            again = open_page(page)
            getattr(again, kind)(key=key).set_value(value).run()
            tried += 1
            if again.exception:
                failures.append((kind, key, str(value)[:80], again.exception[0].stack_trace[-3:]))
    assert tried >= len(found)
    assert not failures, failures


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.split("/")[-1][:-3])
def test_every_choice_opens_with_one_of_its_options_chosen(page):
    """A radio whose value is None shows nothing chosen in the browser, though the page goes on with a value (the
    collab lesson's "Train on the ratings of" did, for its "all" option). A selectbox may open empty only to show
    its placeholder ("…or pick a cell")."""
    at = open_page(page)
    unchosen = [(w.key, w.label) for w in at.radio if w.options and w.index is None]
    unchosen += [(w.key, w.label) for w in at.selectbox if w.options and w.index is None and not w.proto.placeholder]
    assert not unchosen
