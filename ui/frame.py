"""Keep every page inside the app's frame (streamlit_app.py), even when it is the first page a server shows."""
import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from ui.components import component
from ui.tables import CSS as TABLE_CSS

# Every tab watching a run redraws its live panel every few seconds, and the progress bar then slides to its new
# width. Without GPU compositing (a headless browser, software rendering) that slide cost three times the redraw
# itself: a tab polling a bare progress bar each second used 0.080 of a core with it, 0.026 without. The bar steps.
# While a page first draws, a lesson's sections below the screen are not laid out or painted until they are scrolled
# to (content-visibility): switching lessons took 0.63-0.69 s to draw the whole page without it (at worst 1.06-1.12 s),
# 0.58-0.59 s with it (at worst 0.77-0.79 s; benchmarks/bench_startup.py, 2026-12-08). Chrome leaves such a section
# out of its accessibility tree, so once the page is still, ui/assets/page_settle.js marks it settled and every
# section is drawn: a screen reader then finds every heading and the Train button.
# A row of photos is one st.image with a list (one element draws faster than a column per photo); Streamlit puts
# those photos edge to edge, so they get a small gap.
# Streamlit puts columns one under the other on a screen narrower than 640 px; we do it where the page's own column
# is that narrow: a laptop window at half its screen with the sidebar open left 468 px for two to four columns, and
# cut metrics, buttons ("R..") and charts drawn with 5 px text. 608 px is 640 less the page's padding on a phone.
# A drawing with a narrow layout (ui/images.drawing) shows it where its own place is narrower than NARROW_PX.
CAPTION_COLOR = "#605e5c"
NARROW_PX = 560     # a place narrower than this gets a chart's or a drawing's narrow layout, where it has one

APP_CSS = ("<style>[data-testid='stProgress'] * { transition: none !important; animation: none !important; }"
           ":root:not([data-l1-settled]) [class*='st-key-lesson-section-'] { content-visibility: auto; "
           "contain-intrinsic-size: auto 900px; } .st-key-page-settle { display: none; }"
           # Captions: Streamlit draws them in the text's colour at 60% opacity, 3.9:1 on white; this is 6.5:1 (WCAG
           # AA asks 4.5:1 of small text)
           f".stApp [data-testid='stCaptionContainer'] {{ color: {CAPTION_COLOR}; opacity: 1; }}"
           "[data-testid='stImage'] { column-gap: 4px; }"
           "[data-testid='stMainBlockContainer'] { container-type: inline-size; }"
           "@container (max-width: 608px) { .stHorizontalBlock > .stColumn { min-width: calc(100% - 2rem); } }"
           # Markdown's last 1rem is taken back (-1rem: a paragraph's own margin), so a drawing, which has none, gives
           # it: else its bottom overlapped what follows, and a section's paint containment (above) cut it off
           ".l1-pic { margin-bottom: 1rem; }"
           ".l1-drawing { container-type: inline-size; } .l1-drawing > .l1-narrow { display: none; }"
           f"@container (max-width: {NARROW_PX - 0.02}px) {{ .l1-drawing > .l1-wide {{ display: none; }}"
           " .l1-drawing > .l1-narrow { display: block; } }"
           + TABLE_CSS + "</style>")


def app_style() -> None:
    """The app's own CSS, once per run of the frame (streamlit_app.py); fragment reruns keep it."""
    st.html(APP_CSS)


_SETTLE = component("lesson1_page_settle", "page_settle")


def settle_when_still(page: str) -> None:
    """Every section of `page` drawn for good once it is still (ui/assets/page_settle.js). In the sidebar: a
    component takes a place in its column, and the sidebar is drawn before the page, so a new page starts unsettled."""
    _SETTLE(data={"page": page}, key="page-settle")


def require_frame() -> None:
    """Call first thing in every page.

    Until some session has run streamlit_app.py (whose st.navigation switches the mode off), Streamlit treats a
    `pages/` folder beside the entry script as its older multipage mode: a link opened straight onto a lesson of a
    freshly started server runs that page file on its own, without the sidebar, the layout or the navigation.
    Switch the mode off and rerun, and the page comes back through streamlit_app.py, where it belongs.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
    from ui.sections import start_page
    start_page()
