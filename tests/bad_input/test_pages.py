"""Every corpus case through every upload path of every page, under AppTest: no exception, a sentence (never an
exception's text or a server path) for what is refused, the file in use for what is accepted, nothing written
outside the run store; a good upload followed by a bad one keeps the good one; and the pages' uploaders are all
covered (a new one fails the discovery test until a path here drives it)."""
from collections import Counter

import pytest

from tests.bad_input.corpus import EITHER, REFUSE, cases, model_case_names, model_cases, upload_name
from tests.bad_input.paths import LESSON_OF_PAGE, PATHS, class_photos_left_out, formula_cells, is_sentence, page, \
    path, raw_text, said, texts, unescaped

def params():
    out = []
    for p in PATHS:
        names = model_case_names() if p.kind == "model" else [c.name for c in cases(p.kind)]
        for name in names:
            out.append(pytest.param(p.name, name, id=f"{p.name}-{name}"))
    return out


@pytest.fixture(scope="module")
def sessions(runs):
    """One AppTest session per upload path, opened where its uploader shows, reused by the path's cases; with what
    the page says before any upload (a notice of its own is no answer to a file)."""
    opened = {}

    def session(p):
        if p.name not in opened:
            at = p.open(runs)
            assert not at.exception, [e.value for e in at.exception]
            opened[p.name] = at, Counter(said(at))
        return opened[p.name]
    return session


def the_case(p, name: str, exports):
    if p.kind == "model":
        return next(c for c in model_cases(*exports[LESSON_OF_PAGE[p.page]]) if c.name == name)
    return next(c for c in cases(p.kind) if c.name == name)


@pytest.mark.parametrize("path_name,case_name", params())
def test_every_case_through_every_upload_path(path_name, case_name, sessions, exports, nothing_written_outside):
    p = path(path_name)
    case = the_case(p, case_name, exports)
    at, standing = sessions(p)
    p.upload(at, case)
    assert not at.exception, [e.value for e in at.exception]
    messages = said(at)
    raw = [(m, raw_text(m)) for m in messages if raw_text(m)]
    assert not raw, f"exception text or a server path shown: {raw}"
    new = list((Counter(messages) - standing).elements())
    if case.expect[p.kind] == EITHER:
        assert p.used(at, case) or any(is_sentence(m) for m in new), f"neither used nor refused: {messages}"
    elif case.expect[p.kind] == REFUSE:
        if p.name == "ic_class_files":                 # a photo that can't be used is listed as left out, with why
            reasons = class_photos_left_out(at, case)
            assert reasons and all(len(r) > 10 for r in reasons), messages
        else:
            assert any(is_sentence(m) for m in new), f"no sentence said: {messages}"
        assert not p.used(at, case), "a refused file was used"
    else:
        assert p.used(at, case), f"an accepted file was not used; said: {messages}"
    assert not formula_cells(at), f"cells a spreadsheet would run, in a table one can download: {formula_cells(at)}"
    for shown in case.shows:                            # a student's text shown as text, never as markup
        assert not as_markup(at, shown), f"{shown!r} reached markdown unescaped: {as_markup(at, shown)[:2]}"


def as_markup(at, text: str) -> list[str]:
    """Markdown and HTML the page shows (text, captions, notices, widget labels, st.html) holding `text` as is."""
    bodies = texts(at.markdown) + texts(at.caption) + texts(at.info) + texts(at.error) + texts(at.warning) + \
        texts(at.success) + texts(at.header) + texts(at.subheader)
    bodies += [w.label for kind in ("selectbox", "number_input", "radio", "multiselect", "text_input", "slider")
               for w in at.get(kind) if getattr(w, "label", None)]
    if any(c in text for c in "<>&"):            # st.html is raw HTML, never markdown: <b> must be &lt;b&gt;
        bodies += [h.proto.body for h in at.get("html")]
    return [b for b in bodies if text in b]


