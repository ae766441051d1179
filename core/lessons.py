"""The lessons, registered once, with everything the app needs to run them: the navigation, the welcome page, the
training service, "My runs", the comparisons and the tests read this.

A lesson registers:
- its page and how the welcome page describes it;
- its jobs: a kind ("lr_find", "fit"...) and a function `fn(ctx, data, config) -> None`, named as "module:function"
  so that nothing heavy is imported until a worker runs it. `data` says what to train on ({"dataset": name, ...} or
  {"input": sha256, ...}: an upload kept in the run store), `config` the settings (JSON, seed included). The job
  writes everything a page shows into its run through `ctx` (core/worker.py);
- how to load one of its finished runs for its page: `load`, "module:function" taking (store, record);
- which settings the class's limits apply to (core/classroom.py), and the metric its run lists show;
- the run it opens with (`default_run`: core/readymade.py makes it and ships it, so a fresh install shows a finished
  run before the student trains) and the course's comparisons as presets (`comparisons`: the default run with each
  change in turn, see pages/compare.py).
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Callable

from core.registry import Registry


@dataclass(frozen=True)
class Job:
    kind: str
    fn: str                        # "module:function": fn(ctx, data, config)
    title: str                     # how lists name it
    keeps_model: bool = False      # its run ends with a model to use and export
    settings: str | None = None    # "module:function": config -> every setting, defaults filled and checked
                                   # (StudentError); a run keeps these, so it says all it was trained with


@dataclass(frozen=True)
class Metric:
    key: str                       # in the run's metrics
    label: str
    higher_is_better: bool
    format: str = ".3f"


@dataclass(frozen=True)
class DefaultRun:
    """The run a lesson opens with: which job, on which data (embedded, so it works offline), which settings."""
    kind: str
    data: dict
    config: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Comparison:
    """One of the course's comparisons, as a one-click preset: the lesson's default run once per change."""
    key: str
    title: str
    changes: tuple[dict, ...]      # two to four config changes, one run each
    question: str = ""             # what it shows, in a sentence


# Settings that several lessons share, named once; a lesson names its own in `Lesson.setting_names`.
SETTING_NAMES = {"lr": "learning rate", "epochs": "epochs", "freeze_epochs": "frozen epochs", "seed": "seed",
                 "batch_size": "batch size", "bs": "batch size", "valid_pct": "validation share",
                 "backbone": "pretrained body", "min_scale": "smallest crop", "recipe": "recipe"}


@dataclass(frozen=True)
class Lesson:
    key: str             # the page file's stem, which is also its URL path (see streamlit_app.py)
    title: str
    icon: str            # a Material icon name as streamlit takes it
    page: str            # the page's file, relative to the repository root
    summary: str         # one line on the welcome page
    course: str          # what it re-creates from the course
    datasets: tuple[str, ...] = ()
    jobs: tuple[Job, ...] = ()
    load: str | None = None                                        # "module:function": (store, record) -> result
    metric: Metric | None = None
    limited: dict[str, tuple[str, ...]] = field(default_factory=dict)   # class limit -> config keys it bounds, summed
    listed: bool = True                                            # in the navigation and on the welcome page
    default_run: DefaultRun | None = None    # None: its first job that keeps a model, on its first dataset
    comparisons: tuple[Comparison, ...] = ()
    setting_names: dict[str, str] = field(default_factory=dict)    # its own settings' names (see SETTING_NAMES)

    def setting_name(self, key: str) -> str:
        """How pages name a setting ("spec.cat_names" → "category columns (cat_names)"), with the course's name for
        it in brackets, as the student meets it in the code."""
        code = key.rsplit(".", 1)[-1]
        name = self.setting_names.get(key) or SETTING_NAMES.get(code)
        return f"{name} ({code})" if name and name != code else code

    def job(self, kind: str) -> Job:
        for job in self.jobs:
            if job.kind == kind:
                return job
        raise KeyError(f"lesson {self.key!r} has no job {kind!r}; it has {', '.join(j.kind for j in self.jobs)}")

    @property
    def modules(self) -> list[str]:
        return sorted({ref.split(":")[0] for ref in [j.fn for j in self.jobs] + [self.load or ""] if ref})


LESSONS = Registry("lesson")


def register_lesson(lesson: Lesson) -> Lesson:
    return LESSONS.register(lesson.key, lesson)


def list_lessons() -> list[Lesson]:
    return [lesson for lesson in LESSONS.values() if lesson.listed]


def get_lesson(key: str) -> Lesson:
    return LESSONS.lookup(key)


def resolve(ref: str) -> Callable:
    module, name = ref.split(":")
    return getattr(importlib.import_module(module), name)


def job_function(lesson: str, kind: str) -> Callable:
    return resolve(get_lesson(lesson).job(kind).fn)


def job_settings(lesson: str, kind: str, config: dict) -> dict:
    """The run's complete settings as its job will use them (the job's `settings`), or `config` as given."""
    ref = get_lesson(lesson).job(kind).settings
    return resolve(ref)(config) if ref else config


def run_loader(lesson: str) -> Callable | None:
    ref = get_lesson(lesson).load
    return resolve(ref) if ref else None


def warm_up() -> None:
    """Import every lesson's job modules (a worker does this once, before its first job). A module that fails to
    import fails its own jobs, with a sentence, not the worker."""
    import logging
    for lesson in LESSONS.values():
        for module in lesson.modules:
            try:
                importlib.import_module(module)
            except Exception:
                logging.getLogger(__name__).exception("could not import %s", module)


# In the order of the course's lesson 1: a classifier, then "deep learning is not just for image classification"
# (segmentation, tables, recommendations), then how training really works.
register_lesson(Lesson(
    "image_classification", "Is it a bird?", ":material/flutter_dash:", "pages/image_classification.py",
    "Fine-tune a pretrained CNN on real photos, then ask it about your own.",
    "DataBlock → show_batch → lr_find → fine_tune → confusion matrix, top losses → predict", ("birds", "pets"),
    jobs=(Job("lr_find", "core.vision.jobs:lr_find", "lr_find", settings="core.vision.train:settings"),
          Job("fit", "core.vision.jobs:fine_tune", "fine_tune", keeps_model=True, settings="core.vision.train:settings")),
    load="core.vision.jobs:load_run", metric=Metric("error_rate", "error rate", False, ".1%"),
    limited={"image_size": ("size",), "epochs": ("epochs", "freeze_epochs")},
    default_run=DefaultRun("fit", {"dataset": "birds", "label": "is_bird"}, {}),   # the label the page starts on
    comparisons=(
        Comparison("recipe", "fine_tune vs fit_one_cycle", ({"recipe": "fine_tune"}, {"recipe": "fit_one_cycle"}),
                   "Does training the new head first, then everything, beat training everything at once? "
                   "(fine_tune trains one frozen epoch more: for 1 epoch, it trains 2.)"),
        Comparison("pretrained", "pretrained vs random weights", ({"pretrained": True}, {"pretrained": False}),
                   "How much does starting from a model that has seen ImageNet help?"),
        Comparison("lr", "two learning rates", ({"lr": 1e-3}, {"lr": 1e-2}),
                   "Too small a learning rate learns slowly; is ten times more better?"),
        Comparison("size", "two image sizes", ({"size": 128}, {"size": 224}),
                   "Do bigger photos give a better model, and what do they cost in time?")),
    setting_names={"size": "image size", "method": "resize method", "pretrained": "pretrained weights"}))
register_lesson(Lesson(
    "segmentation", "Colour every pixel", ":material/format_paint:", "pages/segmentation.py",
    "Segmentation: a U-Net on a pretrained encoder gives every pixel of a photo its class.",
    "SegmentationDataLoaders.from_label_func → unet_learner → fine_tune → show_results", ("scenes", "camvid_tiny"),
    jobs=(Job("lr_find", "core.segmentation.jobs:lr_find", "lr_find", settings="core.segmentation.jobs:check_config"),
          Job("fit", "core.segmentation.jobs:fine_tune", "fine_tune", keeps_model=True,
              settings="core.segmentation.jobs:check_config")),
    load="core.segmentation.jobs:load_run", metric=Metric("mean_iou", "mean IoU", True),
    limited={"image_size": ("width",), "epochs": ("epochs", "freeze_epochs")},
    setting_names={"width": "image width"}))
register_lesson(Lesson(
    "tabular", "Tabular: income", ":material/table_chart:", "pages/tabular.py",
    "Predict who earns $50k or more from census rows: embeddings + an MLP.",
    "TabularDataLoaders (Categorify, FillMissing, Normalize) → tabular_learner → fit_one_cycle", ("adult",),
    jobs=(Job("lr_find", "core.tabular.jobs:lr_find", "lr_find", settings="core.tabular.jobs:settings"),
          Job("fit", "core.tabular.jobs:fit", "fit_one_cycle", keeps_model=True, settings="core.tabular.jobs:settings")),
    load="core.tabular.jobs:load_run", metric=Metric("accuracy", "accuracy", True, ".1%"),
    limited={"epochs": ("epochs",)},
    default_run=DefaultRun("fit", {"dataset": "adult", "source": "embedded"}, dict(
        spec={"target": "salary", "cat_names": ["workclass", "education", "marital-status", "occupation",
                                                "relationship", "race"],
              "cont_names": ["age", "fnlwgt", "education-num"]},
        lr=1e-2, epochs=3, batch_size=1024, seed=0)),
    comparisons=(
        Comparison("lr", "two learning rates", ({"lr": 1e-3}, {"lr": 1e-2}),
                   "With only ~25 steps an epoch, does a ten times bigger learning rate train better?"),
        Comparison("seed", "two seeds", ({"seed": 0}, {"seed": 1}),
                   "How much of the accuracy is luck: the first weights and the order of the batches?")),
    setting_names={"spec.target": "to predict", "spec.cat_names": "category columns",
                   "spec.cont_names": "number columns", "baseline": "scikit-learn baseline"}))
register_lesson(Lesson(
    "collab", "Collaborative filtering: movies", ":material/movie:", "pages/collab.py",
    "Learn users' tastes and movies' traits from 100,000 MovieLens ratings, then recommend movies.",
    "CollabDataLoaders → collab_learner(y_range=(0.5, 5.5)) → fit_one_cycle(5, 5e-3, wd=0.1) → biases, PCA",
    ("movielens",),
    jobs=(Job("lr_find", "core.collab.jobs:lr_find", "lr_find", settings="core.collab.jobs:settings"),
          Job("fit", "core.collab.jobs:fit", "fit_one_cycle", keeps_model=True, settings="core.collab.jobs:settings")),
    load="core.collab.jobs:load_run", metric=Metric("rmse", "RMSE", False, ".3f"),
    limited={"epochs": ("epochs",)},
    setting_names={"method": "training method", "wd": "weight decay", "n_factors": "factors", "y_range": "rating range",
                   "use_nn": "neural net", "layers": "hidden layers", "top_items": "movies kept",
                   "columns": "rating columns"}))
register_lesson(Lesson(
    "how_training_works", "How training works", ":material/model_training:", "pages/how_training_works.py",
    "Arthur Samuel's loop by hand, then by gradient descent; ReLUs building any function.",
    "inputs + weights → model → results → loss → update weights", ("titanic",),
    jobs=(Job("titanic", "core.basics.jobs:titanic", "Titanic MLP", keeps_model=True,
              settings="core.basics.titanic:settings"),),
    load="core.basics.jobs:load_titanic_run", metric=Metric("valid_loss", "validation loss", False, ".3f"),
    setting_names={"n_train": "training rows", "n_hidden": "hidden units"}))


def _register_more() -> None:
    """LESSON1_LESSON_MODULES: modules (comma-separated) that register more lessons, imported wherever lessons are
    looked up, workers included (a course's own lessons, the tests' lesson)."""
    import os
    for module in filter(None, os.environ.get("LESSON1_LESSON_MODULES", "").split(",")):
        importlib.import_module(module.strip())


_register_more()
