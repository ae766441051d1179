"""Every upload path of every page, and how an AppTest session drives one: reach the uploader, put a corpus case in
it, and tell whether the page used the file or said why not.

    for path in PATHS:                      # ic_zip, seg_photo, tab_upload + tab_up_meta...
        at = path.open(runs)                # the page, in the state where the uploader shows
        path.upload(at, case)               # the case's bytes in the uploader, buttons pressed, the script rerun
        path.used(at, case)                 # True when an accepted file is what the page now uses

`runs` maps a lesson to a finished run of it (opened with ?run=), for the uploaders shown only after training.
Model-file paths take a pair of files (corpus `model_cases`); `exports` gives each lesson's own good pair.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from streamlit.testing.v1 import AppTest

from tests.bad_input.corpus import Case, upload_name
from tests.bad_input.made import ROOT
from tests.helpers import tables

TIMEOUT = 180
TABULAR_UPLOAD, COLLAB_UPLOAD = "My own CSV", "My own CSV"


def page(file: str, query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / file), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    return at


def texts(elements) -> list[str]:
    return [str(e.value) for e in elements]


def unescaped(text: str) -> str:
    """Markdown as the student reads it: escaped characters as themselves."""
    return re.sub(r"\\(.)", r"\1", text)


@dataclass(frozen=True)
class UploadPath:
    name: str                                 # the uploader's key (the weights' key for a pair of model files)
    page: str
    kind: str                                 # corpus kind
    keys: tuple[str, ...]                     # every uploader / camera key this path covers
    reach: Callable[[AppTest], None]
    put: Callable[[AppTest, Case], None]
    used: Callable[[AppTest, Case], bool]
    lesson_run: str | None = None             # a lesson whose finished run the page must show (?run=)
    loader: bool = False                      # a model-file loader (being rewritten elsewhere)

    def open(self, runs: dict) -> AppTest:
        query = {"run": runs[self.lesson_run]} if self.lesson_run else None
        at = page(self.page, query)
        self.reach(at)
        return at

    def upload(self, at: AppTest, case: Case) -> AppTest:
        self.put(at, case)
        return at


# ---- putting a file in -----------------------------------------------------------------------------------------
def allowed_name(at: AppTest, key: str, case: Case) -> str:
    """The case's upload name, its suffix changed to one the uploader takes when it takes others only: a browser
    offers only those, and renaming is all an attacker has to do (the content is what the app must judge)."""
    name, allowed = upload_name(case), [t.lstrip(".").lower() for t in at.file_uploader(key=key).allowed_type]
    stem, _, suffix = name.rpartition(".")
    return name if not allowed or suffix.lower() in allowed else f"{stem or name}.{allowed[0]}"


def _file(key: str, mime: str):
    def put(at: AppTest, case: Case) -> None:
        at.file_uploader(key=key).set_value((allowed_name(at, key, case), case.data, mime)).run()
    return put


def _camera(key: str, button: str | None = None, reset: str | None = None):
    def put(at: AppTest, case: Case) -> None:
        if reset:
            at.session_state[reset] = {}
        at.camera_input(key=key).set_value(("shot.jpg", case.data, "image/jpeg")).run()  # a browser sends any bytes
        if button and not at.exception:
            at.button(key=button).click().run()
    return put


def _model(prefix: str):
    """Both files in the lesson's load box (ui/export.load_back), which loads them as soon as both are there."""
    def put(at: AppTest, case: Case) -> None:
        at.session_state[f"{prefix}_loaded"] = None           # so "used" means this pair was loaded
        at.file_uploader(key=f"{prefix}_up_weights").set_value((upload_name(case), case.data,
                                                                "application/octet-stream"))
        at.file_uploader(key=f"{prefix}_up_meta").set_value((case.meta_filename, case.meta, "application/json")).run()
    return put


GOOD_CLASS_PHOTOS = 2


def _class_photos(at: AppTest, case: Case) -> None:
    """The case among two good photos of class 1, two good photos of class 2, then "Use these photos"."""
    from tests.bad_input.corpus import photo
    good = [(f"good{i}.jpg", photo((40 * i + 50, 140, 60)), "image/jpeg") for i in range(2 * GOOD_CLASS_PHOTOS)]
    at.file_uploader(key="ic_class_files_0").set_value([(allowed_name(at, "ic_class_files_0", case), case.data,
                                                         "image/png")] +
                                                       good[:GOOD_CLASS_PHOTOS])
    at.file_uploader(key="ic_class_files_1").set_value(good[GOOD_CLASS_PHOTOS:]).run()
    at.button(key="ic_use_uploads").click().run()


