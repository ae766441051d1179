"""Tabular: will this person earn $50k or more? fastai's tabular_learner on the Adult census, step by step.
Data, procs and the model's shape are computed here (milliseconds); lr_find and training run as jobs."""
import hashlib
import json

import numpy as np
import pandas as pd
import streamlit as st

from core.tabular import plots as tplots
from core.tabular.interpret import cell_rows, predict_rows, rows_with_predictions, top_losses
from core.tabular.jobs import DEFAULTS
from core.embeddings import emb_sz_rule
from core.live import device_label
from core.tabular.model import build_model
from core.tabular.procs import NA, FillMissing
from core.tables import Limits, TableError, read_csv_bytes, spreadsheet_safe
from core.tabular.table import ADULT_SPEC, TableSpec, check_spec, guess_spec, load_adult
from core.tabular.saved import tabular_from_files
from core.tabular.train import BATCH_SIZE, model_meta, prepare
from core.schedules import lr_text
from ui import export, limits, runs as ui_runs
from ui.images import drawing
from ui.matrix import show_confusion
from ui.code import show_code
from ui.frame import require_frame
from ui.notices import resolved_once
from ui.sections import later, numbered
from ui.tables import show_table
from ui.text import count, plain, points_apart, widget_label
from ui.uploads import KEPT_NOTICE, kept_upload

require_frame()

ss = st.session_state
EMBEDDED, ONLINE, UPLOAD = "Adult census, embedded (offline)", "fast.ai's ADULT_SAMPLE (download)", "My own CSV"
LESSON = "tabular"
WIDGETS = {"lr": "tab_lr", "epochs": "tab_epochs", "seed": "tab_seed", "spec": "tab_spec_refill"}
LRS = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1]
MISSING = "(missing)"


# The table and what is prepared from it are read, never changed, by every session: one object shared by all of
# them (st.cache_resource). st.cache_data would unpickle a fresh copy of the 32,561 rows on every run of the page.
@st.cache_resource(show_spinner=False)
def adult_table(folder: str) -> pd.DataFrame:
    return load_adult(folder)


@st.cache_resource(show_spinner=False, max_entries=8)
def prepared(_df: pd.DataFrame, data_key: str, spec_key: str):
    """Split + procs set up on the training rows; cached per table and column choice."""
    return prepare(_df, TableSpec.from_dict(json.loads(spec_key)))


@st.cache_resource(show_spinner=False, max_entries=8)
def spec_warnings(_df: pd.DataFrame, data_key: str, spec_key: str) -> list[str]:
    """check_spec's warnings (it reads every row); a choice it refuses raises TableError, never cached."""
    return check_spec(_df, TableSpec.from_dict(json.loads(spec_key)))


@st.cache_resource(show_spinner=False, max_entries=8)
def raw_figures(_df: pd.DataFrame, data_key: str, target: str):
    """The raw table's two charts and how often the commonest answer is right, per table and target."""
    share = _df[target].value_counts(normalize=True).iloc[0]
    return tplots.missing_per_column(_df), tplots.target_balance(_df, target), share


@st.cache_resource(show_spinner=False, max_entries=8)
def described_model(_data, data_key: str, spec_key: str) -> tuple[dict, int]:
    """The model the learner section describes (built to be described, never trained here) and its n_emb."""
    model = build_model(_data.procs)
    return model.describe(_data.procs.cat_names, _data.procs.cont_names), model.n_emb


def fastai_code(spec: TableSpec, csv_name: str, course_data: bool) -> str:
    where = "path = untar_data(URLs.ADULT_SAMPLE)" if course_data else \
        "path = Path('.')                      # the folder with your file"
    return (f"{where}\n"
            f"dls = TabularDataLoaders.from_csv(path/{csv_name!r}, path=path, y_names={spec.target!r},\n"
            f"    cat_names={spec.cat_names!r},\n"
            f"    cont_names={spec.cont_names!r},\n"
            f"    procs=[Categorify, FillMissing, Normalize])")


