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


def train(net: ReluSum, x, y, lr, n_steps, losses=None):
    """n_steps of SGD; returns (net, losses, diverged). Stops (keeping the last good net) if the loss explodes."""
    losses = list(losses) if losses else [mse(net, x, y)]
    for _ in range(n_steps):
        with np.errstate(over="ignore", invalid="ignore"):
            new = sgd_step(net, x, y, lr)
            new_loss = mse(new, x, y)
        if exploded(losses, new_loss):
            return net, losses, True
        net = new
        losses.append(new_loss)
    return net, losses, False
