"""Sums of ReLUs: hand-written gradients against torch, training lowers the loss, divergence is caught."""
import numpy as np
import pytest
import torch

from core.basics import relu_fit


def some_units(seed, n):
    net = relu_fit.empty()
    for _ in range(n):
        net = relu_fit.add_unit(net, seed)
    return net


@pytest.mark.parametrize("seed", range(6))
def test_gradients_match_torch(seed):
    x, y = relu_fit.target_points("wave: sin(2x)", n=25)
    net = some_units(seed, 4)
    net.c = 0.3
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in net.params().items()}
    pred = params["c"] + (params["w"][:, None] * torch.relu(params["m"][:, None] * torch.tensor(x)[None]
                                                            + params["b"][:, None])).sum(0)
    loss = ((pred - torch.tensor(y)) ** 2).mean()
    loss.backward()
    assert relu_fit.mse(net, x, y) == pytest.approx(loss.item(), rel=1e-12)
    ours = relu_fit.gradients(net, x, y)
    for name, p in params.items():
        assert ours[name] == pytest.approx(p.grad.numpy(), rel=1e-9, abs=1e-12), name


def test_contributions_add_up_to_the_prediction():
    net = some_units(1, 3)
    x = np.linspace(-2, 2, 11)
    parts = relu_fit.contributions(net, x)
    assert parts.shape == (3, 11)
    assert relu_fit.predict(net, x) == pytest.approx(net.c + parts.sum(0))
    for i in range(3):          # each unit is w·max(0, m·x + b)
        assert parts[i] == pytest.approx(net.w[i] * np.maximum(0, net.m[i] * x + net.b[i]))


def test_new_units_are_reproducible_and_bend_inside_the_range():
    a, b = some_units(5, 4), some_units(5, 4)
    assert np.array_equal(a.m, b.m) and np.array_equal(a.b, b.b) and np.array_equal(a.w, b.w)
    assert not np.array_equal(a.m, some_units(6, 4).m)
    hinges = -a.b / a.m
    assert np.all((hinges > relu_fit.X_RANGE[0]) & (hinges < relu_fit.X_RANGE[1]))


def fitted(target, n_units, lr, n_steps, seed=42):
    x, y = relu_fit.target_points(target)
    fit = relu_fit.ReluFit(seed, n_units, lr).target(x, y)
    for _ in range(n_steps):
        fit.step()
    return fit


def test_each_step_of_the_state_object_is_torchs_sgd_step():
    x, y = relu_fit.target_points("zig-zag", n=30)
    fit = relu_fit.ReluFit(seed=3, n_units=5, lr=0.05).target(x, y)
    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in fit.net.params().items()}
    opt = torch.optim.SGD(params.values(), lr=0.05)
    xt, yt = torch.tensor(x), torch.tensor(y)
    for _ in range(40):
        fit.step()
        pred = params["c"] + (params["w"][:, None] * torch.relu(params["m"][:, None] * xt[None]
                                                                + params["b"][:, None])).sum(0)
        opt.zero_grad()
        ((pred - yt) ** 2).mean().backward()
        opt.step()
    for name, p in params.items():
        assert fit.net.params()[name] == pytest.approx(p.detach().numpy(), rel=1e-9, abs=1e-12), name
    assert fit.steps == 40 and fit.history[-1] == pytest.approx(fit.loss)


@pytest.mark.parametrize("target", list(relu_fit.TARGETS))
def test_training_lowers_the_loss(target):
    fit = fitted(target, 6, 0.05, 1500)
    assert fit.status == relu_fit.READY
    assert fit.history[-1] < 0.3 * fit.history[0]
    assert relu_fit.mse(fit.net, fit.x, fit.y) == pytest.approx(fit.history[-1])


def test_more_units_fit_a_wiggle_better():
    one, six = fitted("zig-zag", 1, 0.05, 1500, seed=0), fitted("zig-zag", 6, 0.05, 1500, seed=0)
    assert six.loss < 0.5 * one.loss


def test_a_huge_learning_rate_is_reported_as_divergence_and_keeps_a_finite_net():
    fit = fitted("wave: sin(2x)", 6, 50.0, 200)
    assert fit.status == relu_fit.DIVERGED and "learning rate too high" in fit.message
    assert np.all(np.isfinite(fit.history)) and np.isfinite(fit.loss)
    steps = fit.steps
    fit.step()
    assert fit.steps == steps                            # nothing more until Train is pressed again
    fit.lr = 0.01
    fit.run(50).tick(50)
    assert fit.steps == steps + 50 and fit.status == relu_fit.MAX_STEPS


def test_a_run_stops_by_itself_when_the_units_cannot_bend_any_further():
    x, y = relu_fit.target_points("wave: sin(2x)")
    fit = relu_fit.ReluFit(42, n_units=1, lr=0.1).target(x, y).run(5000)
    while fit.running:
        fit.tick(100)
    assert fit.status == relu_fit.STALLED and fit.steps < 5000     # one hinge can't follow a wave
    assert "stopped going down with 1 units" in fit.message
    assert not relu_fit.stalled(fit.history[:50])                   # but early on it was still improving


def test_a_run_stops_at_its_limit_and_stop_stops_it():
    x, y = relu_fit.target_points("wave: sin(2x)")
    fit = relu_fit.ReluFit(42, n_units=6, lr=0.03).target(x, y).run(250)
    while fit.running:
        fit.tick(100)
    assert fit.status == relu_fit.MAX_STEPS and fit.steps == 250 and "limit" in fit.message
    fit.run(1000).tick(100).stop()
    assert fit.status == relu_fit.STOPPED and fit.steps == 350


def test_a_run_on_points_it_can_fit_exactly_converges():
    fit = relu_fit.ReluFit(0, n_units=1, lr=0.1).target([-1.0, 1.0], [0.0, 0.0]).run(5000)
    while fit.running:
        fit.tick(100)
    assert fit.status == relu_fit.CONVERGED and fit.history[-1] < 1e-5


def test_new_points_or_units_start_the_loss_curve_again_and_the_same_points_do_not():
    x, y = relu_fit.target_points("V: |x|")
    fit = relu_fit.ReluFit(7, n_units=2).target(x, y).step().step()
    assert fit.steps == 2
    fit.target(x.copy(), y.copy())
    assert fit.steps == 2                                  # the page sets the target on every rerun
    fit.add_unit()
    assert fit.steps == 0 and fit.net.n_units == 3 and fit.history == [fit.loss]
    assert fit.net.m[2] == relu_fit.ReluFit(7, n_units=3).net.m[2]     # units come from (seed, unit number)
    fit.step().target(x, -y)
    assert fit.steps == 0
    fit.remove_unit().remove_unit().remove_unit().remove_unit()
    assert fit.net.n_units == 0 and not fit.ready and "No units yet" in fit.message
    fit.run().tick()
    assert not fit.running and fit.steps == 0


def test_fewer_than_two_points_ask_for_more():
    fit = relu_fit.ReluFit(0, n_units=2).target([0.5], [1.0])
    assert not fit.ready and "at least two" in fit.message
    fit.step().run()
    assert fit.steps == 0 and not fit.running


def test_a_loss_that_turns_back_up_counts_as_rising():
    assert relu_fit.rising([1.0, 0.5, 0.2, 0.4])
    assert not relu_fit.rising([1.0, 0.5, 0.2, 0.25])
    assert not relu_fit.rising([1.0])
