"""Fit a quadratic to noisy points: the smallest possible "model, loss, gradient, update".

The model is f(x) = a·x² + b·x + c with weights w = (a, b, c). Everything is plain
numpy on ~20 points, so one step takes microseconds and the page can redraw on
every slider drag. The gradients are written out by hand (tests check them
against torch autograd).
"""
from dataclasses import dataclass, field

import numpy as np

TRUE_WEIGHTS = (3.0, 2.0, 1.0)   # the course's example: 3x² + 2x + 1
WEIGHT_NAMES = ("a", "b", "c")
LOSSES = ("MSE", "MAE")

# a run stops by itself when one of these happens
READY, RUNNING, CONVERGED, DIVERGED, MAX_STEPS = "ready", "running", "converged", "diverged", "max steps"
DIVERGED_MESSAGE = "The loss exploded: learning rate too high. Lower it and press Reset."


@dataclass
class Problem:
    x: np.ndarray
    y: np.ndarray
    true_weights: tuple
    seed: int


def make_problem(seed=42, n=20, noise=1.0, true_weights=TRUE_WEIGHTS) -> Problem:
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(-2, 2, n))
    y = predict(np.asarray(true_weights, dtype=float), x) + rng.normal(0, noise, n)
    return Problem(x, y, tuple(true_weights), seed)


def predict(w, x):
    a, b, c = w
    return a * x**2 + b * x + c


def loss(w, x, y, kind="MSE"):
    err = predict(w, x) - y
    return float(np.mean(err**2) if kind == "MSE" else np.mean(np.abs(err)))


def gradient(w, x, y, kind="MSE"):
    """dL/d(a, b, c). Chain rule: dL/dw = mean(dL/dpred · dpred/dw), dpred/dw = (x², x, 1)."""
    err = predict(w, x) - y
    dpred = 2 * err if kind == "MSE" else np.sign(err)
    return np.array([np.mean(dpred * x**2), np.mean(dpred * x), np.mean(dpred)])


def step_trace(w, x, y, lr, kind="MSE") -> dict:
    """One full turn of the loop, with every number that flows through it."""
    w = np.asarray(w, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        preds = predict(w, x)
        grad = gradient(w, x, y, kind)
        update = lr * grad
        return dict(inputs=x, targets=y, weights=w, preds=preds, loss=loss(w, x, y, kind),
                    grad=grad, lr=lr, update=update, new_weights=w - update, kind=kind)


def exploded(losses, new_loss) -> bool:
    """Divergence: a non-finite loss, or a loss far above where this run started and still growing."""
    if not np.isfinite(new_loss):
        return True
    start = max(losses[0], 1.0) if losses else max(new_loss, 1.0)
    return new_loss > 1e4 * start or (len(losses) >= 3 and new_loss > 100 * start
                                       and new_loss > losses[-1] > losses[-2])


@dataclass
class Descent:
    """The state of gradient descent on the quadratic, kept between reruns of the page."""
    weights: np.ndarray
    losses: list = field(default_factory=list)
    steps: int = 0
    status: str = READY
    last: dict = None       # the latest step_trace

    @property
    def message(self):
        return {
            READY: "Press **One step** or **Run**.",
            RUNNING: f"Running: step {self.steps}.",
            CONVERGED: f"Converged after {self.steps} steps: the gradient is (almost) zero.",
            DIVERGED: DIVERGED_MESSAGE,
            MAX_STEPS: f"Paused after {self.steps} steps: press Run to go on. "
                       "A larger learning rate would get there faster.",
        }[self.status]


def start(weights) -> Descent:
    return Descent(weights=np.asarray(weights, dtype=float).copy())


def sgd_step(state: Descent, problem: Problem, lr: float, kind="MSE", max_steps=1000, tol=1e-3) -> Descent:
    """Take one step (in place) unless the run already ended; set the status. Never raises on divergence."""
    if state.status in (DIVERGED, CONVERGED, MAX_STEPS):
        return state
    if not state.losses:
        state.losses.append(loss(state.weights, problem.x, problem.y, kind))
    trace = step_trace(state.weights, problem.x, problem.y, lr, kind)
    with np.errstate(over="ignore", invalid="ignore"):
        new_loss = loss(trace["new_weights"], problem.x, problem.y, kind)
    state.last = trace
    if exploded(state.losses, new_loss) or not np.all(np.isfinite(trace["new_weights"])):
        state.status = DIVERGED       # keep the last finite weights on screen
        return state
    state.weights = trace["new_weights"]
    state.losses.append(new_loss)
    state.steps += 1
    if np.max(np.abs(trace["grad"])) < tol or abs(state.losses[-2] - new_loss) < 1e-12 * max(new_loss, 1.0):
        state.status = CONVERGED
    elif state.steps >= max_steps:
        state.status = MAX_STEPS
    else:
        state.status = RUNNING
    return state


def run(state: Descent, problem: Problem, lr: float, kind="MSE", n_steps=10, max_steps=1000) -> Descent:
    for _ in range(n_steps):
        sgd_step(state, problem, lr, kind, max_steps)
        if state.status != RUNNING:
            break
    return state
