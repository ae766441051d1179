"""The lessons, registered once: the app's navigation, the welcome page's cards and the page tests read this."""
from dataclasses import dataclass

from core.registry import Registry


@dataclass(frozen=True)
class Lesson:
    key: str             # the page file's stem, which is also its URL path (see streamlit_app.py)
    title: str
    icon: str            # a Material icon name as streamlit takes it
    page: str            # the page's file, relative to the repository root
    summary: str         # one line on the welcome page
    course: str          # what it re-creates from the course
    datasets: tuple[str, ...] = ()


LESSONS = Registry("lesson")


def register_lesson(lesson: Lesson) -> Lesson:
    return LESSONS.register(lesson.key, lesson)


def list_lessons() -> list[Lesson]:
    return list(LESSONS.values())


# In the order of the course's lesson 1: a classifier, then "deep learning is not just for image classification"
# (segmentation, tables, recommendations), then how training really works.
register_lesson(Lesson(
    "image_classification", "Is it a bird?", ":material/flutter_dash:", "pages/image_classification.py",
    "Fine-tune a pretrained CNN on real photos, then ask it about your own.",
    "DataBlock → show_batch → lr_find → fine_tune → confusion matrix, top losses → predict", ("birds", "pets")))
register_lesson(Lesson(
    "segmentation", "Colour every pixel", ":material/format_paint:", "pages/segmentation.py",
    "Segmentation: a U-Net on a pretrained encoder gives every pixel of a photo its class.",
    "SegmentationDataLoaders.from_label_func → unet_learner → fine_tune → show_results", ("scenes", "camvid_tiny")))
register_lesson(Lesson(
    "tabular", "Tabular: income", ":material/table_chart:", "pages/tabular.py",
    "Predict who earns more than $50k from census rows: embeddings + an MLP.",
    "TabularDataLoaders (Categorify, FillMissing, Normalize) → tabular_learner → fit_one_cycle", ("adult",)))
register_lesson(Lesson(
    "collab", "Collaborative filtering: movies", ":material/movie:", "pages/collab.py",
    "Learn users' tastes and movies' traits from 100,000 MovieLens ratings, then recommend movies.",
    "CollabDataLoaders → collab_learner(y_range=(0.5, 5.5)) → fit_one_cycle(5, 5e-3, wd=0.1) → biases, PCA",
    ("movielens",)))
register_lesson(Lesson(
    "how_training_works", "How training works", ":material/model_training:", "pages/how_training_works.py",
    "Arthur Samuel's loop by hand, then by gradient descent; ReLUs building any function.",
    "inputs + weights → model → results → loss → update weights", ("titanic",)))
