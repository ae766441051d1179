"""How training works: Arthur Samuel's loop, live. The quadratic, the ReLUs and the from-scratch autograd compute in
the script (microseconds a step) through core/basics' state objects, which the page only steps; the Titanic network
trains as a run of the training service (ui/runs.py) and is drawn from the run store."""
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from core.basics import figures, quadratic, relu_fit, side_by_side, titanic
from core.live import smoothed_losses
from ui import images as pictures
from ui import runs as ui_runs
from ui.charts import show_chart
from ui.code import show_code
from ui.frame import require_frame
from ui.notices import resolved_once
from ui.sections import later, numbered
from ui.tables import show_table
from ui.text import chance, points_apart

require_frame()

ss = st.session_state
LESSON, KIND = "how_training_works", "titanic"
DATA = {"dataset": titanic.DATASET}
WIDGETS = {"n_train": "htw_t_rows", "epochs": "htw_t_epochs", "n_hidden": "htw_t_hidden", "lr": "htw_t_lr",
           "seed": "htw_seed"}
ROWS = [25, 50, 100, 200, 400, 700, titanic.MAX_TRAIN]
EPOCHS = [5, 10, 20, 40, 60, 100, 150]
HIDDEN = [4, 8, 16, 32, 64]
T_LRS = [1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
TICK = 0.15                      # seconds between animation frames while "Run" is on
SLOW_TICK = 0.7                  # in slow motion: one box of the loop per frame, slow enough to read
QUAD_STEPS_PER_TICK = 5
QUAD_STEPS_PER_RUN = 300         # one press of Run: at most ~15 s of animation
RELU_STEPS_PER_TICK = 100
RELU_MAX_STEPS = 5000            # one press of Train
LRS = [0.0001, 0.001, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5]
RELU_LRS = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
MY_POINTS = "my points (draw on the grid)"
LOOP_HEIGHT = 340               # px: Samuel's loop, the size it was as a chart
STAGE_TEXT = {
    "inputs": "**Inputs**: this batch of data, the x values (here all 20 points at once).",
    "model": "**Model**: multiply and add: ŷ = a·x² + b·x + c, with the current weights.",
    "results": "**Results**: the predictions ŷ, one per input.",
    "loss": "**Loss**: one number for how wrong the results are (the mean of the squared errors, or of their sizes).",
    "update": "**Update**: the gradient says which way each weight makes the loss go up; "
              "step each weight a little the other way: w ← w − lr·gradient.",
    "weights": "**Weights**: the new a, b, c, ready for the next turn of the loop.",
}


# ---- settings and state -------------------------------------------------------------------------------------
def nearest_options() -> None:
    """Settings from a URL or an old run may fall between a slider's options: take the nearest one."""
    for key, options in (("htw_t_rows", ROWS), ("htw_t_epochs", EPOCHS), ("htw_t_hidden", HIDDEN),
                         ("htw_t_lr", T_LRS)):
        if key in ss and ss[key] not in options:
            try:
                ss[key] = min(options, key=lambda o: abs(np.log(o) - np.log(max(float(ss[key]), 1e-9))))
            except (TypeError, ValueError):
                del ss[key]
    if "htw_seed" in ss:
        try:
            seed = int(min(max(int(ss.htw_seed), 0), 10_000))
        except (TypeError, ValueError):
            del ss["htw_seed"]
            return
        if seed != ss.htw_seed or not isinstance(ss.htw_seed, int):
            ss.htw_seed = seed


def init_state(seed):
    if ss.get("htw_seed_used") != seed:          # a new seed: everything starts again from it
        ss.htw_seed_used = seed
        ss.htw_problem = quadratic.make_problem(seed)
        ss.htw_gd = quadratic.Descent(ss.htw_problem)
        ss.htw_relu = relu_fit.ReluFit(seed, n_units=2)
        ss.setdefault("htw_my_points", [])
        ss.setdefault("htw_chart_key", 0)


def lr():
    return float(ss.get("htw_lr", 0.1))


def kind():
    return ss.get("htw_kind", "MSE")


def descent() -> quadratic.Descent:
    """Section 3's gradient descent, with the learning rate and loss its controls say."""
    return ss.htw_gd.configure(lr(), kind())


def relu() -> relu_fit.ReluFit:
    """Section 4's sum of ReLUs, with its learning rate and target points."""
    fit = ss.htw_relu
    fit.lr = float(ss.get("htw_relu_lr", 0.03))
    return fit.target(*relu_target())


def relu_target():
    choice = ss.get("htw_target", next(iter(relu_fit.TARGETS)))
    if choice == MY_POINTS:
        points = sorted(set(ss.htw_my_points))
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return relu_fit.target_points(choice)


def descent_interval():
    """How often sections 1 and 3 redraw while gradient descent runs; None (no timer) when it doesn't."""
    if not ss.htw_gd.running:
        return None
    return SLOW_TICK if ss.get("htw_slow", False) else TICK


def loop_while_training(numbers: dict, running: bool) -> None:
    """Samuel's loop beside any training on this page: every box lit while it runs (one step is far too quick
    to show box by box), with this model's own numbers written in the boxes."""
    loop = partial(figures.loop_svg, list(figures.LOOP_BOXES) if running else None, numbers)
    pictures.drawing(loop(max_height=260), narrow=loop(tall=True))


# ---- 1. the loop ----------------------------------------------------------------------------------------------
def section_loop():
    st.markdown(
        "Here is Samuel's picture. Press **Next box** to push one batch of data through it, one box at a time, "
        "for the quadratic you will meet below (its weights are a, b, c). The lit box is the one being computed; "
        "the numbers flowing through are written in the boxes and in the table. When the loop comes back round "
        "to *weights*, one step of training is done. Section 3's **Run** drives this same diagram while it trains "
        "(tick *slow motion* there to see it light one box per frame).")
    running = ss.htw_gd.running
    walk_buttons = st.container(horizontal=True)
    walk_buttons.button("Next box ▶", key="htw_next_box", on_click=lambda: descent().next_box(), disabled=running)
    walk_buttons.button("Start again", key="htw_loop_reset", on_click=lambda: descent().reset(), disabled=running)
    st.fragment(run_every=descent_interval())(loop_view)()


def loop_view():
    gd = ss.htw_gd
    if gd.trace is None:
        pictures.drawing(figures.loop_svg(max_height=LOOP_HEIGHT), narrow=figures.loop_svg(tall=True))
        return
    name = figures.LOOP_STAGES[gd.stage]
    running_fast = gd.running and not ss.get("htw_slow", False)
    active = list(figures.LOOP_BOXES) if running_fast else name
    loop = partial(figures.loop_svg, active, figures.loop_numbers(gd.trace, gd.stage))
    pictures.drawing(loop(max_height=LOOP_HEIGHT), narrow=loop(tall=True))
    if running_fast:
        st.caption(f"Running {QUAD_STEPS_PER_TICK} steps per frame — too fast to light one box at a time "
                   f"(tick *slow motion* in section 3 to watch each box). Showing step {gd.steps}.")
    else:
        st.markdown(STAGE_TEXT[name])
    rows, weights = figures.loop_tables(gd.trace, gd.stage)
    cols = st.columns([5, 4])
    show_table(rows, where=cols[0], index=False)
    cols[0].caption(rows.attrs.get("note", ""))
    show_table(weights, where=cols[1], index=False)
    if gd.status == quadratic.DIVERGED:
        st.error(quadratic.DIVERGED_MESSAGE, icon=":material/warning:")


# ---- 2. fit by hand -------------------------------------------------------------------------------------------
def section_by_hand():
    st.markdown(
        "These 20 points come from a quadratic, a·x² + b·x + c, plus some noise. Drag the sliders to find the "
        "a, b and c that fit best. The orange lines are the errors; the **loss** sums them up in one number. "
        "MSE (mean squared error) punishes big errors a lot; MAE (mean absolute error) treats all errors alike. "
        "You'll find that some weights are clearly better than others — that is all a loss says.")
    st.fragment(fit_by_hand)()


def fit_by_hand():
    """A fragment: dragging a slider redraws only this section, so it keeps up with the mouse."""
    problem = ss.htw_problem
    c_sliders, c_plot = st.columns([1, 2])
    with c_sliders:
        hand = [st.slider(n, -5.0, 5.0, 0.0, 0.1, key=f"htw_hand_{n}") for n in quadratic.WEIGHT_NAMES]
        hand_kind = st.radio("Loss", quadratic.LOSSES, horizontal=True, key="htw_hand_kind")
        show_true = st.checkbox("Show the true curve", key="htw_show_true")
        hand_loss = quadratic.loss(hand, problem.x, problem.y, hand_kind)
        previous = ss.get("htw_hand_prev")
        changed = previous is not None and previous[0] == hand_kind and abs(hand_loss - previous[1]) > 1e-9
        st.metric(f"Your {hand_kind}", f"{hand_loss:.3f}", delta_color="inverse",
                  delta=f"{hand_loss - previous[1]:+.3f}" if changed else None)
        ss.htw_hand_prev = (hand_kind, hand_loss)
    with c_plot:
        pictures.drawing(figures.quadratic_figure(problem, hand, show_true, hand_kind))


# ---- 3. gradient descent --------------------------------------------------------------------------------------
def section_descent():
    st.markdown(
        "Dragging sliders doesn't scale to millions of weights. Instead, calculus tells us, for each weight, which "
        "way makes the loss go up and how steeply: the **gradient**. Take a small step the other way, the size "
        "set by the **learning rate**, and repeat. The arrows show where the next step will move each weight, to "
        "scale. Try a learning rate of 0.3 or 0.5 (it explodes), and 0.001 (it crawls).")
    show_code("""abc = torch.tensor([a, b, c], requires_grad=True)
for step in range(n_steps):
    loss = mse(quad(abc, x), y)       # model → results → loss
    loss.backward()                   # the gradient: abc.grad
    with torch.no_grad():
        abc -= lr * abc.grad          # the update
        abc.grad.zero_()""")
    controls = st.columns([2, 1, 1])
    controls[0].select_slider("Learning rate", LRS, value=0.1, key="htw_lr")
    controls[1].radio("Loss", quadratic.LOSSES, horizontal=True, key="htw_kind")
    controls[2].checkbox("Slow motion", key="htw_slow", help="Light one box of the loop (section 1) per frame.")
    running = ss.htw_gd.running
    buttons = st.container(horizontal=True)
    buttons.button("One step", key="htw_one_step", on_click=lambda: descent().step(), disabled=running)
    if running:
        buttons.button("Stop", key="htw_stop", on_click=lambda: ss.htw_gd.stop(), type="primary")
    else:
        buttons.button("Run", key="htw_run", on_click=lambda: descent().run(QUAD_STEPS_PER_RUN), type="primary")
    buttons.button("Reset to 0, 0, 0", key="htw_reset_zero", on_click=lambda: descent().reset((0.0, 0.0, 0.0)),
                   disabled=running)
    buttons.button("Reset to my sliders", key="htw_reset_hand", disabled=running,
                   on_click=lambda: descent().reset([ss[f"htw_hand_{n}"] for n in quadratic.WEIGHT_NAMES]))
    st.fragment(run_every=descent_interval())(descent_view)()


def descent_view():
    gd = descent()
    was_running = gd.running
    gd.tick(QUAD_STEPS_PER_TICK, slow=ss.get("htw_slow", False))
    problem = gd.problem
    if gd.status == quadratic.DIVERGED:
        st.error(quadratic.DIVERGED_MESSAGE, icon=":material/warning:")
    elif gd.status == quadratic.CONVERGED:
        st.success(gd.message, icon=":material/check_circle:")
    else:
        st.info(f"Step {gd.steps} · {gd.kind} = {gd.loss:.4f}. " + ("" if gd.running else gd.message))
    pictures.drawing(figures.gradient_arrows_svg(gd.weights, gd.gradient, gd.lr))
    left, right = st.columns(2)
    pictures.drawing(figures.quadratic_figure(problem, gd.weights, ss.get("htw_show_true", False), gd.kind), where=left)
    if len(gd.history) > 1:
        pictures.drawing(figures.loss_curve_figure(gd.history, gd.kind, gd.status == quadratic.DIVERGED), where=right)
    else:
        right.caption("The loss curve appears here once you take a step.")
    if was_running and not gd.running:
        st.rerun(scope="app")        # the run ended: redraw the page once so the buttons come back


# ---- 4. ReLUs build anything ----------------------------------------------------------------------------------
def section_relus():
    st.markdown(
        "A **rectified linear unit** is a line with its negative part replaced by zero: max(0, m·x + b). It has "
        "one bend. Multiply it by a weight w and add several together and you can bend a line into any shape. "
        "Pick a target (or *my points* and drag boxes on the faint grid), add units one at a time, then let SGD move "
        "every m, b and w. The dotted lines are what each unit adds; the thick red line is their sum.")
    show_code("""def rectified_linear(m, b, x):
    return torch.clip(m * x + b, min=0.)      # max(0, m·x + b)

def model(x): return c + sum(w[i] * rectified_linear(m[i], b[i], x) for i in range(n_units))""")
    controls = st.columns([2, 2, 1])
    controls[0].selectbox("Target", [*relu_fit.TARGETS, MY_POINTS], key="htw_target")
    controls[1].select_slider("Learning rate ", RELU_LRS, value=0.03, key="htw_relu_lr")
    running = ss.htw_relu.running
    buttons = st.container(horizontal=True)
    buttons.button("Add a ReLU", key="htw_add_unit", on_click=lambda: relu().add_unit(), disabled=running)
    buttons.button("Remove one", key="htw_remove_unit", on_click=lambda: relu().remove_unit(), disabled=running)
    if running:     # Stop and Train call different methods: a click on a stale Stop never restarts a run
        buttons.button("Stop", key="htw_relu_train", on_click=lambda: ss.htw_relu.stop(), type="primary")
    else:
        buttons.button("Train", key="htw_relu_train", on_click=lambda: relu().run(RELU_MAX_STEPS), type="primary")
    buttons.button("Remove all", key="htw_relu_reset", on_click=lambda: relu().clear(), disabled=running)
    if ss.get("htw_target") == MY_POINTS:
        buttons.button("Clear my points", key="htw_clear_points", on_click=clear_points)
    st.fragment(run_every=TICK if running else None)(relu_view)()
    if ss.get("htw_target") == MY_POINTS:
        typed = st.container(horizontal=True, vertical_alignment="bottom")
        typed.number_input("x", -2.0, 2.0, 0.0, 0.25, key="htw_point_x", width=140)
        typed.number_input("y", -2.0, 2.0, 0.0, 0.25, key="htw_point_y", width=140)
        typed.button("Add this point", key="htw_add_point", on_click=add_typed_point)
        typed.caption(f"{len(ss.htw_my_points)} points so far")


def clear_points():
    ss.htw_my_points = []
    ss.htw_chart_key += 1       # a fresh chart: forget the old selection


def add_typed_point():
    point = (round(float(ss.htw_point_x), 3), round(float(ss.htw_point_y), 3))
    ss.htw_my_points = sorted(set(ss.htw_my_points) | {point})


def relu_view():
    fit = relu()
    was_running = fit.running
    fit.tick(RELU_STEPS_PER_TICK)
    net, x, y = fit.net, fit.x, fit.y
    if fit.status == relu_fit.DIVERGED:
        st.error(fit.message, icon=":material/warning:")
    elif fit.message:
        st.info(fit.message)
    title = f"{net.n_units} units · MSE = {fit.loss:.4f}" if len(x) else f"{net.n_units} units"
    drawing = ss.get("htw_target") == MY_POINTS     # the grid to draw on, a chart of its own: no stale selection
    event = show_chart(figures.relu_figure(x, y, net, title=title, grid=drawing),
                       key=f"htw_relu_fig_{ss.htw_chart_key}_{drawing:d}", place="htw_relu_fig", on_select="rerun",
                       selection_mode=("points", "box"))
    if drawing and event:
        clicked = {(round(float(p["x"]), 3), round(float(p["y"]), 3))
                   for p in event.get("selection", {}).get("points", []) if p.get("curve_number") == 0}
        if clicked - set(ss.htw_my_points):
            ss.htw_my_points = sorted(set(ss.htw_my_points) | clicked)
            st.rerun()
    if fit.ready:
        loop_while_training({"inputs": f"{len(x)} points", "weights": f"{3 * net.n_units + 1} numbers",
                             "model": "c + Σ w·ReLU", "results": "the sum", "loss": f"MSE {fit.loss:.4f}",
                             "update": f"step {fit.steps}"}, fit.running)
    left, right = st.columns(2)
    units = pd.DataFrame({"unit": np.arange(1, net.n_units + 1), "m": net.m, "b": net.b, "w": net.w,
                          "bend at x = −b/m": -net.b / np.where(net.m == 0, np.nan, net.m)})
    show_table(units.round(3), where=left, index=False)
    left.caption(f"{net.n_units} ReLU units · constant c = {net.c:.3f}")
    if len(fit.history) > 1:
        pictures.drawing(figures.loss_curve_figure(fit.history, "MSE", fit.status == relu_fit.DIVERGED), where=right)
    if was_running and not fit.running:
        st.rerun(scope="app")        # training ended: redraw the page once so the buttons read right


# ---- 5. a real network ----------------------------------------------------------------------------------------
def section_network(seed: int):
    """The controls, the Train button, the live panel and the trained network's weights; returns the run shown and
    the loaded run (each or None)."""
    st.markdown(
        "Now the same loop with hundreds of weights instead of three: a small neural network (multiply-and-add, ReLU, "
        "multiply-and-add) predicting who survived the Titanic from class, sex, age and family aboard. Training "
        "runs on the server's worker (a GPU when there is one). Watch the two weight matrices change as heatmaps "
        "(blue negative, red positive) and the loss fall on the **training** rows and the held-out **validation** "
        "rows. Train long on few rows and the validation loss turns back up: that's **overfitting** — the network "
        "memorises its few passengers instead of learning what generalises.")
    found = resolved_once(titanic.DATASET, False, key="htw_t_resolved")
    show_code(titanic.FASTAI_CODE)
    cols = st.columns(4)
    n_train = cols[0].select_slider("Training rows", ROWS, value=100, key="htw_t_rows",
                                    help=f"The other {titanic.N_VALID} passengers are always held out for "
                                         "validation.")
    epochs = cols[1].select_slider("Epochs", EPOCHS, value=60, key="htw_t_epochs")
    n_hidden = cols[2].select_slider("Hidden units", HIDDEN, value=32, key="htw_t_hidden")
    t_lr = cols[3].select_slider("Learning rate  ", T_LRS, value=3e-2, key="htw_t_lr")
    config = dict(n_train=int(n_train), epochs=int(epochs), n_hidden=int(n_hidden), lr=float(t_lr), seed=seed)
    st.caption(f"{n_train} training rows · {titanic.N_VALID} validation rows · "
               f"{len(titanic.FEATURES)} inputs ({', '.join(titanic.FEATURES)}) → {n_hidden} hidden → 2 outputs, "
               f"{sum(p.numel() for p in titanic.make_mlp(int(n_hidden)).parameters()):,} weights · seed {seed}")
    ui_runs.train_button(LESSON, DATA, config, "Train the network", key="htw_t_train", kind=KIND,
                         title=f"Titanic MLP: {n_train} rows, {epochs} epochs, seed {seed}", disabled=found is None)
    run_id = ui_runs.current(LESSON, KIND, DATA)
    view = ui_runs.live(run_id, table=False, extra=live_weights) if run_id else None
    run = ui_runs.loaded(view)
    if run is not None:
        ui_runs.run_details(view, WIDGETS)
        trained_weights(run, view.id)
    return view, run


def as_snapshot(event: dict | None) -> dict | None:
    if not event:
        return None
    return dict(step=event["step"], weights={k: np.asarray(v, dtype=float) for k, v in event["weights"].items()})


def live_weights(found) -> None:
    """While the network trains: the loop with its numbers, and the weights as the job last sent them."""
    if not found.active:
        return
    progress = found.progress
    if progress.losses:
        last = progress.losses[-1]
        hidden = found.config.get("n_hidden", "?")
        loop_while_training({"inputs": "a batch of rows", "weights": f"{len(titanic.FEATURES)}×{hidden}, "
                             f"{hidden}×2", "model": "Linear, ReLU, Linear", "results": "P(survived)",
                             "loss": f"{smoothed_losses(progress)[-1] or 0:.3f}", "update": f"step {last['step']}"},
                            True)
    now = as_snapshot(progress.latest.get("snapshot"))
    if now is not None:
        draw = partial(figures.weights_figure, now, as_snapshot(progress.latest.get("snapshot_start")), None,
                       titanic.FEATURES, titanic.CLASSES)
        show_chart(draw(), narrow=partial(draw, narrow=True), key=f"htw_weights_live_{found.id}")


def trained_weights(run, run_id: str) -> None:
    """The finished (or stopped) run: its weights at any step, its losses, and what it says about passengers."""
    snapshots = run.snapshots
    summary = run.summary
    ui_runs.stopped_early(summary)
    vmax = max(float(np.abs(w).max()) for s in snapshots for w in s["weights"].values()) if snapshots else None
    steps = [s["step"] for s in snapshots]
    if len(steps) > 1:
        chosen = st.select_slider("Weights at step", steps, value=steps[-1], key=f"htw_t_step_{run_id}")
        current = snapshots[steps.index(chosen)]
    elif snapshots:
        current = snapshots[-1]
    else:
        current = None
    if current is not None:
        draw = partial(figures.weights_figure, current, snapshots[0], vmax, titanic.FEATURES, titanic.CLASSES)
        show_chart(draw(), narrow=partial(draw, narrow=True), key=f"htw_weights_{run_id}")
    rows = run.epoch_table
    if rows:
        show_chart(figures.train_valid_figure(rows), key=f"htw_tv_{run_id}")
        best = min(rows, key=lambda r: r["valid_loss"])
        last = rows[-1]
        if last["valid_loss"] > 1.2 * best["valid_loss"]:
            st.warning(f"Overfitting: the validation loss was lowest at epoch {best['epoch']} "
                       f"({best['valid_loss']:.3f}) and is {last['valid_loss']:.3f} now, while the training loss "
                       f"kept falling to {last['train_loss']:.3f}.", icon=":material/trending_up:")
    cols = st.columns(2)
    cols[0].metric("Accuracy on the validation passengers", f"{summary['accuracy']:.1%}",
                   f"{points_apart(summary['accuracy'], summary['majority_accuracy']):+.1f} points",
                   help="compared with always saying the commonest answer, 'died'")
    cols[1].metric("Always saying 'died'", f"{summary['majority_accuracy']:.1%}")
    st.markdown("**A few validation passengers** (the network never trained on them), with the probability it "
                "gives each of surviving: the softmax of its two outputs.")
    examples = pd.DataFrame(run.examples, columns=["pclass", "sex", "age", "sibsp", "parch", "p_survived",
                                                   "survived"])
    examples.insert(6, "prediction", np.where(examples["p_survived"] >= 0.5, "survived", "died"))
    examples = examples.rename(columns={"pclass": "class", "sibsp": "siblings/spouses", "parch": "parents/children",
                                        "p_survived": "P(survived)", "survived": "truth"})
    examples["age"] = [f"{a:g}" if pd.notna(a) else "unknown" for a in examples["age"]]
    first = ["truth", "prediction", "P(survived)"]         # what the table is about, before a narrow page cuts it
    examples = examples[first + [c for c in examples.columns if c not in first]]
    show_table(examples, index=False, formats={"P(survived)": chance})


# ---- 6. ask the network ---------------------------------------------------------------------------------------
def section_predict(run) -> None:
    st.markdown(
        "`learn.predict(row)`: describe a passenger and follow the numbers through the network you trained. "
        "The form's values are turned into the 8 inputs exactly as the training rows were (a missing age becomes "
        "the training median, then each number is normalised with the training mean and standard deviation); "
        "layer 1 multiplies and adds; the ReLU replaces negatives with zero; layer 2 multiplies and adds again, "
        "giving one score per class; and the **softmax** turns the two scores into probabilities that add up "
        "to 1.")
    with st.form("htw_predict_form", border=True):
        cols = st.columns(5)
        pclass = cols[0].selectbox("Class", titanic.PCLASSES, index=2, key="htw_p_class")
        sex = cols[1].radio("Sex", titanic.SEXES, index=1, key="htw_p_sex", horizontal=True)
        age = cols[2].number_input("Age (years)", 0.0, 100.0, 30.0, 1.0, format="%g", key="htw_p_age")
        unknown = cols[2].checkbox("Age unknown", key="htw_p_age_unknown")
        sibsp = cols[3].number_input("Siblings/spouses aboard", 0, 10, 0, key="htw_p_sibsp")
        parch = cols[4].number_input("Parents/children aboard", 0, 10, 0, key="htw_p_parch")
        st.form_submit_button("Predict", type="primary", icon=":material/psychology:")
    try:
        passenger = titanic.passenger_frame(pclass, sex, None if unknown else float(age), int(sibsp), int(parch))
    except ValueError as e:
        st.warning(f"This passenger cannot be asked about: {e}.")
        return
    numbers = titanic.explain(run.model, run.scaling, passenger)
    verdict = "survived" if numbers.survived >= 0.5 else "died"
    st.markdown(f"The network says this passenger **{verdict}**: P(survived) = **{numbers.survived:.1%}**, "
                f"P(died) = **{1 - numbers.survived:.1%}**.")
    draw = partial(figures.layers_figure, numbers, titanic.FEATURES, titanic.CLASSES)
    show_chart(draw(), narrow=partial(draw, narrow=True), key="htw_p_layers")
    raw = passenger.iloc[0]
    yes_no = {True: "yes", False: "no"}
    given = [yes_no[raw.pclass == "1st"], yes_no[raw.pclass == "2nd"], yes_no[raw.pclass == "3rd"],
             yes_no[raw.sex == "male"], "unknown" if unknown else f"{raw.age:g}", yes_no[bool(unknown)],
             raw.sibsp, raw.parch]
    left, middle, right = st.columns([4, 3, 3])
    left.markdown("**Inputs**")
    show_table(pd.DataFrame({"input": titanic.FEATURES, "given": [str(v) for v in given],
                             "normalised": numbers.inputs.round(3)}), where=left, index=False)
    middle.markdown(f"**Layer 1 → ReLU** ({len(numbers.hidden)} hidden units)")
    show_table(pd.DataFrame({"unit": np.arange(1, len(numbers.hidden) + 1), "before ReLU": numbers.hidden,
                             "after ReLU": numbers.relu}).round(3), where=middle, index=False)
    middle.caption(f"{int((numbers.relu == 0).sum())} of {len(numbers.relu)} units are negative, so the ReLU "
                   "sets them to 0: they add nothing for this passenger.")
    right.markdown("**Layer 2 → softmax**")
    exps = np.exp(numbers.outputs - numbers.outputs.max())
    show_table(pd.DataFrame({"class": titanic.CLASSES, "output": numbers.outputs.round(3),
                             "probability": numbers.probs.round(4)}), where=right, index=False)
    o_died, o_survived = numbers.outputs
    right.caption(f"softmax: P(survived) = e^{o_survived:.2f} / (e^{o_died:.2f} + e^{o_survived:.2f}) = "
                  f"{exps[1] / exps.sum():.3f}")


# ---- 7. from scratch ------------------------------------------------------------------------------------------
def section_from_scratch():
    st.markdown(
        "How does PyTorch find the gradient? Each number remembers how it was made, and `backward()` walks back "
        "from the loss applying the chain rule. Here is a whole autograd engine in a few lines (after Andrej "
        "Karpathy's *micrograd*), doing the same one SGD step on the quadratic as PyTorch, from section 3's "
        "current weights and learning rate. The numbers agree to the last digits a float can hold.")
    st.markdown("**Our `Value`**")
    show_code(side_by_side.VALUE_CODE)
    st.markdown("**The same step in PyTorch**")
    show_code(side_by_side.TORCH_CODE)
    problem, start_weights = ss.htw_problem, ss.htw_gd.weights
    ours = side_by_side.step_from_scratch(start_weights, problem.x, problem.y, lr())
    theirs = side_by_side.step_with_torch(start_weights, problem.x, problem.y, lr())
    comparison = pd.DataFrame({
        "weight": list(quadratic.WEIGHT_NAMES),
        "start": start_weights,
        "gradient (ours)": ours["grad"],
        "gradient (PyTorch)": theirs["grad"],
        "after the step (ours)": ours["new_weights"],
        "after the step (PyTorch)": theirs["new_weights"],
    })
    st.markdown(f"MSE loss before the step: ours **{ours['loss']:.10f}**, PyTorch **{theirs['loss']:.10f}**")
    show_table(comparison, index=False, digits=10)
    difference = max(np.max(np.abs(ours["grad"] - theirs["grad"])),
                     np.max(np.abs(ours["new_weights"] - theirs["new_weights"])))
    st.caption(f"Largest difference between the two: {difference:.1e} "
               f"(floating-point rounding). Our graph for this loss has {ours['n_nodes']} `Value` nodes; "
               f"learning rate {lr()}.")


# ---- page -----------------------------------------------------------------------------------------------------
st.title("How training works")
st.markdown(
    "In 1962 Arthur Samuel described machine learning like this: *inputs* and *weights* go into a *model*, which "
    "gives *results*; a *loss* measures how good the results are; the weights are *updated* to make the loss a "
    "little better; repeat. A neural network is just a model made of multiply-and-add, then replace negatives "
    "with zero, again and again. This page lets you do each of those steps yourself and see every number.")
ui_runs.apply_settings(WIDGETS, LESSON)
nearest_options()
top = st.columns([1, 4])
seed = int(top[0].number_input("Seed", min_value=0, max_value=10_000, value=42, step=1, key="htw_seed",
                               help="Everything random on this page (the noisy points, new ReLU units, the "
                                    "Titanic split, the network's first weights) comes from this number."))
top[1].caption(f"Seed **{seed}**: the same seed gives the same points, units and training runs, every time. "
               "Change it to get a fresh draw.")
init_state(seed)

with numbered("The loop"):
    section_loop()
with numbered("Fit a function by hand"):
    section_by_hand()
with numbered("Let the computer do it"):
    section_descent()
with numbered("ReLUs build anything"):
    section_relus()
with numbered("A real network on real data"):
    view, trained = section_network(seed)
if trained is not None:
    with numbered("Ask the network about a passenger"):
        section_predict(trained)
else:
    later("Ask the network about a passenger", why=ui_runs.not_yet(view))
with numbered("From scratch"):
    section_from_scratch()