# ---- the data ---------------------------------------------------------------------------------------------
def choose_table() -> tuple[pd.DataFrame, TableSpec, str, str, dict] | None:
    """The table (and default columns) the student picked, with a notice saying which it is: (table, columns,
    a key for caching, its file's name, the run's data reference)."""
    source = st.radio("Which table?", [EMBEDDED, ONLINE, UPLOAD], horizontal=True, key="tab_source")
    if source in (EMBEDDED, ONLINE):
        found = resolved_once("adult", source == ONLINE, key="tab_resolved")
        if found is None:
            return None
        try:
            df = adult_table(str(found.path))
        except TableError as e:
            st.error(str(e))
            return None
        ref = {"dataset": "adult", "source": "online" if found.source != "embedded" else "embedded"}
        return df, ADULT_SPEC, f"adult:{found.path}", "adult.csv", ref

    limits = Limits()
    label = (f"A CSV file with a header row (up to {limits.max_bytes // 2**20} MB, {limits.max_rows:,} rows, "
             f"{limits.max_columns} columns)")
    kept_upload(label, "tab", lambda data, name: read_csv_bytes(data, name, limits))   # its columns: choose_columns
    if "tab_upload_df" not in ss:
        st.info("Upload a CSV to train on your own table: one row per example, one column to predict. "
                "Or pick the Adult census above.", icon=":material/upload_file:")
        return None
    df = ss.tab_upload_df
    st.info(f"Using your file '{plain(ss.tab_upload_name)}' ({count(len(df), 'row')}, {count(df.shape[1], 'column')}).",
            icon=":material/description:")
    st.caption(KEPT_NOTICE)
    return df, guess_spec(df), f"upload:{ss.tab_upload_ref['input']}", ss.tab_upload_name, ss.tab_upload_ref


def choose_columns(df: pd.DataFrame, default: TableSpec, data_key: str) -> TableSpec:
    # The choice per table lives in a plain dict (ss.tab_specs), written only by the widgets' callbacks: a widget's
    # own state is dropped by Streamlit while it is not on screen (during an upload), and under a class's load a
    # rerun could come back with the target at the table's first column. The widgets are filled from the dict on
    # every run.
    refill = ss.pop("tab_spec_refill", None)
    specs = ss.setdefault("tab_specs", {})
    if isinstance(refill, dict):
        specs[data_key] = refill
    saved = specs.setdefault(data_key, default.to_dict())
    columns = list(df.columns)
    if saved["target"] not in columns:
        saved = specs[data_key] = default.to_dict()
    others = [c for c in columns if c != saved["target"]]
    ss.tab_target = saved["target"]
    ss.tab_cats = [c for c in saved["cat_names"] if c in others]
    ss.tab_conts = [c for c in saved["cont_names"] if c in others and c not in ss.tab_cats]
    with st.expander("Columns: what to predict, and from what", expanded=data_key.startswith("upload")):
        target = st.selectbox("Predict this column (the target)", columns, key="tab_target",
                              on_change=_target_chosen, args=(df, data_key))
        left, right = st.columns(2)
        cats = left.multiselect("Categorical columns (each value is a category → an embedding)", others,
                                key="tab_cats", on_change=_inputs_chosen, args=(data_key,))
        conts = right.multiselect("Continuous columns (numbers)", [c for c in others if c not in cats],
                                  key="tab_conts", on_change=_inputs_chosen, args=(data_key,))
        st.caption("First guess: text, or whole numbers with 20 different values or fewer, are categorical; "
                   "other numbers are continuous; columns where nearly every row is different (ids) are left out.")
    return TableSpec(target, list(cats), list(conts))


def _target_chosen(df: pd.DataFrame, data_key: str) -> None:
    """A new target: guess the inputs again."""
    guess = guess_spec(df, ss.tab_target)
    ss.tab_specs[data_key] = dict(target=ss.tab_target, cat_names=guess.cat_names, cont_names=guess.cont_names)


def _inputs_chosen(data_key: str) -> None:
    cats = list(ss.tab_cats)
    ss.tab_specs[data_key] = dict(ss.tab_specs[data_key], cat_names=cats,
                                  cont_names=[c for c in ss.tab_conts if c not in cats])


