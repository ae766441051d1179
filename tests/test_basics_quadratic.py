"""Gradient descent on the quadratic: hand-written gradients against torch, convergence, divergence."""
import numpy as np
import pytest
import torch

from core.basics import figures, quadratic
from core.drawings import ticks


def torch_gradient(weights, x, y, kind):
    w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    xt, yt = torch.tensor(x), torch.tensor(y)
    err = w[0] * xt**2 + w[1] * xt + w[2] - yt
    loss = (err**2).mean() if kind == "MSE" else err.abs().mean()
    loss.backward()
    return loss.item(), w.grad.numpy()


@pytest.mark.parametrize("kind", quadratic.LOSSES)
@pytest.mark.parametrize("seed", range(5))
def test_loss_and_gradient_match_torch(kind, seed):
    problem = quadratic.make_problem(seed=seed)
    weights = np.random.default_rng(seed).normal(0, 3, 3)
    expected_loss, expected_grad = torch_gradient(weights, problem.x, problem.y, kind)
    assert quadratic.loss(weights, problem.x, problem.y, kind) == pytest.approx(expected_loss, rel=1e-12)
    assert quadratic.gradient(weights, problem.x, problem.y, kind) == pytest.approx(expected_grad, rel=1e-10)


def test_problem_is_reproducible_from_its_seed():
    a, b, c = quadratic.make_problem(3), quadratic.make_problem(3), quadratic.make_problem(4)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.y, c.y)


def torch_sgd(weights, problem, lr, kind, n_steps):
    """The same descent done the PyTorch way: autograd for the gradient, torch.optim.SGD for the update."""
    w = torch.tensor(weights, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=lr)
    x, y = torch.tensor(problem.x), torch.tensor(problem.y)
    losses = []
    for _ in range(n_steps):
        err = w[0] * x**2 + w[1] * x + w[2] - y
        loss = (err**2).mean() if kind == "MSE" else err.abs().mean()
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    return w.detach().numpy(), losses


@pytest.mark.parametrize("kind", quadratic.LOSSES)
def test_each_step_of_the_state_object_is_torchs_sgd_step(kind):
    problem = quadratic.make_problem(seed=3)
    gd = quadratic.Descent(problem, (0.5, -1.0, 2.0), lr=0.01, kind=kind)
    for _ in range(25):
        gd.step()
    expected, losses = torch_sgd([0.5, -1.0, 2.0], problem, 0.01, kind, 25)
    assert gd.steps == 25 and len(gd.history) == 26
    assert gd.weights == pytest.approx(expected, rel=1e-10, abs=1e-12)
    assert gd.history[:25] == pytest.approx(losses, rel=1e-10)          # the loss before each step


def test_sgd_converges_to_the_least_squares_fit_and_near_the_true_coefficients():
    problem = quadratic.make_problem(seed=1, n=200, noise=0.3)
    gd = quadratic.Descent(problem, lr=0.1).run(5000)
    while gd.running:
        gd.tick(100)
    assert gd.status == quadratic.CONVERGED and "Converged after" in gd.message
    best = np.polyfit(problem.x, problem.y, 2)        # numpy's exact answer
    assert gd.weights == pytest.approx(best, abs=2e-3)
    assert gd.weights == pytest.approx(quadratic.TRUE_WEIGHTS, abs=0.15)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(gd.history, gd.history[1:]))


def test_too_high_learning_rate_is_a_state_not_an_exception():
    problem = quadratic.make_problem(seed=42)
    gd = quadratic.Descent(problem, lr=0.5).run(500)
    while gd.running:
        gd.tick(5)
    assert gd.status == quadratic.DIVERGED
    assert gd.message == quadratic.DIVERGED_MESSAGE and "the learning rate is too high" in gd.message
    assert np.all(np.isfinite(gd.weights)) and np.all(np.isfinite(gd.history))
    assert gd.history[-1] > 10 * gd.history[0]
    steps = gd.steps
    gd.step().next_box().run().tick()                     # a diverged descent does nothing more, quietly
    assert gd.steps == steps and gd.status == quadratic.DIVERGED
    gd.reset()
    assert gd.status == quadratic.READY and gd.steps == 0 and list(gd.weights) == [0, 0, 0]


def test_divergence_even_straight_to_infinity():
    gd = quadratic.Descent(quadratic.make_problem(seed=42), lr=1e200).step()
    assert gd.status == quadratic.DIVERGED and gd.steps == 0 and list(gd.weights) == [0, 0, 0]


