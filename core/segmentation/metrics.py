"""How good is a segmentation? Counted over every pixel of the validation set.

pixel_accuracy  the share of pixels given the right class (what fastai's epoch table shows for CamVid)
mean_iou        per class, the overlap of "predicted as c" and "really c" divided by their union, averaged:
                unlike accuracy, it doesn't let a large background hide a class the model never finds
Both take the model's raw outputs (N, C, H, W) and the codes (N, H, W), as the Learner's metrics do.
"""
import numpy as np
import torch


def pixel_accuracy(preds: torch.Tensor, targets: torch.Tensor) -> float:
    return (preds.argmax(dim=1) == targets).float().mean().item()


def pixel_confusion(predicted, targets, n_classes: int) -> np.ndarray:
    """cm[i, j] = how many pixels of class i were predicted as class j (codes, any shape)."""
    predicted = np.asarray(predicted).ravel().astype(np.int64)
    targets = np.asarray(targets).ravel().astype(np.int64)
    return np.bincount(targets * n_classes + predicted, minlength=n_classes ** 2).reshape(n_classes, n_classes)


def iou_per_class(cm: np.ndarray) -> np.ndarray:
    """Intersection over union of each class; nan for a class that is neither present nor predicted."""
    hits = np.diag(cm).astype(np.float64)
    union = cm.sum(axis=0) + cm.sum(axis=1) - hits
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, hits / np.maximum(union, 1), np.nan)


def mean_iou(preds: torch.Tensor, targets: torch.Tensor) -> float:
    cm = pixel_confusion(preds.argmax(dim=1).cpu().numpy(), targets.cpu().numpy(), preds.shape[1])
    return float(np.nanmean(iou_per_class(cm)))


def per_image_accuracy(predicted: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """(N, H, W) codes -> the pixel accuracy of each image."""
    return (np.asarray(predicted) == np.asarray(targets)).reshape(len(targets), -1).mean(axis=1)
