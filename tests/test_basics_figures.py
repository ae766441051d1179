"""How training works' figures: what each draws (the page tests check the page around them)."""
from core.basics import figures, relu_fit


def test_relu_figure_draws_the_grid_only_to_draw_on():
    net = relu_fit.add_unit(relu_fit.add_unit(relu_fit.empty(), seed=0), seed=1)
    x, y = relu_fit.target_points("V: |x|", n=5)
    plain = figures.relu_figure(x, y, net)
    assert [t.name for t in plain.data] == ["target", "unit 1", "unit 2", "sum (the model)"]
    grid, *rest = figures.relu_figure(x, y, net, grid=True).data      # curve 0: what a box selects
    assert len(grid.x) == 33 * 17 and min(grid.x) == -2 and max(grid.y) == 2
    assert [t.name for t in rest] == [t.name for t in plain.data]


def test_in_a_narrow_place_the_network_s_panels_stack_instead_of_sharing_one_row():
    import numpy as np

    from core.basics.titanic import LayerNumbers
    rng = np.random.default_rng(0)
    numbers = LayerNumbers(rng.normal(size=8), rng.normal(size=32), np.zeros(32), rng.normal(size=2),
                           np.array([0.3, 0.7]))
    names = [f"input {i}" for i in range(8)]
    wide = figures.layers_figure(numbers, names, ["died", "survived"]).layout
    narrow = figures.layers_figure(numbers, names, ["died", "survived"], narrow=True).layout
    assert len({wide[f"yaxis{n}"].domain for n in ("", 2, 3, 4)}) == 1            # one row of four
    assert narrow.xaxis.domain == narrow.xaxis2.domain == (0.0, 1.0)            # inputs, then hidden, full width
    assert narrow.yaxis.domain[0] > narrow.yaxis2.domain[1] > narrow.yaxis3.domain[1] == narrow.yaxis4.domain[1]
    assert narrow.height > wide.height

    snapshot = {"weights": {"layer 1": rng.normal(size=(32, 8)), "layer 2": rng.normal(size=(2, 32))}, "step": 9}
    wide = figures.weights_figure(snapshot, snapshot).layout
    narrow = figures.weights_figure(snapshot, snapshot, narrow=True).layout
    assert wide.xaxis3.domain[0] > wide.xaxis2.domain[1]                         # the histogram beside them
    assert narrow.xaxis3.domain == (0.0, 1.0) and narrow.yaxis3.domain[1] < narrow.yaxis.domain[0]   # under them


def test_a_quadratic_is_written_with_its_signs():
    assert figures.quadratic_text(-20.2, -4.05, -10.32) == "−20.20x² − 4.05x − 10.32"
    assert figures.quadratic_text(3, 2, 1, digits=None) == "3x² + 2x + 1"


def test_the_loss_curve_ticks_its_steps_at_whole_numbers():
    import re
    drawn = figures.loss_curve_figure([3.0, 2.0, 1.5], "MSE")                  # steps 0, 1, 2
    x_ticks = re.findall(r'text-anchor="middle" fill="[^"]+" font-size="\d+">([^<]+)</text>', drawn)
    assert x_ticks == ["0", "1", "2"]


def test_the_weights_histogram_at_step_0_is_drawn_once():
    import numpy as np
    rng = np.random.default_rng(0)
    start = {"weights": {"layer 1": rng.normal(size=(4, 3)), "layer 2": rng.normal(size=(2, 4))}, "step": 0}
    later = {"weights": {"layer 1": rng.normal(size=(4, 3)), "layer 2": rng.normal(size=(2, 4))}, "step": 5}
    histograms = lambda fig: [t.name for t in fig.data if t.type == "histogram"]       # noqa: E731
    assert histograms(figures.weights_figure(start, start)) == ["at step 0"]
    assert histograms(figures.weights_figure(later, start)) == ["at step 0", "at step 5"]
