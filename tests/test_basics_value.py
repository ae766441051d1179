"""The from-scratch autograd against PyTorch's, on many random expressions (as micrograd's tests do)."""
import math
import random

import pytest
import torch

from core.basics import quadratic, side_by_side
from core.basics.value import Value

UNARY = ["relu", "tanh", "exp", "neg", "pow2", "pow3", "inv"]
BINARY = ["add", "mul", "sub", "div", "radd", "rmul", "rsub", "rdiv"]


def random_expression(rng, leaves, depth):
    """The same random expression built twice: with Values and with torch scalars."""
    if depth == 0 or rng.random() < 0.2:
        i = rng.randrange(len(leaves))
        return leaves[i][0], leaves[i][1]
    if rng.random() < 0.4:
        op = rng.choice(UNARY)
        v, t = random_expression(rng, leaves, depth - 1)
        if op == "relu":
            return v.relu(), torch.relu(t)
        if op == "tanh":
            return v.tanh(), torch.tanh(t)
        if op == "exp":            # keep exp's input small so nothing overflows
            return (v.tanh() * 2).exp(), (torch.tanh(t) * 2).exp()
        if op == "neg":
            return -v, -t
        if op == "pow2":
            return v**2, t**2
        if op == "pow3":
            return v**3, t**3
        return (v * v + 1) ** -1, (t * t + 1) ** -1     # a power that never divides by zero
    op = rng.choice(BINARY)
    (v1, t1), (v2, t2) = random_expression(rng, leaves, depth - 1), random_expression(rng, leaves, depth - 1)
    k = rng.choice([-2.5, -1.0, 0.5, 3.0])
    if op == "add":
        return v1 + v2, t1 + t2
    if op == "mul":
        return v1 * v2, t1 * t2
    if op == "sub":
        return v1 - v2, t1 - t2
    if op == "div":
        return v1 / (v2 * v2 + 1), t1 / (t2 * t2 + 1)
    if op == "radd":
        return k + v1, k + t1
    if op == "rmul":
        return k * v1, k * t1
    if op == "rsub":
        return k - v1, k - t1
    return k / (v1 * v1 + 0.5), k / (t1 * t1 + 0.5)


@pytest.mark.parametrize("seed", range(150))
def test_random_expressions_match_torch(seed):
    rng = random.Random(seed)
    numbers = [rng.uniform(-2, 2) for _ in range(4)]
    values = [Value(x) for x in numbers]
    tensors = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in numbers]
    out_v, out_t = random_expression(rng, list(zip(values, tensors)), depth=5)
    out_v.backward()
    if out_t.requires_grad:
        out_t.backward()
    assert math.isclose(out_v.data, out_t.item(), rel_tol=1e-9, abs_tol=1e-12)
    for v, t in zip(values, tensors):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert math.isclose(v.grad, expected, rel_tol=1e-9, abs_tol=1e-9), (seed, v.grad, expected)


def test_a_value_used_twice_accumulates_its_gradient():
    a = Value(3.0)
    b = a * a + a            # db/da = 2a + 1
    b.backward()
    assert a.grad == 7.0


def test_micrograd_reference_expression():
    x = Value(-4.0)
    z = 2 * x + 2 + x
    q = z.relu() + z * x
    h = (z * z).relu()
    y = h + q + q * x
    y.backward()
    xt = torch.tensor([-4.0], dtype=torch.float64, requires_grad=True)
    zt = 2 * xt + 2 + xt
    qt = zt.relu() + zt * xt
    ht = (zt * zt).relu()
    yt = ht + qt + qt * xt
    yt.backward()
    assert y.data == yt.item() and x.grad == xt.grad.item()


@pytest.mark.parametrize("weights", [(0.0, 0.0, 0.0), (1.5, -2.0, 4.0), (3.0, 2.0, 1.0)])
def test_one_sgd_step_from_scratch_equals_pytorch(weights):
    problem = quadratic.make_problem(seed=7)
    ours = side_by_side.step_from_scratch(weights, problem.x, problem.y, lr=0.05)
    theirs = side_by_side.step_with_torch(weights, problem.x, problem.y, lr=0.05)
    assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-12)
    assert ours["grad"] == pytest.approx(theirs["grad"], rel=1e-10, abs=1e-12)
    assert ours["new_weights"] == pytest.approx(theirs["new_weights"], rel=1e-12, abs=1e-12)
    # and both agree with the hand-written numpy gradient the page uses
    assert ours["grad"] == pytest.approx(quadratic.gradient(weights, problem.x, problem.y, "MSE"), rel=1e-10)
