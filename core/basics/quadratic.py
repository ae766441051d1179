"""Fit a quadratic to noisy points: the smallest possible "model, loss, gradient, update".

The model is f(x) = a·x² + b·x + c with weights w = (a, b, c). Everything is plain
numpy on ~20 points, so one step takes microseconds and the page can redraw on
every slider drag. The gradients are written out by hand (tests check them
against torch autograd).
"""
from dataclasses import dataclass

import numpy as np

TRUE_WEIGHTS = (3.0, 2.0, 1.0)   # the course's example: 3x² + 2x + 1
WEIGHT_NAMES = ("a", "b", "c")
LOSSES = ("MSE", "MAE")

# where a descent is; a run stops by itself at CONVERGED, DIVERGED or MAX_STEPS
READY, RUNNING, CONVERGED, DIVERGED, MAX_STEPS, STOPPED = ("ready", "running", "converged", "diverged", "max steps",
                                                            "stopped")
DIVERGED_MESSAGE = ("The loss exploded: the learning rate is too high. Lower it, then start again from 0, 0, 0 or "
                    "from your sliders.")
LOOP_STAGES = ("inputs", "model", "results", "loss", "update", "weights")   # the order one step visits them


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


class Descent:
    """Gradient descent on the quadratic, kept between reruns of the page, which only calls its methods:

        gd = Descent(problem, lr=0.1)
        gd.step()                 # one whole turn of the loop
        gd.next_box()             # or one box of it (inputs, model, results, loss, update, weights)
        gd.run(300); gd.tick(5)   # Run: up to 300 steps, 5 per frame, until it converges or explodes
        gd.history                # the loss before the first step and after each one

    A loss that explodes is a status (DIVERGED, the last finite weights kept), never an exception."""

    def __init__(self, problem: Problem, weights=(0.0, 0.0, 0.0), lr: float = 0.1, kind: str = "MSE",
                 tol: float = 1e-3):
        self.problem, self.lr, self.kind, self.tol = problem, lr, kind, tol
        self.reset(weights)

    def reset(self, weights=None) -> "Descent":
        """Back to the start (or to `weights`, which become the new start)."""
        if weights is not None:
            self.start = tuple(float(w) for w in weights)
        self.weights = np.array(self.start, dtype=float)
        self.history = [loss(self.weights, self.problem.x, self.problem.y, self.kind)]
        self.steps, self.status = 0, READY
        self.trace, self.stage = None, -1      # the turn of the loop on show, and its box lit (-1: none yet)
        self.steps_left = 0                     # of the current Run
        return self

    def configure(self, lr: float, kind: str) -> "Descent":
        """The page's controls: a new learning rate applies from the next step; a new loss starts again (its
        numbers are not comparable with the old one's)."""
        self.lr = float(lr)
        if kind != self.kind:
            self.kind = kind
            self.reset()
        return self

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def gradient(self) -> np.ndarray:
        return gradient(self.weights, self.problem.x, self.problem.y, self.kind)

    @property
    def loss(self) -> float:
        return self.history[-1]

    def step(self) -> "Descent":
        """One step, w ← w − lr·gradient, unless the run exploded. Sets CONVERGED when the gradient is (almost)
        zero; a converged run still takes a step when asked."""
        if self.status == DIVERGED:
            return self
        trace = step_trace(self.weights, self.problem.x, self.problem.y, self.lr, self.kind)
        self.trace, self.stage = trace, len(LOOP_STAGES) - 1
        with np.errstate(over="ignore", invalid="ignore"):
            new_loss = loss(trace["new_weights"], self.problem.x, self.problem.y, self.kind)
        if exploded(self.history, new_loss) or not np.all(np.isfinite(trace["new_weights"])):
            self.status, self.steps_left = DIVERGED, 0      # the last finite weights stay on screen
            return self
        self.weights = trace["new_weights"]
        self.history.append(new_loss)
        self.steps += 1
        flat = abs(self.history[-2] - new_loss) < 1e-12 * max(new_loss, 1.0)
        if np.max(np.abs(trace["grad"])) < self.tol or flat:
            self.status, self.steps_left = CONVERGED, 0
        elif self.status != RUNNING:
            self.status = READY
        return self

    def next_box(self) -> "Descent":
        """One box further round the loop; arriving back at 'weights' takes the step."""
        if self.status == DIVERGED:
            return self
        if self.trace is None or self.stage == len(LOOP_STAGES) - 1:
            self.trace = step_trace(self.weights, self.problem.x, self.problem.y, self.lr, self.kind)
            self.stage = 0
        else:
            self.stage += 1
            if LOOP_STAGES[self.stage] == "weights":
                self.step()
        return self

    def run(self, max_steps: int = 300) -> "Descent":
        """Start running: `tick` then takes steps until it converges, explodes, is stopped or has taken
        `max_steps`."""
        if self.status != DIVERGED:
            self.status, self.steps_left = RUNNING, max_steps
        return self

    def tick(self, n_steps: int = 5, slow: bool = False) -> "Descent":
        """One frame of a run: `n_steps` steps, or in slow motion one box of the loop."""
        if not self.running:
            return self
        if slow:
            before = self.steps
            self.next_box()
            self.steps_left -= self.steps - before
        else:
            for _ in range(n_steps):
                self.step()
                self.steps_left -= 1
                if not self.running or self.steps_left <= 0:
                    break
        if self.running and self.steps_left <= 0:
            self.status = MAX_STEPS
        return self

    def stop(self) -> "Descent":
        if self.running:
            self.status, self.steps_left = STOPPED, 0
        return self

    @property
    def message(self) -> str:
        return {
            READY: "Press **One step** or **Run**.",
            RUNNING: f"Running: step {self.steps}.",
            CONVERGED: f"Converged after {self.steps} steps: the gradient is (almost) zero.",
            DIVERGED: DIVERGED_MESSAGE,
            MAX_STEPS: f"Paused after {self.steps} steps: press Run to go on. "
                       "A larger learning rate would get there faster.",
            STOPPED: f"Stopped after {self.steps} steps: press Run to go on.",
        }[self.status]