# ---- sections -----------------------------------------------------------------------------------------------
def section_raw(df: pd.DataFrame, spec: TableSpec, csv_name: str, data_key: str) -> None:
    st.markdown("This is what the computer gets: a spreadsheet. Each row is one person; we want to predict the "
                f"**{plain(spec.target)}** column from the others. Before any deep learning, look at your data: how "
                "many rows, what's missing, and how often each answer appears.")
    show_code(f"df = pd.read_csv(path/{csv_name!r})\ndf.head()")
    show_table(spreadsheet_safe(df.head(8)))
    left, right = st.columns(2)
    missing, balance, share = raw_figures(df, data_key, spec.target)
    drawing(missing, where=left)
    drawing(balance, where=right)
    st.caption(f"Always saying the most common answer is already right {share:.1%} of the time: a model has to "
               "beat that to be any use.")


def demo_rows(data) -> pd.DataFrame:
    """A few validation rows, preferring ones with gaps so the procs have something to show."""
    valid = data.valid_df
    gappy = valid[valid[data.spec.cat_names + data.spec.cont_names].isna().any(axis=1)]
    picked = pd.concat([gappy.head(3), valid.drop(gappy.index[:3]).head(5 - len(gappy.head(3)))])
    return picked.sort_index()


@st.cache_resource(show_spinner=False, max_entries=8)
def procs_examples(_data, data_key: str, spec_key: str) -> tuple[dict[str, pd.DataFrame], bool]:
    """The procs section's tables: the same few validation rows before and after each proc, and what each proc
    learnt from the training rows; once per table and column choice, not on every visit. And whether one cell per
    continuous column of the example rows was blanked to show FillMissing at work (no such column has a gap in the
    training rows)."""
    spec, procs = _data.spec, _data.procs
    rows = demo_rows(_data)
    tables, blanked = {}, False
    if spec.cat_names:
        tables["categories"] = rows[spec.cat_names]
        tables["categorified"] = procs.categorify(rows)[spec.cat_names]
    if spec.cont_names:
        fill, shown = procs.fill, rows[spec.cont_names]
        if not fill.na_columns:
            # e.g. UCI Adult: only categories are ever missing ('?'), so blank some cells to show the proc at work
            shown = shown.copy()
            for i, c in enumerate(spec.cont_names):
                shown.iloc[i % len(shown), shown.columns.get_loc(c)] = np.nan
            fill = FillMissing.from_state({**procs.fill.state(), "na_columns": list(spec.cont_names)})
            blanked = True
        tables["gaps"], tables["filled"] = shown, fill(shown)
        tables["medians"] = pd.DataFrame([procs.fill.medians], index=["training median"])
        filled = procs.fill(rows)
        tables["numbers"] = filled[spec.cont_names]
        tables["normalized"] = procs.normalize(filled)[spec.cont_names].round(3)
        tables["mean_std"] = pd.DataFrame([procs.normalize.means, procs.normalize.stds],
                                          index=["training mean", "training std"]).round(3)
    return {name: spreadsheet_safe(table) for name, table in tables.items()}, blanked


