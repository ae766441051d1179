"""Compare runs: two to four runs of one lesson side by side (mine, the ready-made ones, a classmate's link), and the
course's own comparisons as one-click presets."""
import streamlit as st

from core.lessons import get_lesson, list_lessons
from ui import compare as ui_compare
from ui.frame import require_frame

require_frame()
ss = st.session_state
PRESETS_PER_ROW = 2

st.title("Compare runs")
st.markdown("Change one thing, train again, and compare: that is how you learn what matters. Pick two to four runs "
            "of a lesson, or one of the course's comparisons below.")

lessons = [lesson for lesson in list_lessons() if lesson.jobs]
keys = [lesson.key for lesson in lessons]
wanted = st.query_params.get("lesson")
if not wanted:                                         # the page's first run: the lesson of their newest run
    newest = ui_compare.own_runs(keys)[:1]
    wanted = newest[0].lesson if newest else None
lesson = get_lesson(st.selectbox("Lesson", keys, index=keys.index(wanted) if wanted in keys else 0,
                                 format_func=lambda k: get_lesson(k).title, key="cmp_lesson"))
st.query_params["lesson"] = lesson.key

if ss.get("_cmp_for") != lesson.key:                  # a new lesson: its own selection
    ss._cmp_for = lesson.key
    ss.cmp_runs = [r for r in ui_compare.selection_from_url() if r]
    if not ss.cmp_runs and ui_compare.RUNS_PARAM not in st.query_params:    # their two newest runs of it, if two
        newest = [r.id for r in ui_compare.own_runs([lesson.key])][:2]
        ss.cmp_runs = newest if len(newest) == 2 else []
    ss.cmp_extra = list(ss.cmp_runs)

if lesson.comparisons:
    st.subheader("The course's comparisons")
    presets = lesson.comparisons
    picked = None
    for row in range(0, len(presets), PRESETS_PER_ROW):          # four to a row left each card too narrow
        for column, preset in zip(st.columns(PRESETS_PER_ROW), presets[row:row + PRESETS_PER_ROW]):
            with column:
                picked = ui_compare.preset_box(lesson, preset) or picked
    if picked:
        ss.cmp_extra = list(dict.fromkeys(ss.cmp_extra + picked))
        ss.cmp_runs = picked
        ui_compare.keep_selection(picked)
        st.rerun()

st.subheader("Pick the runs")
options = ui_compare.candidates(lesson)
with st.expander("Add a classmate's run from its link", icon=":material/link:"):
    link = st.text_input("Link (or run id)", key="cmp_link", placeholder="https://…/tabular?run=…")
    if st.button("Add", key="cmp_add") and link:
        run_id = ui_compare.add_by_link(lesson, link)
        if run_id:
            ss.cmp_extra = list(dict.fromkeys(ss.cmp_extra + [run_id]))
            ss.cmp_runs = list(dict.fromkeys(ss.cmp_runs + [run_id]))[-4:]
ids = list(dict.fromkeys(list(options) + ss.cmp_extra))
ss.cmp_runs = [r for r in ss.cmp_runs if r in ids]


# Made here, once: the picker keeps a choice by its label, and it formats labels outside this script too (AppTest)
labels = {r: ui_compare.describe(options[r]) if r in options else ui_compare.describe_other(r) for r in ids}
chosen = st.multiselect("Runs to compare (two to four)", ids, format_func=lambda r: labels.get(r, str(r)),
                        key="cmp_runs", max_selections=4, placeholder="Choose runs")
ui_compare.keep_selection(chosen)
if not options and not ss.cmp_extra:
    st.info("You have no finished run of this lesson yet: train one in the lesson, or try one of the course's "
            "comparisons above.", icon=":material/info:")
ui_compare.comparison(lesson, chosen)
