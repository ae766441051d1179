"""The corpus itself (small, the same bytes every time, every kind of trouble the issue names), and every case
against the core function that reads its kind: refused with a StudentError's sentence or accepted, never another
exception. Seconds, no page."""
import io
import zlib

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.collab.data import guess_spec as ratings_spec, read_ratings_csv, to_ratings
from core.errors import StudentError
from core.images import check_image, displayable
from core.segmentation.data import items_from_zip
from core.tables import TableError, read_csv_bytes, spreadsheet_safe
from core.tabular.table import check_spec, guess_spec
from core.vision.data import load_zip, problems
from tests.bad_input import corpus
from tests.bad_input.corpus import ACCEPT, KINDS, REFUSE, cases

CORE_KINDS = [k for k in KINDS if k != "model"]


def read(kind: str, data: bytes):
    """What the app makes of an upload of `kind`: a StudentError (refused) or what it will use."""
    if kind == "photo":
        img, reason = check_image(data, "upload")
        if img is None:
            raise StudentError(reason)
        displayable(img)
        return img
    if kind == "photo_zip":
        items = load_zip(data)
        if problems(items):
            raise StudentError(" ".join(problems(items)))
        return items
    if kind == "seg_zip":
        return items_from_zip(data, "upload.zip")
    if kind == "csv_table":
        df = read_csv_bytes(data, "upload.csv")
        check_spec(df, guess_spec(df))
        return df
    if kind == "csv_ratings":
        df = read_ratings_csv(data, "upload.csv")
        return to_ratings(df, ratings_spec(df))[0]
    raise ValueError(kind)


@pytest.mark.parametrize("kind,case", [(k, c) for k in CORE_KINDS for c in cases(k)],
                         ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_case_is_refused_with_a_sentence_or_accepted_as_the_corpus_says(kind, case):
    if case.expect[kind] == REFUSE:
        with pytest.raises(StudentError) as refused:
            read(kind, case.data)
        assert len(str(refused.value)) > 10
    else:
        assert read(kind, case.data) is not None


def test_the_corpus_is_small_deterministic_and_covers_every_kind():
    first = {c.name: c.data for c in corpus._photo_cases() + corpus._photo_zip_cases() + corpus._csv_cases()}
    again = {c.name: c.data for c in corpus._photo_cases() + corpus._photo_zip_cases() + corpus._csv_cases()}
    assert first == again and len(first) == len(cases())                        # the same bytes, names unique
    assert max(len(d) for d in first.values()) < 2 * 2**20                       # small files only
    for kind in CORE_KINDS:
        verdicts = {c.expect[kind] for c in cases(kind)}
        assert verdicts == {ACCEPT, REFUSE}, kind


ISSUE = ["elf_as_jpg", "exe_as_png", "truncated_jpeg", "bomb_png_100k", "bomb_png_flood", "strip_60000x1_png",
         "one_pixel_png", "cmyk_jpeg", "grey16_png", "palette_alpha_png", "empty", "svg_as_png", "zip_dotdot",
         "zip_absolute", "zip_symlink", "zip_bomb_declared", "zip_bomb_lying", "csv_broken_quotes", "csv_utf16",
         "csv_latin1", "csv_no_target", "csv_one_row", "csv_100k_columns", "csv_inf_nan", "csv_formulas"]
MODEL_ISSUE = ["w_pickle", "m_lying_sizes", "m_deep", "m_wrong_types"]


def test_the_issues_list_of_bad_input_is_all_there():
    names = {c.name for c in cases()}
    assert set(ISSUE) <= names, set(ISSUE) - names
    assert set(MODEL_ISSUE) <= set(corpus.model_case_names())


def test_the_bombs_are_real_bombs():
    """The lying zip bomb truly inflates to 1 GiB (its headers say 19 MB), and the pixel flood PNG truly decodes to
    42 megapixels: refusing them is not refusing a harmless file with a big header."""
    import zipfile
    bomb = corpus.case("zip_bomb_lying").data
    info = zipfile.ZipFile(io.BytesIO(bomb)).infolist()[0]
    assert info.file_size == 19 * 2**20 and info.compress_size < 2 * 2**20
    start = 30 + len(info.filename)
    inflate, total = zlib.decompressobj(-15), 0
    stream = bomb[start:start + info.compress_size]
    for i in range(0, len(stream), 2**16):
        chunk = inflate.decompress(stream[i:i + 2**16], 2**24)
        while chunk:
            total += len(chunk)
            chunk = inflate.decompress(inflate.unconsumed_tail, 2**24) if inflate.unconsumed_tail else b""
    assert total == corpus.GiB
    flood = corpus.case("bomb_png_flood").data
    with Image.open(io.BytesIO(flood)) as img:
        assert img.size == (7000, 6000) and len(flood) < 10_000


def test_odd_modes_become_the_picture_they_are():
    grey, _ = check_image(corpus.case("grey16_png").data)
    values = np.asarray(grey)[..., 0]
    assert values.min() == 0 and 180 <= values.max() <= 200 and len(np.unique(values)) > 20  # a ramp, not all white
    cmyk, _ = check_image(corpus.case("cmyk_jpeg").data)
    assert cmyk.mode == "RGB" and np.asarray(cmyk).std() > 10
    palette, _ = check_image(corpus.case("palette_alpha_png").data)
    pixels = np.asarray(palette)
    assert tuple(pixels[0, 0]) == (255, 255, 255) and tuple(pixels[12, 16]) == (40, 160, 60)   # see-through: white
    strip, _ = check_image(corpus.case("strip_60000x1_png").data)
    shown = displayable(strip)
    assert min(shown.size) >= 1 and max(shown.size) <= 768


def test_a_60000_by_1_photo_in_a_segmentation_zip_is_kept_as_a_strip():
    items = items_from_zip(corpus.case("seg_strip_photo").data)
    strip = items.names.index("strip.png")
    assert items.images[strip].size == (480, 1) and items.masks[strip].shape == (1, 480)


def test_a_table_saved_as_utf16_is_told_so_and_a_blank_target_is_called_empty():
    with pytest.raises(TableError, match="UTF-16"):
        read_csv_bytes(corpus.case("csv_utf16").data, "t.csv")
    df = read_csv_bytes(corpus.case("csv_no_target").data, "t.csv")
    with pytest.raises(TableError, match="empty in every row"):
        check_spec(df, guess_spec(df))


def test_cells_a_spreadsheet_would_run_are_shown_with_an_apostrophe():
    df = pd.DataFrame({"=cmd": ["=1+1", "+2+3", "-3", "@SUM(A1)", "plain", None], "n": [-1, 2, 3, 4, 5, 6],
                       "kind": pd.Categorical(["=x", "a", "a", "a", "a", "a"]), "text": list("uvwxyz"),
                       "grade": pd.Categorical(list("ABABAB"))}, index=list("=bcdef"))
    safe = spreadsheet_safe(df)
    assert list(safe.columns) == ["'=cmd", "n", "kind", "text", "grade"] and list(safe.index)[0] == "'="
    assert safe["text"].tolist() == list("uvwxyz") and safe["grade"].dtype == df["grade"].dtype   # nothing to do
    assert safe["'=cmd"].tolist()[:5] == ["'=1+1", "'+2+3", "-3", "'@SUM(A1)", "plain"]    # "-3": a number
    assert safe["n"].tolist() == [-1, 2, 3, 4, 5, 6] and safe["kind"].tolist()[0] == "'=x"
    assert df.iloc[0, 0] == "=1+1"                                               # a copy: the data is untouched
