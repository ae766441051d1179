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


@pytest.mark.parametrize("target", list(relu_fit.TARGETS))
def test_training_lowers_the_loss(target):
    x, y = relu_fit.target_points(target)
    net = some_units(42, 6)
    trained, losses, diverged = relu_fit.train(net, x, y, lr=0.05, n_steps=1500)
    assert not diverged
    assert losses[-1] < 0.3 * losses[0]
    assert relu_fit.mse(trained, x, y) == pytest.approx(losses[-1])


def test_more_units_fit_a_wiggle_better():
    x, y = relu_fit.target_points("zig-zag")
    one, _, _ = relu_fit.train(some_units(0, 1), x, y, lr=0.05, n_steps=1500)
    six, _, _ = relu_fit.train(some_units(0, 6), x, y, lr=0.05, n_steps=1500)
    assert relu_fit.mse(six, x, y) < 0.5 * relu_fit.mse(one, x, y)


def test_training_with_a_huge_learning_rate_reports_divergence_and_keeps_a_finite_net():
    x, y = relu_fit.target_points("wave: sin(2x)")
    net = some_units(42, 6)
    trained, losses, diverged = relu_fit.train(net, x, y, lr=50.0, n_steps=200)
    assert diverged
    assert np.all(np.isfinite(losses)) and np.isfinite(relu_fit.mse(trained, x, y))


def test_training_stalls_when_the_units_cannot_bend_any_further():
    x, y = relu_fit.target_points("wave: sin(2x)")
    _, losses, _ = relu_fit.train(some_units(42, 1), x, y, lr=0.1, n_steps=3000)
    assert relu_fit.stalled(losses)                      # one hinge can't follow a wave
    assert not relu_fit.stalled(losses[:50])             # but early on it was still improving


def test_a_loss_that_turns_back_up_counts_as_rising():
    assert relu_fit.rising([1.0, 0.5, 0.2, 0.4])
    assert not relu_fit.rising([1.0, 0.5, 0.2, 0.25])
    assert not relu_fit.rising([1.0])
