"""Presentation mode, for a projector: larger text, no sidebar, the controls the instructor chose hidden, and the
lesson's numbered sections as slides to step through (the course's notebooks are presented as slides).

On with the sidebar's toggle or `?present=1`; off with the bar's Exit (or `?present=0`). Each numbered section is a
container keyed `lesson-section-N` (ui/sections.py): step 0 shows what comes before the first section (the title,
the data to choose), step N shows section N alone. The arrow keys (and a clicker's Page Up/Down) step too.

    streamlit_app.py:   bar = present.begin()  ->  page.run()  ->  present.end(bar)
"""
from __future__ import annotations

import streamlit as st

from ui import code
from ui.identity import class_root

PARAM, STEP_PARAM = "present", "step"

# What an instructor may hide on the projector (the instructor's page chooses), and how to find it on a page.
HIDEABLE = {
    "code": ("Code cells", code.SELECTOR),
    "uploads": ("Upload boxes", '[data-testid="stFileUploader"]'),
    "downloads": ("Download buttons", '[data-testid="stDownloadButton"]'),
    "details": ("Expanders (column choices, run details)", '[data-testid="stExpander"]'),
    "captions": ("Small print (captions)", '[data-testid="stCaptionContainer"]'),
}

TEXT_SCALE = 19 / 16                # the page's text on the projector (html's font-size below); charts' text follows it
BASE_CSS = """
<style>
html { font-size: 19px; }
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"], [data-testid="stExpandSidebarButton"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] { display: none !important; }
[data-testid="stMainBlockContainer"] { padding: 0.6rem 2.2rem 2rem 2.2rem; max-width: 100%; }
[data-testid="stMain"] h1 { font-size: 2.0rem; padding-top: 0.2rem; }
[data-testid="stMain"] h2 { font-size: 1.7rem; }
.st-key-present-bar { background: var(--background-color, white);
                      border-bottom: 1px solid rgba(49, 51, 63, 0.15); padding: 0.3rem 0; }
/* The bar stays at the top of a tall slide: sticky on the page's own child that holds it (sticky on the bar itself
   held only within that child, as tall as the bar, and scrolled away with it). */
[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] > :is(.st-key-present-bar,
  :has(> .st-key-present-bar)) { position: sticky; top: 0; z-index: 999; background: var(--background-color, white); }
.st-key-present-bar p { font-size: 0.95rem; margin: 0; }
/* Streamlit takes a paragraph's bottom margin back from its markdown (-1rem); this one has none, so the step's
   title sat 1rem lower than the buttons beside it */
.st-key-present-bar [data-testid="stMarkdownContainer"] { margin-bottom: 0; }
/* A clicker's key focuses the page's scrolling area, which the browser then framed in grey on the projector */
[data-testid="stMain"]:focus, [data-testid="stAppViewContainer"]:focus, [data-testid="stMain"] section:focus
  { outline: none; }
</style>
"""

# A press while the page is drawing waits for it to finish (at most 5 s), then clicks the button then on the page.
# Pressed at once, a key found no button to click: on a page just opened, the step bar's text was drawn and its
# buttons were not yet (the browser journey pressed in that gap, and failed: twice in CI, and here). A press during a
# rerun would also click a button still bound to the step before.
KEYS_JS = """
<script>
(() => {
  const root = window.parent && window.parent.document ? window.parent : window;
  if (root.__lesson1PresentKeys) return;
  root.__lesson1PresentKeys = true;
  const busy = () => {
    const status = root.document.querySelector('[data-testid="stStatusWidget"]');
    return !!status && /Running|Stop/.test(status.textContent);
  };
  const press = (selector, waited) => {
    const button = root.document.querySelector(selector);
    if ((busy() || !button) && waited < 5000) { setTimeout(() => press(selector, waited + 100), 100); return; }
    if (button && !button.disabled) button.click();
  };
  root.document.addEventListener("keydown", (event) => {
    const tag = (event.target && event.target.tagName || "").toLowerCase();
    if (["input", "textarea", "select"].includes(tag) || event.target.isContentEditable) return;
    const next = ["ArrowRight", "PageDown"].includes(event.key), back = ["ArrowLeft", "PageUp"].includes(event.key);
    if ((!next && !back) || !root.document.querySelector(".st-key-present-bar")) return;
    event.preventDefault();
    press(next ? ".st-key-present-next button" : ".st-key-present-back button", 0);
  });
})();
</script>
"""


def is_on() -> bool:
    """Presentation mode for this session: `?present=1` (kept for the session), or the sidebar's toggle.

    The session's choice is a plain key, `present`, written only here and by the two controls (the toggle, Exit);
    no widget is bound to it. It used to be the toggle's own key, so it was also widget state that the browser
    sends back with every rerun, and a page in presentation mode was seen to leave it on its first step.
    """
    ss = st.session_state
    wanted = st.query_params.get(PARAM)
    if wanted is not None and ss.get("_present_param") != wanted:
        ss["_present_param"] = wanted
        ss["present"] = wanted not in ("0", "false", "off", "")
    return bool(ss.get("present"))


