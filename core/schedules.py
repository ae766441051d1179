"""Learning-rate schedules as plain functions of training progress (0 at the start, 1 at the end)."""
import math


def lr_text(x: float) -> str:
    """A learning rate as the course writes it: 5e-3, 1e-2, 0.1 (not Python's 1e-02), in every lesson's controls,
    code and run names alike."""
    if x >= 0.1:
        return f"{x:g}"
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def cosine(start: float, end: float, pos: float) -> float:
    return end + (start - end) / 2 * (1 + math.cos(math.pi * pos))


def one_cycle(pos: float, pct_start: float = 0.25, div: float = 25.0, div_final: float = 1e5,
              moms: tuple[float, float, float] = (0.95, 0.85, 0.95)) -> tuple[float, float]:
    """(lr as a fraction of lr_max, beta1) at `pos`: lr warms up from 1/div to 1 while momentum falls,
    then anneals to 1/div_final while momentum rises again."""
    if pos < pct_start:
        p = pos / pct_start
        return cosine(1 / div, 1.0, p), cosine(moms[0], moms[1], p)
    p = (pos - pct_start) / (1 - pct_start)
    return cosine(1.0, 1 / div_final, p), cosine(moms[1], moms[2], p)
