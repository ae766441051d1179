"""Comparing runs of one lesson in a page: which runs (mine, the ready-made ones, a classmate's link), the course's
comparisons as one-click presets, and the comparison itself (final numbers, overlaid loss curves, epoch tables side
by side, the settings that differ). The numbers and the figure come from core/compare.py."""
from __future__ import annotations

import time

import streamlit as st

from core import compare, readymade
from core.errors import StudentError
from core.lessons import Comparison, Lesson
from core.runs import RunError, RunRecord
from core.service import get_service
from ui import runs as ui_runs
from ui.charts import show_chart
from ui.code import show_code
from ui.identity import current_user, display_name
from ui.tables import show_table

RUNS_PARAM = "runs"


def parse_run_id(text: str) -> str:
    """A run id from what a classmate pasted: the id itself, or a link with ?run=… in it."""
    text = text.strip()
    if "run=" in text:
        text = text.split("run=", 1)[1].split("&", 1)[0]
    return text.strip().strip("/")


def candidates(lesson: Lesson) -> dict[str, RunRecord]:
    """The runs of this lesson a person may pick from a list: their own finished ones, the ready-made ones (and,
    for an instructor, everyone's). Anyone else's run comes in by its link only."""
    from core.classroom import runs_of
    store = get_service().store
    user = current_user()
    found = {}
    shipped = [r for r in readymade.shipped_records() if r.lesson == lesson.key]
    ready = readymade.ready_made(lesson.key, store)
    for record in ([ready[1]] if ready else []) + shipped + runs_of(store, user.id, everyone=user.instructor):
        if record.lesson == lesson.key and record.status in ("done", "cancelled") and record.epoch_table:
            found.setdefault(record.id, record)
    return found


def own_runs(lessons: list[str] | None = None) -> list[RunRecord]:
    """This person's own finished runs (of these lessons), newest first: what they most likely came to compare."""
    from core.classroom import runs_of
    return [r for r in runs_of(get_service().store, current_user().id)
            if r.status in ("done", "cancelled") and r.epoch_table and (lessons is None or r.lesson in lessons)]


def describe(record: RunRecord) -> str:
    """A run as the picker lists it: its title (with the settings a preset's run varies, which its title does not
    name), whose, when, and the end of its id, so two runs of the same settings in the same minute differ."""
    user = current_user()
    who = ("ready-made" if record.owner == readymade.OWNER else "mine" if record.owner == user.id
           else display_name(record.owner, record.owner_name))
    when = time.strftime("%d %b %H:%M", time.localtime(record.created or 0))
    title = record.title or record.kind
    if record.info.get("preset") and isinstance(record.config.get("lr"), (int, float)):
        title += f" — seed {record.seed}, lr {record.config['lr']:g}"
    return f"{title} · {who} · {when} · {record.id[-5:]}"


def describe_other(run_id: str) -> str:
    """A picked run the list does not offer (a classmate's from its link, one of mine still training): described as
    the others are. Never with its status: the picker keeps a choice by its label, and a label that changed as the
    run went from queued to done lost the choice."""
    try:
        record = ui_runs.store_of(run_id).read(run_id)
    except RunError:
        return f"run {run_id[-8:]} (from a link)"
    return describe(record)


def preset_box(lesson: Lesson, preset: Comparison) -> list[str] | None:
    """One of the course's comparisons: show its shipped runs, or train them as this person's runs. Returns the
    runs to compare when a button was pressed."""
    spec = readymade.default_run(lesson)
    shipped = readymade.preset_runs(lesson.key, preset.key)
    with st.container(border=True):
        st.markdown(f"**{preset.title}**")
        if preset.question:
            st.caption(preset.question)
        changes = " vs ".join(", ".join(f"{k}={v}" for k, v in change.items()) for change in preset.changes)
        show_code(changes, language=None, wrap=True)
        buttons = st.container(horizontal=True)       # they wrap in a narrow card instead of cutting their labels
        if len(shipped) == len(preset.changes) and buttons.button(
                "Show the ready-made runs", key=f"cmp-show-{preset.key}", icon=":material/visibility:"):
            return [r.id for r in shipped]
        if spec is not None and buttons.button("Train them", key=f"cmp-train-{preset.key}",
                                               icon=":material/play_arrow:", type="primary"):
            return train_preset(lesson, preset)
    return None