def section_procs(data, csv_name: str, data_ref: dict, data_key: str, spec_key: str) -> None:
    spec = data.spec
    st.markdown("A neural net only does arithmetic, so every cell has to become a number. fastai does it with three "
                "*procs*, each set up on the **training rows only** and then applied, unchanged, to the validation "
                "rows and to any new row later. Here are the same five rows before and after each one.")
    show_code(fastai_code(spec, csv_name, course_data=data_ref.get("dataset") == "adult"))
    tables, blanked = procs_examples(data, data_key, spec_key)
    n_train, n_valid = len(data.train_idx), len(data.valid_idx)
    st.caption(f"RandomSplitter(valid_pct=0.2, seed=42): {n_train:,} training rows, {n_valid:,} validation rows."
               + (" " + " ".join(data.notes) if data.notes else ""))

    if spec.cat_names:
        st.subheader("Categorify: category → integer")
        st.markdown("Each categorical column gets a *vocabulary*, the sorted list of values seen in training, and "
                    f"each value becomes its position in it. Position 0 is `{NA}`: a missing value, or a value "
                    "never seen in training.")
        before_after(tables["categories"], "before (a grey NaN is a missing value)",
                     tables["categorified"], "after Categorify")
        st.fragment(vocabulary)(data.procs.categorify.vocab, spec.cat_names)    # choosing a column redraws only this

    if spec.cont_names:
        st.subheader("FillMissing: gaps in numbers → the training median, plus a flag")
        st.markdown("A missing number is replaced by the **median of the training rows**, and a new True/False "
                    "column `<name>_na` remembers that it was missing (the model may learn that *not knowing* "
                    "matters). The `_na` column is then treated as one more categorical column.")
        if blanked:
            st.info("No continuous column has a gap in this table's training rows (in UCI Adult only categories are "
                    "missing), so FillMissing adds no `_na` column here. To show what it would do, we blanked one "
                    "cell per column in these example rows only; the training data is unchanged.",
                    icon=":material/lightbulb:")
        before_after(tables["gaps"], "before (a grey NaN is a missing value)", tables["filled"], "after FillMissing")
        show_table(tables["medians"])

        st.subheader("Normalize: subtract the mean, divide by the standard deviation")
        st.markdown("So every number sits around 0 with a spread of about 1; otherwise `fnlwgt` (in the "
                    "hundreds of thousands) would drown `education-num` (1 to 16). Mean and std come from the "
                    "training rows.")
        before_after(tables["numbers"], "before", tables["normalized"], "after Normalize")
        show_table(tables["mean_std"])


SIDE_BY_SIDE_COLUMNS = 4      # more, and half a laptop's page cuts a table off (the census has 8 categories)


def before_after(before: pd.DataFrame, before_caption: str, after: pd.DataFrame, after_caption: str) -> None:
    """The same rows before and after a proc: side by side when both are narrow, else one above the other."""
    if max(before.shape[1], after.shape[1]) > SIDE_BY_SIDE_COLUMNS:
        left = right = st.container()
    else:
        left, right = st.columns(2)
    left.caption(before_caption)
    show_table(before, where=left)
    right.caption(after_caption)
    show_table(after, where=right)


def vocabulary(vocabs: dict[str, list], columns: list[str]) -> None:
    column = st.selectbox("Show the vocabulary of", columns, key="tab_vocab_col")
    vocab = vocabs[column]
    st.caption(f"The vocabulary of {plain(column)}: {len(vocab):,} values, {NA} included.")
    vocab_table = pd.DataFrame([vocab], index=[column], columns=[str(i) for i in range(len(vocab))])
    show_table(spreadsheet_safe(vocab_table))


def section_learner(data, data_key: str, spec_key: str) -> None:
    procs = data.procs
    st.markdown("Each categorical column gets an **embedding**: a little table with one row of learned numbers "
                "per category, so the model can discover, say, which occupations behave alike. Its width follows "
                "fastai's rule of thumb `min(600, round(1.6 * n_categories ** 0.56))`. The embeddings and the "
                "normalised numbers are put side by side and go through two hidden layers of 200 and 100 units "
                "(tabular_learner's default), then one output per class.")
    show_code("learn = tabular_learner(dls, metrics=accuracy)   # layers=[200, 100]")
    described, n_emb = described_model(data, data_key, spec_key)
    if described["embeddings"]:
        table = pd.DataFrame(described["embeddings"]).rename(
            columns={"column": "categorical column", "categories": "categories (with #na#)",
                     "width": "embedding width"})
        table["rule"] = [f"min(600, round(1.6 × {n}^0.56)) = {emb_sz_rule(n)}" for n in table.iloc[:, 1]]
        show_table(spreadsheet_safe(table), index=False)
    sizes = [described["n_in"], *described["layers"]]
    st.markdown(f"**Layers**: {described['n_in']} inputs ({n_emb} from embeddings + {described['n_cont']} "
                f"numbers) → " + " → ".join(str(s) for s in sizes[1:-1]) +
                f" → {sizes[-1]} outputs ({', '.join(procs.classes)}). Each hidden layer is Linear → ReLU → "
                f"BatchNorm. **{described['n_params']:,} parameters** in all.")


