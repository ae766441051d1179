"""The tabular lesson page: AppTest for every section and the bad-file messages, plus one Chromium journey."""
import json
import pickle
import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core.backends import make_backend
from core.runs import RunStore
from core.serialize import model_to_bytes
from core.service import TrainingService, set_service
from core.tabular.interpret import predict_rows
from core.tabular.jobs import load_run
from tests.conftest import type_number, wait_for_app, wait_for_results
from tests.helpers import code_blocks, matrices, open_page, texts

PAGE = "pages/tabular.py"
UPLOAD = "My own CSV"


@pytest.fixture(autouse=True)
def uses_the_module_service(module_service):
    return module_service


def fresh(query: dict | None = None) -> AppTest:
    return open_page(PAGE, timeout=90, query=query)


def test_the_epochs_offered_stop_at_the_class_limit(module_service):
    from core.classroom import ClassLimits, limits_path, set_limits
    set_limits(ClassLimits(epochs=2), module_service.store.root)
    try:
        at = fresh()
        epochs = at.number_input(key="tab_epochs")
        assert (epochs.max, epochs.value) == (2, 2)
        assert at.button(key="tab_train").label.startswith("Train: fit_one_cycle(2")
        assert "Your class allows at most 2 epochs per run." in texts(at.caption)
    finally:
        limits_path(module_service.store.root).unlink()
    assert fresh().number_input(key="tab_epochs").max == 20


def test_a_link_to_a_run_fills_the_controls_with_its_settings(shipped):
    """The code and the Train button above a run opened from its link say what it trained with (a classmate's
    fit_one_cycle(2) showed under 'Train: fit_one_cycle(3, 1e-2)'); settings written in the link still win."""
    from core import readymade
    slow = next(r for r in readymade.preset_runs("tabular", "lr") if r.config["lr"] == 1e-3)
    at = fresh({"run": slow.id})
    assert at.select_slider(key="tab_lr").value == 1e-3
    assert at.button(key="tab_train").label == "Train: fit_one_cycle(3, 1e-3)"
    assert fresh({"run": slow.id, "lr": "0.01"}).select_slider(key="tab_lr").value == 0.01


def test_default_page_shows_the_lesson_on_the_embedded_table():
    at = fresh()
    assert "embedded UCI Adult" in texts(at.info)                       # which data, said out loud
    assert [h.value for h in at.header][4:] == ["5. Results", "6. What if?", "7. Export and load the model"]
    assert "Shown once a model is trained above." in texts(at.caption)  # numbered already as after training
    assert "Train a model (above)" in texts(at.info)
    assert any("Categorify" in c.value for c in code_blocks(at))
    assert any("tabular_learner" in c.value for c in code_blocks(at))
    assert "28,593 parameters" in texts(at.markdown)                    # embeddings + [200, 100] on Adult
    assert "No continuous column has a gap" in texts(at.info)           # FillMissing explained honestly
    assert at.button(key="tab_train").label.startswith("Train: fit_one_cycle(3")


def test_choosing_a_column_shows_its_vocabulary():
    at = fresh()
    assert "The vocabulary of workclass: 9 values" in texts(at.caption)
    at.selectbox(key="tab_vocab_col").set_value("education").run()
    assert not at.exception
    assert "The vocabulary of education: 17 values" in texts(at.caption)     # 16 in the training rows, and #na#
    assert "The vocabulary of workclass" not in texts(at.caption)


def test_asking_for_the_download_while_offline_says_so(monkeypatch):
    monkeypatch.setenv("LESSON1_OFFLINE", "1")
    at = fresh()
    at.radio(key="tab_source").set_value("fast.ai's ADULT_SAMPLE (download)").run()
    assert not at.exception
    assert "Offline" in texts(at.info) and "embedded UCI Adult" in texts(at.info)
    assert at.header[0].value == "1. The raw table"


