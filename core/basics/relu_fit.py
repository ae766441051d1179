"""ReLUs build anything: a sum of units w·max(0, m·x + b), plus a constant c, fitted by SGD.

Each unit is a line with its negative part replaced by zero: a "hinge" at x = -b/m.
The output weight w (the next layer's multiply) lets a unit bend the sum up or
down; add enough hinges and the sum follows any curve. Plain numpy, hand-written
gradients (checked against torch in the tests).
"""
from dataclasses import dataclass

import numpy as np

from core.basics.quadratic import exploded

X_RANGE = (-2.0, 2.0)

TARGETS = {
    "wave: sin(2x)": lambda x: np.sin(2 * x),
    "quadratic: x² - 1": lambda x: x**2 - 1,
    "V: |x|": np.abs,
    "step: tanh(4x)": lambda x: np.tanh(4 * x),
    "zig-zag": lambda x: np.abs(np.abs(x) - 1) - 0.5,
}


def target_points(name, n=40):
    x = np.linspace(*X_RANGE, n)
    return x, TARGETS[name](x)


@dataclass
class ReluSum:
    m: np.ndarray   # slopes, one per unit
    b: np.ndarray   # offsets
    w: np.ndarray   # output weights
    c: float = 0.0  # constant

    @property
    def n_units(self):
        return len(self.m)

    def params(self):
        return dict(m=self.m, b=self.b, w=self.w, c=np.array([self.c]))


def empty() -> ReluSum:
    return ReluSum(np.zeros(0), np.zeros(0), np.zeros(0), 0.0)


def add_unit(net: ReluSum, seed: int) -> ReluSum:
    """A new unit with its hinge somewhere inside the x range, pointing left or right, small output weight.
    Seeded by (seed, unit number) so the same clicks give the same units."""
    rng = np.random.default_rng([seed, net.n_units])
    hinge = rng.uniform(X_RANGE[0] * 0.8, X_RANGE[1] * 0.8)
    m = rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.5)
    w = rng.choice([-1.0, 1.0]) * rng.uniform(0.2, 0.6)
    return ReluSum(np.append(net.m, m), np.append(net.b, -m * hinge), np.append(net.w, w), net.c)


def contributions(net: ReluSum, x):
    """(units, points): what each unit adds to the sum at each x."""
    return net.w[:, None] * np.maximum(0.0, net.m[:, None] * x[None, :] + net.b[:, None])


def predict(net: ReluSum, x):
    return net.c + contributions(net, x).sum(0)


def mse(net: ReluSum, x, y):
    return float(np.mean((predict(net, x) - y) ** 2))


def gradients(net: ReluSum, x, y) -> dict:
    z = net.m[:, None] * x[None, :] + net.b[:, None]
    active = (z > 0).astype(float)
    dpred = 2 * (predict(net, x) - y) / len(x)                 # dL/dpred, (points,)
    dz = net.w[:, None] * active * dpred[None, :]              # through w· and the ReLU
    return dict(m=(dz * x[None, :]).sum(1), b=dz.sum(1),
                w=(np.maximum(0.0, z) * dpred[None, :]).sum(1), c=np.array([dpred.sum()]))


def sgd_step(net: ReluSum, x, y, lr) -> ReluSum:
    g = gradients(net, x, y)
    return ReluSum(net.m - lr * g["m"], net.b - lr * g["b"], net.w - lr * g["w"], float(net.c - lr * g["c"][0]))


def stalled(losses, window=300, tolerance=1e-2) -> bool:
    """The loss has (almost) stopped going down: under `tolerance` relative improvement over `window` steps."""
    if len(losses) <= window:
        return False
    before, now = losses[-window - 1], losses[-1]
    return before - now < tolerance * before


def rising(losses, factor=1.5) -> bool:
    """A slower kind of divergence: the loss has climbed well above the best it reached."""
    return len(losses) > 1 and losses[-1] > factor * min(losses)


READY, RUNNING, CONVERGED, STALLED, DIVERGED, MAX_STEPS, STOPPED = (
    "ready", "running", "converged", "stalled", "diverged", "max steps", "stopped")