def section_train(data, data_ref: dict) -> None:
    spec = data.spec
    st.markdown("`lr_find` trains for a few batches with a learning rate growing from tiny to huge and plots the "
                "loss: pick a value where the loss is still falling steeply, before the bottom. There's no "
                "pretrained model for tables, so it's `fit_one_cycle`, not `fine_tune`: every weight starts "
                f"random. The whole table sits in memory as two tensors and batches are {BATCH_SIZE:,} rows, so "
                "an epoch takes well under a second on a GPU (fastai's default batches of 64 are far slower).")
    seed = int(st.number_input("seed", 0, 10_000, DEFAULTS["seed"], key="tab_seed",
                               help="The model's first weights and the order of the batches. The split stays "
                                    "fastai's RandomSplitter(seed=42), so runs with two seeds can be compared."))
    config = dict(spec=spec.to_dict(), batch_size=BATCH_SIZE, seed=seed)
    found = ui_runs.lr_find_section(LESSON, data_ref, config, key="tab", lr_key="tab_lr")
    if found and found.get("valley"):
        st.caption(f"With batches of {BATCH_SIZE:,} rows there are only ~25 steps per epoch, so a rate bigger than "
                   f"the valley's {found['valley']:.1e}, such as the default 1e-2, trains better in 3 epochs: try "
                   "both and compare the accuracy.")
    left, right = st.columns([1, 1])
    lr = left.select_slider("Learning rate", options=LRS, value=DEFAULTS["lr"], format_func=lr_text,
                            key="tab_lr")
    most = limits.most_epochs("tab_epochs", 20)
    epochs = right.number_input("Epochs", min_value=1, max_value=most, value=min(DEFAULTS["epochs"], most), step=1,
                                key="tab_epochs")
    limits.epochs_note("tab_epochs", 20, most, where=right)
    show_code(f"learn.fit_one_cycle({epochs}, {lr_text(lr)})")
    label = f"Train: fit_one_cycle({epochs}, {lr_text(lr)})"
    ui_runs.train_button(LESSON, data_ref, dict(config, lr=lr, epochs=int(epochs)), label, key="tab_train",
                         title=f"Tabular: fit_one_cycle({epochs}, {lr_text(lr)}), seed {seed}")
    run_id = ui_runs.current(LESSON, "fit", data_ref)
    if run_id:
        ui_runs.live(run_id)


