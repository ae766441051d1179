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
