"""A small class at once, in real browsers (the CI-sized version of benchmarks/class_load.py): every run finishes,
none fails, queue positions are shown, every idle student's change shows on their page, and the server counted
its own time for the pages. Its figures are printed, never asserted: timings belong to the benchmark."""
import pytest

from benchmarks.class_load import report, run_load


@pytest.mark.browser
def test_three_students_train_while_two_click_around(browser):
    result = run_load(trainers=3, idle=2, lesson="tabular", minutes=8, browser=browser)
    print("\n" + report(result))
    assert (result["done"], result["failed"], result["unfinished"]) == (3, 0, 0), result["errors"]
    assert result["changes_asked"] > 0 and result["changes_shown"] == result["changes_asked"]
    assert len(result["wait_s"]) == len(result["run_s"]) == 3
    assert result["positions"], "no trainer's page said where its run was in the queue"
    assert result["server_page_runs"]["runs"] >= 5 + 3        # each idle student's page and the trainers' (the route)
