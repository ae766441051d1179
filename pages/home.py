"""Welcome: what lesson 1 is, the whole game in one picture, and a card per lesson."""
import re
from functools import partial

import streamlit as st

from core.basics.figures import loop_svg
from core.lessons import list_lessons
from ui import images as pictures
from ui.frame import require_frame

LOOP_HEIGHT = 280      # px: the loop across the page, its numbers ~12 px

require_frame()

st.title("Lesson 1: play the whole game")
st.markdown(
    "This app re-creates lesson 1 of fast.ai's **Practical Deep Learning for Coders**. "
    "The course starts by *doing*: you train a real model in the first hour, and only later look inside. "
    "Here you do the same in a browser, without writing code. Every lesson trains a real model, live, "
    "and shows you what is happening while it learns.")

st.subheader("The whole game in one picture")
st.markdown(
    "Arthur Samuel described machine learning in 1962 like this: **inputs** and **weights** go into a "
    "**model**, which gives **results**; a **loss** measures how good they are; and the weights are "
    "**updated** to make the loss a little better. Repeat, and the model learns. "
    "Every lesson below is this loop. What changes is the data (photos, tables, ratings) and the model.")
loop = partial(loop_svg, active=("model", "loss", "update"), numbers={
    "inputs": "photos, rows…", "weights": "what we learn", "model": "×, +, ReLU",
    "results": "predictions", "loss": "how wrong?", "update": "nudge weights"})
pictures.drawing(loop(max_height=LOOP_HEIGHT), narrow=loop(tall=True))

st.subheader("The lessons")
lessons = list_lessons()
for row in range(0, len(lessons), 3):
    for column, lesson in zip(st.columns(3), lessons[row:row + 3]):
        with column.container(border=True, height="stretch"):        # a row's cards as tall as each other
            st.markdown(f"#### {lesson.title}")
            st.write(lesson.summary)
            # a learning rate such as 5e-3 keeps its hyphen (a no-break one): on a phone the card broke it across lines
            st.caption("In the course: " + re.sub(r"(\de)-(\d)", "\\1\u2011\\2", lesson.course))
            st.space("stretch")                                          # and their links on one line
            short = lesson.title.split(":")[0]        # a link's label never wraps: the whole title was cut off
            st.page_link(lesson.page, label=f"Open “{short}”", icon=lesson.icon, help=f"Open “{lesson.title}”")

st.divider()
st.caption(
    "Training runs in a shared queue on the server (see the sidebar), so a whole class can use one GPU. "
    "Runs are reproducible: each lesson shows the random seed it uses, and the same seed and settings train the "
    "same model again on the same server (the ready-made runs were trained on another machine: retrained here, "
    "their last digits can differ). With no internet, every lesson uses an "
    "embedded dataset and embedded pretrained weights, and says so on the page.")