def section_results(run) -> None:
    summary = run.summary
    if "accuracy" not in summary:
        st.info("This run's results were not saved; train again to see them.")
        return
    ui_runs.stopped_early(summary)
    acc, majority = summary["accuracy"], summary["majority_accuracy"]
    baseline = summary.get("baseline")
    seconds = summary.get("seconds_per_epoch") or []
    if seconds:
        st.caption(f"{summary['epochs']} epochs of {summary['n_train']:,} rows, batches of {summary['batch_size']:,}, "
                   f"on {device_label(summary['device'])}: " + ", ".join(f"{t:.2f} s" for t in seconds) + " per epoch.")
    cols = st.columns(3)
    cols[0].metric("Our model's accuracy", f"{acc:.1%}", f"{points_apart(acc, majority):+.1f} points",
                   help="compared with always giving the commonest answer")
    cols[1].metric("Always the commonest answer", f"{majority:.1%}")
    if baseline:
        gap = points_apart(acc, baseline["accuracy"])
        cols[2].metric("Gradient-boosted trees (scikit-learn)", f"{baseline['accuracy']:.1%}",
                       f"{gap:+.1f} points for ours", delta_color="off")
        verdict = (f"the trees are ahead by {-gap:.1f} points" if gap < -0.05 else
                   f"our neural net is ahead by {gap:.1f} points" if gap > 0.05 else "they are level")
        st.markdown(f"**An honest comparison**: scikit-learn's `HistGradientBoostingClassifier` with its default "
                    f"settings, trained on exactly the same {summary['n_train']:,} training rows and columns and "
                    f"scored on the same {summary['n_valid']:,} validation rows: {verdict}. On tables, gradient "
                    "boosting is the baseline to beat; fastai's course says to try both. A neural net earns its "
                    "keep when embeddings help (many categories, e.g. a store id) or when you want those "
                    "embeddings for something else.")
    st.subheader("show_results: a few validation rows")
    show_code("learn.show_results()")
    rows = pd.DataFrame(summary["show_results"])
    answer = [c for c in rows.columns if c.endswith(" (truth)") or c.endswith("_pred") or c == "probability"]
    rows = rows[answer + [c for c in rows.columns if c not in answer]]
    wrong = [i for i, (truth, said) in enumerate(zip(rows[answer[0]], rows[answer[1]])) if truth != said] \
        if len(answer) >= 2 else []
    show_table(spreadsheet_safe(rows), index=False, marked_rows=wrong)
    st.caption("The truth and the prediction come first here (fastai's table puts them last)"
               + (f"; the {len(wrong)} highlighted row{'s' if len(wrong) != 1 else ''} the model got wrong."
                  if wrong else "; the model got all of these right."))
    left, right = st.columns(2)
    with left:
        cell = section_confusion(run)
    if summary.get("importance"):
        drawing(tplots.importance_bars(summary["importance"]), where=right)
        right.caption("Permutation importance: shuffle one column's values across the validation rows and see how "
                      "much accuracy drops. A big drop: the model relies on that column.")
    if cell is not None:                                 # the page's width: a row has a dozen columns
        cell_table(run, cell)
    st.subheader("Top losses: the rows it was most wrong about")
    show_code("interp = ClassificationInterpretation.from_learner(learn)\ninterp.plot_top_losses(10)  # for tables: "
              "the rows")
    show_table(rows_with_predictions(run.valid_df, run.valid_probs, run.valid_targets, run.valid_losses,
                                     run.procs.classes, run.spec.target, top_losses(run.valid_losses, 10)),
               index=False)
    st.caption("Often a row that looks like the other class, or one whose label looks wrong: worth a look before "
               "blaming the model.")


def section_confusion(run) -> tuple[int, int] | None:
    """The confusion matrix; a click on a cell (or the list under it) picks that cell, whose rows `cell_table`
    shows."""
    classes, cm = run.procs.classes, np.array(run.summary["confusion"])
    clicked = show_confusion(cm, classes, key="tab_cm", title="Confusion matrix (validation rows)", unit="rows")
    cells = [(a, p) for a in range(len(classes)) for p in range(len(classes)) if cm[a, p]]
    return st.selectbox("…or pick a cell", cells, index=cells.index(clicked) if clicked in cells else None,
                        format_func=lambda c: f"really {classes[c[0]]}, predicted {classes[c[1]]} ({cm[c]} rows)",
                        key=f"tab_cell_{clicked}", placeholder="click a cell of the matrix")


def cell_table(run, cell: tuple[int, int]) -> None:
    classes = run.procs.classes
    which = cell_rows(run.valid_probs, run.valid_targets, *cell)
    st.caption(f"{len(which):,} validation row(s) really **{plain(classes[cell[0]])}**, predicted "
               f"**{plain(classes[cell[1]])}**, the model's surest first:")
    show_table(rows_with_predictions(run.valid_df, run.valid_probs, run.valid_targets, run.valid_losses,
                                     classes, run.spec.target, which[:200]), index=False)


