"""The engine of Lesson 1: data, models, training, interpretation, plots and the job runner.

Nothing in here imports streamlit; the pages in `pages/` are views over it.
"""