# ---- reaching an uploader ----------------------------------------------------------------------------------------
def _radio(key: str, value):
    def reach(at: AppTest) -> None:
        at.radio(key=key).set_value(value).run()
    return reach


def _own_photos_with_camera(at: AppTest) -> None:
    at.radio(key="ic_source").set_value("own").run()
    at.toggle(key="ic_collect_camera").set_value(True).run()


def _nothing(at: AppTest) -> None:
    pass


# ---- what "used" looks like ----------------------------------------------------------------------------------------
def _session(key: str, field: str | None = None):
    def used(at: AppTest, case: Case) -> bool:
        value = at.session_state[key] if key in at.session_state else None
        if field is not None:
            value = value.get(field) if isinstance(value, dict) else None
        return isinstance(value, str) and value.rpartition(".")[0] == upload_name(case).rpartition(".")[0]
    return used


def _table_used(key: str, header: str):
    """The table is the page's (its name in the session) and the lesson goes on with it (its first section)."""
    def used(at: AppTest, case: Case) -> bool:
        return _session(key)(at, case) and any(header in h for h in texts(at.header))
    return used


def _class_photos_used(at: AppTest, case: Case) -> bool:
    """The case is one of the photos now in use: one more than the good ones, and not in the table left out."""
    own = at.session_state["ic_own"] if "ic_own" in at.session_state else {}
    counted = any(f": {2 * GOOD_CLASS_PHOTOS + 1} images in 2 classes" in i for i in texts(at.info))
    return own.get("name") == "2 classes.zip" and counted and not class_photos_left_out(at, case)


def class_photos_left_out(at: AppTest, case: Case) -> list[str]:
    """The reasons given for the case's file in the "left out" table (class by class)."""
    return [r for d in tables(at) if {"file", "reason"} <= set(d.columns)
            for f, r in zip(d["file"], d["reason"]) if upload_name(case).rpartition(".")[0] in f]


def _shots_grew(at: AppTest, case: Case) -> bool:
    shots = at.session_state["ic_shots"] if "ic_shots" in at.session_state else {}
    return any(shots.values())


def _markdown_has(pattern: str):
    def used(at: AppTest, case: Case) -> bool:
        return any(re.search(pattern, m) for m in texts(at.markdown))
    return used


def _caption_has(text: str):
    def used(at: AppTest, case: Case) -> bool:
        return any(text in c for img in at.get("image") for c in img.captions)
    return used


def _loaded(key: str):
    def used(at: AppTest, case: Case) -> bool:
        return key in at.session_state and at.session_state[key] is not None
    return used


