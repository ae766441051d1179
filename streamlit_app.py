"""Lesson 1 of Practical Deep Learning for Coders, one page per lesson. Run: streamlit run streamlit_app.py"""
import logging

import streamlit as st

from core.lessons import list_lessons
from ui.sidebar import render_sidebar

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

st.set_page_config(page_title="Lesson 1 · Practical Deep Learning", page_icon="🐦", layout="wide")

welcome = st.Page("pages/home.py", title="Welcome", icon=":material/home:", default=True)
# Each page keeps the URL Streamlit derives from its file name. Streamlit first announces the files in pages/ by
# those names, so any other url_path makes a link opened directly flash a "Page not found" dialog.
lessons = [st.Page(lesson.page, title=lesson.title, icon=lesson.icon) for lesson in list_lessons()]
page = st.navigation({"Start here": [welcome], "Lessons": lessons})
render_sidebar()
page.run()
