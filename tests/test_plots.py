"""The figures every lesson shares (core/plots.py) show the numbers they are given."""
from core import plots

LAYERS = ["body.0", "head"]


def weight_stats(phases: dict[int, str]) -> list[dict]:
    """A run's weight statistics: per logged step, per layer, how far its weights had moved (the body only once
    unfrozen)."""
    return [{"step": step, "layer": layer, "phase": phase,
             "weight_change": 0.0 if layer == "body.0" and phase == "frozen" else step / 10}
            for step, phase in phases.items() for layer in LAYERS]


def test_phase_bars_show_each_phase_at_its_last_step():
    stats = weight_stats({1: "frozen", 2: "frozen", 3: "unfrozen", 4: "unfrozen"})
    frozen, end = plots.phase_bars(stats, LAYERS)
    assert (frozen.name, end.name) == ("after the frozen epoch(s)", "at the end of training")
    assert list(frozen.x) == LAYERS and list(frozen.y) == [0.0, 0.2] and list(end.y) == [0.4, 0.4]
    assert list(plots.phase_bars(stats, LAYERS, floor=1e-9)[0].y) == [1e-9, 0.2]     # a log axis has no 0
    assert plots.unfrozen_from(stats) == 2.5                                         # between steps 2 and 3


def test_a_run_without_a_frozen_phase_has_one_bar_per_layer_and_no_unfreeze_line():
    stats = weight_stats({1: "one_cycle", 2: "one_cycle"})
    [end] = plots.phase_bars(stats, LAYERS)
    assert end.name == "at the end of training" and list(end.y) == [0.2, 0.2]
    assert plots.unfrozen_from(stats) is None
    assert plots.unfrozen_from(weight_stats({1: "unfrozen"})) is None      # unfrozen from the start: no line
    assert plots.phase_bars([], LAYERS) == []