class ReluFit:
    """Fitting a sum of ReLUs to target points by SGD, kept between reruns of the page, which only calls its
    methods:

        fit = ReluFit(seed=42, n_units=2)
        fit.target(x, y)          # the points to fit (a change starts the loss curve again)
        fit.add_unit(); fit.remove_unit(); fit.clear()
        fit.step()                # one SGD step on every m, b, w and c
        fit.run(5000); fit.tick(100)   # Train: until it fits, stalls, explodes, is stopped or hits the limit
        fit.history               # the loss before the first step and after each one

    New units come from (seed, unit number), so the same clicks give the same units."""

    def __init__(self, seed: int, n_units: int = 0, lr: float = 0.03):
        self.seed, self.lr = seed, lr
        self.net = empty()
        self.x, self.y = np.zeros(0), np.zeros(0)
        self.status, self.steps_left, self.run_start = READY, 0, 0
        self.history: list[float] = []
        for _ in range(n_units):
            self.add_unit()

    # ---- what the page changes ---------------------------------------------------------------------------------
    def target(self, x, y) -> "ReluFit":
        x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
        if not (np.array_equal(x, self.x) and np.array_equal(y, self.y)):
            self.x, self.y = x, y
            self._restart()
        return self

    def add_unit(self) -> "ReluFit":
        self.net = add_unit(self.net, self.seed)
        return self._restart()

    def remove_unit(self) -> "ReluFit":
        if self.net.n_units:
            self.net = ReluSum(self.net.m[:-1], self.net.b[:-1], self.net.w[:-1], self.net.c)
        return self._restart()

    def clear(self) -> "ReluFit":
        self.net = empty()
        return self._restart()

    def _restart(self) -> "ReluFit":
        """A new model or new points: the old loss curve no longer describes them."""
        self.history = [self.loss] if self.ready else []
        self.status, self.steps_left = READY, 0
        return self

    # ---- training ----------------------------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        """Something to train: at least one unit and two points."""
        return self.net.n_units > 0 and len(self.x) >= 2

    @property
    def loss(self) -> float:
        return mse(self.net, self.x, self.y) if len(self.x) else float("nan")

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    @property
    def steps(self) -> int:
        return max(0, len(self.history) - 1)

    def step(self) -> "ReluFit":
        """One SGD step; a loss that explodes keeps the last good net and sets DIVERGED."""
        if not self.ready or self.status == DIVERGED:
            return self
        if not self.history:
            self.history.append(self.loss)
        with np.errstate(over="ignore", invalid="ignore"):
            new = sgd_step(self.net, self.x, self.y, self.lr)
            new_loss = mse(new, self.x, self.y)
        if exploded(self.history, new_loss):
            self.status, self.steps_left = DIVERGED, 0
            return self
        self.net = new
        self.history.append(new_loss)
        return self

    def run(self, max_steps: int = 5000) -> "ReluFit":
        if self.ready:                           # after DIVERGED too: a new press of Train, perhaps with a lower rate
            self.status, self.steps_left, self.run_start = RUNNING, max_steps, len(self.history)
        return self

    def tick(self, n_steps: int = 100) -> "ReluFit":
        """One frame of a run: `n_steps` steps, then whether to go on."""
        if not self.running:
            return self
        if not self.ready:
            self.status = STOPPED
            return self
        for _ in range(min(n_steps, self.steps_left)):
            self.step()
            self.steps_left -= 1
            if not self.running:
                return self
        this_run = self.history[max(0, self.run_start - 1):]
        if rising(this_run):
            self.status = DIVERGED
        elif self.history[-1] < 1e-5:
            self.status = CONVERGED
        elif stalled(this_run):
            self.status = STALLED
        elif self.steps_left <= 0:
            self.status = MAX_STEPS
        return self

    def stop(self) -> "ReluFit":
        if self.running:
            self.status, self.steps_left = STOPPED, 0
        return self

    @property
    def message(self) -> str | None:
        """What to say under the chart, or None."""
        if self.status == DIVERGED:
            return ("The loss exploded (or turned back up): learning rate too high. Lower it and press Train "
                    "again.")
        if len(self.x) < 2:
            return ("Drag a small box over the faint grid to place target points there (or type one in below the "
                    "chart); you need at least two.")
        if self.net.n_units == 0:
            return "No units yet: the model is just a constant. Press **Add a ReLU**."
        why = {STALLED: f"the loss has stopped going down with {self.net.n_units} units. Add a unit and train "
                        "again to bend the sum further.",
               MAX_STEPS: "that's the limit for one press of Train; press it again to go on.",
               CONVERGED: "the sum goes through the points."}.get(self.status)
        return f"Training stopped after {self.steps} steps: {why}" if why else None
