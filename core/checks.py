"""Checks every lesson's `settings` function applies to what a run was given: a page, a shared link or an old run
can carry anything, so each value is checked before a worker sees it, with a sentence a student can act on."""
import math

from core.errors import StudentError


def _bound(value: float, whole: bool) -> str:
    return f"{int(value):,}" if whole else f"{value:g}"


def number(value, name: str, low: float, high: float, whole: bool = False) -> int | float:
    """`value` as an int (whole) or a float, if it is a finite number from low to high; a StudentError if not."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or not low <= value <= high or (whole and value != int(value)):
        kind = "a whole number" if whole else "a number"
        raise StudentError(f"The setting '{name}' must be {kind} from {_bound(low, whole)} to "
                           f"{_bound(high, whole)} (this run has {str(value)[:40]!r}).")
    return int(value) if whole else float(value)


def numbers(cfg: dict, bounds: dict[str, tuple], whole: tuple[str, ...] = ()) -> dict:
    """`cfg` with each setting named in `bounds` ({name: (low, high)}) checked by `number`."""
    return {**cfg, **{name: number(cfg[name], name, low, high, name in whole) for name, (low, high) in bounds.items()}}


def batch_size(value, name: str = "bs", high: int = 1024) -> int | str:
    """'auto' (the lesson sizes the batch to the machine it trains on) or a whole number from 1 to high."""
    if isinstance(value, str) and value == "auto":
        return value
    try:
        return number(value, name, 1, high, whole=True)
    except StudentError:
        raise StudentError(f"The setting '{name}' must be 'auto' or a whole number from 1 to {high:,} "
                           f"(this run has {str(value)[:40]!r}).") from None


def flag(value, name: str) -> bool:
    if not isinstance(value, bool):
        raise StudentError(f"The setting '{name}' must be true or false.")
    return value


SEED = (0, 2**31 - 1)
