"""A few of the nastiest corpus cases through a real server's pages in headless Chromium (benchmarks/bad_input.py
runs all of them): each refused with a sentence on the page (no error box, no exception text) or, the odd but good
ones, used; nothing written outside the run store; the server still serving a new visitor afterwards."""
import time

import pytest

from tests.bad_input import made
from tests.bad_input.corpus import case, model_cases
from tests.bad_input.paths import path
from tests.conftest import ROOT, app_server

NASTIEST = {"ic_zip": ["good_photo_zip", "zip_bomb_lying", "zip_dotdot", "zip_symlink"],
            "seg_zip": ["zip_bomb_declared", "seg_mask_bomb"],
            "tab_upload": ["good_table", "csv_100k_columns", "csv_broken_quotes", "csv_utf16"],
            "ic_use_photo": ["bomb_png_flood", "svg_as_png", "strip_60000x1_png", "grey16_png"],
            "col_model": ["w_pickle", "m_deep", "m_lying_sizes", "model_good"]}   # a good one after bad: said too


@pytest.mark.browser
def test_the_nastiest_cases_in_a_real_browser(browser, tmp_path, screenshot_dir, monkeypatch):
    from benchmarks.bad_input import prepared_store, run_cases, still_serving, table, warm_up
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    runs, exports = prepared_store(runs_dir)
    plan = []
    for name, chosen in NASTIEST.items():
        p = path(name)
        pool = {c.name: c for c in model_cases(*exports["collab"])} if p.kind == "model" else None
        plan.append((p, [pool[n] if pool else case(n) for n in chosen]))
    repo_before = made.tree(ROOT)
    with app_server(tmp_path, runs_dir) as url:
        warm_up(browser, url, {k: runs[k] for k in ("image_classification",)})
        rows = run_cases(browser, url, runs, plan, time.time() + 900, screenshot_dir / "bad_input")
        healthy, draws = still_serving(browser, url)
    print(table(rows))
    assert all(r.ok for r in rows), table([r for r in rows if not r.ok])
    assert healthy and draws
    assert made.tree(ROOT) == repo_before
    assert not [p for p in made.escape_targets(runs_dir) if p.exists()]
