"""The instructor's page: the live queue (who, which lesson, where, how long, how much memory; stop any run), the
workers and the GPU, the class's limits (enforced in core/, whatever a page sends), the ready-made run each lesson
opens with, and what presentation mode hides. Only in an instructor's navigation, and it checks again itself."""
import time

import streamlit as st

from core import readymade
from core.classroom import (ClassLimits, current_limits, gpu_usage, presentation_settings, set_limits,
                            set_presentation_settings)
from core.lessons import LESSONS, list_lessons
from core.pagetimes import PAGE_TIMES
from core.runs import DONE
from ui import runs as ui_runs
from ui.frame import require_frame
from ui.identity import current_user, display_name
from ui.text import plain
from ui.login import class_auth
from ui.present import HIDEABLE

LIMITS_FORM = "_limits_form"     # session state: how many times the limits form was drawn anew

require_frame()
user = current_user()
st.title("Instructor")
if not user.instructor:
    if class_auth().instructor_login:
        st.warning("This page is for the class's instructor: sign in as the instructor (in the sidebar) to use it.",
                   icon=":material/lock:")
    else:
        st.warning("This page is for the class's instructor. To use it, set an instructor password in "
                   "`.streamlit/secrets.toml` (see `.streamlit/secrets.toml.example`) and sign in.",
                   icon=":material/lock:")
    st.stop()

store = ui_runs.store()


def ago(seconds) -> str:
    if seconds is None:
        return ""
    return f"{seconds:.0f} s" if seconds < 120 else f"{seconds / 60:.1f} min"


def queue_panel() -> None:
    stats = ui_runs.stats()
    gpus = gpu_usage()
    cols = st.columns(4)
    cols[0].metric("Training now", stats["running"], border=True)
    cols[1].metric("Waiting", stats["queued"], border=True)
    warming = stats.get("warming", 0)
    cols[2].metric("Workers", f"{stats.get('alive', stats['workers'])} of {stats['workers']}", border=True,
                   delta=f"{warming} warming up" if warming else None, delta_color="off", delta_arrow="off",
                   help=f"Backend: {stats.get('backend')}. Each worker trains one run at a time. A new worker on a "
                        "GPU warms up first: it trains each lesson's default run once, so that the first students' "
                        "runs do not wait for the GPU's warm-up, and stops as soon as a run arrives.")
    if gpus:
        busy = max(g["busy_percent"] for g in gpus)
        used = sum(g["used_mib"] for g in gpus) / 1024
        total = sum(g["total_mib"] for g in gpus) / 1024
        cols[3].metric("GPU", f"{busy:.0f}% busy", f"{used:.1f} of {total:.0f} GiB used", delta_color="off",
                       delta_arrow="off",
                       border=True, help=", ".join(g["name"] for g in gpus))
    else:
        cols[3].metric("GPU", "none", "training on the CPU", delta_color="off", delta_arrow="off", border=True)
    pages = PAGE_TIMES.summary()
    if pages["runs"]:
        st.caption(f"This server ran {pages['runs']} whole pages in the last {pages['window_s'] / 60:.0f} minutes: "
                   f"half within {pages['p50_s']:.2f} s, 95% within {pages['p95_s']:.2f} s (slowest "
                   f"{pages['max_s']:.2f} s). That is the server's share of a click, the part a class shares; each "
                   "student's browser then draws the page on its own machine.")

    stopped = st.session_state.pop("_inst_stopped", None)
    if stopped:
        st.toast(stopped, icon=":material/stop_circle:")
    rows = ui_runs.queue()
    if not rows:
        st.info("Nobody is training right now.", icon=":material/check_circle:")
        return
    widths = [2, 3, 4, 2, 2, 2, 2]
    header = st.columns(widths)
    for column, name in zip(header, ["**Who**", "**Lesson**", "**Run**", "**Status**", "**Time**", "**Memory**", ""]):
        column.markdown(name)
    for r in rows:
        cols = st.container(key=f"queue-row-{r['id']}").columns(widths, vertical_alignment="center")
        cols[0].markdown(plain(display_name(r["owner"], r["owner_name"])))
        cols[1].markdown(LESSONS[r["lesson"]].title if r["lesson"] in LESSONS else r["lesson"])
        cols[2].markdown(f"[{plain(r['title'])}]({r['lesson']}?run={r['id']})" +        # open it: watch, or Stop there
                         ("" if r["here"] else " *(another server)*"))
        cols[3].markdown("training" if r["status"] == "running" else f"waiting, #{r['position'] or '?'}")
        cols[4].markdown(f"{ago(r['running_s'])} training" if r["running_s"] is not None else
                         f"{ago(r['waiting_s'])} waiting")
        cols[5].markdown(f"{r['memory_mib'] / 1024:.1f} GiB" if r.get("memory_mib") else "–",
                         help="The GPU memory the job planned for its batch size (GPU runs only).")
        if store.cancel_requested(r["id"]):
            cols[6].button("Stopping…", disabled=True, key=f"inst_stopping_{r['id']}")
        elif cols[6].button("Stop", key=f"inst_stop_{r['id']}", icon=":material/stop_circle:"):
            if ui_runs.stop(r["id"]):                  # said after the redraw, short: a toast cuts a long text
                st.session_state["_inst_stopped"] = (f"Stopped {display_name(r['owner'], r['owner_name'])}'s run. "
                                                     "They will see that you stopped it.")
            st.rerun(scope="fragment")


