"""Gradient descent on the quadratic: hand-written gradients against torch, convergence, divergence."""
import numpy as np
import pytest
import torch

from core.basics import figures, quadratic


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


def test_sgd_converges_to_the_least_squares_fit_and_near_the_true_coefficients():
    problem = quadratic.make_problem(seed=1, n=200, noise=0.3)
    state = quadratic.run(quadratic.start((0, 0, 0)), problem, lr=0.1, n_steps=5000, max_steps=5000)
    assert state.status == quadratic.CONVERGED
    best = np.polyfit(problem.x, problem.y, 2)        # numpy's exact answer
    assert state.weights == pytest.approx(best, abs=2e-3)
    assert state.weights == pytest.approx(quadratic.TRUE_WEIGHTS, abs=0.15)
    assert all(later <= earlier + 1e-12 for earlier, later in zip(state.losses, state.losses[1:]))


def test_too_high_learning_rate_is_a_state_not_an_exception():
    problem = quadratic.make_problem(seed=42)
    state = quadratic.run(quadratic.start((0, 0, 0)), problem, lr=0.5, n_steps=500, max_steps=500)
    assert state.status == quadratic.DIVERGED
    assert state.message == quadratic.DIVERGED_MESSAGE and "learning rate too high" in state.message
    assert np.all(np.isfinite(state.weights)) and np.all(np.isfinite(state.losses))
    assert state.losses[-1] > 10 * state.losses[0]
    steps = state.steps
    quadratic.sgd_step(state, problem, lr=0.5)            # stepping a diverged run does nothing, quietly
    assert state.steps == steps and state.status == quadratic.DIVERGED


def test_divergence_even_straight_to_infinity():
    problem = quadratic.make_problem(seed=42)
    state = quadratic.run(quadratic.start((0, 0, 0)), problem, lr=1e200, n_steps=10)
    assert state.status == quadratic.DIVERGED and state.steps == 0


def test_too_low_learning_rate_crawls():
    problem = quadratic.make_problem(seed=42)
    slow = quadratic.run(quadratic.start((0, 0, 0)), problem, lr=1e-4, n_steps=100, max_steps=100)
    fast = quadratic.run(quadratic.start((0, 0, 0)), problem, lr=0.1, n_steps=100, max_steps=100)
    assert slow.status == quadratic.MAX_STEPS
    assert slow.losses[-1] < slow.losses[0]                    # it does go down...
    assert slow.losses[-1] > 10 * fast.losses[-1]              # ...just very slowly


def test_step_trace_holds_every_number_of_one_turn():
    problem = quadratic.make_problem(seed=0)
    w = np.array([1.0, -1.0, 0.5])
    trace = quadratic.step_trace(w, problem.x, problem.y, lr=0.01)
    assert trace["preds"] == pytest.approx(w[0] * problem.x**2 + w[1] * problem.x + w[2])
    assert trace["loss"] == pytest.approx(np.mean((trace["preds"] - problem.y) ** 2))
    assert trace["new_weights"] == pytest.approx(w - 0.01 * trace["grad"])
    state = quadratic.sgd_step(quadratic.start(w), problem, lr=0.01)
    assert state.weights == pytest.approx(trace["new_weights"])


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


def test_the_lit_box_is_the_active_one():
    fig = figures.loop_figure("loss")
    lit = [s for s in fig.layout.shapes if s.fillcolor == figures.ACTIVE]
    assert len(lit) == 1
    x, y = figures.LOOP_BOXES["loss"]
    assert lit[0].x0 < x < lit[0].x1 and lit[0].y0 < y < lit[0].y1


def test_gradient_arrows_point_downhill():
    fig = figures.gradient_arrows_figure((1.0, 1.0, 1.0), np.array([2.0, -3.0, 0.0]), lr=0.1)
    arrows = [a for a in fig.layout.annotations if a.showarrow]
    assert len(arrows) == 2                                    # no arrow for a zero gradient
    assert arrows[0].x < arrows[0].ax                          # positive gradient: move left
    assert arrows[1].x > arrows[1].ax                          # negative gradient: move right
