"""How training works: Arthur Samuel's loop, live. Sections 1–4 and 6 compute in the script (microseconds a
step); section 5 trains a real network through the job runner."""
import numpy as np
import pandas as pd
import streamlit as st

from core.basics import figures, quadratic, relu_fit, side_by_side, titanic
from ui import jobs as ui_jobs
from ui.notices import source_notice
from ui.frame import require_frame

require_frame()

ss = st.session_state
TICK = 0.15                      # seconds between animation frames while "Run" is on
SLOW_TICK = 0.7                  # in slow motion: one box of the loop per frame, slow enough to read
QUAD_STEPS_PER_TICK = 5
QUAD_STEPS_PER_RUN = 300         # one press of Run: at most ~15 s of animation
RELU_STEPS_PER_TICK = 100
RELU_MAX_STEPS = 5000            # one press of Train
LRS = [0.0001, 0.001, 0.01, 0.03, 0.1, 0.2, 0.3, 0.5]
RELU_LRS = [0.001, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0]
MY_POINTS = "my points (draw on the grid)"
CHART = {"displayModeBar": False}
STAGE_TEXT = {
    "inputs": "**Inputs**: this batch of data, the x values (here all 20 points at once).",
    "model": "**Model**: multiply and add: ŷ = a·x² + b·x + c, with the current weights.",
    "results": "**Results**: the predictions ŷ, one per input.",
    "loss": "**Loss**: one number for how wrong the results are (the mean of the squared errors, or of their sizes).",
    "update": "**Update**: the gradient says which way each weight makes the loss go up; "
              "step each weight a little the other way: w ← w − lr·gradient.",
    "weights": "**Weights**: the new a, b, c, ready for the next turn of the loop.",
}


# ---- state ---------------------------------------------------------------------------------------------
def reset_descent(weights=None):
    weights = ss.get("htw_gd_start", (0.0, 0.0, 0.0)) if weights is None else weights
    ss.htw_gd_start = tuple(float(w) for w in weights)
    ss.htw_gd = quadratic.start(ss.htw_gd_start)
    ss.htw_gd_running = False
    ss.htw_stage, ss.htw_walk = -1, None


def reset_relu():
    ss.htw_relu = relu_fit.empty()
    ss.htw_relu_losses, ss.htw_relu_running, ss.htw_relu_diverged = [], False, False


def init_state(seed):
    if ss.get("htw_seed_used") != seed:          # a new seed: everything starts again from it
        ss.htw_seed_used = seed
        reset_descent((0.0, 0.0, 0.0))
        reset_relu()
        ss.htw_relu = relu_fit.add_unit(relu_fit.add_unit(ss.htw_relu, seed), seed)
        ss.setdefault("htw_my_points", [])
        ss.setdefault("htw_chart_key", 0)


def lr():
    return float(ss.get("htw_lr", 0.1))


def kind():
    return ss.get("htw_kind", "MSE")


def descent_interval():
    """How often sections 1 and 3 redraw while gradient descent runs; None (no timer) when it doesn't."""
    if not ss.htw_gd_running:
        return None
    return SLOW_TICK if ss.get("htw_slow", False) else TICK


# ---- page -------------------------------------------------------------------------------------------------
st.title("How training works")
st.markdown(
    "In 1961 Arthur Samuel described machine learning like this: *inputs* and *weights* go into a *model*, which "
    "gives *results*; a *loss* measures how good the results are; the weights are *updated* to make the loss a "
    "little better; repeat. A neural network is just a model made of multiply-and-add, then replace negatives "
    "with zero, again and again. This page lets you do each of those steps yourself and see every number.")
top = st.columns([1, 4])
seed = int(top[0].number_input("Seed", min_value=0, max_value=10_000, value=42, step=1, key="htw_seed",
                                help="Everything random on this page (the noisy points, new ReLU units, the "
                                     "Titanic split, the network's first weights) comes from this number."))
top[1].caption(f"Seed **{seed}**: the same seed gives the same points, units and training runs, every time. "
               "Change it to get a fresh draw.")
init_state(seed)
problem = quadratic.make_problem(seed)


# ---- 1. the loop ------------------------------------------------------------------------------------------
st.header("1. The loop")
st.markdown(
    "Here is Samuel's picture. Press **Next box** to push one batch of data through it, one box at a time, "
    "for the quadratic you will meet below (its weights are a, b, c). The lit box is the one being computed; "
    "the numbers flowing through are written in the boxes and in the table. When the loop comes back round "
    "to *weights*, one step of training is done. Section 3's **Run** drives this same diagram while it trains "
    "(tick *slow motion* there to see it light one box per frame).")