@pytest.mark.parametrize("content, words", [
    (b"a,b\n1,\"never closed\n", "could not be read"),
    ("x,y\ncaf\xe9,1\n".encode("latin-1"), "not UTF-8"),
])                                    # the other broken files: tests/test_tabular_table.py
def test_a_broken_upload_gets_a_message_not_a_traceback(content, words):
    at = fresh()
    at.radio(key="tab_source").set_value(UPLOAD).run()
    at.file_uploader(key="tab_upload").set_value(("mine.csv", content, "text/csv")).run()
    assert not at.exception
    assert words in texts(at.error)
    assert not at.header                       # nothing trains on a broken file
    at.radio(key="tab_source").set_value("Adult census, embedded (offline)").run()
    assert at.selectbox(key="tab_target").value == "salary"             # the course's columns are back
    assert at.multiselect(key="tab_conts").value == ["age", "fnlwgt", "education-num"]
    assert not at.error and len(at.header) == 7


def test_an_upload_with_a_single_valued_target_is_refused_then_fixed():
    rows = "\n".join(f"{20 + i % 10},{'a' if i % 3 else 'b'},{i % 7 * 1.5},yes" for i in range(80))
    at = fresh()
    at.radio(key="tab_source").set_value(UPLOAD).run()
    at.file_uploader(key="tab_upload").set_value(("mine.csv", f"age,kind,score,label\n{rows}".encode(), "text/csv"))
    at.run()
    assert "single value" in texts(at.error)
    assert at.multiselect(key="tab_cats").value == ["age", "kind"]      # the guess: few distinct values
    assert at.multiselect(key="tab_conts").value == ["score"]
    at.selectbox(key="tab_target").set_value("kind").run()              # predict something with two values
    assert not at.error and not at.exception
    assert at.header[0].value == "1. The raw table"



def test_a_broken_file_after_a_good_one_keeps_the_good_one():
    rows = "\n".join(f"{20 + i % 10},{'a' if i % 3 else 'b'},{i % 7 * 1.5},{'yes' if i % 2 else 'no'}" for i in range(80))
    at = fresh()
    at.radio(key="tab_source").set_value(UPLOAD).run()
    at.file_uploader(key="tab_upload").set_value(("good.csv", f"age,kind,score,label\n{rows}".encode(), "text/csv"))
    at.run()
    assert "Using your file 'good.csv' (80 rows" in texts(at.info)
    code = texts(code_blocks(at))                      # the fastai code shown is for this file and its columns
    assert "path/'good.csv'" in code and "y_names='label'" in code and "ADULT_SAMPLE" not in code
    at.file_uploader(key="tab_upload").set_value(("bad.csv", b"a,b\n1,\"never closed\n", "text/csv")).run()
    assert not at.exception
    assert "could not be read" in texts(at.error)
    assert "Still using your previous file, 'good.csv'" in texts(at.caption)
    assert "Using your file 'good.csv' (80 rows" in texts(at.info)     # nothing lost: the lesson goes on
    assert at.header[0].value == "1. The raw table"

@pytest.fixture(scope="module")
def trained_page(module_service):
    at = fresh()
    at.number_input(key="tab_seed").set_value(7).run()
    at.button(key="tab_train").click().run()
    run_id = at.session_state["run:tabular:fit"]
    record = module_service.wait(run_id, timeout=180)
    assert record.status == "done", record.error
    at.run()
    assert not at.exception, at.exception
    return at, record


def test_the_finished_epoch_table_reads_as_the_live_one_did(trained_page):
    from core import live
    at, record = trained_page
    drawn = next(h.proto.body for h in at.get("html") if "train_loss" in h.proto.body and "<table" in h.proto.body)
    head = re.findall(r"<th[^>]*>([^<]*)</th>", drawn)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", drawn)
    shown_live = live.table(record.epoch_table)
    assert head == shown_live["columns"] and cells == [c for row in shown_live["rows"] for c in row]