def test_too_low_learning_rate_crawls_and_a_run_pauses_at_its_limit():
    problem = quadratic.make_problem(seed=42)
    slow, fast = quadratic.Descent(problem, lr=1e-4).run(100), quadratic.Descent(problem, lr=0.1).run(100)
    for gd in (slow, fast):
        while gd.running:
            gd.tick(7)
    assert slow.status == quadratic.MAX_STEPS and slow.steps == 100 and "Paused after 100 steps" in slow.message
    assert slow.history[-1] < slow.history[0]                    # it does go down...
    assert slow.history[-1] > 10 * fast.history[-1]              # ...just very slowly
    slow.run(10).tick(3).stop()
    assert slow.status == quadratic.STOPPED and slow.steps == 103 and not slow.running


def test_a_new_learning_rate_applies_from_the_next_step_and_a_new_loss_starts_again():
    problem = quadratic.make_problem(seed=0)
    gd = quadratic.Descent(problem, (1.0, 1.0, 1.0), lr=0.01).step().step()
    gd.configure(0.05, "MSE").step()
    assert gd.steps == 3 and gd.trace["lr"] == 0.05
    gd.configure(0.05, "MAE")
    assert gd.steps == 0 and gd.kind == "MAE" and list(gd.weights) == [1.0, 1.0, 1.0]
    assert gd.history == [quadratic.loss((1.0, 1.0, 1.0), problem.x, problem.y, "MAE")]


def test_walking_the_loop_box_by_box_takes_one_step_per_turn():
    problem = quadratic.make_problem(seed=0)
    gd = quadratic.Descent(problem, (1.0, -1.0, 0.5), lr=0.01)
    seen = []
    for _ in range(len(quadratic.LOOP_STAGES)):
        gd.next_box()
        seen.append(quadratic.LOOP_STAGES[gd.stage])
        assert gd.steps == (1 if seen[-1] == "weights" else 0)
    assert seen == list(quadratic.LOOP_STAGES)
    assert gd.weights == pytest.approx(gd.trace["new_weights"])
    gd.next_box()                                        # the next turn starts from the new weights
    assert gd.stage == 0 and list(gd.trace["weights"]) == list(gd.weights)


def test_slow_motion_ticks_light_one_box_each_and_count_steps_against_the_run():
    gd = quadratic.Descent(quadratic.make_problem(seed=0), lr=0.01).run(2)
    stages = []
    while gd.running:
        gd.tick(slow=True)
        stages.append(gd.stage)
    assert stages == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5] and gd.steps == 2
    assert gd.status == quadratic.MAX_STEPS


def test_step_trace_holds_every_number_of_one_turn():
    problem = quadratic.make_problem(seed=0)
    w = np.array([1.0, -1.0, 0.5])
    trace = quadratic.step_trace(w, problem.x, problem.y, lr=0.01)
    assert trace["preds"] == pytest.approx(w[0] * problem.x**2 + w[1] * problem.x + w[2])
    assert trace["loss"] == pytest.approx(np.mean((trace["preds"] - problem.y) ** 2))
    assert trace["new_weights"] == pytest.approx(w - 0.01 * trace["grad"])
    gd = quadratic.Descent(problem, w, lr=0.01).step()
    assert gd.weights == pytest.approx(trace["new_weights"])


def test_the_loop_reveals_its_numbers_box_by_box():
    problem = quadratic.make_problem(seed=0)
    trace = quadratic.step_trace((1.0, 1.0, 1.0), problem.x, problem.y, lr=0.1)
    first = figures.loop_numbers(trace, 0)
    assert set(first) == {"inputs", "weights"}
    everything = figures.loop_numbers(trace, len(figures.LOOP_STAGES) - 1)
    assert set(everything) == set(figures.LOOP_BOXES)
    assert everything["weights"] != first["weights"]           # back round the loop: the new weights
    rows, weights = figures.loop_tables(trace, figures.LOOP_STAGES.index("results"))
    assert "ŷ (result)" in rows and "gradient" not in weights
    rows, weights = figures.loop_tables(trace, figures.LOOP_STAGES.index("update"))
    assert weights["gradient"].to_numpy() == pytest.approx(trace["grad"], rel=1e-3)