PATHS: list[UploadPath] = [
    UploadPath("tab_upload", "pages/tabular.py", "csv_table", ("tab_upload",), _radio("tab_source", TABULAR_UPLOAD),
               _file("tab_upload", "text/csv"), _table_used("tab_upload_name", "The raw table")),
    UploadPath("col_upload", "pages/collab.py", "csv_ratings", ("col_upload",), _radio("col_source", COLLAB_UPLOAD),
               _file("col_upload", "text/csv"), _table_used("col_upload_name", "The data: who rated what")),
    UploadPath("ic_zip", "pages/image_classification.py", "photo_zip", ("ic_zip",), _radio("ic_source", "own"),
               _file("ic_zip", "application/zip"), _session("ic_own", "name")),
    UploadPath("seg_zip", "pages/segmentation.py", "seg_zip", ("seg_zip",), _radio("seg_source", "own"),
               _file("seg_zip", "application/zip"), _session("seg_zip_ref", "name")),
    UploadPath("ic_class_files", "pages/image_classification.py", "photo",
               tuple(f"ic_class_files_{i}" for i in range(2)), _radio("ic_source", "own"), _class_photos,
               _class_photos_used),
    UploadPath("ic_collect_shot", "pages/image_classification.py", "photo", ("ic_collect_shot",),
               _own_photos_with_camera, _camera("ic_collect_shot", "ic_collect_add", reset="ic_shots"), _shots_grew),
    UploadPath("ic_use_photo", "pages/image_classification.py", "photo", ("ic_use_photo",),
               _radio("ic_use_where", "Upload a photo"), _file("ic_use_photo", "image/png"),
               _markdown_has(r"Prediction: \*\*"), lesson_run="image_classification"),
    UploadPath("ic_use_camera", "pages/image_classification.py", "photo", ("ic_use_camera",),
               _radio("ic_use_where", "Take a photo"), _camera("ic_use_camera"),
               _markdown_has(r"Prediction: \*\*"), lesson_run="image_classification"),
    UploadPath("ic_look_photo", "pages/image_classification.py", "photo", ("ic_look_photo",),
               _radio("ic_look_where", "Upload a photo"), _file("ic_look_photo", "image/png"),
               _caption_has("the photo as the model sees it"), lesson_run="image_classification"),
    UploadPath("ic_look_camera", "pages/image_classification.py", "photo", ("ic_look_camera",),
               _radio("ic_look_where", "Take a photo"), _camera("ic_look_camera"),
               _caption_has("the photo as the model sees it"), lesson_run="image_classification"),
    UploadPath("seg_photo", "pages/segmentation.py", "photo", ("seg_photo",), _radio("seg_where", "Upload a photo"),
               _file("seg_photo", "image/png"), _caption_has("the model's classes over the photo"),
               lesson_run="segmentation"),
    UploadPath("tab_model", "pages/tabular.py", "model", ("tab_up_weights", "tab_up_meta"), _nothing,
               _model("tab"), _loaded("tab_loaded"), loader=True),
    UploadPath("col_model", "pages/collab.py", "model", ("col_up_weights", "col_up_meta"), _nothing,
               _model("col"), _loaded("col_loaded"), loader=True),
    UploadPath("ic_model", "pages/image_classification.py", "model", ("ic_up_weights", "ic_up_meta"), _nothing,
               _model("ic"), _loaded("ic_loaded"), lesson_run="image_classification",
               loader=True),
    UploadPath("seg_model", "pages/segmentation.py", "model", ("seg_up_weights", "seg_up_meta"), _nothing,
               _model("seg"), _loaded("seg_loaded"), lesson_run="segmentation", loader=True),
]
LESSON_OF_PAGE = {"pages/tabular.py": "tabular", "pages/collab.py": "collab",
                  "pages/image_classification.py": "image_classification", "pages/segmentation.py": "segmentation"}


def path(name: str) -> UploadPath:
    return next(p for p in PATHS if p.name == name)


# ---- what a page says ----------------------------------------------------------------------------------------------
RAW = re.compile(r"Traceback|File \"|\b[A-Za-z_]*(Error|Exception)\b|/tmp/|/work/|/home/|/usr/|/var/|site-packages|"
                 r"\bline \d+ column \d+|\(char \d+\)|\[Errno|object at 0x|HeaderTooLarge|InvalidHeader|unpickl|"
                 r"codec can't|<class |\\x[0-9a-f]{2}|\bNone\b|\bdict\b|\btuple\b|\bNoneType\b|__\w+__")


def said(at: AppTest) -> list[str]:
    """Every error and warning the page shows, and the reasons in a table of files left out."""
    out = texts(at.error) + texts(at.warning)
    out += [str(r) for d in tables(at) if "reason" in d.columns for r in d["reason"]]
    return out


def formula_cells(at: AppTest) -> list[str]:
    """Text in the page's tables (cells, column and row names) that a spreadsheet would run as a formula, were the
    table downloaded as CSV from its toolbar."""
    found = []
    for df in tables(at):
        values = [*map(str, df.columns), *(str(v) for v in df.index if isinstance(v, str))]
        values += [v for column in df.columns for v in df[column].tolist() if isinstance(v, str)]
        found += [v for v in values if v[:1] in ("=", "+", "-", "@", "\t", "\r") and not _number(v)]
    return found


def _number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def raw_text(message: str) -> str | None:
    """What in a message is an exception's text or a server path, not a sentence (None: nothing)."""
    found = RAW.search(message)
    return found.group(0) if found else None


def is_sentence(message: str) -> bool:
    """Words for a student: a few of them, starting as a sentence does, and no exception text or server path."""
    text = unescaped(message).strip()
    return len(text) >= 12 and " " in text and (text[0].isalnum() or text[0] in "“'\"") and not raw_text(text)
