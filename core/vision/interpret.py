"""fastai's ClassificationInterpretation: what the model got wrong, and how badly."""
import itertools

import numpy as np


def confusion_matrix(targets: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """cm[i, j] = how many images of class i were predicted as class j."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(targets), np.asarray(predicted)), 1)
    return cm


def top_losses(losses: np.ndarray, k: int = 9) -> np.ndarray:
    """Positions of the k highest losses, highest first."""
    return np.argsort(-np.asarray(losses), kind="stable")[:k]


def most_confused(cm: np.ndarray, vocab: list[str], min_val: int = 1) -> list[tuple[str, str, int]]:
    """(actual, predicted, count) off the diagonal, most frequent first."""
    pairs = [(vocab[i], vocab[j], int(cm[i, j])) for i in range(len(vocab)) for j in range(len(vocab))
             if i != j and cm[i, j] >= min_val]
    return sorted(pairs, key=lambda p: -p[2])


def cell_items(targets: np.ndarray, predicted: np.ndarray, actual: int, pred: int) -> np.ndarray:
    """Positions (in the validation set) of the images in one cell of the confusion matrix."""
    return np.flatnonzero((np.asarray(targets) == actual) & (np.asarray(predicted) == pred))


def results_sample(targets: np.ndarray, n: int = 12, seed: int = 0) -> np.ndarray:
    """Positions of up to n validation items for show_results, the classes taken in turn (each in a seeded shuffled
    order). The validation set is kept class by class, so its first n items would all be of the first class; fastai's
    RandomSplitter leaves its validation set shuffled, and its show_results shows a mix."""
    rng = np.random.default_rng(seed)
    targets = np.asarray(targets)
    shuffled = [rng.permutation(np.flatnonzero(targets == c)) for c in np.unique(targets)]
    in_turn = [int(i) for row in itertools.zip_longest(*shuffled) for i in row if i is not None]
    return np.array(in_turn[:n], dtype=np.int64)