st.subheader("The queue")
st.fragment(run_every=2)(queue_panel)()

st.subheader("Class limits")
st.caption("Enforced by the training service for every run, whatever a page sends: a run asking for more is refused "
           "with a sentence. Changes apply to runs started from now on.")
limits = current_limits(store.root)
max_upload = int(st.get_option("server.maxUploadSize"))
form = st.session_state.get(LIMITS_FORM, 0)         # a new number after "Back to the app's limits": fresh controls
with st.form(f"limits-{form}"):
    cols = st.columns(4)
    image_size = cols[0].number_input("Largest image size (pixels)", 32, 2048, limits.image_size, step=32,
                                      key=f"lim_image_size-{form}")
    epochs = cols[1].number_input("Most epochs per run", 1, 500, limits.epochs, key=f"lim_epochs-{form}")
    upload_mb = cols[2].number_input("Largest upload (MB)", 1, max_upload, min(limits.upload_mb, max_upload),
                                     help=f"The web server itself refuses files over {max_upload} MB "
                                          "(server.maxUploadSize in .streamlit/config.toml).",
                                     key=f"lim_upload_mb-{form}")
    minutes = cols[3].number_input("Longest run (minutes)", 1, 24 * 60, max(1, round(limits.job_seconds / 60)),
                                   key=f"lim_minutes-{form}")
    if st.form_submit_button("Save the limits", type="primary", icon=":material/save:"):
        set_limits(ClassLimits(image_size=int(image_size), epochs=int(epochs), upload_mb=int(upload_mb),
                               job_seconds=int(minutes) * 60), store.root)
        st.toast("Limits saved: they apply to every new run.", icon=":material/check:")


def back_to_the_usual_limits(usual: ClassLimits) -> None:
    """A callback, before the page is drawn again: the form is drawn anew, its controls starting from the limits
    saved. The same controls kept the lowered numbers in the browser, whether their keys were dropped or given the
    new values (the boxes showed them, but a Save still sent the old ones), so the next Save put the old limits back."""
    set_limits(usual, store.root)
    st.session_state[LIMITS_FORM] = st.session_state.get(LIMITS_FORM, 0) + 1
    st.toast("The app's limits are back: they apply to every new run.", icon=":material/check:")


usual = ClassLimits()
if current_limits(store.root) != usual:
    st.button(f"Back to the app's limits ({usual.image_size} pixels, {usual.epochs} epochs, {usual.upload_mb} MB, "
              f"{usual.job_seconds // 60} minutes)", icon=":material/restart_alt:", key="limits_default",
              on_click=back_to_the_usual_limits, args=(usual,))

st.subheader("Ready-made runs")
st.caption("Each lesson opens with a finished run, replayed before the students train their own: the one shipped "
           "with the app, or a run of this class that you pin here.")
pins = readymade.pins(store.root)
recent = [r for r in store.records(store.ids()[-500:]) if r.status == DONE]
for lesson in list_lessons():
    spec = readymade.default_run(lesson)
    if spec is None:
        continue
    shipped = readymade.shipped_run(lesson.key)
    pinned = pins.get(lesson.key)
    finished = [r for r in recent if r.lesson == lesson.key and r.kind == spec.kind]
    with st.container(border=True):
        cols = st.columns([2, 3, 1], vertical_alignment="center")
        cols[0].markdown(f"**{lesson.title}**")
        now = ("pinned: " + next((r.title for r in finished if r.id == pinned), pinned)) if pinned else \
            ("the shipped run" if shipped else "none yet (no shipped run)")
        cols[0].caption(f"Opens with {now}.")
        labels = {r.id: f"{display_name(r.owner, r.owner_name)} · {r.title} · "
                        f"{time.strftime('%d %b %H:%M', time.localtime(r.created))}" for r in reversed(finished)}
        choice = cols[1].selectbox("Pin a run", [""] + list(labels), format_func=lambda i, labels=labels: labels.get(i, "—"),
                                   key=f"pin_{lesson.key}", label_visibility="collapsed",
                                   placeholder="Pick a finished run of this lesson")
        if cols[2].button("Pin", key=f"pin_btn_{lesson.key}", disabled=not choice, icon=":material/push_pin:"):
            readymade.pin(store, lesson.key, choice)
            st.rerun()
        if pinned and cols[2].button("Unpin", key=f"unpin_{lesson.key}"):
            readymade.pin(store, lesson.key, None)
            st.rerun()

st.subheader("Presentation mode")
st.caption("For the projector: open any page with `?present=1` (or the sidebar's switch). Each lesson's numbered "
           "sections become steps (← and → go back and forth). Hide here what the class need not see.")
hidden = presentation_settings(store.root)["hide"]
with st.form("presentation"):
    chosen = [name for name, (label, _) in HIDEABLE.items()
              if st.checkbox(label, value=name in hidden, key=f"hide_{name}")]
    if st.form_submit_button("Save", icon=":material/save:"):
        set_presentation_settings({"hide": chosen}, store.root)
        st.toast("Saved: presentation mode hides these on every page.", icon=":material/check:")