def section_what_if(model, procs, spec, examples: list[dict], levels: dict) -> None:
    """`levels`: each education's education-num, as the data pairs them (Adult's; empty for other tables)."""
    st.markdown("Start from a real person in the validation set, change anything, and watch the prediction move. "
                "This is `learn.predict(row)`: the same procs, then the model.")
    labels = [f"row {i + 1}: truth {r.get(f'{spec.target} (truth)', '?')}" for i, r in enumerate(examples)]
    pick = st.selectbox("Start from", range(len(examples)), index=least_sure(model, procs, spec, examples),
                        format_func=lambda i: labels[i], key="tab_whatif_row") if examples else None
    original = {c: examples[pick].get(c) for c in spec.cat_names + spec.cont_names} if examples else {}
    person = f"tab_wi_{rows_key(examples)}_{pick}"       # a form per row: one row's changes never meet another row
    edited = {}
    cols = st.columns(3)
    for i, c in enumerate(spec.cat_names):
        options = [v for v in procs.categorify.vocab[c] if v != NA] + [MISSING]
        value = original.get(c)
        start = options.index(str(value)) if value is not None and str(value) in options else len(options) - 1
        choice = cols[i % 3].selectbox(widget_label(c), options, index=start, key=f"{person}_{c}")
        edited[c] = None if choice == MISSING else choice
    for j, c in enumerate(spec.cont_names):
        value = original.get(c)
        value = float(procs.fill.medians[c] if value is None or pd.isna(value) else value)
        value = int(value) if value.is_integer() else value          # ages and hours as whole numbers
        edited[c] = cols[(len(spec.cat_names) + j) % 3].number_input(widget_label(c), value=value,
                                                                     key=f"{person}_{c}")
    rows = pd.DataFrame([edited, original or edited])
    probs = predict_rows(model, procs, rows)
    now, before = probs.iloc[0].to_dict(), probs.iloc[1].to_dict()
    drawing(tplots.probability_bars(now, before if original else None))
    top = max(now, key=now.get)
    st.markdown(f"The model says **{plain(top)}** with probability **{now[top]:.1%}**.")
    rank = levels.get(edited.get("education"))
    if rank is not None and edited.get("education-num") is not None and float(edited["education-num"]) != rank:
        st.caption(f"*education* and *education-num* say the same thing twice: education-num is the level's rank, "
                   f"and {plain(edited['education'])} is {rank:g}, not {float(edited['education-num']):g}. You are "
                   "asking about a person who could not exist: the model answers anyway, which is worth seeing too.")


