"""Streamlit pieces shared by the pages (the engine, core/, never imports these)."""
