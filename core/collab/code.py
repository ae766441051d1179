"""The fastai code a page shows beside its controls, written from the same settings a run is given, so the two
never disagree. fastai's defaults are left out, as the course writes them: chapter 1's settings give chapter 1's
three lines exactly."""
from core.collab.data import FASTAI_BATCH_SIZE
from core.collab.model import N_FACTORS
from core.collab.train import FASTAI_WD, FINE_TUNE_LR
from core.schedules import lr_text

EMBEDDED, ONLINE, UPLOAD = "embedded", "online", "upload"


def dls_code(source: str, batch_size: int, columns: dict | None = None, csv_name: str = "ratings.csv",
             top_items: int | None = None) -> str:
    bs = f", bs={batch_size}" if batch_size != FASTAI_BATCH_SIZE else ""
    if source == ONLINE:
        lines = ["path = untar_data(URLs.ML_SAMPLE)", f"dls = CollabDataLoaders.from_csv(path/'ratings.csv'{bs})"]
    elif source == UPLOAD:
        names = "".join(f", {k}_name={v!r}" for k, v in (columns or {}).items())
        lines = [f"dls = CollabDataLoaders.from_csv({csv_name!r}{names}{bs})"]
    else:
        lines = [f"dls = CollabDataLoaders.from_df(ratings, item_name='title'{bs})"]
    if top_items:
        lines.insert(-1, f"# (here: only the ratings of the {top_items:,} most-rated items)")
    return "\n".join(lines)


def learner_code(n_factors: int, y_range, use_nn: bool = False, layers=(100,)) -> str:
    args = ["dls"]
    if use_nn:
        args.append(f"use_nn=True, layers={list(layers)}")
    elif n_factors != N_FACTORS:
        args.append(f"n_factors={n_factors}")
    low, high = y_range
    args.append(f"y_range=({low:g}, {high:g})")
    return f"learn = collab_learner({', '.join(args)})"


def fit_call(method: str, epochs: int, lr: float, wd: float) -> str:
    """The training call without `learn.`: fine_tune(10), fit_one_cycle(5, 5e-3, wd=0.1)."""
    wd_arg = f", wd={wd:g}" if wd != FASTAI_WD else ""
    if method == "fine_tune":
        lr_arg = f", base_lr={lr_text(lr)}" if lr != FINE_TUNE_LR else ""
        return f"fine_tune({epochs}{lr_arg}{wd_arg})"
    return f"fit_one_cycle({epochs}, {lr_text(lr)}{wd_arg})"


def course_code(cfg: dict, source: str, csv_name: str = "ratings.csv") -> str:
    """dls, learner and training call for a run's settings (core/collab/jobs.py's config)."""
    return "\n".join([dls_code(source, cfg["batch_size"], cfg.get("columns"), csv_name, cfg.get("top_items")),
                      learner_code(cfg["n_factors"], cfg["y_range"], cfg["use_nn"], cfg["layers"]),
                      "learn." + fit_call(cfg["method"], cfg["epochs"], cfg["lr"], cfg["wd"])])