def loop_while_training(numbers: dict, running: bool, key: str) -> None:
    """Samuel's loop beside any training on this page: every box lit while it runs (one step is far too quick
    to show box by box), with this model's own numbers written in the boxes."""
    figure = figures.loop_figure(list(figures.LOOP_BOXES) if running else None, numbers)
    figure.update_layout(height=230)
    st.plotly_chart(figure, width="stretch", config=CHART, key=key)


def advance_walk():
    """One box further through the loop; arriving back at 'weights' applies the update."""
    gd = ss.htw_gd
    if gd.status == quadratic.DIVERGED:
        return
    if ss.htw_stage in (-1, len(figures.LOOP_STAGES) - 1):
        ss.htw_walk = quadratic.step_trace(gd.weights, problem.x, problem.y, lr(), kind())
        ss.htw_stage = 0
        return
    ss.htw_stage += 1
    if figures.LOOP_STAGES[ss.htw_stage] == "weights":
        if gd.status in (quadratic.CONVERGED, quadratic.MAX_STEPS):
            gd.status = quadratic.RUNNING
        quadratic.sgd_step(gd, problem, lr(), kind(), max_steps=gd.steps + 1000)


def loop_view():
    gd, stage, trace = ss.htw_gd, ss.htw_stage, ss.htw_walk
    if trace is None:
        st.plotly_chart(figures.loop_figure(), width="stretch", config=CHART, key="htw_loop_fig")
        return
    name = figures.LOOP_STAGES[stage]
    running_fast = ss.htw_gd_running and not ss.get("htw_slow", False)
    active = list(figures.LOOP_BOXES) if running_fast else name
    st.plotly_chart(figures.loop_figure(active, figures.loop_numbers(trace, stage)), width="stretch",
                    config=CHART, key="htw_loop_fig")
    if running_fast:
        st.caption(f"Running {QUAD_STEPS_PER_TICK} steps per frame — too fast to light one box at a time "
                   "(tick *slow motion* in section 3 to watch each box). Showing step "
                   f"{gd.steps}.")
    else:
        st.markdown(STAGE_TEXT[name])
    rows, weights = figures.loop_tables(trace, stage)
    cols = st.columns([5, 4])
    cols[0].dataframe(rows, hide_index=True, width="stretch")
    cols[0].caption(rows.attrs.get("note", ""))
    cols[1].dataframe(weights, hide_index=True, width="stretch")
    if gd.status == quadratic.DIVERGED:
        st.error(quadratic.DIVERGED_MESSAGE, icon=":material/warning:")


walk_buttons = st.container(horizontal=True)
walk_buttons.button("Next box ▶", key="htw_next_box", on_click=advance_walk, disabled=ss.htw_gd_running)
walk_buttons.button("Start again", key="htw_loop_reset", on_click=reset_descent, disabled=ss.htw_gd_running)


st.fragment(run_every=descent_interval())(loop_view)()


# ---- 2. fit by hand ---------------------------------------------------------------------------------------
st.header("2. Fit a function by hand")
st.markdown(
    "These 20 points come from a quadratic, a·x² + b·x + c, plus some noise. Drag the sliders to find the "
    "a, b and c that fit best. The orange lines are the errors; the **loss** sums them up in one number. "
    "MSE (mean squared error) punishes big errors a lot; MAE (mean absolute error) treats all errors alike. "
    "You'll find that some weights are clearly better than others — that is all a loss says.")


def fit_by_hand():
    """A fragment: dragging a slider redraws only this section, so it keeps up with the mouse."""
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
        st.plotly_chart(figures.quadratic_figure(problem, hand, show_true, hand_kind), width="stretch",
                        config=CHART, key="htw_hand_fig")


st.fragment(fit_by_hand)()


# ---- 3. gradient descent ----------------------------------------------------------------------------------
st.header("3. Let the computer do it")
st.markdown(
    "Dragging sliders doesn't scale to millions of weights. Instead, calculus tells us, for each weight, which "
    "way makes the loss go up and how steeply: the **gradient**. Take a small step the other way, the size "
    "set by the **learning rate**, and repeat. The arrows show where the next step will move each weight. "
    "Try a learning rate of 0.3 or 0.5 (it explodes), and 0.001 (it crawls).")
