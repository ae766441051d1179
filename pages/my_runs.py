"""My runs: every run this person trained, in every lesson (an instructor may list everyone's), with a link back to
each and a way to delete them and the uploads only they used."""
import time

import pandas as pd
import streamlit as st

from core.classroom import delete_runs, delete_upload, legacy_runs, runs_of, uploads_of
from core.lessons import LESSONS
from core.runs import RunRecord
from ui import runs as ui_runs
from ui.frame import require_frame
from ui.identity import current_user, display_name
from ui.login import class_auth

require_frame()
ss = st.session_state
store = ui_runs.store()
user = current_user()

st.title("My runs")
everyone = user.instructor and st.toggle("Everyone's runs", key="my_everyone",
                                         help="Instructors see every run on this server; students see only theirs.")
who = "everyone's runs on this server" if everyone else (
    f"the runs of **{user.name}**" if user.signed_in else "the runs trained in this browser")
st.markdown(f"Here are {who}, newest first. Open one to see it in its lesson, or send its link to someone: they "
            "can look at it, not change it.")


def metric_text(record: RunRecord) -> str:
    lesson = LESSONS.get(record.lesson)
    if lesson is None or lesson.metric is None:
        return ""
    value = record.metrics.get(lesson.metric.key)
    return f"{lesson.metric.label} {value:{lesson.metric.format}}" if isinstance(value, (int, float)) else ""


def status_text(record: RunRecord) -> str:
    if record.format < 2:
        return "from an older version"
    return record.status


def row(record: RunRecord) -> dict:
    lesson = LESSONS.get(record.lesson)
    link = ui_runs.run_link(record) if lesson is not None and record.format >= 2 else None
    return {**({"who": display_name(record.owner, record.owner_name)} if everyone else {}),   # first: who, then what
            "lesson": lesson.title if lesson else "(older version)", "run": record.title or record.kind,
            "status": status_text(record), "result": metric_text(record),
            "when": time.strftime("%Y-%m-%d %H:%M", time.localtime(record.created or 0)),
            "took": f"{record.seconds:.0f} s" if record.seconds is not None else "", "open": link}


records = runs_of(store, user.id, everyone=everyone)
# The older version's runs belong to no one now: shown to instructors, and on an install without a class login.
older_visible = user.instructor or not class_auth().login_required
if older_visible and not everyone:
    records += legacy_runs(store)
if not records:
    st.info("No runs yet. Train a model in any lesson and it appears here.", icon=":material/folder_open:")
else:
    table = pd.DataFrame([row(r) for r in records])
    picked = st.dataframe(
        table, hide_index=True, width="stretch", on_select="rerun", selection_mode="multi-row", key="my_table",
        column_config={"open": st.column_config.LinkColumn("open", display_text="open ↗", width=70),
                       "run": st.column_config.TextColumn("run", width="large"),
                       "status": st.column_config.TextColumn("status", help="Runs from an older version of the app "
                                                             "show their numbers, not their results.")})
    rows = picked.selection.rows if picked and picked.selection else []
    chosen = [records[i] for i in rows if i < len(records)]
    st.caption("Select rows (tick the boxes on the left) to delete them.")
    active = [r for r in chosen if r.active]
    if active:
        st.warning("A run still queued or training cannot be deleted: stop it first (in its lesson, or below).",
                   icon=":material/hourglass_top:")
        for record in active:
            if st.button(f"Stop “{record.title}”", key=f"my_stop_{record.id}", icon=":material/stop_circle:"):
                ui_runs.stop(record.id)
                st.rerun()
    if chosen and st.button(f"Delete {len(chosen)} run(s)", key="my_delete", icon=":material/delete:",
                            disabled=len(active) == len(chosen)):
        deleted, refused = delete_runs(store, [r.id for r in chosen], by=user.id, instructor=user.instructor,
                                       legacy=older_visible)
        ss["_my_runs_said"] = f"Deleted {len(deleted)} run(s)" + (
            f"; {len(refused)} could not be deleted." if refused else ".")
        st.rerun()
if ss.get("_my_runs_said"):
    st.success(ss.pop("_my_runs_said"), icon=":material/delete:")

st.subheader("My uploads")
uploads = uploads_of(store, user.id)
if not uploads:
    st.caption("You have not uploaded anything.")
else:
    used = {}
    for record in runs_of(store, user.id):
        if record.data.get("input"):
            used.setdefault(record.data["input"], 0)
            used[record.data["input"]] += 1
    for upload in uploads:
        cols = st.columns([4, 2, 2, 1], vertical_alignment="center")
        cols[0].markdown(f"**{upload['name']}** · {upload['kind']}")
        cols[1].caption(f"{(upload.get('bytes') or 0) / 2**20:.2f} MB")
        n = used.get(upload["input"], 0)
        cols[2].caption(f"used by {n} of your runs" if n else "used by none of your runs")
        if cols[3].button("Delete", key=f"my_upload_{upload['input'][:16]}", icon=":material/delete:",
                          disabled=bool(n), help="Delete the runs that use it first." if n else None):
            delete_upload(store, upload["input"], by=user.id)
            st.rerun()