@pytest.mark.parametrize("tall", [False, True])
def test_the_lit_box_is_the_active_one_and_its_numbers_stay_text(tall):
    import xml.etree.ElementTree as ET
    svg = ET.fromstring(figures.loop_svg("loss", {"loss": "MSE = 1.5", "inputs": "<script>x</script>"}, tall=tall))
    ns = "{http://www.w3.org/2000/svg}"
    names = [t for t in svg.iter(ns + "text") if t.get("font-weight") == "bold"]      # each box's title
    boxes = {text.text: rect for rect, text in zip(svg.iter(ns + "rect"), names, strict=True)}
    assert set(boxes) == set(figures.LOOP_BOXES)
    lit = [name for name, rect in boxes.items() if rect.get("fill") == figures.ACTIVE]
    assert lit == ["loss"]
    centres, x_range, y_range = ((figures.LOOP_BOXES_TALL, figures.LOOP_X_TALL, figures.LOOP_Y_TALL) if tall
                                 else (figures.LOOP_BOXES, figures.LOOP_X, figures.LOOP_Y))
    x, y = centres["loss"]                                       # the lit box is drawn where the loss box is
    left, top = float(boxes["loss"].get("x")), float(boxes["loss"].get("y"))
    px, py = (x - x_range[0]) * figures.LOOP_SCALE, (y_range[1] - y) * figures.LOOP_SCALE
    assert left < px < left + float(boxes["loss"].get("width")) and top < py < top + float(boxes["loss"].get("height"))
    _, _, width, height = (float(v) for v in svg.get("viewBox").split())
    rects = [tuple(float(r.get(k)) for k in ("x", "y", "width", "height")) for r in boxes.values()]
    assert all(0 <= rx and rx + rw <= width and 0 <= ry and ry + rh <= height for rx, ry, rw, rh in rects)
    assert not any(a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
                   for i, a in enumerate(rects) for b in rects[i + 1:])          # no box on another
    assert len(list(svg.iter(ns + "polygon"))) == len(figures.LOOP_ARROWS)       # an arrowhead per arrow
    texts = [t.text for t in svg.iter(ns + "text")]
    assert "MSE = 1.5" in texts and "<script>x</script>" in texts   # parsed back as text: it was escaped
    assert not list(svg.iter(ns + "script"))
    assert "Lit: loss" in svg.get("aria-label")


def test_gradient_arrows_point_downhill():
    import xml.etree.ElementTree as ET
    ns = "{http://www.w3.org/2000/svg}"
    svg = ET.fromstring(figures.gradient_arrows_svg((1.0, 1.0, 1.0), np.array([2.0, -3.0, 0.0]), lr=0.1))
    arrows = [line for line in svg.iter(ns + "line") if line.get("class") == "step"]
    assert len(arrows) == 2                                    # no arrow for a zero gradient
    assert float(arrows[0].get("x2")) < float(arrows[0].get("x1"))     # positive gradient: move left
    assert float(arrows[1].get("x2")) > float(arrows[1].get("x1"))     # negative gradient: move right
    per_unit = (588 - 12) / 12                                 # the track: -6 to 6 over 576 px
    assert float(arrows[0].get("x2")) - float(arrows[0].get("x1")) == pytest.approx(-0.2 * per_unit, abs=0.2)
    assert float(arrows[1].get("x2")) - float(arrows[1].get("x1")) == pytest.approx(0.3 * per_unit, abs=0.2)
    far = ET.fromstring(figures.gradient_arrows_svg((5.0, 0.0, 0.0), np.array([-100.0, 0.0, 0.0]), lr=0.1))
    assert [float(line.get("x2")) for line in far.iter(ns + "line") if line.get("class") == "step"] == [588.0]
    dots = [float(c.get("cx")) for c in svg.iter(ns + "circle")]
    assert len(set(dots)) == 1 and float(arrows[0].get("x1")) == dots[0]    # from where the weight is
    assert "a goes down; b goes up; c stays" in svg.get("aria-label")


def test_gradient_arrows_survive_a_run_that_exploded():
    import xml.etree.ElementTree as ET
    svg = ET.fromstring(figures.gradient_arrows_svg((np.inf, 1e12, np.nan), np.array([np.nan, 1e30, 0.0]), lr=0.5))
    assert "nan" not in "".join(el.get("cx", "") + el.get("x1", "") + el.get("x2", "") for el in svg.iter())
    assert ticks(-6, 6) == [-6, -4, -2, 0, 2, 4, 6] and str(ticks(-6, 6)[3]) == "0.0"
    assert ticks(0.5, 0.7) == [0.5, 0.55, 0.6, 0.65, 0.7]