st.code("""abc = torch.tensor([a, b, c], requires_grad=True)
for step in range(n_steps):
    loss = mse(quad(abc, x), y)       # model → results → loss
    loss.backward()                   # the gradient: abc.grad
    with torch.no_grad():
        abc -= lr * abc.grad          # the update
        abc.grad.zero_()""", language="python")


def start_run():
    gd = ss.htw_gd
    if gd.status in (quadratic.CONVERGED, quadratic.MAX_STEPS, quadratic.READY):
        gd.status = quadratic.RUNNING
    ss.htw_gd_max = gd.steps + QUAD_STEPS_PER_RUN
    ss.htw_gd_running = gd.status == quadratic.RUNNING


def one_step():
    gd = ss.htw_gd
    if gd.status in (quadratic.CONVERGED, quadratic.MAX_STEPS):
        gd.status = quadratic.RUNNING
    quadratic.sgd_step(gd, problem, lr(), kind(), max_steps=gd.steps + 1000)
    ss.htw_walk, ss.htw_stage = gd.last, len(figures.LOOP_STAGES) - 1


def stop_run():
    ss.htw_gd_running = False


controls = st.columns([2, 1, 1])
controls[0].select_slider("Learning rate", LRS, value=0.1, key="htw_lr")
controls[1].radio("Loss", quadratic.LOSSES, horizontal=True, key="htw_kind", on_change=reset_descent)
controls[2].checkbox("Slow motion", key="htw_slow", help="Light one box of the loop (section 1) per frame.")
buttons = st.container(horizontal=True)
buttons.button("One step", key="htw_one_step", on_click=one_step, disabled=ss.htw_gd_running)
if ss.htw_gd_running:
    buttons.button("Stop", key="htw_stop", on_click=stop_run, type="primary")
else:
    buttons.button("Run", key="htw_run", on_click=start_run, type="primary")
buttons.button("Reset to 0, 0, 0", key="htw_reset_zero", on_click=reset_descent, args=((0.0, 0.0, 0.0),),
               disabled=ss.htw_gd_running)
buttons.button("Reset to my sliders", key="htw_reset_hand", disabled=ss.htw_gd_running,
               on_click=lambda: reset_descent(tuple(ss[f"htw_hand_{n}"] for n in quadratic.WEIGHT_NAMES)))


def descent_tick():
    """Advance the run by one frame: one box in slow motion, else a few whole steps."""
    gd = ss.htw_gd
    if ss.get("htw_slow", False):
        advance_walk()
    else:
        quadratic.run(gd, problem, lr(), kind(), n_steps=QUAD_STEPS_PER_TICK, max_steps=ss.htw_gd_max)
        if gd.last is not None:
            ss.htw_walk, ss.htw_stage = gd.last, len(figures.LOOP_STAGES) - 1
    if gd.status != quadratic.RUNNING or gd.steps >= ss.htw_gd_max:
        if gd.status == quadratic.RUNNING:
            gd.status = quadratic.MAX_STEPS
        ss.htw_gd_running = False


def descent_view():
    was_running = ss.htw_gd_running
    if was_running:
        descent_tick()
    gd = ss.htw_gd
    grad = quadratic.gradient(gd.weights, problem.x, problem.y, kind())
    if gd.status == quadratic.DIVERGED:
        st.error(quadratic.DIVERGED_MESSAGE, icon=":material/warning:")
    elif gd.status == quadratic.CONVERGED:
        st.success(gd.message, icon=":material/check_circle:")
    else:
        st.info(f"Step {gd.steps} · {kind()} = {quadratic.loss(gd.weights, problem.x, problem.y, kind()):.4f}. "
                + ("" if gd.status == quadratic.RUNNING else gd.message))
    st.plotly_chart(figures.gradient_arrows_figure(gd.weights, grad, lr()), width="stretch", config=CHART,
                    key="htw_arrows")
    left, right = st.columns(2)
    left.plotly_chart(figures.quadratic_figure(problem, gd.weights, True, kind()), width="stretch", config=CHART,
                      key="htw_gd_fit")
    if len(gd.losses) > 1:
        right.plotly_chart(figures.loss_curve_figure(gd.losses, kind(), gd.status == quadratic.DIVERGED),
                           width="stretch", config=CHART, key="htw_gd_loss")
    else:
        right.caption("The loss curve appears here once you take a step.")
    if was_running and not ss.htw_gd_running:
        st.rerun(scope="app")        # the run ended: redraw the page once so the buttons come back


st.fragment(run_every=descent_interval())(descent_view)()