# ---- a good upload, then a bad one: the good one stays ----------------------------------------------------------
KEEPS = [("tab_upload", "good_table", "csv_broken_quotes"), ("col_upload", "good_ratings", "csv_utf16_ratings"),
         ("ic_zip", "good_photo_zip", "zip_bomb_lying"), ("seg_zip", "good_seg_zip", "zip_dotdot")]
KEEPS_MODEL = ["tab_model", "col_model", "ic_model", "seg_model"]


@pytest.mark.parametrize("path_name,good,bad", KEEPS)
def test_a_bad_upload_after_a_good_one_keeps_the_good_one(path_name, good, bad, runs, nothing_written_outside):
    p = path(path_name)
    at = p.open(runs)
    good_case, bad_case = (next(c for c in cases(p.kind) if c.name == n) for n in (good, bad))
    p.upload(at, good_case)
    assert p.used(at, good_case) and not at.exception
    p.upload(at, bad_case)
    assert not at.exception and any(is_sentence(m) for m in said(at))
    assert p.used(at, good_case), "the good upload was lost"
    assert any(upload_name(good_case) in unescaped(t) for t in texts(at.caption) + texts(at.info)), \
        "the page does not say it still uses the good file"


@pytest.mark.parametrize("path_name", KEEPS_MODEL)
def test_a_bad_model_file_after_a_good_one_keeps_the_loaded_model(path_name, runs, exports, nothing_written_outside):
    p = path(path_name)
    at = p.open(runs)
    pairs = {c.name: c for c in model_cases(*exports[LESSON_OF_PAGE[p.page]])}
    p.upload(at, pairs["model_good"])
    assert p.used(at, pairs["model_good"]) and not at.exception
    loaded_key = path_name.replace("_model", "_loaded")             # ui/export.load_back's, in every lesson
    kept = at.session_state[loaded_key]
    for name in ("w_pickle", "m_deep"):
        pair = pairs[name]
        at.file_uploader(key=p.keys[0]).set_value((upload_name(pair), pair.data, "application/octet-stream"))
        at.file_uploader(key=p.keys[1]).set_value(("meta.json", pair.meta, "application/json")).run()   # loads
        assert not at.exception and any(is_sentence(m) for m in said(at))
        assert at.session_state[loaded_key] is kept, f"{name}: the model loaded before was dropped"


# ---- every uploader is driven ----------------------------------------------------------------------------------------
def uploader_keys(at) -> set[str]:
    return {w.key for w in list(at.file_uploader) + list(at.camera_input)}


def test_every_uploader_of_every_page_is_an_upload_path_driven_here(runs):
    """Each page opened in the app's frame, in every state that shows uploaders (its own-data choice, a finished run,
    the camera on): every file_uploader and camera_input key found is one the corpus drives."""
    from core.lessons import list_lessons
    from tests.conftest import ROOT
    pages = sorted({str(p.relative_to(ROOT)) for p in (ROOT / "pages").glob("*.py")} |
                   {lesson.page for lesson in list_lessons()})
    found: set[str] = set()
    for file in pages:
        lesson = LESSON_OF_PAGE.get(file)
        for query in [{}] + ([{"run": runs[lesson]}] if lesson else []):
            at = in_frame(file, query)
            found |= uploader_keys(at)
            for p in PATHS:                                  # the states the paths reach their uploaders in
                if p.page == file and bool(p.lesson_run) == bool(query):
                    p.reach(at)
                    found |= uploader_keys(at)
            assert not at.exception, (file, [e.value for e in at.exception])
    driven = {k for p in PATHS for k in p.keys}
    assert found - driven == set(), f"uploaders no corpus case reaches: {sorted(found - driven)}"
    assert driven - found == set(), f"paths whose uploader was not found: {sorted(driven - found)}"


def in_frame(file: str, query: dict):
    """A page as the app runs it: streamlit_app.py's frame (navigation, sidebar), then the page."""
    from streamlit.testing.v1 import AppTest

    from tests.conftest import ROOT
    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=180)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    try:
        at.switch_page(file).run()
    except ValueError:                     # not in this person's navigation (the instructor's page): on its own
        return page(file, query)
    return at
