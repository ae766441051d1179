"""Lesson 1 of Practical Deep Learning for Coders, one page per lesson. Run: streamlit run streamlit_app.py

The frame every page runs in: who is signing in (ui/login.py), the navigation (the instructor's page for
instructors only), the sidebar, presentation mode. Nothing here loads the deep-learning libraries: the welcome page
comes up at once, and the training service starts in the background after it (ui/sidebar.py)."""
import logging
import time


def main() -> None:
    started = time.perf_counter()
    # Imported here, not at the top: see the end of this file.
    import streamlit as st

    from core.pagetimes import PAGE_TIMES
    from core.lessons import list_lessons
    from ui import identity, login, present
    from ui.frame import app_style
    from ui.sections import start_page
    from ui.sidebar import render_sidebar, render_sidebar_live, warm_up

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    st.set_page_config(page_title="Lesson 1 · Practical Deep Learning", page_icon="🐦", layout="wide",
                       initial_sidebar_state="collapsed" if present.is_on() else "auto")
    app_style()

    user = identity.current_user()
    welcome = st.Page("pages/home.py", title="Welcome", icon=":material/home:", default=True)
    mine = st.Page("pages/my_runs.py", title="My runs", icon=":material/folder_open:")
    compare = st.Page("pages/compare.py", title="Compare runs", icon=":material/compare_arrows:")
    # Each page keeps the URL Streamlit derives from its file name. Streamlit first announces the files in pages/
    # by those names, so any other url_path makes a link opened directly flash a "Page not found" dialog.
    lessons = [st.Page(lesson.page, title=lesson.title, icon=lesson.icon) for lesson in list_lessons()]
    instructor = st.Page("pages/instructor.py", title="Instructor", icon=":material/school:")
    sections = {"Start here": [welcome, mine, compare], "Lessons": lessons}
    if user.instructor:
        sections["Class"] = [instructor]
    sidebar_live = None
    if login.needs_sign_in():
        # Every page's URL shows the sign-in form, and, once signed in, the page it names (a shared ?run= link too).
        page = st.navigation([st.Page(login.sign_in_page, title="Sign in", icon=":material/login:", url_path=p.url_path,
                                      default=p is welcome) for p in [welcome, mine, compare, *lessons, instructor]],
                             position="hidden")
    else:
        page = st.navigation(sections)
        st.set_page_config(page_title=f"{page.title} · Lesson 1")     # each page its own, for tabs and screen readers
        sidebar_live = render_sidebar(page.title)
    bar = present.begin()
    start_page()
    finished = False
    try:
        page.run()
        finished = True
    finally:
        present.end(bar)
        if sidebar_live is not None:
            render_sidebar_live(sidebar_live)
        identity.write_cookies()
        warm_up()
        if finished:                    # not a run that the next click stopped (core/pagetimes.py)
            PAGE_TIMES.record(page.title, time.perf_counter() - started)


# Three ways this file is loaded:
# - `streamlit run streamlit_app.py` first imports it as the module `streamlit_app`, finds `app` (an st.App: the
#   Streamlit server with routes of ours beside its own: ui/live_panel.py's, ui/job_counts.py's and
#   ui/server_stats.py's) and serves it;
# - that server then runs it for every page view as a script named __main__: the app itself;
# - worker processes started with multiprocessing's "spawn" (core/backends.py) import it as their main module,
#   __mp_main__. There it must do nothing: a worker has no use for streamlit or ui/ (0.4 s and 33 MB a worker).
# Anything else (AppTest runs it as __main__ too) gets the app without the route: live panels then poll as fragments.
if __name__ == "streamlit_app":
    import streamlit as st

    from ui import job_counts, live_panel, server_stats
    app = st.App(__file__, routes=[*live_panel.routes(), *job_counts.routes(), *server_stats.routes()])
elif __name__ != "__mp_main__":
    main()