# ---- 4. ReLUs build anything ------------------------------------------------------------------------------
st.header("4. ReLUs build anything")
st.markdown(
    "A **rectified linear unit** is a line with its negative part replaced by zero: max(0, m·x + b). It has one "
    "bend. Multiply it by a weight w and add several together and you can bend a line into any shape. Pick a "
    "target (or draw your own points on the faint grid), add units one at a time, then let SGD move "
    "every m, b and w. The dotted lines are what each unit adds; the thick red line is their sum.")
st.code("""def rectified_linear(m, b, x):
    return torch.clip(m * x + b, min=0.)      # max(0, m·x + b)

def model(x): return c + sum(w[i] * rectified_linear(m[i], b[i], x) for i in range(n_units))""",
        language="python")


def relu_target():
    choice = ss.get("htw_target", next(iter(relu_fit.TARGETS)))
    if choice == MY_POINTS:
        points = sorted(set(ss.htw_my_points))
        return np.array([p[0] for p in points]), np.array([p[1] for p in points])
    return relu_fit.target_points(choice)


def add_unit():
    ss.htw_relu = relu_fit.add_unit(ss.htw_relu, seed)
    ss.htw_relu_losses, ss.htw_relu_diverged = [], False


def remove_unit():
    net = ss.htw_relu
    if net.n_units:
        ss.htw_relu = relu_fit.ReluSum(net.m[:-1], net.b[:-1], net.w[:-1], net.c)
    ss.htw_relu_losses, ss.htw_relu_diverged = [], False


def clear_points():
    ss.htw_my_points = []
    ss.htw_chart_key += 1       # a fresh chart: forget the old selection


def start_relu_run():
    ss.htw_relu_running = True
    ss.htw_relu_run_start = len(ss.htw_relu_losses)
    ss.htw_relu_diverged, ss.htw_relu_stopped = False, None


def stop_relu_run():        # separate from start: a click on a stale "Stop" must never restart a finished run
    ss.htw_relu_running = False


r_controls = st.columns([2, 2, 1])
r_controls[0].selectbox("Target", [*relu_fit.TARGETS, MY_POINTS], key="htw_target",
                        on_change=lambda: ss.update(htw_relu_losses=[], htw_relu_diverged=False))
r_controls[1].select_slider("Learning rate ", RELU_LRS, value=0.03, key="htw_relu_lr")
r_buttons = st.container(horizontal=True)
r_buttons.button("Add a ReLU", key="htw_add_unit", on_click=add_unit, disabled=ss.htw_relu_running)
r_buttons.button("Remove one", key="htw_remove_unit", on_click=remove_unit, disabled=ss.htw_relu_running)
if ss.htw_relu_running:
    r_buttons.button("Stop", key="htw_relu_train", on_click=stop_relu_run, type="primary")
else:
    r_buttons.button("Train", key="htw_relu_train", on_click=start_relu_run, type="primary")
r_buttons.button("Remove all", key="htw_relu_reset", on_click=reset_relu, disabled=ss.htw_relu_running)
if ss.get("htw_target") == MY_POINTS:
    r_buttons.button("Clear my points", key="htw_clear_points", on_click=clear_points)


def add_typed_point():
    point = (round(float(ss.htw_point_x), 3), round(float(ss.htw_point_y), 3))
    ss.htw_my_points = sorted(set(ss.htw_my_points) | {point})
    ss.htw_relu_losses = []


