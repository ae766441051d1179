"""The class's limits on a student's page: a control offers no more than the class allows, and says so where the
class allows less than the lesson would. The training service refuses more whatever a page sends
(core/classroom.check_run); this spares a student pressing Train on a default the class refuses."""
import streamlit as st

from core.classroom import ClassLimits, current_limits
from core.service import get_service


_LOWERED = "_limits_lowered"          # session state: {control's key: the value a limit brought down}


def most_epochs(key: str, lesson_most: int, frozen: int = 0) -> int:
    """The most epochs the control `key` may offer: the lesson's own bound, or the class's limit less the `frozen`
    epochs its recipe trains first (fine_tune's), whichever is lower. A value chosen before the limit came down (or
    from a link) comes down to it."""
    most = max(1, min(lesson_most, _limits().epochs - frozen))
    _at_most(key, most)
    return most


def epochs_note(key: str, lesson_most: int, most: int, frozen: int = 0, where=st) -> None:
    if most < lesson_most:
        allowed = _limits().epochs
        said = f"Your class allows at most {allowed} epochs per run" + (
            ", the frozen one included" if frozen == 1 else f", the {frozen} frozen ones included" if frozen else "")
        # no help icon: the control has one
        where.caption(said + _lowered(key, most, "") + " Your instructor sets the class's limits.")


def _lowered(key: str, most, unit: str) -> str:
    """The end of a limit's sentence: what the control was set to (by a link, the run opened, an earlier choice)
    before the limit brought it down, while it still shows the limit; the code above a run shown then differs from
    what the run trained with, and this says why."""
    was = st.session_state.get(_LOWERED, {}).get(key)
    if was is None or st.session_state.get(key) != most:
        st.session_state.get(_LOWERED, {}).pop(key, None)
        return "."
    return f", so Train uses {most:g}{unit} here, not the {was:g}{unit} it was set to."


def image_sizes(key: str, sizes: list[int]) -> list[int]:
    """The sizes the control `key` may offer: those the class allows (the smallest, if it allows none)."""
    largest = _limits().image_size
    allowed = [s for s in sizes if s <= largest] or sizes[:1]
    _at_most(key, allowed[-1])
    return allowed


def sizes_note(key: str, sizes: list[int], allowed: list[int], where=st) -> None:
    if len(allowed) < len(sizes):
        where.caption(f"Your class allows images of at most {_limits().image_size} pixels"
                      + _lowered(key, allowed[-1], " px") + " Your instructor sets the class's limits.")


def allows(*, image_size: int = 0, epochs: int = 0) -> bool:
    """Whether the class allows a run this big (for advice such as "try 320 pixels": not where Train would refuse)."""
    limits = _limits()
    return image_size <= limits.image_size and epochs <= limits.epochs


def _limits() -> ClassLimits:
    return current_limits(get_service().store.root)          # the limits the service enforces


def _at_most(key: str, most) -> None:
    value = st.session_state.get(key)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > most:
        st.session_state[key] = most
        st.session_state.setdefault(_LOWERED, {})[key] = value