def rows_key(examples: list[dict]) -> str:
    """A name for a list of example rows. The What-if's rows change with the model used (a loaded one starts from
    the table's first validation rows): keyed by their place alone, a row's form kept the last row's values, and
    the prediction for "your changes" was another person's while nothing had been changed."""
    text = json.dumps(examples, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def least_sure(model, procs, spec, examples: list[dict]) -> int:
    """The example the model is least sure about, to start the What-if from: a change there moves the prediction
    (the first row was often someone it gave 99.7% whatever was changed)."""
    rows = pd.DataFrame([{c: r.get(c) for c in spec.cat_names + spec.cont_names} for r in examples])
    return int(predict_rows(model, procs, rows).max(axis=1).to_numpy().argmin())


@st.cache_data(max_entries=16, show_spinner=False)
def education_levels(key: str, _df: pd.DataFrame | None) -> dict:
    """Adult's education and education-num as the table `key` pairs them: each level's most common rank."""
    if _df is None or not {"education", "education-num"} <= set(_df.columns):
        return {}
    df = _df
    return {str(k): float(v) for k, v in df.groupby("education")["education-num"].agg(lambda s: s.mode().iloc[0])
            .items()}


def section_export(model, procs, spec, meta_extra: dict, run_id: str | None) -> None:
    st.markdown("`learn.export()` in fastai pickles everything; here the weights go in a **safetensors** file "
                "(numbers only, it cannot run code) and the procs' vocabularies, medians, means and stds in a "
                "**JSON** file. Both are needed to use the model on new rows.")
    show_code("learn.export('adult.pkl')   # fastai\nlearn = load_learner('adult.pkl')")
    export.download_buttons(model, model_meta(spec, procs, model, meta_extra), "tab", export.file_stem("tabular",
                                                                                                        run_id))


def load_exported(weights: bytes, meta: bytes):
    """The two uploaded files, every field checked before anything is built (core/tabular/saved.py)."""
    saved = tabular_from_files(weights, meta)
    return (saved.model, saved.procs, saved.spec), saved.meta


def describe_loaded(_model, meta: dict) -> str:
    spec = meta["spec"]
    return (f"Loaded: predicts '{plain(spec['target'])}' from {len(spec['cat_names']) + len(spec['cont_names'])} "
            "columns. The What-if section above uses it.")


def section_load() -> None:
    export.load_back("tab", load_exported, describe_loaded)


# ---- page -----------------------------------------------------------------------------------------------------
st.title("Tabular data: will this person earn $50k or more?")
st.markdown("Deep learning isn't only for pictures. Here we predict from a table of census records (age, education, "
            "occupation…) whether someone earns at least $50k a year, as in lesson 1 of the course: "
            "`TabularDataLoaders` → `tabular_learner` → `fit_one_cycle`.")
ui_runs.apply_settings(WIDGETS, LESSON)
picked = choose_table()
if picked is not None:
    df, default_spec, data_key, csv_name, data_ref = picked
    spec = choose_columns(df, default_spec, data_key)
    spec_key = json.dumps(spec.to_dict())                       # the column choice, for the caches below
    try:
        for warning in spec_warnings(df, data_key, spec_key):
            st.warning(plain(warning))                          # they quote the table's columns
    except TableError as e:
        st.error(plain(e), icon=":material/error:")
        picked = None
trained, files_of = None, None
if picked is not None:
    data = prepared(df, data_key, spec_key)
    with numbered("The raw table"):
        section_raw(df, spec, csv_name, data_key)
    with numbered("Procs: getting the table ready"):
        section_procs(data, csv_name, data_ref, data_key, spec_key)
    with numbered("The model: embeddings + a small neural net"):
        section_learner(data, data_key, spec_key)
    with numbered("Find a learning rate, then train"):
        st.fragment(section_train)(data, data_ref)      # a setting changed reruns this section, not the page
view, run = ui_runs.shown(LESSON, data_ref if picked is not None else None)
if run is not None:
    with numbered("Results"):
        if picked is None:                          # a shared link opened before any table was chosen
            ui_runs.live(view.id)
        ui_runs.run_details(view, WIDGETS)
        section_results(run)
    trained, files_of = (run.model, run.procs, run.spec, run.summary), view.id
    examples = run.summary.get("show_results", [])
elif picked is not None or view is not None:
    if picked is None:                              # a link to a run still training, opened before any table
        ui_runs.live(view.id)
    later("Results", why=ui_runs.not_yet(view))
if picked is not None or run is not None:
    what_if_box = numbered("What if?")             # drawn after the export section, whose upload it may use
    with numbered("Export and load the model"):
        download_box = st.container()
        section_load()
    loaded = ss.get("tab_loaded")
    if loaded is not None:
        use_loaded = trained is None or what_if_box.radio(
            "Model for the What-if", ["the model trained above", "the model you loaded"], index=1,
            horizontal=True, key="tab_which_model") == "the model you loaded"
        if use_loaded:
            model, procs, run_spec = loaded
            rows = data.valid_df.head(10).to_dict("records") \
                if picked is not None and run_spec.target == spec.target else []
            examples = [{**r, f"{run_spec.target} (truth)": r.get(run_spec.target)} for r in rows]
            trained, files_of = (model, procs, run_spec, {}), None           # the loaded model's files, not a run's
    if trained is not None:
        with what_if_box:
            levels = education_levels(data_key, df) if picked is not None else \
                education_levels(f"run:{view.id}", getattr(run, "valid_df", None))
            st.fragment(section_what_if)(trained[0], trained[1], trained[2], examples, levels)
        with download_box:
            section_export(trained[0], trained[1], trained[2], {k: trained[3][k] for k in ("accuracy", "lr", "epochs")
                                                                if k in trained[3]}, files_of)
    else:
        with what_if_box:
            st.info("Train a model (above) or load one you exported (below), to see the results, ask it "
                    "what-if questions and export it.", icon=":material/arrow_upward:")