def toggle() -> None:
    """The sidebar's switch, there only while presentation mode is off (the sidebar is hidden while it is on, and
    the step bar's Exit turns it off). Not drawn in one run, Streamlit forgets the widget: it comes back off."""
    if is_on():
        return
    st.toggle("Presentation mode", value=False, key="present_toggle", on_change=_toggled,
              help="For a projector: larger text, no sidebar, one numbered section at a time (← and → step). "
                   "Or open any page with ?present=1.")


def _toggled() -> None:
    if st.session_state.get("present_toggle"):
        _set(True)


def _set(on: bool) -> None:
    st.session_state["present"] = on
    st.session_state["_present_param"] = "1" if on else "0"
    st.query_params[PARAM] = st.session_state["_present_param"]


def _step_key() -> str:
    try:
        page = st.context.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
    except Exception:
        page = ""
    return f"_present_step:{page}"


def step() -> int:
    return int(st.session_state.get(_step_key(), 0))


def _go(key: str, to: int) -> None:
    # The step to go to, not a step on: one press's callback was seen to run twice (two runs, 30 ms apart).
    st.session_state[key] = max(0, to)


def _exit() -> None:
    _set(False)
    st.session_state["present_toggle"] = False          # in case Streamlit still remembers it from before


def _hidden() -> list[str]:
    """The kinds of controls (keys of HIDEABLE) the instructor chose to hide in presentation mode."""
    from core.classroom import presentation_settings
    return [h for h in presentation_settings(class_root()).get("hide", []) if h in HIDEABLE]


def hides(what: str) -> bool:
    """Whether presentation mode is on and hides `what` (a key of HIDEABLE), as the instructor chose."""
    return is_on() and what in _hidden()


def begin():
    """Before the page: its style, and a place for the step bar (filled by `end`, once the page has drawn its
    sections). None when presentation mode is off."""
    if not is_on():
        return None
    hidden = [HIDEABLE[h][1] for h in _hidden()]
    css = BASE_CSS
    if hidden:
        css += "<style>" + ", ".join(f'[data-testid="stMain"] {s}' for s in hidden) + \
               " { display: none !important; }</style>"
    st.html(css)
    return st.container(key="present-bar")


def end(bar) -> None:
    """After the page: the step bar, and the CSS that shows only the current step."""
    if bar is None:
        return
    from ui.sections import titles
    sections = titles()
    key = _step_key()
    current = min(step(), len(sections))
    st.session_state[key] = current
    with bar:
        cols = st.columns([1, 6, 1, 1], vertical_alignment="center")
        cols[0].button("Back", icon=":material/arrow_back:", key="present-back", disabled=current == 0,
                       on_click=_go, args=(key, current - 1), width="stretch")
        if sections:
            where = "Start" if current == 0 else f"{current}. {sections[current - 1]}"
            cols[1].markdown(f"**{where}** · step {current} of {len(sections)}")
        cols[2].button("Next", icon=":material/arrow_forward:", key="present-next",
                       disabled=current >= len(sections), on_click=_go, args=(key, current + 1), width="stretch")
        cols[3].button("Exit", icon=":material/close_fullscreen:", key="present-exit", on_click=_exit,
                       width="stretch", help="Leave presentation mode")
    st.html(_step_css(current, len(sections)) + KEYS_JS + _to_the_top(key, current), unsafe_allow_javascript=True,
            width="content")


def _to_the_top(key: str, current: int) -> str:
    """A new step opens at its top, as a slide does (a tall step scrolled down left the next one scrolled as far).
    The script runs when the step changes (its text does); the first step of a page opened stays where it is."""
    at = f"{key}:{current}".replace('"', "")
    return f"""<script>
(() => {{
  const root = window.parent && window.parent.document ? window.parent : window;
  const before = root.__lesson1PresentStep;
  root.__lesson1PresentStep = "{at}";
  if (before === undefined || before === "{at}") return;
  const doc = root.document;
  for (const el of [doc.scrollingElement, doc.querySelector('[data-testid="stMain"]'),
                    doc.querySelector('[data-testid="stAppViewContainer"]')]) if (el) el.scrollTop = 0;
}})();
</script>"""


def _step_css(current: int, n: int) -> str:
    """Show one step: before the first section (0), or section `current` alone."""
    if n == 0:
        return ""
    main = '[data-testid="stMainBlockContainer"] [data-testid="stVerticalBlock"]'
    others = f'div[class*="st-key-lesson-section-"]:not(.st-key-lesson-section-{current})'
    if current == 0:
        return f"<style>{main} {others} {{ display: none !important; }}</style>"
    # Everything at the page's top level that neither is nor holds the current section (its title stays).
    top = '[data-testid="stMainBlockContainer"] > [data-testid="stVerticalBlock"] > *'
    keep = (f":not(:has(.st-key-lesson-section-{current})):not(.st-key-lesson-section-{current})"
            f":not(:has(.st-key-present-bar)):not(.st-key-present-bar):not(:has(h1))")
    return f"<style>{top}{keep} {{ display: none !important; }} {main} {others} {{ display: none !important; }}</style>"