def test_results_what_if_and_export(trained_page, module_service):
    at, record = trained_page
    headers = [h.value for h in at.header]
    assert headers[4:] == ["5. Results", "6. What if?", "7. Export and load the model"]
    assert record.config["seed"] == 7 and at.query_params["run"] == record.id
    labels = [m.label for m in at.metric]
    assert "Gradient-boosted trees (scikit-learn)" in labels
    ours = float(at.metric[0].value.rstrip("%"))
    assert ours > float(at.metric[1].value.rstrip("%"))                 # beats always-the-commonest
    assert "An honest comparison" in texts(at.markdown)

    def said():
        return re.search(r"with probability \*\*([\d.]+)%", texts(at.markdown)).group(0)

    before = said()
    row = at.selectbox(key="tab_whatif_row")
    run = load_run(module_service.store, record)
    examples = pd.DataFrame(run.summary["show_results"])[run.spec.cat_names + run.spec.cont_names]
    sure = predict_rows(run.model, run.procs, examples).max(axis=1).tolist()
    assert row.value == sure.index(min(sure)) and len(sure) > 1             # it starts where a change shows
    assert "say the same thing twice" not in texts(at.caption)
    def field(c):                                                          # the row's form: tab_wi_<rows>_<row>_<c>
        return next(k for k in at.session_state if k.startswith("tab_wi_") and k.endswith(f"_{row.value}_{c}"))

    at.selectbox(key=field("education")).set_value("Masters").run()
    at.number_input(key=field("education-num")).set_value(14.0).run()      # Masters is 14: someone who exists
    assert "say the same thing twice" not in texts(at.caption)
    at.number_input(key=field("education-num")).set_value(16.0).run()
    assert "Masters is 14, not 16" in texts(at.caption)                   # a person who could not exist
    at.selectbox(key=field("education")).set_value("Doctorate").run()      # both changed: Doctorate is 16
    assert "say the same thing twice" not in texts(at.caption)
    at.number_input(key=field("age")).set_value(45.0).run()
    assert said() != before                                            # the prediction follows the form
    assert len(at.get("download_button")) == 2


def load_files(at, weights: bytes, meta: bytes) -> None:
    at.file_uploader(key="tab_up_weights").set_value(("m.safetensors", weights, "application/octet-stream"))
    at.file_uploader(key="tab_up_meta").set_value(("m.json", meta, "application/json")).run()
    assert not at.exception


def tiny_json_claiming_huge_layers(meta: bytes) -> bytes:
    """The issue's case: the same columns, but three hidden layers of 16k units (about 1 GB if built)."""
    return json.dumps(dict(json.loads(meta), layers=[16384] * 3)).encode()


def test_a_confusion_cell_shows_its_rows_and_the_top_losses_are_listed(trained_page, module_service):
    at, record = trained_page
    assert "Top losses: the rows it was most wrong about" in [h.value for h in at.subheader]
    cell = at.selectbox(key="tab_cell_None")
    cell.set_value((1, 0)).run()                            # really >50k, predicted <=50k
    assert "validation row(s) really" in texts(at.caption) and not at.exception

    matrix = matrices(at)["tab_cm"]
    assert matrix["counts"] == load_run(module_service.store, record).summary["confusion"]
    counts, labels = matrix["counts"], matrix["labels"]
    a, p = max(((a, p) for a in range(2) for p in range(2) if counts[a][p]), key=lambda c: c[0] != c[1])
    at.session_state["tab_cm"] = {"cell": [a, p]}           # a click on a cell of the matrix
    at.run()
    assert matrices(at)["tab_cm"]["selected"] == [a, p]
    assert at.selectbox(key=f"tab_cell_{(a, p)}").value == (a, p)
    assert f"{counts[a][p]:,} validation row(s) really **{labels[a]}**, predicted **{labels[p]}**" in texts(at.caption)