def relu_view():
    x, y = relu_target()
    net = ss.htw_relu
    was_running = ss.htw_relu_running
    if was_running:
        if len(x) < 2 or net.n_units == 0:
            ss.htw_relu_running = False
        else:
            net, ss.htw_relu_losses, diverged = relu_fit.train(net, x, y, ss.htw_relu_lr, RELU_STEPS_PER_TICK,
                                                               ss.htw_relu_losses)
            ss.htw_relu = net
            steps = len(ss.htw_relu_losses) - ss.htw_relu_run_start
            this_run = ss.htw_relu_losses[ss.htw_relu_run_start:]
            diverged = diverged or relu_fit.rising(this_run)
            stalled = relu_fit.stalled(this_run)
            if diverged or stalled or ss.htw_relu_losses[-1] < 1e-5 or steps >= RELU_MAX_STEPS:
                ss.htw_relu_running, ss.htw_relu_diverged = False, diverged
                ss.htw_relu_stopped = "stalled" if stalled else "limit"
    loss = relu_fit.mse(net, x, y) if len(x) else float("nan")
    if ss.htw_relu_diverged:
        st.error("The loss exploded (or turned back up): learning rate too high. Lower it and press Train again.",
                 icon=":material/warning:")
    elif len(x) < 2:
        st.info("Drag a small box over the faint grid to place target points there (or type one in below "
                "the chart); you need at least two.")
    elif net.n_units == 0:
        st.info("No units yet: the model is just a constant. Press **Add a ReLU**.")
    elif ss.get("htw_relu_stopped") and not ss.htw_relu_running and ss.htw_relu_losses:
        why = (f"the loss has stopped going down with {net.n_units} units. Add a unit and train again to bend "
               "the sum further." if ss.htw_relu_stopped == "stalled" else
               "that's the limit for one press of Train; press it again to go on.")
        st.info(f"Training stopped after {len(ss.htw_relu_losses) - 1} steps: {why}")
    title = f"{net.n_units} units · MSE = {loss:.4f}" if len(x) else f"{net.n_units} units"
    figure = figures.relu_figure(x, y, net, title=title)
    event = st.plotly_chart(figure, width="stretch", config=CHART, key=f"htw_relu_fig_{ss.htw_chart_key}",
                            on_select="rerun", selection_mode=("points", "box"))
    if ss.get("htw_target") == MY_POINTS and event:
        clicked = {(round(float(p["x"]), 3), round(float(p["y"]), 3))
                   for p in event.get("selection", {}).get("points", []) if p.get("curve_number") == 0}
        if clicked - set(ss.htw_my_points):
            ss.htw_my_points = sorted(set(ss.htw_my_points) | clicked)
            ss.htw_relu_losses = []
            st.rerun()
    if len(x) >= 2 and net.n_units:
        loop_while_training({"inputs": f"{len(x)} points", "weights": f"{3 * net.n_units + 1} numbers",
                             "model": "c + Σ w·ReLU", "results": "the sum", "loss": f"MSE {loss:.4f}",
                             "update": f"step {max(0, len(ss.htw_relu_losses) - 1)}"},
                            ss.htw_relu_running, "htw_relu_loop")
    left, right = st.columns(2)
    units = pd.DataFrame({"unit": np.arange(1, net.n_units + 1), "m": net.m, "b": net.b, "w": net.w,
                          "bend at x = −b/m": -net.b / np.where(net.m == 0, np.nan, net.m)})
    left.dataframe(units.round(3), hide_index=True, width="stretch")
    left.caption(f"{net.n_units} ReLU units · constant c = {net.c:.3f}")
    if ss.htw_relu_losses:
        right.plotly_chart(figures.loss_curve_figure(ss.htw_relu_losses, "MSE", ss.htw_relu_diverged),
                           width="stretch", config=CHART, key="htw_relu_loss")
    if was_running and not ss.htw_relu_running:
        st.rerun(scope="app")        # training ended: redraw the page once so the buttons read right


st.fragment(run_every=TICK if ss.htw_relu_running else None)(relu_view)()
if ss.get("htw_target") == MY_POINTS:
    typed = st.container(horizontal=True, vertical_alignment="bottom")
    typed.number_input("x", -2.0, 2.0, 0.0, 0.25, key="htw_point_x", width=140)
    typed.number_input("y", -2.0, 2.0, 0.0, 0.25, key="htw_point_y", width=140)
    typed.button("Add this point", key="htw_add_point", on_click=add_typed_point)
    typed.caption(f"{len(ss.htw_my_points)} points so far")


# ---- 5. a real network ------------------------------------------------------------------------------------
st.header("5. A real network on real data")
st.markdown(
    "Now the same loop with thousands of weights: a small neural network (multiply-and-add, ReLU, "
    "multiply-and-add) predicting who survived the Titanic from class, sex, age and family aboard. Training "
    "runs on the server's worker (a GPU when there is one). Watch the two weight matrices change as heatmaps "
    "(blue negative, red positive) and the loss fall on the **training** rows and the held-out **validation** "
    "rows. Train long on few rows and the validation loss turns back up: that's **overfitting** — the network "
    "memorises its few passengers instead of learning what generalises.")
source_notice(titanic.SOURCE, "embedded")
table_problem = titanic.table_problem()
if table_problem:
    st.error(table_problem, icon=":material/error:")
st.code(titanic.FASTAI_CODE, language="python")
t_cols = st.columns(4)
n_train = t_cols[0].select_slider("Training rows", [25, 50, 100, 200, 400, 700, titanic.MAX_TRAIN], value=100,
                                  key="htw_t_rows",
                                  help=f"The other {titanic.N_VALID} passengers are always held out for validation.")