def train_preset(lesson: Lesson, preset: Comparison) -> list[str] | None:
    """Queue the preset's runs as this person's (together they count as one run towards the limit)."""
    spec = readymade.default_run(lesson)
    user = current_user()
    configs = [dict(spec.config, **change) for change in preset.changes]
    titles = [f"{preset.title}: " + ", ".join(f"{k}={v}" for k, v in change.items()) for change in preset.changes]
    try:
        records = get_service().submit_comparison(lesson.key, spec.kind, spec.data, configs, owner=user.id,
                                                          owner_name=user.name, titles=titles)
    except StudentError as e:
        st.warning(str(e), icon=":material/hourglass_top:")
        return None
    return [r.id for r in records]


def comparison(lesson: Lesson, run_ids: list[str]) -> None:
    """The comparison of runs (2 to 4): live while any trains, then final numbers, curves, tables, settings."""
    views = [v for v in (ui_runs.view_or_say(r, replay=False) for r in run_ids) if v is not None]
    views = [v for v in views if v.lesson == lesson.key]
    if len(views) < 2:
        st.info("Pick at least two runs of this lesson to compare.", icon=":material/compare_arrows:")
        return
    if any(v.active for v in views):
        st.markdown("**Training** (the comparison appears when every run has finished):")
        for column, found in zip(st.columns(len(views)), views):
            with column:
                st.caption(compare.label(views.index(found), found.record))
                ui_runs.live(found.id, table=False)
        return
    records = [v.record for v in views]
    table, differ = compare.settings_table(records, lesson.setting_name)
    labels = [compare.label(i, r, differ) for i, r in enumerate(records)]
    luck = differ == ["seed"]                     # the same settings but the seed: no run is better, only luckier
    if lesson.metric is not None:
        values = compare.final_numbers(records, lesson.metric.key, lesson.metric.higher_is_better)
        winner = None if luck else compare.best(values, lesson.metric.higher_is_better)
        for i, (column, value) in enumerate(zip(st.columns(len(records)), values)):
            shown = format(value, lesson.metric.format) if value is not None else "–"
            column.metric(f"{labels[i]} · {lesson.metric.label}", shown, "best" if i == winner else None,
                          delta_color="normal", help=f"the run's final {lesson.metric.label}", border=True)
        if luck:
            st.caption(f"These runs differ only in their seed, so no run is crowned: the gap between their "
                       f"{lesson.metric.label}s is luck (the first weights, the order of the batches). A change of "
                       "setting has to do better than this to count.")
    show_chart(compare.loss_figure([(labels[i], v.progress) for i, v in enumerate(views)]), key="cmp-curves")
    st.caption("Solid: training loss (smoothed), each batch. Dashed: validation loss at the end of each epoch. "
               "A validation loss that rises while the training loss falls is overfitting.")
    st.subheader("Epoch tables")
    for i, (column, found) in enumerate(zip(st.columns(len(views)), views)):
        column.markdown(f"**{labels[i]}**")
        ui_runs.show_epoch_table(found.epoch_table, where=column)
    st.subheader("Settings")
    differ = [lesson.setting_name(k) if k != "data" else k for k in differ]
    show_table(table, marked_rows=differ)
    st.caption("Highlighted: the settings that differ. " + (
        f"Here: {', '.join(differ)}." if differ else "These runs have the same settings (and data)."))
    links = [f"[{labels[i]}]({lesson.key}?run={r.id})" for i, r in enumerate(records)]
    st.markdown("Open a run in its lesson: " + " · ".join(links))


def selection_from_url() -> list[str]:
    raw = st.query_params.get(RUNS_PARAM) or ""
    return [r for r in raw.split(",") if r][:compare.MAX_RUNS]


def add_by_link(lesson: Lesson, text: str) -> str | None:
    """A classmate's run, by its link; a sentence if it is not a run of this lesson."""
    run_id = parse_run_id(text)
    try:
        record = ui_runs.store_of(run_id).read(run_id)
    except RunError as e:
        st.warning(str(e), icon=":material/link_off:")
        return None
    if record.lesson != lesson.key:
        st.warning("That run is from another lesson: pick that lesson above to compare it.", icon=":material/link_off:")
        return None
    return record.id


def keep_selection(run_ids: list[str]) -> None:
    st.query_params[RUNS_PARAM] = ",".join(run_ids)
