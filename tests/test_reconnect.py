"""A job outlives the tab that started it: a new session with the job id in the URL shows it, live or finished."""
import threading

from core.basics import titanic
from core.jobs import get_runner
from tests.helpers import open_page

KIND = "basics_titanic"


def open_with_job(job_id: str):
    return open_page("pages/how_training_works.py", query={"job": job_id})


def test_a_new_tab_with_the_job_in_its_url_shows_the_finished_run():
    runner = get_runner()
    config = dict(n_train=60, epochs=3, n_hidden=8, seed=1)
    job_id = runner.submit(titanic.make_job(config), owner="the-tab-that-was-closed", kind=KIND,
                           title="Titanic MLP", config=config)
    assert runner.wait(job_id, timeout=120).status == "done"
    at = open_with_job(job_id)
    assert any("Finished in" in s.value for s in at.success)
    assert at.session_state[f"job:{KIND}"] == job_id


def test_a_new_tab_adopts_a_running_job_and_its_one_job_limit():
    runner = get_runner()
    release = threading.Event()
    job_id = runner.submit(lambda ctx: release.wait(30), owner="old-tab", kind=KIND, title="held")
    try:
        at = open_with_job(job_id)
        assert at.session_state["owner"] == "old-tab"           # so this tab can't start a second job meanwhile
        assert any(b.label == "Stop" for b in at.button)
    finally:
        release.set()
        runner.wait(job_id)


def test_an_unknown_or_hostile_job_id_is_ignored():
    for job_id in ("0123456789ab", "../../etc/passwd"):
        at = open_with_job(job_id)
        assert f"job:{KIND}" not in at.session_state