def test_loading_an_exported_model(trained_page, module_service):
    at, record = trained_page
    run = load_run(module_service.store, record)
    weights, meta = model_to_bytes(run.model, run.meta)
    for bad_weights, bad_meta, words in [
            (weights, b"{not json", "The metadata file is not valid JSON"),
            (weights, b"[" * 10_000 + b"]" * 10_000, "nested far too deeply"),
            (weights, tiny_json_claiming_huge_layers(meta), "'layers' must be a list of up to 8 layer widths"),
            (weights, meta.replace(b'"salary"', b'7', 1), "'spec.target' must be"),
            (pickle.dumps({"layers.0.weight": [1.0]}), meta, "not a safetensors file"),
            (weights[: len(weights) // 2], meta, "cut short")]:
        load_files(at, bad_weights, bad_meta)
        assert "Could not load that model: " in texts(at.error) and words in texts(at.error)
        assert "tab_loaded" not in at.session_state                    # nothing half-loaded
    load_files(at, weights, meta)
    assert "Loaded: predicts 'salary' from 9 columns" in texts(at.success)
    at.radio(key="tab_which_model").set_value("the model you loaded").run()
    assert re.search(r"The model says \*\*", texts(at.markdown)) and not at.exception
    load_files(at, weights, b"[1, 2]")                                  # a bad file later loses nothing
    assert "must hold a JSON object" in texts(at.error)
    assert "The model you loaded before is still the one in use." in texts(at.caption)
    assert at.session_state["tab_loaded"] is not None
    at.radio(key="tab_which_model").set_value("the model trained above").run()


def test_a_model_loaded_back_without_training_is_used_for_the_what_if(trained_page, module_service):
    _, record = trained_page
    run = load_run(module_service.store, record)
    weights, meta = model_to_bytes(run.model, run.meta)
    at = fresh()
    assert "Train a model (above)" in texts(at.info)
    load_files(at, weights, meta)
    assert "Loaded: predicts 'salary'" in texts(at.success)
    assert re.search(r"The model says \*\*", texts(at.markdown))          # the What-if uses the loaded model
    assert len(at.get("download_button")) == 2                          # and it can be exported again


def what_if_bars(at) -> list[tuple[str, str]]:
    """The What-if drawing's (original row, with your changes) probabilities, as it says them to a screen reader."""
    said = texts(at.markdown)
    return re.findall(r"the original row ([\d.]+%); with your changes ([\d.]+%)", said)


def test_switching_the_what_if_to_a_loaded_model_starts_again_from_an_unchanged_row(trained_page, module_service):
    _, record = trained_page
    at = fresh({"run": record.id})
    run = load_run(module_service.store, record)
    weights, meta = model_to_bytes(run.model, run.meta)
    bars = what_if_bars(at)
    assert bars and all(before == now for before, now in bars)            # nothing changed yet
    load_files(at, weights, meta)
    assert at.radio(key="tab_which_model").value == "the model you loaded"
    bars = what_if_bars(at)                                               # other example rows: the widgets follow
    assert bars and all(before == now for before, now in bars), bars
    at.file_uploader(key="tab_up_meta").set_value(("bad.json", b'{"x":', "application/json")).run()
    assert "not valid JSON" in texts(at.error) and what_if_bars(at) == bars     # the loaded model still answers
    at.radio(key="tab_which_model").set_value("the model trained above").run()
    assert all(before == now for before, now in what_if_bars(at))


def test_a_link_opened_elsewhere_shows_the_same_results_and_no_stop(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})                                   # another browser: another person
    assert "5. Results" in [h.value for h in other.header]
    assert [m.value for m in other.metric] == [m.value for m in at.metric]
    assert "shared with you (read-only)" in "\n".join(e.label for e in other.expander)
    assert not [b for b in other.button if b.label == "Stop"]


def test_a_finished_run_looks_the_same_after_a_restart(trained_page, tmp_path):
    """A restarted server knows nothing but the run store."""
    at, record = trained_page
    from core.service import get_service
    root = get_service().store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    previous = set_service(restarted)
    try:
        again = fresh({"run": record.id})
        assert [m.value for m in again.metric] == [m.value for m in at.metric]
        assert "6. What if?" in [h.value for h in again.header] and not again.exception
    finally:
        set_service(previous)
        restarted.shutdown()


def test_train_again_fills_the_controls_from_the_run(trained_page):
    at, record = trained_page
    other = fresh({"run": record.id})
    assert other.number_input(key="tab_seed").value == 7                 # a link opens with the run's settings
    other.number_input(key="tab_seed").set_value(11).run()
    next(b for b in other.button if b.label == "Train again with these settings").click().run()
    assert other.number_input(key="tab_seed").value == 7 and not other.exception


def test_settings_in_the_url_fill_the_controls():
    at = fresh({"lr": "0.001", "epochs": "5", "seed": "11"})
    assert at.select_slider(key="tab_lr").value == 0.001
    assert at.number_input(key="tab_epochs").value == 5 and at.number_input(key="tab_seed").value == 11


@pytest.mark.browser
def test_journey_in_chromium(app_url, page, screenshot_dir):
    page.set_viewport_size({"width": 1400, "height": 1000})
    page.goto(f"{app_url}/tabular")
    wait_for_app(page, timeout=90_000)
    page.get_by_text("3. The model").wait_for(timeout=60_000)

    page.get_by_text(UPLOAD).click()                                   # a broken file first
    page.get_by_text("Upload a CSV to train").wait_for(timeout=30_000)
    wait_for_app(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').first.set_input_files(
        files=[{"name": "broken.csv", "mimeType": "text/csv", "buffer": b"a,b\n1,\"oops\n"}])
    page.get_by_text("could not be read as a table").wait_for(timeout=30_000)
    page.screenshot(path=str(screenshot_dir / "tabular_broken_csv.png"))
    page.get_by_text("Adult census, embedded (offline)").click()
    page.get_by_role("button", name="Run lr_find").wait_for(timeout=60_000)
    wait_for_app(page)

    page.get_by_role("button", name="Run lr_find").click()
    page.get_by_text("Suggested learning rate").wait_for(timeout=90_000)
    wait_for_app(page)
    page.get_by_role("button", name=re.compile("Train: fit_one_cycle")).click()
    wait_for_results(page, timeout=180_000)
    page.get_by_text("Trained in").scroll_into_view_if_needed()
    page.screenshot(path=str(screenshot_dir / "tabular_training.png"))
    page.get_by_text("5. Results").scroll_into_view_if_needed()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(screenshot_dir / "tabular_results.png"))
    type_number(page, "education-num", 16, page.get_by_text("with your changes").first)   # had they studied longer?
    page.get_by_text("The model says").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(screenshot_dir / "tabular_what_if.png"))
    assert page.get_by_text("An honest comparison").count() >= 1
    # Export: the weights are written when the button is pressed (ui/export.py), and they are the trained model's
    with page.expect_download(timeout=60_000) as weights:
        page.get_by_role("button", name="Download weights (.safetensors)").click()
    with page.expect_download(timeout=60_000) as meta:
        page.get_by_role("button", name="Download metadata (.json)").click()
    run_id = re.search(r"[?&]run=([0-9a-z]+)", page.url).group(1)
    assert weights.value.suggested_filename == f"tabular-{run_id[-5:]}.safetensors"          # one run's files, named so
    assert meta.value.suggested_filename == f"tabular-{run_id[-5:]}.json"
    from safetensors.torch import load as load_weights
    tensors = load_weights(Path(weights.value.path()).read_bytes())
    described = json.loads(Path(meta.value.path()).read_text())
    assert tensors and all(t.numel() for t in tensors.values()) and "format_version" in described