epochs = t_cols[1].select_slider("Epochs", [5, 10, 20, 40, 60, 100, 150], value=60, key="htw_t_epochs")
n_hidden = t_cols[2].select_slider("Hidden units", [4, 8, 16, 32, 64], value=32, key="htw_t_hidden")
t_lr = t_cols[3].select_slider("Learning rate  ", [1e-3, 3e-3, 1e-2, 3e-2, 1e-1], value=3e-2, key="htw_t_lr")
config = dict(n_train=n_train, epochs=epochs, n_hidden=n_hidden, lr=t_lr, seed=seed)
st.caption(f"{n_train} training rows · {titanic.N_VALID} validation rows · "
           f"{len(titanic.FEATURES)} inputs ({', '.join(titanic.FEATURES)}) → {n_hidden} hidden → 2 outputs · "
           f"seed {seed}")

JOB_KIND = "basics_titanic"
if st.button("Train the network", key="htw_t_train", type="primary", icon=":material/play_arrow:",
             disabled=table_problem is not None):
    ui_jobs.start_job(titanic.make_job(config), kind=JOB_KIND, title=f"Titanic MLP, {n_train} rows",
                      config=config)


def show_weights(snap):
    if snap.losses:
        last = snap.losses[-1]
        hidden = snap.config.get("n_hidden", "?")
        loop_while_training({"inputs": "a batch of rows", "weights": f"{len(titanic.FEATURES)}×{hidden}, "
                             f"{hidden}×2", "model": "Linear, ReLU, Linear", "results": "P(survived)",
                             "loss": f"{last['train_loss']:.3f}", "update": f"step {last['step']}"},
                            snap.active, f"htw_t_loop_{snap.id}")
    snapshots = (snap.result or {}).get("snapshots") or snap.info.get("snapshots")   # finished, or live
    if not snapshots:
        return
    vmax = max(float(np.abs(w).max()) for s in snapshots for w in s["weights"].values())
    if snap.active or len(snapshots) < 2:
        current = snapshots[-1]
    else:
        steps = [s["step"] for s in snapshots]
        chosen = st.select_slider("Weights at step", steps, value=steps[-1], key=f"htw_t_step_{snap.id}")
        current = snapshots[steps.index(chosen)]
    st.plotly_chart(figures.weights_figure(current, snapshots[0], vmax, titanic.FEATURES, titanic.CLASSES),
                    width="stretch", config=CHART, key=f"htw_weights_{snap.id}")
    if not snap.active and snap.epoch_table:
        st.plotly_chart(figures.train_valid_figure(snap.epoch_table), width="stretch", config=CHART,
                        key=f"htw_tv_{snap.id}")
        best = min(snap.epoch_table, key=lambda r: r["valid_loss"])
        last = snap.epoch_table[-1]
        if last["valid_loss"] > 1.2 * best["valid_loss"]:
            st.warning(f"Overfitting: the validation loss was lowest at epoch {best['epoch']} "
                       f"({best['valid_loss']:.3f}) and is {last['valid_loss']:.3f} now, while the training loss "
                       f"kept falling to {last['train_loss']:.3f}.", icon=":material/trending_up:")


job_id = ui_jobs.current_job_id(JOB_KIND)
if job_id:
    ui_jobs.live_job(job_id, table=False, extra=show_weights)


# ---- 6. from scratch --------------------------------------------------------------------------------------
st.header("6. From scratch")
st.markdown(
    "How does PyTorch find the gradient? Each number remembers how it was made, and `backward()` walks back "
    "from the loss applying the chain rule. Here is a whole autograd engine in a few lines (after Andrej "
    "Karpathy's *micrograd*), doing the same one SGD step on the quadratic as PyTorch, from section 3's current "
    "weights and learning rate. The numbers are identical.")
st.markdown("**Our `Value`**")
st.code(side_by_side.VALUE_CODE, language="python")
st.markdown("**The same step in PyTorch**")
st.code(side_by_side.TORCH_CODE, language="python")
start_weights = ss.htw_gd.weights
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
st.dataframe(comparison.style.format(precision=10), hide_index=True, width="stretch")
difference = max(np.max(np.abs(ours["grad"] - theirs["grad"])),
                 np.max(np.abs(ours["new_weights"] - theirs["new_weights"])))
st.caption(f"Largest difference between the two: {difference:.1e} "
           f"(floating-point rounding). Our graph for this loss has {ours['n_nodes']} `Value` nodes; "
           f"learning rate {lr()}.")
