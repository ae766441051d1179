"""How long one step of the "How training works" sections takes: ours (the state objects the page steps: numpy,
hand-written gradients; the tiny Value autograd) against the same step done with torch autograd. The page needs
each step well under 100 ms so dragging and stepping feel instant; asking the trained Titanic network about a
passenger also runs in the page, so it is timed too (the training itself is a run of the service).

Run: .venv/bin/python benchmarks/bench_basics.py
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from core.basics import figures, quadratic, relu_fit, side_by_side, titanic  # noqa: E402


def ms_per_call(fn, repeat):
    fn()                                           # warm up
    best = float("inf")
    for _ in range(3):                             # best of three runs of `repeat` calls
        start = time.perf_counter()
        for _ in range(repeat):
            fn()
        best = min(best, (time.perf_counter() - start) / repeat)
    return best * 1e3


def quadratic_ours(problem):
    return quadratic.Descent(problem, lr=0.01).step        # a converged descent still steps when asked


def quadratic_torch(problem):
    w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    x, y = torch.tensor(problem.x), torch.tensor(problem.y)

    def step():
        loss = ((w[0] * x**2 + w[1] * x + w[2] - y) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            w.sub_(0.01 * w.grad)
            w.grad.zero_()
    return step


def relu_ours(x, y, n_units):
    return relu_fit.ReluFit(0, n_units, lr=0.01).target(x, y).step


def relu_torch(x, y, net):
    params = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (net.m, net.b, net.w, [net.c])]
    xt, yt = torch.tensor(x), torch.tensor(y)

    def step():
        m, b, w, c = params
        pred = c + (w[:, None] * torch.relu(m[:, None] * xt[None] + b[:, None])).sum(0)
        ((pred - yt) ** 2).mean().backward()
        with torch.no_grad():
            for p in params:
                p -= 0.01 * p.grad
                p.grad.zero_()
    return step


def main():
    torch.set_num_threads(1)
    problem = quadratic.make_problem(42)
    x, y = relu_fit.target_points("wave: sin(2x)")
    net = relu_fit.empty()
    for _ in range(8):
        net = relu_fit.add_unit(net, 0)
    trace = quadratic.step_trace((1.0, 1.0, 1.0), problem.x, problem.y, 0.1)
    rows = [
        ("quadratic, one SGD step (20 points)", ms_per_call(quadratic_ours(problem), 2000),
         ms_per_call(quadratic_torch(problem), 2000)),
        ("8 ReLUs, one SGD step (40 points)", ms_per_call(relu_ours(x, y, 8), 2000),
         ms_per_call(relu_torch(x, y, net), 2000)),
        ("from scratch: Value step vs torch", ms_per_call(
            lambda: side_by_side.step_from_scratch((1.0, 1.0, 1.0), problem.x, problem.y, 0.1), 200),
         ms_per_call(lambda: side_by_side.step_with_torch((1.0, 1.0, 1.0), problem.x, problem.y, 0.1), 200)),
    ]
    print(f"{'one step of':40s} {'ours (ms)':>10s} {'torch autograd (ms)':>20s}")
    for name, ours, theirs in rows:
        print(f"{name:40s} {ours:10.4f} {theirs:20.4f}")
    print("\nand what the page draws around each step (ms):")
    figure_costs = {
        "loop drawing (SVG)": lambda: figures.loop_svg("loss", figures.loop_numbers(trace, 3)),
        "quadratic figure (SVG)": lambda: figures.quadratic_figure(problem, (1.0, 1.0, 1.0), True),
        "gradient arrows (SVG)": lambda: figures.gradient_arrows_svg((1.0, 1.0, 1.0), trace["grad"], 0.1),
        "ReLU figure (8 units)": lambda: figures.relu_figure(x, y, net),
    }
    for name, fn in figure_costs.items():
        print(f"{name:40s} {ms_per_call(fn, 20):10.2f}")
    model, scaling = titanic.make_mlp(64).eval(), titanic.Scaling(28.0, dict(age=30.0, sibsp=0.5, parch=0.4),
                                                                  dict(age=14.0, sibsp=1.0, parch=0.9))
    passenger = titanic.passenger_frame("2nd", "female", 30.0, 1, 0)
    numbers = titanic.explain(model, scaling, passenger)
    page_costs = {
        "Titanic: one passenger, layer by layer": lambda: titanic.explain(model, scaling, passenger),
        "Titanic: the layers figure": lambda: figures.layers_figure(numbers, titanic.FEATURES, titanic.CLASSES),
    }
    for name, fn in page_costs.items():
        print(f"{name:40s} {ms_per_call(fn, 50):10.2f}")
    print(f"\nnumpy {np.__version__}, torch {torch.__version__}, 1 CPU thread")


if __name__ == "__main__":
    main()
