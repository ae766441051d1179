"""The "How training works" page: AppTest through each section, and one journey in headless Chromium."""
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import wait_for_app
from core.basics import quadratic, relu_fit

ROOT = Path(__file__).resolve().parents[1]
PAGE = "pages/how_training_works.py"


@pytest.fixture
def at(tmp_path, monkeypatch):
    monkeypatch.setenv("LESSON1_RUNS_DIR", str(tmp_path))
    app = AppTest.from_file(str(ROOT / PAGE), default_timeout=60).run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def texts(elements):
    return " ".join(str(e.value) for e in elements)


def test_every_section_renders_with_the_seed_shown(at):
    assert [h.value for h in at.header] == ["1. The loop", "2. Fit a function by hand", "3. Let the computer do it",
                                            "4. ReLUs build anything", "5. A real network on real data",
                                            "6. From scratch"]
    assert at.number_input(key="htw_seed").value == 42
    assert "Seed **42**" in texts(at.caption)


def test_loop_lights_one_box_at_a_time_and_a_full_turn_is_one_step(at):
    for i, stage in enumerate(["inputs", "model", "results", "loss", "update", "weights"]):
        at.button(key="htw_next_box").click().run()
        assert not at.exception
        assert f"**{stage.capitalize()}**" in texts(at.markdown), stage
        assert at.session_state.htw_stage == i
    assert at.session_state.htw_gd.steps == 1
    trace = at.session_state.htw_walk
    assert at.session_state.htw_gd.weights == pytest.approx(trace["new_weights"])
    weights_table = at.dataframe[1].value
    assert list(weights_table["new value"]) == pytest.approx(list(trace["new_weights"]), rel=1e-3)


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


def test_gradient_descent_one_step_run_converges(at):
    at.button(key="htw_one_step").click().run()
    assert "Step 1 ·" in texts(at.info)
    at.button(key="htw_run").click().run()
    for _ in range(60):                      # each rerun is one animation frame
        if not at.session_state.htw_gd_running:
            break
        at.run()
    gd = at.session_state.htw_gd
    assert gd.status == quadratic.CONVERGED, gd.status
    assert "Converged" in texts(at.success)
    problem = quadratic.make_problem(42)
    assert gd.weights == pytest.approx(np.polyfit(problem.x, problem.y, 2), abs=0.02)


def test_slow_motion_run_lights_one_box_per_frame(at):
    at.checkbox(key="htw_slow").check().run()
    at.button(key="htw_run").click().run()                   # the first frame runs with the click
    seen = [at.session_state.htw_stage]
    for _ in range(6):
        at.run()
        seen.append(at.session_state.htw_stage)
    assert seen == [0, 1, 2, 3, 4, 5, 0]
    assert at.session_state.htw_gd.steps == 1                 # one full turn of the loop, one step
    # the loop (section 1) is drawn before section 3 advances the frame: it shows the box of the frame before
    assert "**Weights**: the new a, b, c" in texts(at.markdown)


def test_too_high_learning_rate_shows_explosion_not_a_traceback(at):
    at.select_slider(key="htw_lr").set_value(0.5).run()
    at.button(key="htw_run").click().run()
    for _ in range(20):
        if not at.session_state.htw_gd_running:
            break
        at.run()
    assert not at.exception
    assert at.session_state.htw_gd.status == quadratic.DIVERGED
    assert "The loss exploded: learning rate too high" in texts(at.error)
    at.button(key="htw_reset_zero").click().run()
    assert at.session_state.htw_gd.status == quadratic.READY and not at.error


def test_relus_add_units_and_training_bends_the_sum(at):
    assert at.session_state.htw_relu.n_units == 2
    at.button(key="htw_add_unit").click().run()
    at.button(key="htw_add_unit").click().run()
    assert at.session_state.htw_relu.n_units == 4
    units_table = [d.value for d in at.dataframe if "bend at x = −b/m" in d.value.columns][0]
    assert len(units_table) == 4
    x, y = relu_fit.target_points(at.selectbox(key="htw_target").value)
    before = relu_fit.mse(at.session_state.htw_relu, x, y)
    at.button(key="htw_relu_train").click().run()
    for _ in range(5):
        at.run()
    assert relu_fit.mse(at.session_state.htw_relu, x, y) < 0.5 * before
    at.button(key="htw_relu_train").click().run()            # Stop
    assert not at.session_state.htw_relu_running


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
    assert at.session_state.htw_relu_losses[-1] < at.session_state.htw_relu_losses[0]
    at.button(key="htw_relu_train").click().run()
    at.button(key="htw_clear_points").click().run()
    assert at.session_state.htw_my_points == []


def test_real_network_trains_through_the_job_runner(at):
    at.select_slider(key="htw_t_epochs").set_value(10).run()
    at.button(key="htw_t_train").click().run()
    assert not at.exception
    deadline = time.time() + 60
    while time.time() < deadline:
        at.run()
        if at.success:
            break
        time.sleep(0.3)
    assert "Finished" in texts(at.success), [e.value for e in at.error]
    step_slider = [s for s in at.select_slider if s.label == "Weights at step"]
    assert len(step_slider) == 1
    steps = [int(o) for o in step_slider[0].options]
    assert steps[0] == 0 and int(step_slider[0].value) == steps[-1] == 10 * 2      # 100 rows: 2 batches an epoch
    job = at.session_state["job:basics_titanic"]
    assert job and re.fullmatch(r"[0-9a-f]{12}", job)


def test_from_scratch_matches_pytorch_to_the_digit(at):
    at.button(key="htw_one_step").click().run()
    table = [d.value for d in at.dataframe if "gradient (ours)" in d.value.columns][0]
    assert np.allclose(table["gradient (ours)"], table["gradient (PyTorch)"], rtol=1e-12, atol=1e-12)
    assert np.allclose(table["after the step (ours)"], table["after the step (PyTorch)"], rtol=1e-12, atol=1e-12)
    assert list(table["start"]) == pytest.approx(list(at.session_state.htw_gd.weights))


def test_changing_the_seed_gives_new_points_reproducibly(at):
    first = quadratic.make_problem(42).y
    at.number_input(key="htw_seed").set_value(7).run()
    assert not at.exception and "Seed **7**" in texts(at.caption)
    assert not np.array_equal(quadratic.make_problem(7).y, first)


def test_page_is_in_the_apps_navigation():
    app = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    app.switch_page(PAGE).run()
    assert not app.exception, [e.message for e in app.exception]
    assert app.title[0].value == "How training works"


@pytest.mark.browser
def test_browser_journey(app_url, page, screenshot_dir):
    page.goto(f"{app_url}/how_training_works")
    wait_for_app(page)
    page.get_by_role("heading", name="1. The loop").wait_for(timeout=60_000)
    hand_a = page.locator(".st-key-htw_hand_a").get_by_role("slider")
    loss_before = page.locator('[data-testid="stMetricValue"]').first.inner_text()
    hand_a.focus()
    for _ in range(20):                                        # a: 0 → 2, as if dragged
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "before => document.querySelector('[data-testid=\"stMetricValue\"]').innerText != before", arg=loss_before)
    loss_after = page.locator('[data-testid="stMetricValue"]').first.inner_text()
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
    page.get_by_role("button", name="Train the network").click()
    page.get_by_text("Finished in").wait_for(timeout=90_000)
    page.get_by_text("Weights at step").wait_for(timeout=20_000)
    wait_for_app(page)
    shots = {"loop": page.get_by_role("button", name="Next box ▶"),
             "gradient_descent": page.get_by_text("Converged after"),
             "relus": page.get_by_role("button", name="Add a ReLU"),
             "network": page.get_by_text("Weights at step")}
    for name, anchor in shots.items():            # each part of the page, as the student sees it
        anchor.scroll_into_view_if_needed()
        page.mouse.wheel(0, 250)
        page.wait_for_timeout(800)                # let plotly draw
        page.screenshot(path=str(screenshot_dir / f"how_training_works_{name}.png"))
    assert page.locator('[data-testid="stException"]').count() == 0
